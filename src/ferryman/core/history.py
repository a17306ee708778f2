"""ferryman's own tables in each database, and the state read from them.

    {prefix}meta        key/value: schema_version (of these tables), dirty, last_backup,
                        foreign (the other tool's table adopted, and whether ferryman
                        keeps it up to date: the way back to that tool)
    {prefix}migrations  one row per applied migration: the state
    {prefix}history     one row per migration execution (up, down, baseline, force),
                        with times, duration, who, ferryman's version and outcome
    {prefix}runs        one row per run: command, versions, outcome, backup
    {prefix}backups     one row per backup taken, on whichever host took it
    {prefix}repeatables one row per repeatable migration (R__*.sql): its checksum and the
                        body applied, which is what rolling it back re-applies

The state lives in the database, never in local files, so every host agrees.
``schema_version`` lets a later ferryman migrate these tables; a ferryman that finds
a newer schema than it knows refuses to write.
"""

from ..errors import DamagedStateError, SchemaVersionError
from ..text import iso, ms
from .versions import decode, label, storage

SCHEMA_VERSION = 3

# ferryman's tables: {suffix: columns}, a column being (name, kind, constraint). Each
# dialect writes the DDL (Dialect.create_table) with its types for the kinds (TYPES).
_TABLES_1 = {
    "meta": [("key", "varchar(64)", "PRIMARY KEY"), ("value", "text", "NOT NULL")],
    "migrations": [
        ("version", "bigint", "PRIMARY KEY"), ("name", "text", "NOT NULL"),
        ("phase", "varchar(32)", "NOT NULL"), ("kind", "varchar(16)", "NOT NULL"),
        ("checksum", "varchar(64)", "NOT NULL"), ("applied_at", "timestamp", "NOT NULL"),
        ("run_id", "varchar(40)", "NOT NULL")],
    "history": [
        ("id", "id", ""), ("run_id", "varchar(40)", "NOT NULL"), ("version", "bigint", ""),
        ("name", "text", ""), ("phase", "varchar(32)", ""), ("kind", "varchar(16)", ""),
        ("checksum", "varchar(64)", ""), ("direction", "varchar(16)", "NOT NULL"),
        ("started_at", "timestamp", "NOT NULL"), ("finished_at", "timestamp", ""),
        ("duration_ms", "real", ""), ("applied_by", "text", "NOT NULL"),
        ("ferryman_version", "varchar(32)", "NOT NULL"), ("outcome", "varchar(16)", "NOT NULL"),
        ("error", "text", "")],
    "runs": [
        ("id", "varchar(40)", "PRIMARY KEY"), ("command", "varchar(32)", "NOT NULL"),
        ("started_at", "timestamp", "NOT NULL"), ("finished_at", "timestamp", ""),
        ("applied_by", "text", "NOT NULL"), ("ferryman_version", "varchar(32)", "NOT NULL"),
        ("from_version", "bigint", ""), ("to_version", "bigint", ""),
        ("outcome", "varchar(24)", "NOT NULL"), ("backup_id", "text", ""),
        ("message", "text", "")],
    "backups": [
        ("id", "varchar(64)", "PRIMARY KEY"), ("created_at", "timestamp", "NOT NULL"),
        ("path", "text", "NOT NULL"), ("size", "bigint", "NOT NULL"),
        ("sha256", "varchar(64)", "NOT NULL"), ("reason", "text", ""),
        ("migration_version", "bigint", ""), ("host", "text", ""), ("run_id", "varchar(40)", "")],
}
# (index, table, columns), suffixes of ferryman's names.
_INDEXES_1 = [("history_version", "history", ["version"])]

# schema_version -> the tables that version added. A new database gets schema 1 and
# then every upgrade, so the upgrades run on every database ferryman ever creates,
# not only on old ones.
UPGRADES = {
    2: {"repeatables": [
        ("name", "varchar(255)", "PRIMARY KEY"), ("phase", "varchar(32)", "NOT NULL"),
        ("checksum", "varchar(64)", "NOT NULL"), ("body", "text", "NOT NULL"),
        ("applied_at", "timestamp", "NOT NULL"), ("run_id", "varchar(40)", "NOT NULL")]},
}
# schema_version -> the columns that version added to existing tables. 3: a version
# that is not a number (a name-ordered folder's name, Flyway's 17.1) is kept as its
# label beside the number that keys the row (core/versions.py).
COLUMN_UPGRADES = {
    3: {"migrations": [("label", "varchar(255)", "")],
        "history": [("label", "varchar(255)", "")],
        "runs": [("from_label", "varchar(255)", ""), ("to_label", "varchar(255)", "")],
        "backups": [("migration_label", "varchar(255)", "")]},
}


