"""Other migration tools' state tables: read them, create them, keep them up to date.

A database that golang-migrate, dbmate, goose or Flyway migrated holds that tool's
record of what it applied. ``detect`` reads every such table it finds, so ferryman can
adopt the state instead of re-running history; ``create`` makes the table as the tool
would; ``sync`` rewrites it to say what ferryman has applied, inside the caller's
transaction, so the team can go back to the old tool at any time during a switch.
This module is database I/O only: it knows nothing of ferryman's own tables, of the
migration folder or of the runner.

What each tool writes, read from its source (the design notes' FORMATS.md names the
files):

- golang-migrate ``schema_migrations(version, dirty)``: one row at most, replaced
  (DELETE/TRUNCATE, then INSERT) at every step; empty means nothing applied; a dirty
  row names the version a step was going to. Only the newest version is recorded:
  every version of the folder up to it counts as applied.
- dbmate ``schema_migrations(version)``: one row per applied version, a string (``001``
  and ``1`` differ). The table looks like Rails' ``schema_migrations``.
- goose ``goose_db_version(id, version_id, is_applied, tstamp)``: creating it inserts
  (0, true); up inserts (v, true), down deletes v's rows. The newest row of a version
  decides; the current version is the last one applied, not the highest.
- Flyway ``flyway_schema_history``: a row per run, ordered by ``installed_rank``;
  repeatables have no version; ``success = false`` rows block Flyway until ``repair``;
  versions at or below a baseline row count as applied.

Table names come from the configuration: letters, digits and underscores, and on
PostgreSQL an optional ``schema.`` before them; anything else is a ConfigError, and
every name reaches SQL quoted.
"""

import re
import zlib
from collections import namedtuple
from dataclasses import dataclass, field

from ..errors import ConfigError, InputError

# Each tool's default table name, in the order detect() reports them.
TOOLS = {
    "golang-migrate": "schema_migrations",
    "dbmate": "schema_migrations",
    "goose": "goose_db_version",
    "flyway": "flyway_schema_history",
}
_SHOWN = {"golang-migrate": "golang-migrate", "dbmate": "dbmate", "goose": "goose",
          "flyway": "Flyway"}
