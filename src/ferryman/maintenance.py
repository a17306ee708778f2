"""The maintenance tasks and monitoring views: ``ferryman maintain`` and
``ferryman inspect``.

Above the dialects, which own each engine's SQL (dialects/base.py, item 8); below
the API, which holds the migration lock around ``maintain``, so maintenance never
runs during a migration.

- Every statement of analyze, vacuum, reindex and refresh runs alone in autocommit:
  VACUUM and REINDEX CONCURRENTLY refuse a transaction block, and one statement per
  table lets each table's locks go as soon as it is done.
- purge deletes in batches, each its own short transaction, so no lock is held for
  long and the application's writes get in between. The cutoff is read once, so
  every batch deletes by the same rule, and a purge stopped part way is simply run
  again: it continues where it stopped.
- inspect only reads, on a read-only connection.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

from .errors import DriverError, InputError
from .text import ms_since

TASKS = ("analyze", "vacuum", "reindex", "refresh", "purge")
DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class StatementRun:
    """One statement of a task: its SQL, how long it took (None in a dry run), and
    for purge the rows it deleted (or would delete)."""

    sql: str
    duration_ms: float | None = None
    rows: int | None = None


@dataclass(frozen=True)
class MaintenanceResult:
    task: str
    database: str
    statements: tuple = ()
    duration_ms: float = 0.0
    dry_run: bool = False
    rows: int | None = None       # purge: rows deleted (or that a dry run would delete)
    batches: int | None = None    # purge: transactions committed
    cutoff: str | None = None     # purge: rows older than this
    notes: tuple = ()

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class PurgeRequest:
    table: str
    column: str
    days: int
    batch_size: int = DEFAULT_BATCH_SIZE


@dataclass(frozen=True)
class Inspection:
    """The monitoring views of ``ferryman inspect``. A section is None where the
    engine has no such thing; ``notes`` says why, and anything else a person should
    know."""

    database: str
    slow_queries: list | None
    table_sizes: list
    connections: list | None
    locks: list | None
    notes: dict = field(default_factory=dict)  # section -> note

    def to_dict(self):
        return {"database": self.database, "slow_queries": self.slow_queries,
                "table_sizes": self.table_sizes, "connections": self.connections,
                "locks": self.locks, "notes": list(self.notes.values())}


# -- checking the request: before any connection ----------------------------------------
def split_tables(values):
    """``--table a --table b,c`` -> ["a", "b", "c"]; None when none was given."""
    if not values:
        return None
    if isinstance(values, str):
        values = [values]
    names = [name.strip() for value in values for name in value.split(",")]
    if not all(names):
        raise InputError(f"--table {','.join(values)!r}: an empty table name")
    return names


def check_request(task, settings, *, tables=None, column=None, days=None, batch_size=None):
    """(task, tables, PurgeRequest or None), or InputError (exit 2) naming what is
    wrong. A purge's table, column and days default to the configuration's
    ``[maintenance]`` (purge_table, purge_column, purge_days)."""
    if task not in TASKS:
        raise InputError(f"unknown maintenance task {task!r}: one of {', '.join(TASKS)}",
                         hint="e.g. `ferryman maintain analyze`")
    tables = split_tables(tables)
    if task != "purge":
        given = [f"--{n}" for n, v in (("column", column), ("days", days),
                                        ("batch-size", batch_size)) if v is not None]
        if given:
            raise InputError(f"{', '.join(given)}: only for `ferryman maintain purge`")
        return task, tables, None
    return task, None, _purge_request(settings, tables, column, days, batch_size)


def _purge_request(settings, tables, column, days, batch_size):
    if tables and len(tables) > 1:
        raise InputError("purge takes one table at a time",
                         hint="run `ferryman maintain purge` once per table")
    table = tables[0] if tables else settings.purge_table
    column = column or settings.purge_column
    days = settings.purge_days if days is None else days
    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    if not table or not column:
        raise InputError("purge needs a table and its timestamp column",
                         hint="pass --table T --column C, or set table and column under "
                              "[maintenance] in ferryman.toml")
    if days < 1:
        raise InputError(f"--days {days}: purge rows deleted 1 or more days ago")
    if batch_size < 1:
        raise InputError(f"--batch-size {batch_size}: a batch is 1 or more rows")
    return PurgeRequest(table, column, days, batch_size)


# -- maintain ----------------------------------------------------------------------------
def maintain(db, task, *, tables=None, purge=None, dry_run=False):
    """Run one task on ``db`` (a dialect connection, with the migration lock held
    unless ``dry_run``); a MaintenanceResult says what ran and how long it took."""
    start = time.monotonic()
    if task == "purge":
        result = _purge(db, purge, dry_run)
    else:
        statements, note = db.maintenance_statements(task, tables)
        runs = tuple(_timed(db, sql) if not dry_run else StatementRun(sql)
                     for sql in statements)
        result = MaintenanceResult(task, db.describe(), runs, notes=_notes(note))
    return _finished(result, start, dry_run)


def _timed(db, sql):
    start = time.monotonic()
    db.execute(sql)
    return StatementRun(sql, ms_since(start))


def _purge(db, request, dry_run):
    target = db.purge_target(request.table, request.column)
    cutoff = db.purge_cutoff(request.days)
    facts = dict(cutoff=str(cutoff), notes=(
        f"the rows of {target['table']} whose {target['column']} is before {cutoff}, "
        f"in batches of {request.batch_size}",))
    if dry_run:
        count = db.purge_count(target, cutoff)
        return MaintenanceResult("purge", db.describe(), (StatementRun(target["delete"],
                                 rows=count),), rows=count, batches=0, **facts)
    start = time.monotonic()
    deleted, batches = _purge_batches(db, target, cutoff, request.batch_size)
    run = StatementRun(target["delete"], ms_since(start), deleted)
    return MaintenanceResult("purge", db.describe(), (run,), rows=deleted, batches=batches,
                             **facts)


def _purge_batches(db, target, cutoff, size):
    """(rows deleted, batches committed): one transaction per batch, until a batch
    finds fewer rows than it may take."""
    deleted = batches = 0
    while True:
        try:
            count = _one_batch(db, target, cutoff, size)
        except DriverError as exc:
            raise DriverError(
                f"purge of {target['table']} stopped after deleting {deleted} rows in "
                f"{batches} batches: {exc.message}", db_message=exc.db_message,
                sqlstate=exc.sqlstate, statement=target["delete"],
                transient=exc.transient,
                hint="the committed batches stay deleted; run the purge again to go on"
            ) from exc
        deleted += count
        batches += 1
        if count < size:
            return deleted, batches


def _one_batch(db, target, cutoff, size):
    db.begin()
    try:
        count = db.purge_batch(target, cutoff, size)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return count


def _finished(result, start, dry_run):
    return replace(result, duration_ms=ms_since(start), dry_run=bool(dry_run))


def _notes(*notes):
    return tuple(n for n in notes if n)


# -- inspect -----------------------------------------------------------------------------
def check_limit(limit):
    if limit < 1:
        raise InputError(f"--limit {limit}: show 1 or more slow queries")
    return limit


def inspect(db, limit=10):
    """The monitoring views of ``db`` (a read-only connection)."""
    notes = {}
    sections = {}
    for name, read in (("slow_queries", lambda: db.slow_queries(limit)),
                       ("table_sizes", db.table_sizes), ("connections", db.connections),
                       ("locks", db.locks)):
        sections[name], note = read()
        if note:
            notes[name] = note
    return Inspection(db.describe(), notes=notes, **sections)
