"""Applying migrations on real databases: transactions, history, automatic rollback."""

import pytest
from helpers import query, tables

from ferryman import Migrator
from ferryman.errors import DirtyError, MigrationError, RollbackError
from ferryman.events import ChunkCommitted, RollbackStarted, StepFinished

USERS = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);",
    "1_users.down.sql": "DROP TABLE users;",
    "2_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY, body TEXT);\n"
                        "INSERT INTO letters (id, body) VALUES (1, 'hello; world');",
    "2_letters.down.sql": "DROP TABLE letters;",
}
BROKEN = {
    "3_broken.up.sql": "CREATE TABLE museum (id INTEGER PRIMARY KEY);\n"
                       "INSERT INTO no_such_table VALUES (1);",
    "3_broken.down.sql": "DROP TABLE museum;",
}


def test_up_applies_in_order_and_records_history(db_url, migrations):
    folder = migrations(USERS)
    result = Migrator(db_url, folder).up()
    assert [s.version for s in result.steps] == [1, 2]
    assert (result.from_version, result.to_version) == (None, 2)
    assert tables(db_url) == ["letters", "users"]
    assert query(db_url, "SELECT body FROM letters") == [("hello; world",)]
    rows = query(db_url, "SELECT version, name, phase, direction, outcome, applied_by, "
                         "ferryman_version, duration_ms FROM ferryman_history ORDER BY id")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (1, "users", "core", "up", "ok"), (2, "letters", "core", "up", "ok")]
    assert all("@" in r[5] and r[6] and r[7] is not None for r in rows)
    state = query(db_url, "SELECT version, checksum FROM ferryman_migrations ORDER BY version")
    assert [v for v, _ in state] == [1, 2]
    assert all(len(c) == 64 for _, c in state)


def test_nothing_to_do_is_an_empty_result(db_url, migrations):
    folder = migrations(USERS)
    migrator = Migrator(db_url, folder)
    migrator.up()
    again = migrator.up()
    assert again.nothing_to_do and again.run_id is None and again.to_version == 2


# One transaction for the whole run: transactional DDL (MySQL:
# tests/cli/test_mysql_runs.py).
@pytest.mark.engines("sqlite", "postgresql")
def test_failing_migration_rolls_the_whole_run_back(db_url, migrations):
    folder = migrations({**USERS, **BROKEN})
    with pytest.raises(MigrationError) as caught:
        Migrator(db_url, folder).up()
    error = caught.value
    assert error.exit_code == 1
    assert error.version == 3 and error.file.endswith("3_broken.up.sql")
    assert "no_such_table" in error.statement and error.line == 2
    assert "no_such_table" in error.db_message
    assert tables(db_url) == []  # the run was one transaction: 1 and 2 are gone too
    status = Migrator(db_url, folder).status()
    assert status.current_version is None and not status.dirty and status.pending_count == 3
    failed = query(db_url, "SELECT version, outcome FROM ferryman_history")
    assert failed == [(3, "failed")]
    assert query(db_url, "SELECT outcome FROM ferryman_runs") == [("rolled_back",)]


def test_failure_in_each_mode_undoes_committed_migrations_through_downs(db_url, migrations):
    folder = migrations({**USERS, **BROKEN})
    Migrator(db_url, folder).up(target=1)
    events = []
    migrator = Migrator(db_url, folder, transaction="each", on_event=events.append)
    with pytest.raises(MigrationError) as caught:
        migrator.up()
    assert caught.value.exit_code == 1 and caught.value.rolled_back == [2]
    assert tables(db_url) == ["users"]  # where the run started
    assert migrator.status().current_version == 1
    assert any(isinstance(e, RollbackStarted) for e in events)
    directions = query(db_url, "SELECT version, direction, outcome FROM ferryman_history "
                               "ORDER BY id")
    assert directions == [(1, "up", "ok"), (2, "up", "ok"), (2, "down", "ok"),
                          (3, "up", "failed")]


def test_rollback_that_cannot_happen_needs_a_person(db_url, migrations):
    files = {**USERS, **BROKEN}
    del files["2_letters.down.sql"]
    folder = migrations(files)
    migrator = Migrator(db_url, folder, transaction="each", backup=False)
    with pytest.raises(RollbackError) as caught:
        migrator.up()
    assert caught.value.exit_code == 3
    assert "no down migration" in str(caught.value)
    status = migrator.status()
    assert status.dirty and status.current_version == 2  # a consistent point, recorded
    assert "could not be rolled back" in status.dirty_details["reason"]
    with pytest.raises(DirtyError):
        migrator.up()