# The columns a table must have to be that tool's.
_NEEDS = {
    "golang-migrate": {"version", "dirty"},
    "dbmate": {"version"},
    "goose": {"id", "version_id", "is_applied"},
    "flyway": {"installed_rank", "version", "description", "type", "script", "checksum",
               "success"},
}
_BIGINT = 2 ** 63 - 1
_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_DIGITS = re.compile(r"[0-9]+")
_FLYWAY_VERSION = re.compile(r"[0-9]+(?:[._][0-9]+)*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Flyway's CoreMigrationType and BaselineMigrationType, its legacy SPRING_JDBC, and the
# undo types of its paid editions.
_FLYWAY_TYPES = {"SCHEMA", "BASELINE", "DELETE", "SQL", "JDBC", "SCRIPT", "UNDO_SCRIPT",
                 "CUSTOM", "SQL_BASELINE", "JDBC_BASELINE", "SPRING_JDBC", "UNDO_SQL",
                 "UNDO_JDBC", "UNDO_SPRING_JDBC"}
_FLYWAY_BASELINES = {"BASELINE", "SQL_BASELINE", "JDBC_BASELINE"}
_FLYWAY_KEPT = _FLYWAY_BASELINES | {"SCHEMA"}

Synced = namedtuple("Synced", "added removed")
Synced.__doc__ = "What sync() changed: the version texts it added and removed."


@dataclass(frozen=True)
class Applied:
    """One applied migration as the tool recorded it. ``version`` is the tool's text
    (None for a Flyway repeatable); the others are None where the tool records nothing:
    only Flyway has description, script, checksum (its CRC32), type and rank."""

    version: str | None
    description: str | None = None
    script: str | None = None
    checksum: int | None = None
    type: str | None = None
    rank: int | None = None


@dataclass
class ForeignState:
    """What one tool's table says.

    ``applied``: the Applied entries in the tool's own order (golang-migrate: its one
    version; dbmate: by version text; goose: the order they were applied in; Flyway: by
    installed_rank, a repeatable's newest run only, deleted and undone ones left out).
    ``complete`` is False when ``applied`` is not the whole story: golang-migrate keeps
    only the newest version, and every version of the folder up to it is applied.
    ``current``: the version the tool itself reports (goose: the last applied; Flyway:
    the highest, a baseline included), or None when nothing is applied.
    ``dirty``: golang-migrate's dirty version; ``failed``: Flyway's ``success = false``
    rows; the tool refuses to run while either is set. ``baseline``: the version of
    Flyway's newest baseline row. ``problems``: what does not read as the tool writes it.
    """

    tool: str
    table: str
    applied: list = field(default_factory=list)
    current: str | None = None
    dirty: str | None = None
    failed: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    baseline: str | None = None
    complete: bool = True

    @property
    def versions(self):
        """The applied version texts, repeatables left out."""
        return [a.version for a in self.applied if a.version is not None]

    @property
    def clean(self):
        """Whether the tool would run on: no dirty version, no failed row."""
        return self.dirty is None and not self.failed

    def summary(self):
        """One line for a person, e.g. "golang-migrate schema_migrations: version 30,
        clean"."""
        text = f"{_SHOWN[self.tool]} {self.table}: {_SUMMARIES[self.tool](self)}"
        if self.problems:
            count = len(self.problems)
            text += f"; {count} problem{'s' if count != 1 else ''}"
        return text


def _summary_golang_migrate(state):
    if state.dirty is not None:
        return (f"version {state.dirty}, dirty" if state.current is not None
                else "nothing applied, dirty (a down to nothing failed)")
    return "nothing applied" if state.current is None else f"version {state.current}, clean"


def _summary_dbmate(state):
    count = len(state.applied)
    if not count:
        return "nothing applied"
    return f"{count} version{'s' if count != 1 else ''} applied, the latest {state.current}"


def _summary_goose(state):
    if state.current is None:
        return "nothing applied"
    return f"version {state.current} ({len(state.applied)} applied)"


def _summary_flyway(state):
    versioned = len(state.versions)
    repeatables = len(state.applied) - versioned
    parts = [f"{versioned} applied"]
    if state.baseline is not None:
        parts.append(f"baseline {state.baseline}")
    if repeatables:
        parts.append(f"{repeatables} repeatable{'s' if repeatables != 1 else ''}")
    if state.current is None and not repeatables:
        text = "nothing applied"
    else:
        text = f"version {state.current or 'none'} ({', '.join(parts)})"
    if state.failed:
        names = ", ".join(a.version or a.description or "?" for a in state.failed)
        text += f", {len(state.failed)} failed ({names})"
    return text


_SUMMARIES = {"golang-migrate": _summary_golang_migrate, "dbmate": _summary_dbmate,
              "goose": _summary_goose, "flyway": _summary_flyway}


# -- table names ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Table:
    name: str    # as configured
    parts: tuple  # (schema, table) or (table,), as the tool spells them
    sql: str     # quoted, for statements
    lookup: str  # for db.tables_present and the catalog


def _known(tool):
    if tool not in TOOLS:
        raise ConfigError(f"ferryman does not know the migration tool {tool!r}",
                          hint=f"use one of: {', '.join(TOOLS)}")


def _table(db, tool, name):
    """``name`` checked and quoted for ``db``; ConfigError when it is not a plain
    (PostgreSQL: optionally schema-qualified) identifier."""
    _known(tool)
    parts = name.split(".") if isinstance(name, str) else []
    most = 2 if db.name == "postgresql" else 1
    if not 0 < len(parts) <= most or not all(_PART.fullmatch(p) for p in parts):
        where = "schema.table or table" if most == 2 else "a table name (SQLite has no schemas)"
        raise ConfigError(
            f"{name!r} is not a table name ferryman can use for {_SHOWN[tool]}'s state table",
            hint=f"write {where}: letters, digits and underscores, starting with a letter "
                 f"or an underscore, at most 63 characters")
    if tool == "goose" and db.name == "postgresql":
        # goose writes the name unquoted, which PostgreSQL folds to lower case.
        parts = [p.lower() for p in parts]
    quoted = ".".join(db.quote(p) for p in parts)
    return _Table(name, tuple(parts), quoted, quoted if db.name == "postgresql" else parts[0])


def _columns(db, table):
    """{column name (lower case): declared type (lower case)} of an existing table."""
    return db.columns(table.lookup)


def _fits(tool, columns):
    """Whether a table with ``columns`` is ``tool``'s: golang-migrate and dbmate share
    the name schema_migrations, and only golang-migrate's has ``dirty``."""
    if not _NEEDS[tool] <= columns.keys():
        return False
    if tool == "dbmate":
        return "dirty" not in columns and any(
            word in columns["version"] for word in ("char", "text", "clob"))
    return True


# -- detect --------------------------------------------------------------------------
def detect(db, names=None):
    """A ForeignState for every known tool's table present in ``db``; ``names``
    overrides the default table names ({tool: name}). One catalog query when none is
    there. A table named for two tools (schema_migrations) is the one whose columns
    it has; one that fits no tool named for it is reported with a problem saying so."""
    names = {**TOOLS, **(names or {})}
    tables = {tool: _table(db, tool, name) for tool, name in names.items()}
    present = db.tables_present({t.lookup for t in tables.values()})
    by_lookup = {}
    for tool, table in tables.items():
        if table.lookup in present:
            by_lookup.setdefault(table.lookup, []).append(tool)
    return [_detect_one(db, tables[tools[0]], tools) for tools in by_lookup.values()]


def find(db, tool, table):
    """``tool``'s state in its table named ``table``, or None where there is no
    table of that name or it is another tool's (golang-migrate's and dbmate's share
    a name)."""
    ref = _table(db, tool, table)
    if not _fits(tool, _columns(db, ref)):  # no columns: no such table
        return None
    return _READERS[tool](db, ref)


def _detect_one(db, table, tools):
    columns = _columns(db, table)
    fitting = [tool for tool in tools if _fits(tool, columns)]
    if fitting:
        return _READERS[fitting[0]](db, table)
    wanted = " or ".join(f"{_SHOWN[t]}'s ({', '.join(sorted(_NEEDS[t]))})" for t in tools)
    return ForeignState(tools[0], table.name, problems=[
        f"{table.name} has the columns {', '.join(sorted(columns)) or 'none'}, not "
        f"{wanted}: another tool's table of the same name?"])


def _select(db, table, columns, order=None):
    names = ", ".join(db.quote(c) for c in columns)
    tail = f" ORDER BY {db.quote(order)}" if order else ""
    return db.query(f"SELECT {names} FROM {table.sql}{tail}")


def _integer(value):
    """An integer column's value, or None when it holds something else (SQLite lets
    any value into any column)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        return int(value)
    return None


def _boolean(value):
    """A boolean column's value: PostgreSQL's bool, SQLite's 1/0 (or 'true'/'false'
    text), None when it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0 if value in (0, 1) else None
    if isinstance(value, str):
        return {"1": True, "0": False, "t": True, "f": False, "true": True,
                "false": False}.get(value.strip().lower())
    return None


