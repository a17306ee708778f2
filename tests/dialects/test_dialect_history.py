"""ferryman's own tables through ``core.history.History`` on every engine: the state of
an empty database, a run recorded in one transaction and read back from another
connection, the meta upsert, a rolled-back write, and the catalog questions the state
depends on (tables_present, has_other_tables)."""

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from ferryman.core.history import SCHEMA_VERSION, TABLES, Entry, History, iso
from ferryman.core.runner import Run
from ferryman.dialects.base import Dialect
from ferryman.errors import DriverError

PREFIX = "ferryman_"
VERSION = 20260101120000  # a timestamp version: more than 32 bits
CHECKSUM = "ab" * 32


def record_one_run(db, prefix=PREFIX):
    """One migration applied by one run, written as the runner writes it: the tables
    prepared, the run started, the history and the state recorded, the run finished,
    in one transaction. Returns (run, entry)."""
    history = History(db, prefix)
    state = history.read_state()
    run = Run("up", state.current_version)
    started = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=timezone.utc)
    run.started_at = started
    migration = SimpleNamespace(version=VERSION, name="create users; and more", phase="core",
                                kind="sql")
    entry = Entry(run.id, migration, "up", started, started + timedelta(seconds=1.5),
                  checksum=CHECKSUM)
    db.begin()
    history.prepare(state)
    history.start_run(run)
    history.record([entry])
    run.finished_at, run.to_version = entry.finished_at, VERSION
    history.finish_run(run, "ok")
    db.commit()
    return run, entry


def test_an_empty_database_has_an_empty_state(db):
    state = History(db, PREFIX).read_state()
    assert state.applied == [] and state.current_version is None
    assert state.dirty is None and state.last_backup is None
    assert state.schema_version is None and not state.initialised
    assert state.tables == frozenset() and state.populated is False
    assert state.problems == []


def test_a_recorded_run_reads_back_from_another_connection(db, other):
    run, entry = record_one_run(db)
    history = History(other, PREFIX)
    state = history.read_state()
    assert state.problems == [] and state.schema_version == SCHEMA_VERSION
    assert state.tables == frozenset(TABLES)
    assert state.current_version == VERSION and state.dirty is None
    (applied,) = state.applied
    assert (applied.version, applied.name, applied.phase, applied.kind, applied.checksum,
            applied.run_id) == (VERSION, "create users; and more", "core", "sql", CHECKSUM,
                                run.id)
    assert applied.applied_at == "2026-03-04T05:06:09.391Z"
    assert state.history_applied == {VERSION}
    (row,) = history.entries()
    assert (row["version"], row["direction"], row["outcome"], row["run_id"]) == (
        VERSION, "up", "ok", run.id)
    assert row["started_at"] == "2026-03-04T05:06:07.891Z"
    assert row["duration_ms"] == 1500
    (ran,) = history.runs()
    assert (ran["id"], ran["command"], ran["outcome"], ran["to_version"]) == (
        run.id, "up", "ok", VERSION)
    assert ran["started_at"] == "2026-03-04T05:06:07.891Z"
    # a second read of the prepared tables changes nothing
    History(db, PREFIX).prepare(History(db, PREFIX).read_state())
    assert History(other, PREFIX).read_state().current_version == VERSION


def test_set_meta_inserts_then_updates_then_deletes(db, other):
    history = History(db, PREFIX)
    db.begin()
    history.prepare(history.read_state())
    db.commit()
    first = json.dumps({"id": "one", "path": "/backups/one"})
    second = json.dumps({"id": "two", "path": "/backups/two"})
    history.set_meta("last_backup", first)
    history.set_meta("last_backup", second)  # the upsert: no duplicate key
    rows = other.query(history.sql("SELECT value FROM {p}meta WHERE {key} = ?"),
                       ("last_backup",))
    assert rows == [(second,)]
    assert History(other, PREFIX).read_state().last_backup == {"id": "two",
                                                               "path": "/backups/two"}
    history.set_dirty({"version": 3, "reason": "test"})
    assert History(other, PREFIX).read_state(strict=False).dirty == {"version": 3,
                                                                     "reason": "test"}
    history.set_meta("last_backup", None)
    history.set_dirty(None)
    state = History(other, PREFIX).read_state()
    assert state.last_backup is None and state.dirty is None