class Applied:
    """A row of {prefix}migrations."""

    __slots__ = ("version", "name", "phase", "kind", "checksum", "applied_at", "run_id")

    def __init__(self, version, name, phase, kind, checksum, applied_at, run_id):
        self.version = version
        self.name = name
        self.phase = phase
        self.kind = kind
        self.checksum = checksum
        self.applied_at = iso(applied_at)
        self.run_id = run_id

    def __repr__(self):
        return f"<Applied {self.version} {self.name!r}>"


class State:
    """What a database says about itself. ``repeatables`` maps a repeatable
    migration's name to its (checksum, body) as applied.

    ``problems`` lists what is wrong with ferryman's own tables (one missing, a value
    that cannot be read, rows that disagree); ``repair`` is what a person should run
    then; ``newer`` is set when a newer ferryman wrote them. ``tables`` is the set of
    ferryman's tables found (their names without the prefix); ``populated``, when none
    is, says whether the database has tables of its own (adopt it with baseline).
    ``history_applied`` is the set of versions the history says are applied (None
    without a history table)."""

    __slots__ = ("applied", "dirty", "schema_version", "last_backup", "by_version",
                 "repeatables", "problems", "repair", "newer", "tables", "populated",
                 "history_applied", "unreadable", "foreign", "found")

    def __init__(self, applied=(), dirty=None, schema_version=None, last_backup=None,
                 repeatables=None):
        self.applied = sorted(applied, key=lambda a: a.version)
        self.by_version = {a.version: a for a in self.applied}
        self.dirty = dirty
        self.schema_version = schema_version
        self.last_backup = last_backup
        self.repeatables = repeatables or {}
        self.problems = []
        self.repair = None
        self.newer = None
        self.tables = None
        self.populated = False
        self.history_applied = None
        self.unreadable = []  # meta keys whose values could not be read
        # The other tool's table this database was adopted from: {"tool", "table",
        # "keep"} (keep: ferryman keeps it up to date in its own transactions).
        self.foreign = None
        # Before ferryman ran here: the other tools' tables found (foreign.ForeignState),
        # which the first run adopts.
        self.found = []

    @property
    def current_version(self):
        return self.applied[-1].version if self.applied else None

    @property
    def initialised(self):
        return self.schema_version is not None

    def error(self):
        """The StateError (exit code 3) to stop on, or None when the tables are sound."""
        if self.newer is not None:
            return SchemaVersionError(
                f"ferryman's tables here are at schema {self.newer}, written by a newer "
                f"ferryman; this ferryman ({_version()}) knows schema {SCHEMA_VERSION} and "
                "changes nothing", hint="upgrade ferryman (pip install -U ferryman) to the "
                "version that wrote them")
        if self.problems:
            return DamagedStateError(self.problems, hint=self.repair)
        return None