def _read_golang_migrate(db, table):
    state = ForeignState("golang-migrate", table.name, complete=False)
    rows = []
    for version, dirty in _select(db, table, ("version", "dirty")):
        number, flag = _integer(version), _boolean(dirty)
        if number is None or flag is None:
            state.problems.append(f"the row ({version!r}, {dirty!r}) is not a version "
                                  f"number and a dirty flag")
        else:
            rows.append((number, flag))
    if len(rows) > 1:
        state.problems.append(
            f"{table.name} holds {len(rows)} rows; golang-migrate keeps one at most and "
            f"reads any one of them (the highest is taken here)")
    if rows:
        _golang_migrate_row(state, *max(rows))
    return state


def _golang_migrate_row(state, version, dirty):
    if version >= 0:
        state.current = str(version)
        state.applied = [Applied(str(version))]
    elif version < -1 or not dirty:
        state.problems.append(f"version {version} is not one golang-migrate writes")
    if dirty:
        state.dirty = str(version)


def _read_dbmate(db, table):
    state = ForeignState("dbmate", table.name)
    versions = sorted(str(row[0]) for row in _select(db, table, ("version",))
                      if row[0] is not None)
    state.applied = [Applied(v) for v in versions]
    state.current = versions[-1] if versions else None
    state.problems = [f"version {v!r} is not a number: dbmate's versions are the digits "
                      f"its file names start with" for v in versions if not _DIGITS.fullmatch(v)]
    return state


