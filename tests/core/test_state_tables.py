"""ferryman's own tables tampered with, dropped, corrupt or newer (issue 8, items 2, 3, 16).

The tables are checked against each other on every read of the state: a table missing,
a meta value ferryman cannot read, or the migrations table and the history disagreeing
stop every command that runs migrations with exit code 3, naming what is wrong and the
command that repairs it, and never re-run an applied migration. ``status`` still
describes the database; ``force`` repairs the tables. Every test runs on SQLite and
PostgreSQL.
"""

import os

import pytest
from helpers import bound_cli, ferryman_tables, query, tables

import ferryman
from ferryman.core.history import SCHEMA_VERSION

# 2 runs outside a transaction and inserts a row: running it again would add a second
# row (the duplicate the issue saw), not fail.
FILES = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);",
    "1_users.down.sql": "DROP TABLE users;",
    "2_seed.up.sql": "-- ferryman:no-transaction\n"
                     "CREATE TABLE IF NOT EXISTS seed (n INTEGER);\n"
                     "INSERT INTO seed (n) VALUES (1);\n",
    "2_seed.down.sql": "DROP TABLE seed;",
    "3_outbox.up.sql": "CREATE TABLE outbox (id INTEGER PRIMARY KEY);",
    "3_outbox.down.sql": "DROP TABLE outbox;",
}


@pytest.fixture
def run(cli, db_url, migrations, tmp_path):
    """``run(command, *args)`` on this test's database, migrated to version 2."""
    invoke = bound_cli(cli, db_url, migrations(FILES), tmp_path / "backups")
    first = invoke("up", "--target", "2")
    assert first.code == 0, first
    return invoke


def seeded(url):
    return query(url, "SELECT count(*) FROM seed")[0][0]


def applied(data):
    return [a["version"] for a in data["applied"]]


