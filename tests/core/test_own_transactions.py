"""A SQL file that controls its own transactions runs as written, statement by statement
(issue 10).

golang-migrate runs a file as it is (FORMATS.md §1: PostgreSQL gets the whole file in one
Exec, no transaction opened), so real folders hold files with several ``BEGIN; ...
COMMIT;`` blocks and a ``CREATE INDEX CONCURRENTLY`` between them. ferryman runs such a
file as ``psql -v ON_ERROR_STOP=1 -f`` does, tracked like a no-transaction migration: a
failure inside one of the file's blocks rolls that block back, and leaves the database
dirty at the statement where the block began, naming the statement that failed. The
files are also applied by the database's own client (psql, sqlite3) to a twin database,
and both must end the same.
"""

import json
import subprocess

import pytest
from helpers import query, sqlite_path, tables

from ferryman import Migrator
from ferryman.core.source import scan
from ferryman.dialects import dialect_class
from ferryman.errors import DirtyError, MigrationError, RollbackError
from ferryman.events import Message

# files that run their own BEGIN ... COMMIT blocks around DDL are for engines whose DDL
# is transactional (PostgreSQL, SQLite); on MySQL each DDL statement commits by itself.
pytestmark = pytest.mark.engines("sqlite", "postgresql")

SQLITE = dialect_class("sqlite")
POSTGRESQL = dialect_class("postgresql")


def is_pg(url):
    return url.startswith("postgresql")


def accounts_files(url, second_block_fails=False):
    """Data fixes in two blocks of the file's own, an index built between them
    (CONCURRENTLY on PostgreSQL, which refuses it inside a transaction block)."""
    concurrently = " CONCURRENTLY" if is_pg(url) else ""
    up = (
        "BEGIN;\n"                                                           # 0
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL, plan TEXT);\n"
        "INSERT INTO accounts VALUES (1, 'A@X', NULL), (2, 'b@x', 'pro');\n"
        "UPDATE accounts SET email = lower(email);\n"
        "COMMIT;\n"                                                          # 4
        "\n"
        f"CREATE INDEX{concurrently} accounts_email ON accounts (email);\n"  # 5
        "\n"
        "BEGIN;\n"                                                           # 6, line 9
        "UPDATE accounts SET plan = 'free' WHERE plan IS NULL;\n"
        "CREATE TABLE audit (note TEXT);\n"
        + ("INSERT INTO nowhere VALUES (1);\n" if second_block_fails else "")  # 9, line 12
        + "INSERT INTO audit VALUES ('plans set');\n"
        "COMMIT;\n")
    down = (
        f"DROP INDEX{concurrently} accounts_email;\n"
        "BEGIN;\n"
        "DROP TABLE audit;\n"
        "DROP TABLE accounts;\n"
        "COMMIT;\n")
    return {"1_accounts.up.sql": up, "1_accounts.down.sql": down}


def snapshot(url):
    """The user's tables, columns, indexes and rows: what the file left."""
    if is_pg(url):
        columns = query(url, "SELECT table_name, column_name, data_type, is_nullable FROM "
                             "information_schema.columns WHERE table_schema = 'public' AND "
                             "table_name NOT LIKE 'ferryman%' ORDER BY 1, 2")
        indexes = query(url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                             "'public' AND tablename NOT LIKE 'ferryman%' ORDER BY 1")
    else:
        columns = query(url, "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND "
                             "name NOT LIKE 'ferryman%' ORDER BY 1")
        indexes = query(url, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                             "tbl_name NOT LIKE 'ferryman%' ORDER BY 1")
    rows = {table: sorted(query(url, f"SELECT * FROM {table}")) for table in tables(url)}
    return columns, indexes, rows


def apply_with_client(url, path):
    """The file as psql or sqlite3 runs it, stopping at the first error."""
    if is_pg(url):
        command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", path]
        return subprocess.run(command, capture_output=True, text=True)
    with open(path) as handle:
        return subprocess.run(["sqlite3", "-bail", sqlite_path(url)], stdin=handle,
                              capture_output=True, text=True)


