"""ferryman's own tables in each database, and the state read from them.

    {prefix}meta        key/value: schema_version (of these tables), dirty, last_backup
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

from ..errors import SchemaVersionError

SCHEMA_VERSION = 2

_DDL = [
    "CREATE TABLE IF NOT EXISTS {p}meta (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}migrations (version {bigint} PRIMARY KEY, "
    "name TEXT NOT NULL, phase VARCHAR(32) NOT NULL, kind VARCHAR(16) NOT NULL, "
    "checksum VARCHAR(64) NOT NULL, applied_at {timestamp} NOT NULL, "
    "run_id VARCHAR(40) NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {p}history (id {id}, run_id VARCHAR(40) NOT NULL, "
    "version {bigint}, name TEXT, phase VARCHAR(32), kind VARCHAR(16), checksum VARCHAR(64), "
    "direction VARCHAR(16) NOT NULL, started_at {timestamp} NOT NULL, "
    "finished_at {timestamp}, duration_ms {real}, applied_by TEXT NOT NULL, "
    "ferryman_version VARCHAR(32) NOT NULL, outcome VARCHAR(16) NOT NULL, error TEXT)",
    "CREATE INDEX IF NOT EXISTS {p}history_version ON {p}history (version)",
    "CREATE TABLE IF NOT EXISTS {p}runs (id VARCHAR(40) PRIMARY KEY, "
    "command VARCHAR(32) NOT NULL, started_at {timestamp} NOT NULL, "
    "finished_at {timestamp}, applied_by TEXT NOT NULL, "
    "ferryman_version VARCHAR(32) NOT NULL, from_version {bigint}, to_version {bigint}, "
    "outcome VARCHAR(24) NOT NULL, backup_id TEXT, message TEXT)",
    "CREATE TABLE IF NOT EXISTS {p}backups (id VARCHAR(64) PRIMARY KEY, "
    "created_at {timestamp} NOT NULL, path TEXT NOT NULL, size {bigint} NOT NULL, "
    "sha256 VARCHAR(64) NOT NULL, reason TEXT, migration_version {bigint}, host TEXT, "
    "run_id VARCHAR(40))",
]

# schema_version -> statements that bring the tables from the version before to it.
# A new database gets _DDL (schema 1) and then every upgrade, so the upgrades run on
# every database ferryman ever creates, not only on old ones.
UPGRADES = {
    2: ["CREATE TABLE IF NOT EXISTS {p}repeatables (name VARCHAR(255) PRIMARY KEY, "
        "phase VARCHAR(32) NOT NULL, checksum VARCHAR(64) NOT NULL, body TEXT NOT NULL, "
        "applied_at {timestamp} NOT NULL, run_id VARCHAR(40) NOT NULL)"],
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
    migration's name to its (checksum, body) as applied."""

    __slots__ = ("applied", "dirty", "schema_version", "last_backup", "by_version",
                 "repeatables")

    def __init__(self, applied=(), dirty=None, schema_version=None, last_backup=None,
                 repeatables=None):
        self.applied = sorted(applied, key=lambda a: a.version)
        self.by_version = {a.version: a for a in self.applied}
        self.dirty = dirty
        self.schema_version = schema_version
        self.last_backup = last_backup
        self.repeatables = repeatables or {}

    @property
    def current_version(self):
        return self.applied[-1].version if self.applied else None

    @property
    def initialised(self):
        return self.schema_version is not None