def _goose_rows(db, table, problems):
    """(id, version, applied) of every readable row, by id."""
    rows = []
    for row_id, version, applied in _select(db, table, ("id", "version_id", "is_applied"),
                                            order="id"):
        number, flag = _integer(version), _boolean(applied)
        if number is None or flag is None or number < 0:
            problems.append(f"the row with id {row_id} ({version!r}, {applied!r}) is not a "
                            f"version number and an applied flag")
        else:
            rows.append((row_id, number, flag))
    return rows


def _goose_decided(rows):
    """{version: (id, applied)} from each version's newest row, as goose reads it."""
    decided = {}
    for row_id, version, applied in rows:
        decided[version] = (row_id, applied)
    return decided


def _read_goose(db, table):
    state = ForeignState("goose", table.name)
    decided = _goose_decided(_goose_rows(db, table, state.problems))
    done = sorted((row_id, v) for v, (row_id, applied) in decided.items() if applied)
    state.applied = [Applied(str(v)) for _, v in done if v != 0]
    last = done[-1][1] if done else 0
    state.current = str(last) if last else None
    return state


def _flyway_rows(db, table, problems):
    """Every row of a Flyway table as an (Applied, success) pair, by installed_rank."""
    rows = []
    columns = ("installed_rank", "version", "description", "type", "script", "checksum",
               "success")
    for rank, version, description, kind, script, checksum, success in _select(
            db, table, columns, order="installed_rank"):
        entry = Applied(None if version is None else str(version), description, script,
                        _integer(checksum), kind, _integer(rank))
        flag = _boolean(success)
        if entry.version is not None and _flyway_key(entry.version) is None:
            problems.append(f"installed_rank {rank}: version {version!r} is not a "
                            f"Flyway version")
        elif kind not in _FLYWAY_TYPES:
            problems.append(f"installed_rank {rank}: type {kind!r} is one Flyway does not know")
        elif flag is None:
            problems.append(f"installed_rank {rank}: success {success!r} is not a boolean")
        else:
            rows.append((entry, flag))
    return rows


def _read_flyway(db, table):
    state = ForeignState("flyway", table.name)
    for entry, success in _flyway_rows(db, table, state.problems):
        _flyway_apply(state, entry, success)
    keys = [(_flyway_key(v), v) for v in state.versions]
    state.current = max(keys)[1] if keys else None
    return state


def _flyway_apply(state, entry, success):
    """One row of Flyway's table, in rank order, read into ``state``."""
    if entry.type == "SCHEMA":
        return
    if not success:
        state.failed.append(entry)
        return
    same = _flyway_same(entry)
    if entry.type == "DELETE" or entry.type.startswith("UNDO_"):
        state.applied = [a for a in state.applied if not same(a)]
        return
    if entry.type in _FLYWAY_BASELINES and entry.version is not None and (
            state.baseline is None or _flyway_key(entry.version) > _flyway_key(state.baseline)):
        state.baseline = entry.version
    if entry.version is None:
        state.applied = [a for a in state.applied if not same(a)]
    state.applied.append(entry)


def _flyway_same(entry):
    """Whether an Applied is the same migration as ``entry``: the same version, or for
    a repeatable the same description."""
    if entry.version is None:
        return lambda a: a.version is None and a.description == entry.description
    key = _flyway_key(entry.version)
    return lambda a: a.version is not None and _flyway_key(a.version) == key


def _flyway_key(text):
    """Flyway's MigrationVersion order: `_` is `.`, each part a whole number, trailing
    zero parts dropped (1 = 1.0 = 001); None when ``text`` is no version."""
    if not isinstance(text, str) or not _FLYWAY_VERSION.fullmatch(text):
        return None
    parts = [int(p) for p in re.split(r"[._]", text)]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


_READERS = {"golang-migrate": _read_golang_migrate, "dbmate": _read_dbmate,
            "goose": _read_goose, "flyway": _read_flyway}