def compiled(files, dialect=SQLITE, direction="up"):
    """(Compiled, problems) of the only migration of a folder written from ``files``."""
    import tempfile

    folder = tempfile.mkdtemp()
    for name, text in files.items():
        with open(f"{folder}/{name}", "w") as handle:
            handle.write(text)
    (migration,) = scan({"core": folder}).migrations
    return migration.compiled(direction, dialect)


# -- compiling ---------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", [SQLITE, POSTGRESQL])
def test_a_file_with_blocks_of_its_own_runs_as_written(dialect, sqlite_url):
    result, problems = compiled(accounts_files(sqlite_url), dialect)
    assert problems == []
    assert result.transactional is False and result.own_transactions is True
    assert result.reason == ("line 1: the file controls its own transactions (BEGIN ...); "
                             "it runs as written, statement by statement")
    assert [s.words[0] for s in result.statements] == [
        "BEGIN", "CREATE", "INSERT", "UPDATE", "COMMIT", "CREATE", "BEGIN", "UPDATE",
        "CREATE", "INSERT", "COMMIT"]


def test_one_begin_commit_around_the_file_is_still_ferryman_s_transaction():
    result, problems = compiled({"1_a.up.sql": "BEGIN;\nCREATE TABLE a (id INTEGER);\n"
                                               "SAVEPOINT s;\nROLLBACK TO SAVEPOINT s;\n"
                                               "COMMIT;\n"})
    assert problems == [] and result.transactional is True
    assert [s.text for s in result.statements] == [
        "CREATE TABLE a (id INTEGER)", "SAVEPOINT s", "ROLLBACK TO SAVEPOINT s"]
    assert result.notes == ["its own BEGIN ... COMMIT is replaced by ferryman's transaction"]


@pytest.mark.parametrize("text, line", [
    ("CREATE TABLE a (id INTEGER);\nBEGIN;\nINSERT INTO a VALUES (1);\n", 2),
    ("BEGIN;\nCREATE TABLE a (id INTEGER);\nCOMMIT;\nSTART TRANSACTION;\n"
     "INSERT INTO a VALUES (1);\n", 4),
    ("BEGIN;\nCREATE TABLE a (id INTEGER);\nCOMMIT AND CHAIN;\n", 1),
])
def test_a_begin_never_committed_is_a_problem(text, line):
    result, problems = compiled({"1_a.up.sql": text})
    assert len(problems) == 1 and result.own_transactions
    words = text.splitlines()[line - 1].rstrip(";")
    assert problems[0].endswith(
        f"1_a.up.sql:{line}: {words} at line {line} is never committed: the file ends "
        "inside its own transaction (add COMMIT; after its last statement, or ROLLBACK; "
        "to undo it)"), problems
    assert (problems[0].kind, problems[0].line) == ("transaction", line)


def test_what_postgresql_ignores_is_noted():
    result, problems = compiled({"1_a.up.sql": "CREATE TABLE a (id INTEGER);\nCOMMIT;\n"
                                               "BEGIN;\nBEGIN;\nINSERT INTO a VALUES (1);\n"
                                               "END;\nROLLBACK;\n"})
    assert problems == [] and result.transactional is False
    assert result.reason.startswith("line 2: the file controls its own transactions (COMMIT")
    assert result.notes == [
        "line 2: COMMIT with no transaction open does nothing and is skipped",
        "line 4: BEGIN inside the transaction begun at line 3 does nothing and is skipped",
        "line 7: ROLLBACK with no transaction open does nothing and is skipped"]


def test_a_no_transaction_file_with_blocks_keeps_its_reason():
    result, problems = compiled({"1_a.up.sql": "-- ferryman:no-transaction\nBEGIN;\n"
                                               "CREATE TABLE a (id INTEGER);\nCOMMIT;\n"})
    assert problems == [] and result.own_transactions
    assert result.reason == "-- ferryman:no-transaction"


