"""Version 0 is a version (golang-migrate parses versions with ParseUint, and real
projects ship ``0_initial.up.sql``); the state with nothing applied is spelled
``none``. ``0`` names version 0 where the folder has it, and nothing where it has not,
as it always did."""

import pytest

from helpers import tables

ZERO = {
    "0_initial.up.sql": "CREATE TABLE base (id INTEGER PRIMARY KEY);\n",
    "0_initial.down.sql": "DROP TABLE base;\n",
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    "1_users.down.sql": "DROP TABLE users;\n",
}


@pytest.fixture
def run(cli, db_url, migrations):
    folder = migrations(ZERO)

    def invoke(*args):
        return cli(*args, "--database-url", db_url, "--migrations", folder)

    invoke.url, invoke.folder = db_url, folder
    return invoke


def _applied(run):
    status = run("status", "--json")
    assert status.code == 0, status
    return [m["version"] for m in status.json()["applied"]], status.json()


def test_version_0_is_applied_first_and_is_the_current_version(run):
    assert run("up").code == 0
    applied, status = _applied(run)
    assert applied == [0, 1] and status["current_version"] == 1
    assert tables(run.url) == ["base", "users"]


def test_goto_0_reaches_version_0_and_goto_none_undoes_everything(run):
    assert run("up").code == 0
    at_zero = run("goto", "0")
    assert at_zero.code == 0, at_zero
    applied, status = _applied(run)
    assert applied == [0] and status["current_version"] == 0
    assert tables(run.url) == ["base"]
    nothing = run("goto", "none")
    assert nothing.code == 0, nothing
    applied, status = _applied(run)
    assert applied == [] and status["current_version"] is None
    assert tables(run.url) == []


def test_down_to_none_and_to_0(run):
    assert run("up").code == 0
    assert run("down", "--to", "0").code == 0
    assert _applied(run)[0] == [0]
    assert run("down", "--to", "none").code == 0
    assert _applied(run)[0] == []


def test_force_and_baseline_take_0_and_none(run):
    assert run("baseline", "0").code == 0
    assert _applied(run)[0] == [0]
    assert tables(run.url) == []  # baseline runs nothing
    forced = run("force", "none", "--json")
    assert forced.code == 0, forced
    assert _applied(run)[0] == []
    assert run("force", "0").code == 0
    assert _applied(run)[0] == [0]


def test_up_target_0_applies_only_version_0(run):
    assert run("up", "--target", "0").code == 0
    assert _applied(run)[0] == [0]


def test_without_version_0_the_old_spelling_still_means_nothing(cli, db_url, migrations):
    folder = migrations({k.replace("0_initial", "5_initial"): v for k, v in ZERO.items()})
    args = ("--database-url", db_url, "--migrations", folder)
    assert cli("up", *args).code == 0
    assert cli("goto", "0", *args).code == 0
    assert cli("status", "--json", *args).json()["applied"] == []


def test_a_failed_first_migration_says_force_none(cli, sqlite_url, migrations):
    folder = migrations({"1_bad.up.sql": "-- ferryman:no-transaction\n"
                                         "CREATE TABLE a (id INTEGER);\nSELEC 1;\n"})
    args = ("--database-url", sqlite_url, "--migrations", folder)
    failed = cli("up", *args, "--no-backup")
    assert failed.code == 3, failed  # part way outside a transaction, nothing to restore
    status = cli("status", *args)
    assert "`ferryman force 1` (finished) or `ferryman force none` (undone)" in status.out
    assert cli("force", "none", *args).code == 0
    assert cli("status", "--json", *args).json()["dirty"] is False


@pytest.mark.parametrize("text", ["1.5", "abc", "0x1", "1e3", "-5"])
def test_what_is_not_a_version_is_refused_before_anything_changes(cli, run, text):
    assert run("up", "--target", "0").code == 0
    result = cli("goto", "--database-url", run.url, "--migrations", run.folder, "--", text)
    assert result.code == 2, result
    assert f"goto VERSION {text}: not a version" in result.err, result
    assert _applied(run)[0] == [0]