def flyway_checksum(text):
    """Flyway's checksum of a migration's text: CRC32 of the UTF-8 bytes of its lines
    without their line breaks (``\\r\\n``, ``\\r`` or ``\\n``, as Java's readLine
    splits them), a leading U+FEFF dropped, read as a signed 32-bit integer
    (ChecksumCalculator.calculateChecksumForResource). Line breaks count for nothing:
    "a;\\nb;\\n" and "a;b;" have the same checksum. Flyway takes it after replacing its
    placeholders."""
    crc = 0
    for number, line in enumerate(_LINE_BREAK.split(text)):
        if number == 0:
            line = line.removeprefix("\ufeff")
        crc = zlib.crc32(line.encode("utf-8", "replace"), crc)
    return crc - 2 ** 32 if crc >= 2 ** 31 else crc


# -- create --------------------------------------------------------------------------
def create(db, tool, table):
    """Create ``tool``'s state table named ``table`` with the DDL the tool itself runs on
    this engine (goose's first row (0, true) included), unless a table of that name
    exists. True when it was created. Runs in the caller's transaction if there is one
    (PostgreSQL and SQLite roll DDL back with it); it begins and commits nothing."""
    ref = _table(db, tool, table)
    if db.tables_present({ref.lookup}):
        return False
    for statement, params in _CREATORS[tool](db, ref):
        db.execute(statement, params)
    return True


def _create_golang_migrate(db, t):
    if db.name in ("postgresql", "mysql"):  # its postgres and mysql drivers alike
        return [(f"CREATE TABLE IF NOT EXISTS {t.sql} "
                 f"(version bigint not null primary key, dirty boolean not null)", None)]
    return [(f"CREATE TABLE IF NOT EXISTS {t.sql} (version uint64,dirty bool)", None),
            (f"CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON {t.sql} (version)", None)]