def test_two_phase_commit_statements_are_told_apart():
    from ferryman.core.compile import controls_transaction

    assert controls_transaction(("PREPARE", "TRANSACTION"))
    assert not controls_transaction(("COMMIT", "PREPARED"))
    assert not controls_transaction(("ROLLBACK", "PREPARED"))
    assert not controls_transaction(("ROLLBACK", "TRANSACTION", "TO", "SAVEPOINT", "S"))


# -- running -----------------------------------------------------------------------------
def test_it_applies_as_the_database_s_own_client_leaves_it(db_url, twin, migrations):
    folder = migrations(accounts_files(db_url))
    events = []
    result = Migrator(db_url, folder, backup=False, on_event=events.append).up()
    assert [(s.version, s.direction) for s in result.steps] == [(1, "up")]
    done = apply_with_client(twin, f"{folder}/1_accounts.up.sql")
    assert done.returncode == 0, done.stderr
    assert snapshot(db_url) == snapshot(twin)
    assert query(db_url, "SELECT id, email, plan FROM accounts ORDER BY id") == [
        (1, "a@x", "free"), (2, "b@x", "pro")]
    status = Migrator(db_url, folder).status()
    assert status.current_version == 1 and not status.dirty
    assert not [e for e in events if isinstance(e, Message) and e.level == "warning"]


def test_the_down_file_runs_as_written_too(db_url, twin, migrations):
    folder = migrations(accounts_files(db_url))
    migrator = Migrator(db_url, folder, backup=False)
    migrator.up()
    assert [s.version for s in migrator.down().steps] == [1]
    assert tables(db_url) == [] and migrator.status().current_version is None
    migrator.up()
    for direction in ("up", "down", "up"):
        done = apply_with_client(twin, f"{folder}/1_accounts.{direction}.sql")
        assert done.returncode == 0, done.stderr
    assert snapshot(db_url) == snapshot(twin)


def test_a_failure_in_the_second_block_undoes_that_block_only(db_url, twin, migrations):
    folder = migrations(accounts_files(db_url, second_block_fails=True))
    migrator = Migrator(db_url, folder, backup=False)
    with pytest.raises(RollbackError) as caught:
        migrator.up()
    assert caught.value.exit_code == 3 and caught.value.line == 12
    assert "nowhere" in caught.value.statement
    # The first block and the index stand; the second block is gone, as psql leaves it.
    assert tables(db_url) == ["accounts"]
    assert query(db_url, "SELECT id, email, plan FROM accounts ORDER BY id") == [
        (1, "a@x", None), (2, "b@x", "pro")]
    done = apply_with_client(twin, f"{folder}/1_accounts.up.sql")
    assert done.returncode != 0 and "nowhere" in done.stdout + done.stderr
    assert snapshot(db_url) == snapshot(twin)

    status = migrator.status()
    assert status.dirty and status.current_version is None
    details = status.dirty_details
    assert details["version"] == 1 and details["direction"] == "up"
    assert details["statement_index"] == 6 and details["statements"] == 12
    assert details["statement"] == "INSERT INTO nowhere VALUES (1)" and details["line"] == 12
    assert "nowhere" in details["error"]
    assert details["reason"] == (
        "a migration that controls its own transactions (it runs as written) failed part "
        "way: statement 10 (line 12) failed inside the transaction it began at statement 7 "
        "(line 9); that transaction was rolled back, so nothing from statement 7 on "
        "stands, and statements before it are committed")
    with pytest.raises(DirtyError) as refused:
        migrator.up()
    assert "statement 7 of 12" in refused.value.message and "force" in refused.value.hint


def test_a_failure_outside_any_block_is_a_plain_part_way_failure(db_url, migrations):
    folder = migrations({"1_a.up.sql": "BEGIN;\nCREATE TABLE a (id INTEGER);\nCOMMIT;\n"
                                       "INSERT INTO nowhere VALUES (1);\n"})
    migrator = Migrator(db_url, folder, backup=False)
    with pytest.raises(RollbackError):
        migrator.up()
    details = migrator.status().dirty_details
    assert details["statement_index"] == 3 and "line" not in details
    assert details["reason"] == ("a migration that controls its own transactions (it runs "
                                 "as written) failed part way")
    assert tables(db_url) == ["a"]