class History:
    """Reads and writes ferryman's tables through a dialect connection."""

    def __init__(self, db, prefix="ferryman_"):
        self.db = db
        self.p = prefix
        self._marker = db.placeholder

    def sql(self, text):
        """Our statements are written with ``?``; the driver may want ``%s``."""
        text = text.replace("{p}", self.p)
        return text if self._marker == "?" else text.replace("?", self._marker)

    # -- reading ----------------------------------------------------------------------
    def read_state(self):
        """The database's state; an empty state when ferryman never ran here."""
        from ..errors import DriverError

        try:
            meta = dict(self.db.query(self.sql("SELECT key, value FROM {p}meta")))
        except DriverError as exc:
            if exc.missing_table:
                return State()
            raise
        rows = self.db.query(self.sql(
            "SELECT version, name, phase, kind, checksum, applied_at, run_id "
            "FROM {p}migrations ORDER BY version"))
        schema = int(meta["schema_version"]) if "schema_version" in meta else None
        repeatables = {}
        if schema is not None and schema >= 2:
            repeatables = {name: (checksum, body) for name, checksum, body in self.db.query(
                self.sql("SELECT name, checksum, body FROM {p}repeatables"))}
        return State(
            [Applied(*row) for row in rows],
            dirty=_json(meta.get("dirty")),
            schema_version=schema,
            last_backup=_json(meta.get("last_backup")),
            repeatables=repeatables,
        )

    def fingerprint(self):
        """A cheap summary that changes whenever the state does: the count, the sum of
        the versions and the latest time of the applied migrations (an up moves the
        time, a down the count), the meta rows (dirty, last backup), the repeatables."""
        from ..errors import DriverError

        try:
            meta = tuple(sorted(self.db.query(self.sql("SELECT key, value FROM {p}meta"))))
        except DriverError as exc:
            if exc.missing_table:
                return None
            raise
        applied = tuple(self.db.query(self.sql(
            "SELECT count(*), sum(version), max(applied_at) FROM {p}migrations"))[0])
        again = ()
        if int(dict(meta).get("schema_version", 1)) >= 2:
            again = tuple(self.db.query(self.sql(
                "SELECT count(*), max(applied_at), max(checksum) FROM {p}repeatables"))[0])
        return meta, applied, again

    def entries(self, limit=None, version=None):
        """History rows, newest first."""
        where, params = "", ()
        if version is not None:
            where, params = " WHERE version = ?", (version,)
        rows = self.db.query(self.sql(
            "SELECT id, run_id, version, name, phase, kind, checksum, direction, started_at, "
            "finished_at, duration_ms, applied_by, ferryman_version, outcome, error "
            f"FROM {{p}}history{where} ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit
                                                           else "")), params)
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

    def runs(self, limit=20):
        rows = self.db.query(self.sql(
            "SELECT id, command, started_at, finished_at, applied_by, ferryman_version, "
            "from_version, to_version, outcome, backup_id, message FROM {p}runs "
            f"ORDER BY started_at DESC LIMIT {int(limit)}"))
        keys = ("id", "command", "started_at", "finished_at", "applied_by",
                "ferryman_version", "from_version", "to_version", "outcome", "backup_id",
                "message")
        return [dict(zip(keys, row), started_at=iso(row[2]), finished_at=iso(row[3]))
                for row in rows]

    # -- writing (inside the caller's transaction) ------------------------------------
    def prepare(self, state):
        """Create or upgrade the tables; refuse tables newer than this ferryman."""
        if state.schema_version is not None and state.schema_version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"ferryman's tables here are at schema {state.schema_version}, newer than "
                f"this ferryman knows ({SCHEMA_VERSION})",
                hint="upgrade ferryman (pip install -U ferryman)")
        if state.schema_version == SCHEMA_VERSION:
            return
        if state.schema_version is None:
            for statement in _DDL:
                self.db.execute(statement.format(p=self.p, **self.db.TYPES))
        for version in range((state.schema_version or 1) + 1, SCHEMA_VERSION + 1):
            for statement in UPGRADES.get(version, ()):
                self.db.execute(statement.format(p=self.p, **self.db.TYPES))
        self.set_meta("schema_version", str(SCHEMA_VERSION))

    def set_meta(self, key, value):
        """One statement either way, so it is atomic even outside a transaction."""
        if value is None:
            self.db.execute(self.sql("DELETE FROM {p}meta WHERE key = ?"), (key,))
        else:
            self.db.execute(self.sql(
                "INSERT INTO {p}meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value"), (key, value))

    def record_backup(self, manifest):
        """Remember a backup in the database, so that every host's status shows it."""
        import json

        from datetime import datetime

        created = datetime.fromisoformat(manifest["created_at"].replace("Z", "+00:00"))
        self.db.execute(self.sql(
            "INSERT INTO {p}backups (id, created_at, path, size, sha256, reason, "
            "migration_version, host, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            (manifest["id"], self.db.timestamp(created), manifest["path"], manifest["size"],
             manifest["sha256"], manifest.get("reason"), manifest.get("migration_version"),
             manifest.get("host"), manifest.get("run_id")))
        summary = {k: manifest.get(k) for k in ("id", "path", "created_at", "size", "host")}
        self.set_meta("last_backup", json.dumps(summary, sort_keys=True))

    def backups(self):
        rows = self.db.query(self.sql(
            "SELECT id, created_at, path, size, sha256, reason, migration_version, host, "
            "run_id FROM {p}backups ORDER BY created_at DESC"))
        keys = ("id", "created_at", "path", "size", "sha256", "reason", "migration_version",
                "host", "run_id")
        return [dict(zip(keys, row), created_at=iso(row[1])) for row in rows]

    def set_dirty(self, info):
        import json

        self.set_meta("dirty", json.dumps(info, sort_keys=True) if info else None)

    def start_run(self, run):
        self.db.execute(self.sql("UPDATE {p}runs SET outcome = 'abandoned' "
                                 "WHERE outcome = 'running'"))
        self.db.execute(self.sql(
            "INSERT INTO {p}runs (id, command, started_at, applied_by, ferryman_version, "
            "from_version, outcome, backup_id) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)"),
            (run.id, run.command, self.db.timestamp(run.started_at), who(), _version(),
             run.from_version, run.backup_id))

    def finish_run(self, run, outcome, message=None, *, exists=True):
        """Record the run's end; ``exists`` is False when its row was rolled back."""
        if exists:
            self.db.execute(self.sql(
                "UPDATE {p}runs SET finished_at = ?, to_version = ?, outcome = ?, "
                "message = ?, backup_id = ? WHERE id = ?"),
                (self.db.timestamp(run.finished_at), run.to_version, outcome, message,
                 run.backup_id, run.id))
            return
        self.db.execute(self.sql(
            "INSERT INTO {p}runs (id, command, started_at, finished_at, applied_by, "
            "ferryman_version, from_version, to_version, outcome, message, backup_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            (run.id, run.command, self.db.timestamp(run.started_at),
             self.db.timestamp(run.finished_at), who(), _version(), run.from_version,
             run.to_version, outcome, message, run.backup_id))

    def record(self, entries):
        """Write history rows and the state changes they imply, in one batch."""
        if not entries:
            return
        self.db.executemany(self.sql(
            "INSERT INTO {p}history (run_id, version, name, phase, kind, checksum, direction, "
            "started_at, finished_at, duration_ms, applied_by, ferryman_version, outcome, "
            "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            [(e.run_id, e.version, e.name, e.phase, e.kind, e.checksum, e.direction,
              self.db.timestamp(e.started_at), self.db.timestamp(e.finished_at),
              e.duration_ms, who(), _version(), e.outcome, e.error) for e in entries])
        done = [e for e in entries if e.outcome == "ok"]
        applied = [e for e in done if e.direction in _ADDS and e.kind != "repeatable"]
        removed = [e for e in done if e.direction in _REMOVES and e.kind != "repeatable"]
        again = [e for e in done if e.kind == "repeatable"]
        if again:
            # Applied or rolled back, a repeatable ends with the body that ran last;
            # rolled back to nothing (it was new), it is forgotten.
            self.db.executemany(self.sql("DELETE FROM {p}repeatables WHERE name = ?"),
                                [(e.name,) for e in again])
            self.db.executemany(self.sql(
                "INSERT INTO {p}repeatables (name, phase, checksum, body, applied_at, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?)"),
                [(e.name, e.phase, e.checksum, e.body, self.db.timestamp(e.finished_at),
                  e.run_id) for e in again if e.body])
        if removed:
            self.db.executemany(self.sql("DELETE FROM {p}migrations WHERE version = ?"),
                                [(e.version,) for e in removed])
        if applied:
            self.db.executemany(self.sql(
                "INSERT INTO {p}migrations (version, name, phase, kind, checksum, applied_at, "
                "run_id) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                [(e.version, e.name, e.phase, e.kind, e.checksum,
                  self.db.timestamp(e.finished_at), e.run_id) for e in applied])


_ADDS = ("up", "baseline", "force-up")
_REMOVES = ("down", "force-down")


class Entry:
    """One history row to write."""

    __slots__ = ("run_id", "version", "name", "phase", "kind", "checksum", "direction",
                 "started_at", "finished_at", "duration_ms", "outcome", "error", "body")

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
        self.duration_ms = round((finished_at - started_at).total_seconds() * 1000, 3)
        self.outcome = outcome
        self.error = error
        self.body = body  # a repeatable's text, as it now stands in the database


def iso(value):
    """A timestamp as ISO 8601 UTC text with milliseconds, whatever the driver returned."""
    if value is None or isinstance(value, str):
        return value
    from datetime import timezone

    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


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


def _json(text):
    if text is None:
        return None
    import json

    return json.loads(text)