def _create_dbmate(db, t):
    if db.name != "postgresql":
        return [(f"create table if not exists {t.sql} (version varchar(128) primary key)", None)]
    statements = []
    if len(t.parts) == 2 and not db.query("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                          (t.parts[0],)):
        # dbmate creates a missing schema (CreateMigrationsTable); asked first, since
        # CREATE SCHEMA IF NOT EXISTS still needs the right to create one.
        statements.append((f"create schema if not exists {db.quote(t.parts[0])}", None))
    return statements + [(f"create table if not exists {t.sql} "
                          f"(version varchar primary key)", None)]


def _create_goose(db, t):
    if db.name == "mysql":
        table = (f"CREATE TABLE {t.sql} (\n"
                 "\t\tid serial NOT NULL,\n"
                 "\t\tversion_id bigint NOT NULL,\n"
                 "\t\tis_applied boolean NOT NULL,\n"
                 "\t\ttstamp timestamp NULL default now(),\n"
                 "\t\tPRIMARY KEY(id)\n\t)")
    elif db.name == "postgresql":
        table = (f"CREATE TABLE {t.sql} (\n"
                 "\t\tid integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,\n"
                 "\t\tversion_id bigint NOT NULL,\n"
                 "\t\tis_applied boolean NOT NULL,\n"
                 "\t\ttstamp timestamp NOT NULL DEFAULT now()\n\t)")
    else:
        table = (f"CREATE TABLE {t.sql} (\n"
                 "\t\tid INTEGER PRIMARY KEY AUTOINCREMENT,\n"
                 "\t\tversion_id INTEGER NOT NULL,\n"
                 "\t\tis_applied INTEGER NOT NULL,\n"
                 "\t\ttstamp TIMESTAMP DEFAULT (datetime('now'))\n\t)")
    mark = db.placeholder
    return [(table, None),
            (f"INSERT INTO {t.sql} (version_id, is_applied) VALUES ({mark}, {mark})", (0, True))]


def _create_flyway(db, t):
    name = t.parts[-1]
    if db.name == "mysql":  # Flyway's mysql/createMetaDataTable.sql
        return [(_flyway_table(t, "`installed_rank` INT NOT NULL", "INT", "INT",
                               "`installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
                               quote=db.quote, boolean="BOOL",
                               tail=f",\n    CONSTRAINT {db.quote(name + '_pk')} PRIMARY KEY "
                                    "(`installed_rank`)\n) ENGINE=InnoDB"), None),
                (f"CREATE INDEX {db.quote(name + '_s_idx')} ON {t.sql} (`success`)", None)]
    if db.name == "postgresql":
        return [(_flyway_table(t, '"installed_rank" INT NOT NULL', "INTEGER", "INTEGER",
                               '"installed_on" TIMESTAMP NOT NULL DEFAULT now()'), None),
                (f"ALTER TABLE {t.sql} ADD CONSTRAINT {db.quote(name + '_pk')} "
                 f'PRIMARY KEY ("installed_rank")', None),
                (f'CREATE INDEX {db.quote(name + "_s_idx")} ON {t.sql} ("success")', None)]
    return [(_flyway_table(t, '"installed_rank" INT NOT NULL PRIMARY KEY', "INT", "INT",
                           "\"installed_on\" TEXT NOT NULL DEFAULT "
                           "(strftime('%Y-%m-%d %H:%M:%f','now'))"), None),
            (f'CREATE INDEX "main".{db.quote(name + "_s_idx")} ON {db.quote(name)} ("success")',
             None)]


def _flyway_table(t, rank, checksum, execution_time, installed_on, quote=None,
                  boolean="BOOLEAN", tail="\n)"):
    """Flyway's getRawCreateScript, its columns' spelling for one engine."""
    q = quote or (lambda name: f'"{name}"')
    return (f"CREATE TABLE {t.sql} (\n"
            f"    {rank},\n"
            f"    {q('version')} VARCHAR(50),\n"
            f"    {q('description')} VARCHAR(200) NOT NULL,\n"
            f"    {q('type')} VARCHAR(20) NOT NULL,\n"
            f"    {q('script')} VARCHAR(1000) NOT NULL,\n"
            f"    {q('checksum')} {checksum},\n"
            f"    {q('installed_by')} VARCHAR(100) NOT NULL,\n"
            f"    {installed_on},\n"
            f"    {q('execution_time')} {execution_time} NOT NULL,\n"
            f"    {q('success')} {boolean} NOT NULL" + tail)


_CREATORS = {"golang-migrate": _create_golang_migrate, "dbmate": _create_dbmate,
             "goose": _create_goose, "flyway": _create_flyway}


# -- sync ----------------------------------------------------------------------------
def sync(db, tool, table, applied, *, dirty=None, info=None, repeatables=None):
    """Rewrite ``tool``'s table to say that exactly ``applied`` (version texts, in the
    order they were applied) are applied, the way the tool itself writes it:

    - golang-migrate: DELETE, then INSERT its one row: (``dirty``, true) when ``dirty``
      is given (the version a step was going to, -1 for a down to nothing), else
      (the highest of ``applied``, false); no row when both are empty.
    - dbmate: insert the missing versions, delete the others.
    - goose: insert (v, true) for each missing version, delete the rows of the others;
      the (0, true) row stays.
    - Flyway: append a success row for each missing version (installed_rank max + 1,
      type SQL, installed_by the database user as Flyway records it), taking its
      description, script (both required), checksum and optionally type and
      execution_time (ms) from ``info[version]`` (a dict or an Applied); delete the
      rows of versions no longer applied, as Community Flyway's own view of an undone
      migration is none at all (it has no undo; a paid edition's UNDO_* row would be
      an unknown type to it). Versions at or below a baseline row are covered by it and
      never written; baseline and schema rows are never deleted. ``dirty`` becomes a
      ``success = false`` row, which Flyway writes when a migration outside a
      transaction fails; other failed rows are removed, as ``flyway repair`` does.
      ``repeatables`` (dicts or Applied with description, script, checksum) append a
      row for each one whose newest row has another checksum.

    dbmate and goose record nothing for a failed migration: ``dirty`` is ignored there.
    Only the tool's own columns are written, so a table the project's migrations gave
    another nullable column still takes the rows. Runs in the caller's transaction: it
    begins and commits nothing. Returns Synced(added, removed): the version texts it
    added to and removed from the table. InputError when the tool cannot record one of
    the versions."""
    ref = _table(db, tool, table)
    applied = list(dict.fromkeys(str(v) for v in applied))
    return _SYNCERS[tool](db, ref, applied, dirty=None if dirty is None else str(dirty),
                          info=info or {}, repeatables=repeatables or [])


def _refused(tool, table, version, rule):
    return InputError(
        f"{_SHOWN[tool]}'s table {table.name} cannot record the version {version!r}: {rule}",
        version=version,
        hint=f"keep {_SHOWN[tool]}'s table only for a folder in {_SHOWN[tool]}'s format, "
             f"or stop keeping it (keep_foreign_state = false)")


def _number(tool, table, text, lowest):
    """``text`` as the whole number the tool stores (golang-migrate's ParseUint and
    goose's ParseInt both read 001 as 1)."""
    digits = text.removeprefix("-")
    significant = digits.lstrip("0") or "0"
    if digits.isascii() and digits.isdigit() and len(significant) <= 19:
        value = -int(significant) if text.startswith("-") else int(significant)
        if lowest <= value <= _BIGINT:
            return value
    raise _refused(tool, table, text, f"its versions are whole numbers from {lowest} "
                                      f"to {_BIGINT}")


def _sync_golang_migrate(db, t, applied, dirty, **_):
    numbers = [_number("golang-migrate", t, v, 0) for v in applied]
    if dirty is not None:
        row = (_number("golang-migrate", t, dirty, -1), True)
    else:
        row = (max(numbers), False) if numbers else None
    old = _read_golang_migrate(db, t).current
    new = str(row[0]) if row and row[0] >= 0 else None
    db.execute(f"DELETE FROM {t.sql}")
    if row:
        mark = db.placeholder
        db.execute(f"INSERT INTO {t.sql} ({db.quote('version')}, {db.quote('dirty')}) "
                   f"VALUES ({mark}, {mark})", row)
    changed = old != new
    return Synced([new] if changed and new else [], [old] if changed and old else [])


def _sync_dbmate(db, t, applied, **_):
    for version in applied:
        if not _DIGITS.fullmatch(version):
            raise _refused("dbmate", t, version,
                           "its versions are the digits a migration's file name starts with")
    existing = {str(row[0]) for row in _select(db, t, ("version",)) if row[0] is not None}
    added = [v for v in applied if v not in existing]
    removed = sorted(existing - set(applied))
    column, mark = db.quote("version"), db.placeholder
    if removed:
        db.executemany(f"DELETE FROM {t.sql} WHERE {column} = {mark}", [(v,) for v in removed])
    if added:
        db.executemany(f"INSERT INTO {t.sql} ({column}) VALUES ({mark})", [(v,) for v in added])
    return Synced(added, removed)


def _sync_goose(db, t, applied, **_):
    numbers = {v: _number("goose", t, v, 1) for v in applied}
    decided = _goose_decided(_goose_rows(db, t, []))
    have = {v for v, (_, applied_) in decided.items() if applied_ and v != 0}
    added, seen = [], set()
    for text, number in numbers.items():
        if number not in have and number not in seen:
            added.append(text)
            seen.add(number)
    removed = sorted(have - set(numbers.values()))
    mark = db.placeholder
    if removed:
        db.executemany(f"DELETE FROM {t.sql} WHERE version_id = {mark}",
                       [(v,) for v in removed])
    if added:
        db.executemany(f"INSERT INTO {t.sql} (version_id, is_applied) VALUES ({mark}, {mark})",
                       [(numbers[v], True) for v in added])
    return Synced(added, [str(v) for v in removed])


def _sync_flyway(db, t, applied, dirty, info, repeatables):
    keys = {v: _flyway_version(t, v) for v in applied}
    dirty_key = None if dirty is None else _flyway_version(t, dirty)
    rows = _flyway_rows(db, t, [])
    state = ForeignState("flyway", t.name)
    for entry, success in rows:
        _flyway_apply(state, entry, success)
    floor = _flyway_key(state.baseline) if state.baseline is not None else None

    def covered(key):
        return floor is not None and key <= floor

    have = {_flyway_key(v): v for v in state.versions}
    gone = {k for k in have if k not in set(keys.values()) and not covered(k)}
    added = _flyway_missing(keys, have, covered)
    writes = [_flyway_row(info, v, True) for v in added]
    if dirty_key is not None and not _flyway_failed(rows, dirty_key):
        writes.append(_flyway_row(info, dirty, False))
    writes += [_flyway_row({None: r}, None, True)
               for r in _flyway_repeatables_due(state, repeatables)]
    stale = [entry.rank for entry, success in rows
             if _flyway_stale(entry, success, gone, dirty_key)]
    if stale:
        db.executemany(f"DELETE FROM {t.sql} WHERE {db.quote('installed_rank')} = "
                       f"{db.placeholder}", [(rank,) for rank in stale])
    _flyway_append(db, t, writes)
    return Synced(added, sorted((have[k] for k in gone), key=_flyway_key))


def _flyway_failed(rows, key):
    """Whether a failed row of version ``key`` is there already."""
    return any(not success and entry.version is not None and _flyway_key(entry.version) == key
               for entry, success in rows)


def _flyway_version(t, text):
    key = _flyway_key(text)
    if key is None or len(text) > 50:
        raise _refused("flyway", t, text, "its versions are whole numbers joined by dots or "
                                          "underscores (1, 1.2, 2_1), at most 50 characters")
    return key


def _flyway_stale(entry, success, gone, dirty_key):
    """Whether a row goes: a row of a version no longer applied (not a baseline or
    schema row), or a failed row other than ``dirty``'s."""
    key = None if entry.version is None else _flyway_key(entry.version)
    if not success:
        return key is None or key != dirty_key
    return key in gone and entry.type not in _FLYWAY_KEPT


def _flyway_missing(keys, have, covered):
    added, seen = [], set()
    for text, key in keys.items():
        if key not in have and key not in seen and not covered(key):
            added.append(text)
            seen.add(key)
    return added


def _flyway_repeatables_due(state, repeatables):
    """The repeatables whose newest row (if any) has another checksum."""
    newest = {a.description: a.checksum for a in state.applied if a.version is None}
    due = []
    for r in repeatables:
        description, checksum = _field(r, "description"), _field(r, "checksum")
        if description not in newest or newest[description] != checksum:
            due.append(r)
    return due


def _field(entry, name, default=None):
    value = entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)
    return default if value is None else value