def test_down_and_goto(db_url, migrations):
    folder = migrations(USERS)
    migrator = Migrator(db_url, folder)
    migrator.up()
    assert [s.version for s in migrator.down().steps] == [2]
    assert tables(db_url) == ["users"]
    migrator.goto(2)
    assert tables(db_url) == ["letters", "users"]
    result = migrator.goto(0)
    assert [(s.version, s.direction) for s in result.steps] == [(2, "down"), (1, "down")]
    assert tables(db_url) == [] and migrator.status().current_version is None
    migrator.up()
    migrator.down(to=0)
    assert tables(db_url) == []


def test_no_transaction_migration_failing_leaves_dirty_with_statement(db_url, migrations):
    folder = migrations({
        **USERS,
        "3_index.up.sql": "-- ferryman:no-transaction\n"
                          "CREATE INDEX users_email ON users (email);\n"
                          "CREATE INDEX broken ON no_such_table (x);\n",
        "3_index.down.sql": "DROP INDEX users_email;",
    })
    migrator = Migrator(db_url, folder, backup=False)
    with pytest.raises(RollbackError) as caught:
        migrator.up()
    assert caught.value.exit_code == 3
    status = migrator.status()
    assert status.dirty and status.current_version == 2
    details = status.dirty_details
    assert details["version"] == 3 and details["statement_index"] == 1
    assert "no_such_table" in details["statement"] and details["error"]
    with pytest.raises(DirtyError) as refused:
        migrator.up()
    assert refused.value.exit_code == 3 and "force" in refused.value.hint
    migrator.force(2)
    after = migrator.status()
    assert not after.dirty and after.current_version == 2 and after.pending_count == 1


# A transaction around a Python migration: transactional DDL.
@pytest.mark.engines("sqlite", "postgresql")
def test_python_migration_runs_in_the_transaction(db_url, migrations):
    folder = migrations({
        **USERS,
        "3_backfill.py": (
            "def up(ctx):\n"
            "    mark = ctx.paramstyle\n"
            "    ctx.execute(f'INSERT INTO users (id, email) VALUES ({mark}, {mark})', (7, 'A@X'))\n"
            "    rows = ctx.query('SELECT email FROM users')\n"
            "    assert rows == [('A@X',)], rows\n"
            "\n"
            "def down(ctx):\n"
            "    ctx.execute('DELETE FROM users')\n"),
        "4_fails.py": "def up(ctx):\n    ctx.execute('INSERT INTO users (id, email) VALUES (8, NULL)')\n",
    })
    with pytest.raises(MigrationError) as caught:
        Migrator(db_url, folder).up()
    assert caught.value.version == 4 and caught.value.line == 2
    assert "NULL" in caught.value.statement
    assert tables(db_url) == []
    Migrator(db_url, folder).up(target=3)
    assert query(db_url, "SELECT id, email FROM users") == [(7, "A@X")]


# A file's BEGIN/COMMIT replaced by ferryman's transaction: transactional DDL.
@pytest.mark.engines("sqlite", "postgresql")
def test_transaction_control_in_a_golang_migrate_file_is_handled(db_url, migrations):
    folder = migrations({
        "1_wrapped.up.sql": "BEGIN;\nCREATE TABLE a (id INTEGER);\nCOMMIT;\n",
        "1_wrapped.down.sql": "BEGIN;\nDROP TABLE a;\nCOMMIT;\n",
        "2_b.up.sql": "CREATE TABLE b (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n",
    })
    with pytest.raises(MigrationError):
        Migrator(db_url, folder).up()
    assert tables(db_url) == []  # the file's COMMIT did not commit ferryman's transaction


def test_events_report_each_step(db_url, migrations):
    events = []
    Migrator(db_url, migrations(USERS), on_event=events.append).up()
    finished = [e for e in events if isinstance(e, StepFinished)]
    assert [(e.version, e.direction) for e in finished] == [(1, "up"), (2, "up")]


@pytest.mark.slow
def test_thousands_of_migrations_fit_the_default_lock_table(pg_url, migrations):
    """max_locks_per_transaction = 64 cannot hold 3,000 tables with their indexes and
    TOAST tables in one transaction; the runner commits in chunks instead of failing."""
    (setting,) = query(pg_url, "SHOW max_locks_per_transaction")[0]
    assert int(setting) <= 128, "this test assumes a server with near-default settings"
    count = 3000
    files = {f"{v}_t{v}.up.sql": f"CREATE TABLE t{v} (id INTEGER PRIMARY KEY, body TEXT);\n"
                                 f"CREATE INDEX t{v}_body ON t{v} (body);"
             for v in range(1, count + 1)}
    events = []
    result = Migrator(pg_url, migrations(files), on_event=events.append).up()
    assert len(result.steps) == count
    assert query(pg_url, "SELECT count(*) FROM ferryman_migrations") == [(count,)]
    assert query(pg_url, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 't%'") == [(count,)]
    assert any(isinstance(e, ChunkCommitted) for e in events)