class History:
    """Reads and writes ferryman's tables through a dialect connection."""

    def __init__(self, db, prefix="ferryman_"):
        self.db = db
        self.p = prefix
        self._marker = db.placeholder
        self.keeping = None  # {"tool", "table"} of the other tool's table kept (prepare)
        self.labels = True  # the tables have schema 3's label columns (read_state, prepare)
        self._foreign_dirty = None  # the version last marked dirty in it

    def sql(self, text):
        """Our statements are written with ``?``; the driver may want ``%s``. ``{p}``
        is the prefix; ``{key}`` meta's column ``key``, quoted (a reserved word in
        MySQL)."""
        text = text.replace("{p}", self.p).replace("{key}", self.db.quote("key"))
        return text if self._marker == "?" else text.replace("?", self._marker)

    # -- reading ----------------------------------------------------------------------
    def table_names(self):
        """{suffix: the full name} of every table of ferryman's."""
        return {t: self.p + t for t in TABLES}

    def present(self):
        """The suffixes of ferryman's tables that exist here."""
        names = self.table_names()
        found = self.db.tables_present(list(names.values()))
        return frozenset(t for t, name in names.items() if name in found)

    def read_state(self, strict=True):
        """The database's state; an empty state when ferryman never ran here.

        ferryman's tables are checked against each other on every read:
        a table missing, a meta value that cannot be read, or the applied
        migrations and the history disagreeing. ``strict`` (every command that runs
        or checks migrations) raises the state's error, exit code 3: never re-run an
        applied migration because ferryman forgot it. Without it (status, force,
        baseline, restore) the problems are in ``state.problems`` and the state says
        as much as can be read."""
        state = self._read()
        error = state.error() if strict else None
        if error is not None:
            raise error
        return state

    def _read(self):
        present = self.present()
        if not present:
            state = State()
            state.tables = present
            state.populated = self.db.has_other_tables(self.p)
            if state.populated:
                from .foreign import detect

                state.found = detect(self.db)
            return state
        problems = []
        meta = {}
        if "meta" in present:
            meta = dict(self.db.query(self.sql("SELECT {key}, value FROM {p}meta")))
        schema, newer = self._schema(meta, present, problems)
        dirty = self._meta_json(meta, "dirty", problems)
        last_backup = self._meta_json(meta, "last_backup", problems)
        foreign = self._meta_json(meta, "foreign", problems)
        unreadable = [key for key, value in (("dirty", dirty), ("last_backup", last_backup),
                                             ("foreign", foreign)) if value is _UNREADABLE]
        if dirty is _UNREADABLE:
            # Unreadable, so a person must look: status shows it dirty, up refuses.
            dirty = {"reason": f"{self.p}meta's dirty mark cannot be read",
                     "raw": _clip(meta["dirty"])}
        if last_backup is _UNREADABLE:
            last_backup = None
        applied = []
        self.labels = self._labelled(schema)
        if "migrations" in present:
            rows = self.db.query(self.sql(
                "SELECT version, name, phase, kind, checksum, applied_at, run_id"
                + (", label" if self.labels else ", NULL") + " FROM {p}migrations"))
            applied = [Applied(decode(row[0], row[7]), *row[1:7]) for row in rows]
        repeatables = {}
        if "repeatables" in present:
            repeatables = {name: (checksum, body) for name, checksum, body in self.db.query(
                self.sql("SELECT name, checksum, body FROM {p}repeatables"))}
        state = State(applied, dirty=dirty, schema_version=schema, last_backup=last_backup,
                      repeatables=repeatables)
        state.tables = present
        state.newer = newer
        state.unreadable = unreadable
        state.foreign = foreign if isinstance(foreign, dict) else None
        if "history" in present:
            state.history_applied = self._history_applied()
        self._check_tables(state, present, problems)
        state.problems = problems
        state.repair = _repair(state) if problems else None
        return state

    def _schema(self, meta, present, problems):
        """(schema_version, newer): None where it cannot be read; ``newer`` is the
        version when a newer ferryman wrote the tables."""
        if "meta" not in present:
            return None, None
        text = meta.get("schema_version")
        if text is None:
            problems.append(f"{self.p}meta has no schema_version row")
            return None, None
        try:
            schema = int(str(text))
        except ValueError:
            problems.append(f"{self.p}meta's schema_version is {_clip(text)!r}, not a "
                            "number")
            return None, None
        if schema < 1:
            problems.append(f"{self.p}meta's schema_version is {schema}; ferryman writes "
                            f"1 to {SCHEMA_VERSION}")
            return None, None
        if schema > SCHEMA_VERSION:
            return schema, schema
        return schema, None

    def _meta_json(self, meta, key, problems):
        """A JSON object of meta (dirty, last_backup), None when absent, _UNREADABLE
        (with a problem) when the text is not JSON or not an object."""
        text = meta.get(key)
        if text is None:
            return None
        import json

        try:
            value = json.loads(str(text))
        except ValueError:
            problems.append(f"{self.p}meta's {key} value is not JSON: {_clip(text)!r}")
            return _UNREADABLE
        if not isinstance(value, dict):
            problems.append(f"{self.p}meta's {key} value is a JSON {_json_type(value)}, "
                            f"not an object: {_clip(text)!r}")
            return _UNREADABLE
        return value

    def _history_applied(self):
        """The versions ferryman's history says are applied: those whose latest
        successful change (up, baseline, force-up; down, force-down) adds them. The
        history is written in the transaction that writes the migrations table, so the
        two agree unless something else changed one of them."""
        changes = ", ".join(f"'{d}'" for d in _ADDS + _REMOVES)
        rows = self.db.query(self.sql(
            "SELECT version, direction" + (", label" if self.labels else ", NULL")
            + " FROM {p}history WHERE id IN (SELECT max(id) FROM "
            f"{{p}}history WHERE outcome = 'ok' AND version IS NOT NULL AND direction IN "
            f"({changes}) GROUP BY version)"))
        return {decode(version, text) for version, direction, text in rows
                if direction in _ADDS}

    def _labelled(self, schema):
        """Whether the tables have schema 3's label columns: by the schema version, or,
        where it cannot be read (damaged tables), by looking."""
        if schema is not None:
            return schema >= 3
        return "label" in self.db.columns(self.p + "migrations")

    def _check_tables(self, state, present, problems):
        """Each table that should be here is; the applied migrations and the history
        agree. Appends to ``problems``."""
        expected = set(TABLES) - {"repeatables"}
        if state.schema_version is not None and state.schema_version >= 2:
            expected.add("repeatables")  # schema 2 added it (UPGRADES)
        for table in TABLES:
            if table in expected and table not in present:
                problems.append(self._missing_text(table, state))
        if "migrations" in present and state.history_applied is not None:
            recorded = {a.version for a in state.applied}
            lacking = sorted(state.history_applied - recorded)
            unknown = sorted(recorded - state.history_applied)
            if lacking:
                problems.append(
                    f"{self.p}history records {_versions(lacking)} as applied, but "
                    f"{self.p}migrations has no row for {'them' if len(lacking) > 1 else 'it'}")
            if unknown:
                problems.append(
                    f"{self.p}migrations has {_versions(unknown)} applied, but "
                    f"{self.p}history has no record of applying "
                    f"{'them' if len(unknown) > 1 else 'it'} (or records "
                    f"{'them' if len(unknown) > 1 else 'it'} undone)")

    def _missing_text(self, table, state):
        name = self.p + table
        if table == "meta":
            text = f"{name} is missing (it holds the dirty flag and the schema version)"
            if state.applied:
                text += (f", though {self.p}migrations records {len(state.applied)} applied "
                         f"migration{'s' if len(state.applied) != 1 else ''}, up to "
                         f"{state.current_version}")
            return text
        if table == "migrations":
            text = f"{name} is missing (it records which migrations are applied)"
            if state.history_applied:
                text += (f"; {self.p}history says {_versions(sorted(state.history_applied))} "
                         "were applied")
            return text
        what = {"history": "every migration ever run", "runs": "every run",
                "backups": "the backups taken",
                "repeatables": "the repeatable migrations applied"}[table]
        return f"{name} is missing (it records {what})"

    def fingerprint(self):
        """A cheap summary that changes whenever the state does: which of ferryman's
        tables exist, the meta rows (dirty, last backup), the count, the sum of the
        versions and the latest time of the applied migrations (an up moves the time, a
        down the count), the size of the history, the repeatables."""
        present = self.present()
        if not present:
            return None
        meta = applied = history = again = ()
        if "meta" in present:
            meta = tuple(sorted(self.db.query(self.sql("SELECT {key}, value FROM {p}meta"))))
        if "migrations" in present:
            applied = tuple(self.db.query(self.sql(
                "SELECT count(*), sum(version), max(applied_at) FROM {p}migrations"))[0])
        if "history" in present:
            history = tuple(self.db.query(self.sql(
                "SELECT count(*), max(id) FROM {p}history"))[0])
        if "repeatables" in present:
            again = tuple(self.db.query(self.sql(
                "SELECT count(*), max(applied_at), max(checksum) FROM {p}repeatables"))[0])
        return present, meta, applied, history, again

    def entries(self, limit=None, version=None):
        """History rows, newest first."""
        where, params = "", ()
        if version is not None:
            where, params = " WHERE version = ?", (storage(version),)
        labels = self._labelled(None)
        rows = self.db.query(self.sql(
            "SELECT id, run_id, version, name, phase, kind, checksum, direction, started_at, "
            "finished_at, duration_ms, applied_by, ferryman_version, outcome, error"
            + (", label" if labels else ", NULL") +
            f" FROM {{p}}history{where} ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit
                                                            else "")), params)
        rows = [(*row[:2], decode(row[2], row[15]), *row[3:15]) for row in rows]
        keys = ("id", "run_id", "version", "name", "phase", "kind", "checksum", "direction",
                "started_at", "finished_at", "duration_ms", "applied_by",
                "ferryman_version", "outcome", "error")
        out = []
        for row in rows:
            entry = dict(zip(keys, row))
            entry["started_at"] = iso(entry["started_at"])
            entry["finished_at"] = iso(entry["finished_at"])
            out.append(entry)
        return out

    def last_run_backups(self, state):
        """The backups the last run depends on (kept by retention, whatever its age)."""
        if state.schema_version is None:
            return set()
        return {r["backup_id"] for r in self.runs(limit=1) if r.get("backup_id")}

    def runs(self, limit=20):
        labels = self._labelled(None)
        rows = self.db.query(self.sql(
            "SELECT id, command, started_at, finished_at, applied_by, ferryman_version, "
            "from_version, to_version, outcome, backup_id, message"
            + (", from_label, to_label" if labels else ", NULL, NULL") + " FROM {p}runs "
            f"ORDER BY started_at DESC LIMIT {int(limit)}"))
        rows = [(*row[:6], decode(row[6], row[11]), decode(row[7], row[12]), *row[8:11])
                for row in rows]
        keys = ("id", "command", "started_at", "finished_at", "applied_by",
                "ferryman_version", "from_version", "to_version", "outcome", "backup_id",
                "message")
        return [dict(zip(keys, row), started_at=iso(row[2]), finished_at=iso(row[3]))
                for row in rows]

    # -- writing ----------------------------------------------------------------------
    def write(self, state, work):
        """``work(self)`` in a transaction of its own, after creating or upgrading the
        tables as ``state`` needs: committed whole, or rolled back and raised. Every
        write of ferryman's tables outside a run's own transaction goes through here
        (backups recorded, force and baseline, a restore's record)."""
        try:
            self.begin(state)
            result = work(self)
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        return result

    def begin(self, state):
        """BEGIN, with the tables created or upgraded as ``state`` needs (prepare).
        Where DDL commits by itself (MySQL: ``transactional_ddl`` False) the tables are
        made first and the transaction begins after them, since a CREATE TABLE inside
        it would commit it and leave what follows in autocommit; elsewhere they are
        made inside it, so that a rollback leaves no table behind."""
        if self.db.transactional_ddl:
            self.db.begin()
            self.prepare(state)
        else:
            self.prepare(state)
            self.db.begin()

    # -- writing (inside the caller's transaction) ------------------------------------
    def prepare(self, state):
        """Create or upgrade the tables; refuse tables newer than this ferryman.

        A damaged state (``state.problems``: force or baseline repairing it) has every
        table created that is missing: the statements all say IF NOT EXISTS, so the
        tables that are there are left as they are."""
        if state.newer is not None or (state.schema_version or 0) > SCHEMA_VERSION:
            state.newer = state.newer or state.schema_version
            raise state.error()
        foreign = state.foreign or {}
        self.keeping = foreign if foreign.get("keep") and foreign.get("tool") in (
            "golang-migrate", "dbmate", "goose") else None
        known = None if state.problems else state.schema_version
        if known == SCHEMA_VERSION:
            return
        if known is None:
            self._create(_TABLES_1, _INDEXES_1)
        for version in range((known or 1) + 1, SCHEMA_VERSION + 1):
            self._create(UPGRADES.get(version, {}))
            self._add_columns(COLUMN_UPGRADES.get(version, {}))
        self.set_meta("schema_version", str(SCHEMA_VERSION))
        self.labels = True

    def _add_columns(self, tables):
        """Add the columns ``tables`` ({suffix: columns}) lists that are missing: an
        upgrade, or the repair of tables some of which an older ferryman made."""
        for table, columns in tables.items():
            have = self.db.columns(self.p + table)
            for name, kind, constraint in columns:
                if name not in have:
                    self.db.execute(f"ALTER TABLE {self.p}{table} ADD COLUMN "
                                    f"{self.db.quote(name)} {self.db.column_type(kind)}"
                                    + (f" {constraint}" if constraint else ""))

    def _create(self, tables, indexes=()):
        """Create ferryman's ``tables`` ({suffix: columns}) and ``indexes`` that are
        missing, in the dialect's DDL."""
        for table, columns in tables.items():
            self.db.execute(self.db.create_table(self.p + table, columns))
        for index, table, columns in indexes:
            self.db.execute(self.db.create_index(self.p + index, self.p + table, columns))

    def set_meta(self, key, value):
        """One statement either way, so it is atomic even outside a transaction."""
        if value is None:
            self.db.execute(self.sql("DELETE FROM {p}meta WHERE {key} = ?"), (key,))
        else:
            self.db.execute(self.db.upsert(self.p + "meta", ["key"], ["key", "value"]),
                            (key, value))

    def record_backup(self, manifest):
        """Remember a backup in the database, so that every host's status shows it."""
        import json

        from datetime import datetime

        created = datetime.fromisoformat(manifest["created_at"].replace("Z", "+00:00"))
        number, text = _stored(manifest.get("migration_version"))
        self.db.execute(self.sql(
            "INSERT INTO {p}backups (id, created_at, path, size, sha256, reason, "
            "migration_version, host, run_id, migration_label) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            (manifest["id"], self.db.timestamp(created), manifest["path"], manifest["size"],
             manifest["sha256"], manifest.get("reason"), number,
             manifest.get("host"), manifest.get("run_id"), text))
        summary = {k: manifest.get(k) for k in ("id", "path", "created_at", "size", "host")}
        self.set_meta("last_backup", json.dumps(summary, sort_keys=True))

    def backups(self):
        labels = self._labelled(None)
        rows = self.db.query(self.sql(
            "SELECT id, created_at, path, size, sha256, reason, migration_version, host, "
            "run_id" + (", migration_label" if labels else ", NULL")
            + " FROM {p}backups ORDER BY created_at DESC"))
        rows = [(*row[:6], decode(row[6], row[9]), *row[7:9]) for row in rows]
        keys = ("id", "created_at", "path", "size", "sha256", "reason", "migration_version",
                "host", "run_id")
        return [dict(zip(keys, row), created_at=iso(row[1])) for row in rows]

    def set_dirty(self, info):
        import json

        self.set_meta("dirty", json.dumps(info, sort_keys=True) if info else None)
        if self.keeping and self.keeping["tool"] == "golang-migrate":
            version = (info or {}).get("version")
            if version != self._foreign_dirty:
                self._foreign_dirty = version
                self._keep_golang_migrate(version)

    def start_run(self, run):
        self.db.execute(self.sql("UPDATE {p}runs SET outcome = 'abandoned' "
                                 "WHERE outcome = 'running'"))
        self.db.execute(self.sql(
            "INSERT INTO {p}runs (id, command, started_at, applied_by, ferryman_version, "
            "from_version, outcome, backup_id, from_label) "
            "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)"),
            (run.id, run.command, self.db.timestamp(run.started_at), who(), _version(),
             *_stored(run.from_version)[:1], run.backup_id, _stored(run.from_version)[1]))

    def finish_run(self, run, outcome, message=None, *, exists=True):
        """Record the run's end; ``exists`` is False when its row was rolled back."""
        if exists:
            self.db.execute(self.sql(
                "UPDATE {p}runs SET finished_at = ?, to_version = ?, outcome = ?, "
                "message = ?, backup_id = ?, to_label = ? WHERE id = ?"),
                (self.db.timestamp(run.finished_at), _stored(run.to_version)[0], outcome,
                 message, run.backup_id, _stored(run.to_version)[1], run.id))
            return
        self.db.execute(self.sql(
            "INSERT INTO {p}runs (id, command, started_at, finished_at, applied_by, "
            "ferryman_version, from_version, to_version, outcome, message, backup_id, "
            "from_label, to_label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            (run.id, run.command, self.db.timestamp(run.started_at),
             self.db.timestamp(run.finished_at), who(), _version(),
             _stored(run.from_version)[0], _stored(run.to_version)[0], outcome, message,
             run.backup_id, _stored(run.from_version)[1], _stored(run.to_version)[1]))

    def record(self, entries, apply=True):
        """Write history rows and the state changes they imply, in one batch; with
        ``apply`` False, only the history rows (force sets the migrations table itself)."""
        if not entries:
            return
        self.db.executemany(self.sql(
            "INSERT INTO {p}history (run_id, version, name, phase, kind, checksum, direction, "
            "started_at, finished_at, duration_ms, applied_by, ferryman_version, outcome, "
            "error, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            [(e.run_id, storage(e.version), e.name, e.phase, e.kind, e.checksum, e.direction,
              self.db.timestamp(e.started_at), self.db.timestamp(e.finished_at),
              e.duration_ms, who(), _version(), e.outcome, e.error, label(e.version))
             for e in entries])
        if not apply:
            return
        done = [e for e in entries if e.outcome == "ok"]
        applied = [e for e in done if e.direction in _ADDS and e.kind != "repeatable"]
        removed = [e for e in done if e.direction in _REMOVES and e.kind != "repeatable"]
        again = [e for e in done if e.kind == "repeatable"]
        if again:
            # Applied or rolled back, a repeatable ends with the body that ran last;
            # rolled back to nothing (it was new), it is forgotten.
            self.add_repeatables(again)
        self.remove_applied([e.version for e in removed])
        self.add_applied(applied)
        if self.keeping and (applied or removed):
            self.keep_foreign(applied, removed)

    # -- the other tool's table (keep_foreign_state) -----------------------------------
    def keep_foreign(self, applied, removed):
        """Make the other tool's table say what ferryman's now says, in the same
        transaction, so that the team can go back to that tool at any time (and the
        project's own migrations that read or alter that table keep working)."""
        tool, table = self.keeping["tool"], self.keeping["table"]
        if tool == "golang-migrate":
            self._keep_golang_migrate(None)
            return
        from . import foreign

        found = foreign.find(self.db, tool, table)
        if found is None:
            foreign.create(self.db, tool, table)
        # The whole set ferryman's table now holds, each version written as the file
        # names it (dbmate's 001), else as the other tool wrote it, else as a number:
        # a table that fell behind (kept only from now on) is brought up to date.
        texts = {e.version: e.text for e in applied}
        for text in (found.versions if found else []):
            if text.isdigit():
                texts.setdefault(int(text), text)
        ours = self.db.query(self.sql("SELECT version FROM {p}migrations ORDER BY version"))
        foreign.sync(self.db, tool, table, [texts.get(v, str(v)) for (v,) in ours])

    def _keep_golang_migrate(self, dirty):
        """golang-migrate keeps one row: the highest version applied, or the version a
        step is going to, dirty. Written as golang-migrate writes it: in a transaction,
        even where ferryman's own step runs outside one."""
        from . import foreign

        table = self.keeping["table"]
        own = not self.db.transaction_open()
        if own:
            self.db.begin()
        try:
            if foreign.find(self.db, "golang-migrate", table) is None:
                foreign.create(self.db, "golang-migrate", table)
            highest = self.db.query(self.sql("SELECT max(version) FROM {p}migrations"))[0][0]
            foreign.sync(self.db, "golang-migrate", table,
                         [] if highest is None else [str(highest)], dirty=dirty)
            if own:
                self.db.commit()
        except BaseException:
            if own:
                self.db.rollback()
            raise

    def add_repeatables(self, entries):
        """The repeatables table says each entry's body is what stands in the database
        now (none: forgotten)."""
        if entries:
            self.db.executemany(self.sql("DELETE FROM {p}repeatables WHERE name = ?"),
                                [(e.name,) for e in entries])
            self.db.executemany(self.sql(
                "INSERT INTO {p}repeatables (name, phase, checksum, body, applied_at, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?)"),
                [(e.name, e.phase, e.checksum, e.body, self.db.timestamp(e.finished_at),
                  e.run_id) for e in entries if e.body])

    def remove_applied(self, versions):
        if versions:
            self.db.executemany(self.sql("DELETE FROM {p}migrations WHERE version = ?"),
                                [(storage(v),) for v in versions])

    def add_applied(self, entries):
        """Rows of the migrations table, from the entries that applied them."""
        if entries:
            self.db.executemany(self.sql(
                "INSERT INTO {p}migrations (version, name, phase, kind, checksum, applied_at, "
                "run_id, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                [(storage(e.version), e.name, e.phase, e.kind, e.checksum,
                  self.db.timestamp(e.finished_at), e.run_id, label(e.version))
                 for e in entries])