def _flyway_row(info, version, success):
    """(version, description, type, script, checksum, execution_time, success) of a row
    for ``version`` (None: a repeatable, ``info[None]``), from what ``info`` says of it."""
    entry = info.get(version)
    if entry is None or _field(entry, "script") is None:
        raise ValueError(f"sync of Flyway's table needs info[{version!r}] with at least "
                         f"the script")
    description = _field(entry, "description", "")
    script = _field(entry, "script")
    # AbbreviationUtils: what Flyway does to fit its columns.
    if len(description) > 200:
        description = description[:197] + "..."
    if len(script) > 1000:
        script = "..." + script[3:1000]
    return (None if version is None else version.replace("_", "."), description,
            _field(entry, "type", "SQL"), script, _field(entry, "checksum"),
            _field(entry, "execution_time", 0), success)


def _flyway_append(db, t, rows):
    if not rows:
        return
    rank = db.query(f"SELECT max({db.quote('installed_rank')}) FROM {t.sql}")[0][0]
    rank = 0 if rank is None else _integer(rank) or 0
    by = {"postgresql": "SELECT current_user",  # the user, as Flyway reads it
          "mysql": "SELECT SUBSTRING_INDEX(USER(), '@', 1)"}.get(db.name)
    by = db.query(by)[0][0] if by else ""
    columns = ("installed_rank", "version", "description", "type", "script", "checksum",
               "installed_by", "execution_time", "success")
    names = ", ".join(db.quote(c) for c in columns)
    marks = ", ".join([db.placeholder] * len(columns))
    db.executemany(f"INSERT INTO {t.sql} ({names}) VALUES ({marks})",
                   [(rank + i, v, d, kind, s, c, by, ms, ok)
                    for i, (v, d, kind, s, c, ms, ok) in enumerate(rows, 1)])


_SYNCERS = {"golang-migrate": _sync_golang_migrate, "dbmate": _sync_dbmate,
            "goose": _sync_goose, "flyway": _sync_flyway}