def test_what_postgresql_ignores_is_skipped_on_every_engine(db_url, twin, migrations):
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);\nCOMMIT;\nBEGIN;\n"
                                       "INSERT INTO a VALUES (1);\nBEGIN;\n"
                                       "INSERT INTO a VALUES (2);\nCOMMIT;\nROLLBACK;\n"})
    events = []
    Migrator(db_url, folder, backup=False, on_event=events.append).up()
    assert query(db_url, "SELECT id FROM a ORDER BY id") == [(1,), (2,)]
    warnings = [e.text for e in events if isinstance(e, Message) and e.level == "warning"]
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "line 2: COMMIT has no transaction to end: it does nothing, skipped",
        "line 5: BEGIN is inside the transaction begun at line 3: it does nothing, skipped",
        "line 8: ROLLBACK has no transaction to end: it does nothing, skipped"]
    if is_pg(db_url):  # psql does the same, with warnings of its own
        done = apply_with_client(twin, f"{folder}/1_a.up.sql")
        assert done.returncode == 0 and "no transaction in progress" in done.stderr
        assert snapshot(db_url) == snapshot(twin)


def test_a_transaction_left_open_at_the_end_is_rolled_back(sqlite_url, migrations):
    """compile refuses a BEGIN never committed; SQLite's SAVEPOINT outside a
    transaction begins one too, which only the run can see."""
    folder = migrations({"1_a.up.sql": "-- ferryman:no-transaction\n"
                                       "CREATE TABLE a (id INTEGER);\nSAVEPOINT s;\n"
                                       "INSERT INTO a VALUES (1);\n"})
    migrator = Migrator(sqlite_url, folder, backup=False)
    with pytest.raises(RollbackError) as caught:
        migrator.up()
    assert "line 3 still open, never committed" in caught.value.message
    assert query(sqlite_url, "SELECT count(*) FROM a") == [(0,)]
    details = migrator.status().dirty_details
    assert details["statement_index"] == 1 and details["statement"] == "SAVEPOINT s"
    assert "ended with the transaction it began at statement 2 (line 3) still open" in (
        details["reason"])


def test_the_automatic_rollback_runs_the_down_file_as_written(db_url, migrations):
    folder = migrations({
        **accounts_files(db_url),
        "2_fails.up.sql": "CREATE TABLE two (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n",
    })
    with pytest.raises(MigrationError) as caught:
        Migrator(db_url, folder, backup=False).up()
    assert not isinstance(caught.value, RollbackError)
    assert caught.value.rolled_back == [1]
    assert tables(db_url) == []
    assert not Migrator(db_url, folder).status().dirty


def test_a_down_file_failing_in_its_block_during_the_rollback(db_url, migrations):
    files = accounts_files(db_url)
    files["1_accounts.down.sql"] = files["1_accounts.down.sql"].replace(
        "DROP TABLE accounts;", "DROP TABLE accounts;\nDROP TABLE nowhere;")
    folder = migrations({
        **files,
        "2_fails.up.sql": "INSERT INTO nowhere VALUES (1);\n",
    })
    migrator = Migrator(db_url, folder, backup=False)
    with pytest.raises(RollbackError) as caught:
        migrator.up()
    assert "rolling back failed at" in caught.value.message
    # The down's first statement (the index) is done; its block is undone.
    assert tables(db_url) == ["accounts", "audit"]
    details = migrator.status().dirty_details
    assert (details["version"], details["direction"]) == (1, "down")
    assert details["statement"] == "DROP TABLE nowhere" and details["statement_index"] == 1