def backups_taken(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def assert_refused(result, *words):
    """Exit code 3, no traceback, and the message names each of ``words``."""
    assert result.code == 3, result
    assert "Traceback" not in result.err and "internal error" not in result.err, result
    for word in words:
        assert word in result.err, (word, result)


def assert_repaired(run, version):
    """After a force: status clean, the tables agree, up runs only what is pending."""
    data = run("status", "--json").json()
    assert data["problems"] == [] and data["hint"] is None and not data["dirty"], data
    assert data["current_version"] == version
    assert run("status", "--exit-code").code == 0
    done = run("up")
    assert done.code == 0, done
    assert run("status", "--json").json()["current_version"] == 3
    assert seeded(run.url) == 1  # 2 never ran again
    assert tables(run.url) == ["outbox", "seed", "users"]


# -- item 2: a table dropped, rows that disagree ------------------------------------------
def test_dropped_meta_is_found_and_nothing_runs_again(run):
    query(run.url, "DROP TABLE ferryman_meta")
    data = run("status", "--json").json()
    # status still says what it can read: the applied migrations are there
    assert data["current_version"] == 2 and applied(data) == [1, 2], data
    assert data["pending_count"] == 1
    assert any("ferryman_meta is missing" in p for p in data["problems"]), data
    assert "ferryman force 2" in data["hint"]
    assert run("status", "--exit-code").code == 3

    refused = run("up")
    assert_refused(refused, "ferryman_meta is missing", "ferryman force 2")
    assert seeded(run.url) == 1 and "outbox" not in tables(run.url)
    assert run("validate").code == 3
    assert run("up", "--dry-run").code == 3

    forced = run("force", "2")
    assert forced.code == 0, forced
    assert "repaired ferryman's own tables" in forced.err + forced.out
    assert "ferryman_meta" in ferryman_tables(run.url)
    assert_repaired(run, 2)


def test_dropped_migrations_table_is_found_and_force_rebuilds_it_from_the_history(run):
    query(run.url, "DROP TABLE ferryman_migrations")
    data = run("status", "--json").json()
    assert any("ferryman_migrations is missing" in p and "1, 2" in p
               for p in data["problems"]), data
    assert "ferryman force 2" in data["hint"]
    # not exit 4 with a raw "no such table", not a re-run of 1 and 2
    refused = run("up")
    assert_refused(refused, "ferryman_migrations is missing", "ferryman force 2")
    assert "no such table" not in refused.err and "does not exist" not in refused.err
    assert seeded(run.url) == 1

    assert run("force", "2").code == 0
    assert applied(run("status", "--json").json()) == [1, 2]
    assert_repaired(run, 2)


def test_dropped_history_table_is_found_and_force_recreates_it(run):
    query(run.url, "DROP TABLE ferryman_history")
    refused = run("up")
    # not exit 1 with "fix the migration": the migration is not at fault
    assert_refused(refused, "ferryman_history is missing", "ferryman force 2")
    assert "fix " not in refused.err
    assert run("history").code == 3
    assert "outbox" not in tables(run.url)

    assert run("force", "2").code == 0
    # the new history agrees with the migrations table: 1 and 2 recorded applied
    entries = run("history", "--json").json()
    assert {(e["version"], e["direction"]) for e in entries} == {
        (1, "force-up"), (2, "force-up"), (2, "force")}
    assert_repaired(run, 2)


@pytest.mark.parametrize("table", ["ferryman_runs", "ferryman_backups",
                                   "ferryman_repeatables"])
def test_any_other_dropped_table_is_found(run, table):
    query(run.url, f"DROP TABLE {table}")
    assert_refused(run("up"), f"{table} is missing", "ferryman force 2")
    assert run("force", "2").code == 0
    assert table in ferryman_tables(run.url)
    assert_repaired(run, 2)


def test_an_applied_row_deleted_by_hand_is_not_run_again(run):
    query(run.url, "DELETE FROM ferryman_migrations WHERE version = 2")
    data = run("status", "--json").json()
    assert any("ferryman_history records 2 as applied" in p for p in data["problems"]), data
    refused = run("up")
    assert_refused(refused, "ferryman_history records 2 as applied", "ferryman force 2")
    assert seeded(run.url) == 1  # today's code ran 2 again: a second row
    assert run("force", "2").code == 0
    assert_repaired(run, 2)


def test_a_history_emptied_by_hand_disagrees_with_the_applied_migrations(run):
    query(run.url, "DELETE FROM ferryman_history")
    assert_refused(run("up"), "ferryman_history has no record of applying them",
                   "ferryman force 2")
    assert run("force", "2").code == 0
    assert_repaired(run, 2)


# -- item 3: a corrupt ferryman_meta ------------------------------------------------------
CORRUPT = [
    ("dirty", "{not json", "dirty value is not JSON"),
    ("dirty", '"a string"', "dirty value is a JSON string, not an object"),
    ("dirty", "[1, 2]", "dirty value is a JSON array, not an object"),
    ("schema_version", "abc", "schema_version is 'abc', not a number"),
    ("schema_version", "0", "schema_version is 0"),
    ("last_backup", "nope", "last_backup value is not JSON"),
]


@pytest.mark.parametrize("key, value, said", CORRUPT, ids=[c[1] for c in CORRUPT])
def test_corrupt_meta_is_exit_3_and_status_still_describes_the_database(run, key, value,
                                                                         said):
    query(run.url, "DELETE FROM ferryman_meta WHERE ferryman_meta.key = %s" % ("'" + key + "'"))
    query(run.url, f"INSERT INTO ferryman_meta VALUES ('{key}', "
                   f"'{value.replace(chr(39), chr(39) * 2)}')")
    status = run("status", "--json")
    assert status.code == 0, status  # today: exit 70 with a traceback
    data = status.json()
    assert applied(data) == [1, 2] and data["current_version"] == 2
    assert any(said in p for p in data["problems"]), data["problems"]
    assert "ferryman force 2" in data["hint"]
    human = run("status")
    assert human.code == 0 and said in human.out and "ferryman force 2" in human.out, human
    assert run("status", "--exit-code").code == 3

    assert_refused(run("up"), said, "ferryman force 2")
    assert seeded(run.url) == 1
    assert run("validate").code == 3

    assert run("force", "2").code == 0
    assert_repaired(run, 2)


def test_a_corrupt_dirty_mark_shows_as_dirty(run):
    query(run.url, "INSERT INTO ferryman_meta VALUES ('dirty', '{oops')")
    data = run("status", "--json").json()
    assert data["dirty"] is True and "cannot be read" in data["dirty_details"]["reason"]


# -- item 16: newer tables, all tables gone -----------------------------------------------
def test_tables_of_a_newer_ferryman_are_refused_before_the_backup(run):
    query(run.url, "UPDATE ferryman_meta SET value = '99' WHERE ferryman_meta.key = 'schema_version'")
    before = backups_taken(run.backups)
    refused = run("up")
    assert_refused(refused, "schema 99", f"schema {SCHEMA_VERSION}", "upgrade ferryman")
    assert backups_taken(run.backups) == before  # refused before the backup
    assert "outbox" not in tables(run.url)
    data = run("status", "--json").json()
    assert any("schema 99" in p and f"schema {SCHEMA_VERSION}" in p
               for p in data["problems"]), data
    assert "upgrade ferryman" in data["hint"]
    # force writes nothing into tables it does not know
    assert_refused(run("force", "2"), "schema 99")
    assert query(run.url, "SELECT value FROM ferryman_meta WHERE ferryman_meta.key = 'schema_version'") == [
        ("99",)]


def test_a_newer_schema_is_refused_through_the_api_too(run):
    query(run.url, "UPDATE ferryman_meta SET value = '99' WHERE ferryman_meta.key = 'schema_version'")
    migrator = ferryman.Migrator(run.url, run.folder, backup=False)
    with pytest.raises(ferryman.StateError) as refused:
        migrator.up()
    assert "99" in refused.value.message and refused.value.exit_code == 3
    assert "99" in migrator.status().problems[0]


def test_all_tables_gone_from_a_populated_database_suggests_baseline(run):
    for table in ("meta", "migrations", "history", "runs", "backups", "repeatables"):
        query(run.url, f"DROP TABLE ferryman_{table}")
    data = run("status", "--json").json()
    assert data["current_version"] is None and data["problems"] == []
    assert "ferryman baseline" in data["hint"], data
    assert run("status", "--exit-code").code == 0  # nothing is wrong with ferryman's tables
    assert "ferryman baseline" in run("status").out

    failed = run("up")  # 1 runs again and fails (users exists): rolled back, exit 1
    assert failed.code == 1, failed
    assert "ferryman baseline VERSION" in failed.err, failed
    assert seeded(run.url) == 1

    based = run("baseline", "2")
    assert based.code == 0, based
    assert_repaired(run, 2)


def test_a_new_empty_database_still_just_migrates(cli, db_url, migrations):
    # a guard for the check above: no tables at all is not a database to adopt
    folder = migrations(FILES)
    args = ("--database-url", db_url, "--migrations", folder)
    data = cli("status", "--json", *args).json()
    assert data["hint"] is None and data["problems"] == [] and data["pending_count"] == 3
    assert cli("status", "--exit-code", *args).code == 0
    assert cli("up", "--no-backup", *args).code == 0
    assert tables(db_url) == ["outbox", "seed", "users"] and seeded(db_url) == 1


def test_up_still_runs_on_a_database_that_has_tables_of_its_own(cli, db_url, migrations):
    # golang-migrate's behaviour, kept: a first migration written for the existing schema
    folder = migrations({"1_users.up.sql": "CREATE TABLE IF NOT EXISTS users (id INTEGER);"})
    query(db_url, "CREATE TABLE users (id INTEGER)")
    args = ("--database-url", db_url, "--migrations", folder)
    assert "ferryman baseline" in cli("status", "--json", *args).json()["hint"]
    done = cli("up", "--no-backup", *args)
    assert done.code == 0, done
    assert cli("status", "--json", *args).json()["current_version"] == 1


# -- the status reader of the HTTP app and the API keeps up with the damage ---------------
def test_a_kept_status_reader_sees_a_table_dropped_between_two_reads(run):
    migrator = ferryman.Migrator(run.url, run.folder)
    try:
        assert migrator.status().problems == ()
        query(run.url, "DROP TABLE ferryman_migrations")
        after = migrator.status()
        assert any("ferryman_migrations is missing" in p for p in after.problems)
        assert "ferryman force 2" in after.hint
    finally:
        migrator.close()