def test_a_rolled_back_write_leaves_nothing(engine, db, other):
    history = History(db, PREFIX)
    state = history.read_state()
    run = Run("up", None)
    history.begin(state)  # the tables first where DDL commits by itself
    history.start_run(run)
    history.set_meta("last_backup", json.dumps({"id": "gone"}))
    db.rollback()
    after = History(other, PREFIX)
    if engine.dialect.transactional_ddl:
        assert after.present() == frozenset()
        assert after.read_state().schema_version is None
    else:  # the tables stay (DDL committed itself), their rows do not
        assert after.runs() == [] and after.read_state(strict=False).last_backup is None


def test_history_write_commits_whole_or_not_at_all(db, other):
    history = History(db, PREFIX)
    state = history.read_state()
    with pytest.raises(RuntimeError):
        history.write(state, lambda h: (h.set_meta("last_backup", json.dumps({"id": "a"})),
                                        _fail()))
    assert db.transaction_open() is False
    assert History(other, PREFIX).read_state(strict=False).last_backup is None
    assert history.write(state, lambda h: h.set_meta("last_backup", json.dumps(
        {"id": "b"})) or "written") == "written"
    assert History(other, PREFIX).read_state().last_backup == {"id": "b"}


def _fail():
    raise RuntimeError("the work failed half way")


def test_a_second_prefix_is_a_second_set_of_tables(db, other):
    record_one_run(db, "app_migrations_")
    assert History(other, PREFIX).read_state().current_version is None
    assert History(other, "app_migrations_").read_state().current_version == VERSION
    assert History(other, PREFIX).present() == frozenset()


def test_tables_present_agrees_with_the_engine(db, other):
    """The engine's one catalog query answers as trying each name would (the base
    class's way): the names that resolve to a table, as the statements write them."""
    db.execute("CREATE TABLE present_one (n INTEGER)")
    db.execute(f"CREATE TABLE ferryman_meta ({db.quote('key')} VARCHAR(64) PRIMARY KEY, "
               "value TEXT)")
    names = ["present_one", "ferryman_meta", "absent_one", "ferryman_runs"]
    found = other.tables_present(names)
    assert isinstance(found, set)
    assert found == {"present_one", "ferryman_meta"}
    for name in names + ["PRESENT_ONE", "Ferryman_Meta"]:
        assert other.tables_present([name]) == Dialect.tables_present(other, [name]), name
    assert other.tables_present([]) == set()
    # in a transaction, a name that is missing leaves the transaction usable
    other.begin()
    assert other.tables_present(["absent_one"]) == set()
    assert other.query("SELECT count(*) FROM present_one") == [(0,)]
    other.rollback()


def test_tables_present_answers_for_every_spelling_asked(db, other):
    db.execute("CREATE TABLE present_one (n INTEGER)")
    names = ["present_one", "PRESENT_ONE"]
    assert other.tables_present(names) == Dialect.tables_present(other, names)


def test_has_other_tables_ignores_ferryman_s_own(db):
    assert db.has_other_tables(PREFIX) is False
    record_one_run(db)
    assert db.has_other_tables(PREFIX) is False
    db.execute("CREATE TABLE ferrymanxmeta (n INTEGER)")  # "_" is no wildcard here
    assert db.has_other_tables(PREFIX) is True
    assert History(db, PREFIX).read_state().populated is False  # ferryman's tables exist


def test_a_database_with_the_user_s_tables_is_populated(db, other):
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    assert other.has_other_tables(PREFIX) is True
    state = History(other, PREFIX).read_state()
    assert state.populated is True and state.current_version is None


def test_ferryman_s_statements_are_refused_by_a_readonly_connection(engine, db):
    record_one_run(db)
    reader = engine.open(readonly=True)
    history = History(reader, PREFIX)
    assert history.read_state().current_version == VERSION
    with pytest.raises(DriverError):
        history.set_meta("last_backup", json.dumps({"id": "x"}))
    with pytest.raises(DriverError):
        history.start_run(Run("up", VERSION))
    assert History(db, PREFIX).read_state().last_backup is None


def test_timestamps_round_trip_in_utc(db):
    record_one_run(db)
    history = History(db, PREFIX)
    run = Run("down", VERSION)
    run.started_at = datetime(2026, 7, 1, 23, 59, 59, 999000,
                              tzinfo=timezone(timedelta(hours=-7)))
    db.begin()
    history.start_run(run)
    db.commit()
    started = {r["id"]: r["started_at"] for r in history.runs()}
    assert started[run.id] == "2026-07-02T06:59:59.999Z"
    assert iso(None) is None