def _stored(version):
    """(number, label) of a version for the runs and backups tables: a keyed version
    (core/versions.py) by its label, a version that is text from a backup's manifest
    (JSON) by nothing but the text it cannot be told from."""
    if version is None or isinstance(version, bool):
        return None, None
    if isinstance(version, int) or label(version) is not None:
        return storage(version), label(version)
    return None, None


_ADDS = ("up", "baseline", "force-up")
_REMOVES = ("down", "force-down")


class Entry:
    """One history row to write."""

    __slots__ = ("run_id", "version", "name", "phase", "kind", "checksum", "direction",
                 "started_at", "finished_at", "duration_ms", "outcome", "error", "body",
                 "text")

    def __init__(self, run_id, migration, direction, started_at, finished_at, outcome="ok",
                 error=None, checksum=None, body=None):
        self.run_id = run_id
        self.version = migration.version
        self.name = migration.name
        self.phase = migration.phase
        self.kind = migration.kind
        self.checksum = checksum
        self.direction = direction
        self.started_at = started_at
        self.finished_at = finished_at
        self.duration_ms = ms((finished_at - started_at).total_seconds())
        self.outcome = outcome
        self.error = error
        self.body = body  # a repeatable's text, as it now stands in the database
        # The version as the file name writes it (dbmate's 001 is not 1): what the other
        # tool's table records (keep_foreign_state).
        self.text = getattr(migration, "version_text", None) or str(migration.version)