def test_ferryman_s_rows_commit_with_ferryman_s_transaction(db_url, migrations):
    """A file's COMMIT ends its own blocks only: the run's transaction holding the
    migration before it is committed first, and the history rows of the file are
    written after its last COMMIT."""
    folder = migrations({
        "1_first.up.sql": "CREATE TABLE first (id INTEGER);\n",
        "2_own.up.sql": "BEGIN;\nCREATE TABLE own (id INTEGER);\nCOMMIT;\n"
                        "BEGIN;\nINSERT INTO own VALUES (1);\nCOMMIT;\n",
        "3_third.up.sql": "CREATE TABLE third (id INTEGER);\n",
    })
    Migrator(db_url, folder, backup=False).up()
    rows = query(db_url, "SELECT version, direction, outcome FROM ferryman_history ORDER BY id")
    assert rows == [(1, "up", "ok"), (2, "up", "ok"), (3, "up", "ok")]
    assert tables(db_url) == ["first", "own", "third"]


@pytest.mark.parametrize("transactional_ddl", [True, False])
def test_an_engine_without_transactional_ddl_runs_it_the_same(
        sqlite_url, migrations, monkeypatch, transactional_ddl):
    monkeypatch.setattr(SQLITE, "transactional_ddl", transactional_ddl)
    folder = migrations(accounts_files(sqlite_url))
    Migrator(sqlite_url, folder, backup=False).up()
    assert query(sqlite_url, "SELECT id, email, plan FROM accounts ORDER BY id") == [
        (1, "a@x", "free"), (2, "b@x", "pro")]


def test_ferryman_s_dirty_mark_stays_out_of_the_file_s_blocks(db_url, migrations):
    """Inside its own block, the file sees what ferryman wrote before the block began
    (the mark at the BEGIN), not a mark written in the block, which the block's COMMIT
    or ROLLBACK would take with it."""
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);\nBEGIN;\n"
                                       "INSERT INTO a VALUES (1);\n"
                                       "CREATE TABLE seen AS SELECT value FROM ferryman_meta "
                                       "WHERE key = 'dirty';\nCOMMIT;\n"
                                       "INSERT INTO a VALUES (2);\n"})
    Migrator(db_url, folder, backup=False).up()
    (value,), = query(db_url, "SELECT value FROM seen")
    assert json.loads(value)["statement_index"] == 1
    assert not Migrator(db_url, folder).status().dirty


# -- the command line --------------------------------------------------------------------
@pytest.fixture
def run(cli, db_url, migrations, monkeypatch):
    monkeypatch.setenv("FERRYMAN_BACKUP", "false")

    def invoke(*args):
        return cli(*args, "--database-url", db_url, "--migrations", invoke.folder)

    invoke.folder = migrations(accounts_files(db_url, second_block_fails=True))
    return invoke


def test_validate_accepts_it_and_a_dry_run_shows_how_it_runs(run):
    validated = run("validate")
    assert validated.code == 0, validated
    planned = run("up", "--dry-run")
    assert planned.code == 0, planned
    assert "[1_accounts.up.sql, outside a transaction]" in planned.out
    assert ("--   line 1: the file controls its own transactions (BEGIN ...); it runs as "
            "written, statement by statement") in planned.out
    assert "COMMIT;\n" in planned.out and planned.out.count("BEGIN;\n") == 2


def test_status_shows_the_statement_it_stopped_at_and_force_is_the_way_on(run, db_url):
    failed = run("up")
    assert failed.code == 3, failed
    assert ("it stopped part way: the transaction of its own that was open then was rolled "
            "back, but what it had committed before could not be") in failed.err
    status = run("status", "--json").json()
    assert status["dirty"] is True and status["current_version"] is None
    details = status["dirty_details"]
    assert details["statement"] == "INSERT INTO nowhere VALUES (1)"
    assert (details["statement_index"], details["line"]) == (6, 12)
    human = run("status")
    assert "stopped at statement 7 of 12" in human.out
    assert "statement 10 (line 12) failed inside the transaction" in human.out
    refused = run("up")
    assert refused.code == 3 and "ferryman force" in refused.err, refused

    # The person finishes the second block by hand, and says so.
    query(db_url, "UPDATE accounts SET plan = 'free' WHERE plan IS NULL")
    query(db_url, "CREATE TABLE audit (note TEXT)")
    forced = run("force", "1")
    assert forced.code == 0, forced
    after = run("status", "--json").json()
    assert after["dirty"] is False and after["current_version"] == 1
    assert run("up").code == 0
