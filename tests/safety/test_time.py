"""Seed 000's options that bound a run: timeouts, retries of transient errors, the log."""

import threading
import time

import pytest
from helpers import _pg_conninfo, tables

from ferryman import Migrator
from ferryman.errors import MigrationError
from ferryman.events import Message

SLOW_PG = {"1_t.up.sql": "CREATE TABLE t (id INTEGER);",
           "2_slow.up.sql": "CREATE TABLE u (id INTEGER);\nSELECT pg_sleep(30);"}
# A recursive query that counts for a long while: SQLite has no sleep().
SLOW_SQLITE = {"1_t.up.sql": "CREATE TABLE t (id INTEGER);",
               "2_slow.up.sql": "CREATE TABLE u (id INTEGER);\n"
                                "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                                "FROM c WHERE n < 1000000000) SELECT count(*) FROM c;"}


def slow(url):
    return SLOW_SQLITE if url.startswith("sqlite") else SLOW_PG


# The timed-out run rolls back whole: transactional DDL.
@pytest.mark.engines("sqlite", "postgresql")
def test_statement_timeout_stops_a_statement_and_rolls_back(db_url, migrations):
    migrator = Migrator(db_url, migrations(slow(db_url)), statement_timeout="1s",
                        backup=False, retries=0)
    with pytest.raises(MigrationError) as caught:
        migrator.up()
    assert caught.value.exit_code == 1 and caught.value.version == 2
    assert tables(db_url) == []
    assert migrator.status().current_version is None


# The cancelled run rolls back whole: transactional DDL.
@pytest.mark.engines("sqlite", "postgresql")
def test_run_timeout_cancels_the_run(db_url, migrations):
    migrator = Migrator(db_url, migrations(slow(db_url)), timeout="1.5s", backup=False,
                        retries=0)
    with pytest.raises(MigrationError) as caught:
        migrator.up()
    assert "over its timeout of 1.5s" in caught.value.message
    assert tables(db_url) == [] and not migrator.status().dirty


def test_transient_lock_timeout_is_retried(pg_url, migrations):
    """Another session holds a table lock; the first attempt times out waiting for it
    (SQLSTATE 55P03, transient), the lock goes away, and the retry succeeds."""
    import psycopg

    folder = migrations({"1_t.up.sql": "CREATE TABLE t (id INTEGER);",
                         "2_alter.up.sql": "ALTER TABLE t ADD COLUMN name TEXT;"})
    Migrator(pg_url, folder, backup=False).up(target=1)
    blocker = psycopg.connect(_pg_conninfo(pg_url))
    blocker.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    events = []

    def release_after_first_failure(event):
        events.append(event)
        if isinstance(event, Message) and "retrying" in event.text:
            blocker.rollback()

    migrator = Migrator(pg_url, folder, backup=False, table_lock_timeout="0.3s", retries=2,
                        retry_backoff="0.1s", on_event=release_after_first_failure)
    try:
        result = migrator.up()
    finally:
        blocker.close()
    assert [s.version for s in result.steps] == [2]
    assert any(isinstance(e, Message) and "transient" in e.text for e in events)


def test_a_lasting_transient_error_gives_up_after_the_retries(pg_url, migrations):
    import psycopg

    folder = migrations({"1_t.up.sql": "CREATE TABLE t (id INTEGER);",
                         "2_alter.up.sql": "ALTER TABLE t ADD COLUMN name TEXT;"})
    Migrator(pg_url, folder, backup=False).up(target=1)
    with psycopg.connect(_pg_conninfo(pg_url)) as blocker:
        blocker.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        events = []
        migrator = Migrator(pg_url, folder, backup=False, table_lock_timeout="0.2s",
                            retries=2, retry_backoff="0.05s", on_event=events.append)
        with pytest.raises(MigrationError) as caught:
            migrator.up()
    assert caught.value.exit_code == 1 and caught.value.sqlstate == "55P03"
    assert len([e for e in events if isinstance(e, Message) and "retry" in e.text]) == 2


def test_log_file_gets_every_event(sqlite_url, migrations, tmp_path):
    log = tmp_path / "logs" / "migration.log"
    Migrator(sqlite_url, migrations(SLOW_SQLITE | {"2_slow.up.sql": "SELECT 1;"}),
             log_file=str(log), backup=False).up()
    lines = log.read_text().splitlines()
    assert any("RunStarted" in line for line in lines)
    assert sum("StepFinished" in line for line in lines) == 2
    assert any("RunFinished" in line and "outcome='ok'" in line for line in lines)


def test_timeout_watchdog_leaves_no_thread_behind(sqlite_url, migrations):
    before = threading.active_count()
    Migrator(sqlite_url, migrations({"1_t.up.sql": "SELECT 1;"}), timeout="60s",
             backup=False).up()
    time.sleep(0.05)
    assert threading.active_count() == before