_who = None


def who():
    """user@host of this process, for the history (``uid N@host`` for a user without
    a passwd entry: core/whoami.py)."""
    global _who
    if _who is None:
        from .whoami import user_at_host

        _who = user_at_host()
    return _who


def _version():
    from .._version import __version__

    return __version__


TABLES = ("meta", "migrations", "history", "runs", "backups", "repeatables")

_UNREADABLE = object()  # a meta value that is not the JSON object ferryman wrote


def _clip(text, limit=60):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_type(value):
    return {str: "string", list: "array", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _versions(versions):
    shown = ", ".join(map(str, versions[:10]))
    return shown + (f" and {len(versions) - 10} more" if len(versions) > 10 else "")


def _repair(state):
    """What a person runs to repair a damaged state (see State.problems).

    `ferryman force V` rebuilds ferryman's tables consistently (api.Migrator.force):
    it creates the missing ones, rewrites schema_version, clears the dirty mark, and
    records exactly the migrations up to V as applied in both the migrations table
    and the history, running nothing. V is the version the surviving tables say the
    database is at; when nothing says it, only a person can tell."""
    restore = ("restore a backup taken before the damage (`ferryman backup list`, then "
               "`ferryman backup restore ID`)")
    if "migrations" not in state.tables and state.history_applied is None:
        return ("ferryman cannot tell what was applied here: " + restore + "; or, once you "
                "know the version the schema is at, record it with `ferryman baseline "
                "VERSION` (it runs nothing)")
    versions = {a.version for a in state.applied} | (state.history_applied or set())
    version = max(versions) if versions else "none"
    return (f"look at `ferryman history` and the schema; if the database is at version "
            f"{version}, run `ferryman force {version}`: it rebuilds ferryman's tables "
            f"with the migrations up to {version} recorded as applied, and runs nothing; or "
            + restore)
