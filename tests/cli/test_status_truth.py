"""force, baseline and status tell the truth (issue 8, item 19).

force and baseline say what they did and are recorded in the history; status names the
command to run when the database is dirty, reports an applied file edited or gone as
`up` would refuse it, and exits 3 with --exit-code when a person is needed; a failed
run repaired by a restore does not call the database dirty. Both engines.
"""

import os

import pytest
from helpers import bound_cli, query, tables

import ferryman

FILES = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);",
    "1_users.down.sql": "DROP TABLE users;",
    "2_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY);",
    "2_letters.down.sql": "DROP TABLE letters;",
    "3_outbox.up.sql": "CREATE TABLE outbox (id INTEGER PRIMARY KEY);",
    "3_outbox.down.sql": "DROP TABLE outbox;",
}
# Fails at its second statement, outside a transaction: the first one stays done.
BROKEN = {
    "4_index.up.sql": "-- ferryman:no-transaction\n"
                      "CREATE INDEX users_email ON users (email);\n"
                      "CREATE INDEX broken ON no_such_table (x);\n",
    "4_index.down.sql": "DROP INDEX users_email;",
}


@pytest.fixture
def run(cli, db_url, migrations, tmp_path):
    return bound_cli(cli, db_url, migrations(FILES), tmp_path / "backups")


@pytest.fixture
def dirty(run, migrations, monkeypatch):
    """The database at 3, dirty: 4 stopped after its first statement (no restore)."""
    monkeypatch.setenv("FERRYMAN_RESTORE_ON_FAILURE", "off")
    assert run("up").code == 0
    migrations(BROKEN)
    failed = run("up")
    assert failed.code == 3, failed
    assert run("status", "--json").json()["dirty"] is True
    return run


def said(result):
    return result.out + result.err


# -- force and baseline say what they did, and the history has it -------------------------
def test_force_on_a_dirty_database_says_it_cleared_the_flag(dirty):
    forced = dirty("force", "3")
    assert forced.code == 0, forced
    assert "nothing to do" not in said(forced)  # today's words, though it cleared the flag
    assert "cleared the dirty flag" in said(forced) and "version 4" in said(forced)
    assert "recorded at version 3" in said(forced)
    entries = dirty("history", "--json").json()
    assert (entries[0]["version"], entries[0]["direction"], entries[0]["outcome"]) == (
        3, "force", "forced")
    assert dirty("status", "--json").json()["dirty"] is False


def test_force_json_carries_what_it_did(dirty):
    data = dirty("force", "4", "--json").json()
    assert "cleared the dirty flag" in data["message"]
    assert "recorded as applied 1 migration (4)" in data["message"]
    assert [(s["version"], s["direction"]) for s in data["steps"]] == [(4, "force-up")]


def test_force_is_recorded_even_when_it_changes_nothing(run):
    assert run("up").code == 0
    forced = run("force", "3")
    assert forced.code == 0 and "changed nothing" in said(forced), forced
    assert [(e["version"], e["direction"], e["outcome"])
            for e in run("history", "--json").json()][0] == (3, "force", "forced")


def test_force_down_says_which_migrations_it_recorded_as_not_applied(run):
    assert run("up").code == 0
    forced = run("force", "1")
    assert forced.code == 0, forced
    assert "recorded 2 migrations (2, 3) as not applied" in said(forced)
    assert tables(run.url) == ["letters", "outbox", "users"]  # nothing ran


def test_baseline_says_what_it_did_and_is_recorded(run):
    query(run.url, FILES["1_users.up.sql"])
    query(run.url, FILES["2_letters.up.sql"])
    based = run("baseline", "2")
    assert based.code == 0, based
    assert "marked applied 2 migrations (1, 2) without running them" in said(based)
    rows = [(e["version"], e["direction"], e["outcome"]) for e in run("history", "--json").json()]
    assert (2, "baseline", "baselined") in rows
    assert {(1, "baseline", "ok"), (2, "baseline", "ok")} <= set(rows)
    api = ferryman.Migrator(run.url, run.folder).history()
    assert any(e.outcome == "baselined" for e in api)


def test_rollback_after_a_force_does_not_undo_the_run_before_it(run):
    # force is the last change: rolling back "the last run" would undo the run before
    # the person's repair
    assert run("up").code == 0
    query(run.url, "INSERT INTO ferryman_meta VALUES ('dirty', "
                   "'{\"version\": 3, \"reason\": \"by hand\"}')")
    assert run("force", "3").code == 0
    refused = run("rollback", "--dry-run")
    assert refused.code == 2, refused
    assert "`force`" in refused.err
    assert tables(run.url) == ["letters", "outbox", "users"]


# -- status: the command to run, the problems up would refuse, --exit-code ----------------
def test_status_names_the_force_command_when_dirty(dirty):
    human = dirty("status")
    assert human.code == 0, human
    assert "next:" in human.out and "ferryman force 4" in human.out
    assert "ferryman force 3" in human.out  # undone: back to the version before
    data = dirty("status", "--json").json()
    assert "ferryman force 4" in data["hint"] and "ferryman force 3" in data["hint"]
    for key in ("current_version", "dirty", "pending_count", "last_backup", "applied",
                "pending"):
        assert key in data  # the contract of DESIGN.md stays
    assert dirty("status", "--exit-code").code == 3
    assert dirty("status", "--exit-code", "--json").code == 3


def test_status_exit_code_is_0_when_nothing_needs_a_person(run):
    assert run("up", "--target", "2").code == 0
    result = run("status", "--exit-code")
    assert result.code == 0, result
    data = run("status", "--json", "--exit-code").json()
    assert data["problems"] == [] and data["hint"] is None and data["pending_count"] == 1


def test_status_reports_an_edited_applied_file(run):
    assert run("up").code == 0
    path = os.path.join(run.folder, "2_letters.up.sql")
    with open(path, "a") as handle:
        handle.write("\n-- an afterthought\n")
    data = run("status", "--json").json()
    assert any("2_letters.up.sql" in p and "sha256" in p for p in data["problems"]), data
    assert "git checkout" in data["hint"]
    assert run("status", "--exit-code").code == 3
    assert run("up").code == 3  # the same verdict as up's


def test_status_reports_a_missing_applied_file(run):
    assert run("up").code == 0
    os.remove(os.path.join(run.folder, "2_letters.up.sql"))
    os.remove(os.path.join(run.folder, "2_letters.down.sql"))
    human = run("status")
    assert "problem:" in human.out and "2 (letters)" in human.out, human
    data = run("status", "--json").json()
    assert any("missing from the migrations folder" in p for p in data["problems"]), data
    assert run("status", "--exit-code").code == 3


def test_a_kept_status_reader_sees_a_file_edited_in_place(run):
    assert run("up").code == 0
    migrator = ferryman.Migrator(run.url, run.folder)
    try:
        assert migrator.status().problems == ()
        path = os.path.join(run.folder, "1_users.up.sql")
        with open(path, "a") as handle:
            handle.write("\n-- edited\n")
        assert any("1_users.up.sql" in p for p in migrator.status().problems)
    finally:
        migrator.close()


# -- a failure repaired by a restore is not called dirty ----------------------------------
def test_a_restored_no_transaction_failure_does_not_say_dirty(run, migrations):
    assert run("up").code == 0
    migrations(BROKEN)
    failed = run("up", "--restore-on-failure")
    assert failed.code == 1, failed
    assert "restored the backup" in failed.err
    assert "dirty" not in failed.err  # today: "the database is dirty; restored ..."
    data = run("status", "--json").json()
    assert data["dirty"] is False and data["current_version"] == 3
