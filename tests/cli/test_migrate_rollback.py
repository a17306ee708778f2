"""``ferryman migrate --rollback`` asks before it restores a backup, as ``ferryman
rollback`` does: a restore loses every row written since the run.

The last run applied a migration without a down file, so undoing it means restoring
the backup taken before it. Without --yes the command asks on a terminal and refuses
elsewhere (exit 2, nothing changed); with --yes, or a yes on the terminal, it restores.
"""

import os
import pty
import subprocess
import sys

import pytest

from helpers import query, tables

FIRST = {"1_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY, body TEXT);\n",
         "1_letters.down.sql": "DROP TABLE letters;\n"}
# No down file: only the backup taken before this run can undo it.
SECOND = {"2_stamps.up.sql": "CREATE TABLE stamps (id INTEGER PRIMARY KEY);\n"}


@pytest.fixture
def after_a_run_without_down(sqlite_url, migrations, cli, monkeypatch):
    """Version 1 by `up`, then version 2 (no down) by `migrate --strategy safe`, which
    backs up first; then a row written after the run. Returns the environment."""
    env = {"FERRYMAN_DATABASE_URL": sqlite_url, "FERRYMAN_MIGRATIONS": migrations(FIRST)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli("up").code == 0
    migrations(SECOND)
    run = cli("migrate", "--strategy", "safe", "--json")
    assert run.code == 0, run
    assert run.json()["to_version"] == 2
    query(sqlite_url, "INSERT INTO letters (body) VALUES ('written after the run')")
    return env


def unchanged(url):
    """The database is as the run and the later write left it."""
    assert tables(url) == ["letters", "stamps"]
    assert query(url, "SELECT body FROM letters") == [("written after the run",)]


def restored(url):
    """The database is as the backup before the run had it: version 1, no row."""
    assert tables(url) == ["letters"]
    assert query(url, "SELECT count(*) FROM letters") == [(0,)]


def ferryman(env, *args, stdin=None, **kwargs):
    """The real command in a subprocess, in the test's folder."""
    return subprocess.run([sys.executable, "-m", "ferryman", *args],
                          env={**os.environ, **env}, stdin=stdin, capture_output=True,
                          text=True, timeout=120, check=False, **kwargs)


def on_a_terminal(env, answer, *args):
    """Run the command with a terminal as stdin, typing ``answer``; (exit code, stderr)."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        done = ferryman(env, *args, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)
    return done.returncode, done.stderr


def test_without_yes_it_refuses_and_changes_nothing(after_a_run_without_down, sqlite_url):
    done = ferryman(after_a_run_without_down, "migrate", "--rollback", input="n\n")
    assert done.returncode == 2, done
    assert "not confirmed" in done.stderr and "--yes" in done.stderr
    unchanged(sqlite_url)


def test_no_on_a_terminal_changes_nothing(after_a_run_without_down, sqlite_url):
    code, stderr = on_a_terminal(after_a_run_without_down, "n", "migrate", "--rollback")
    assert code == 2, stderr
    assert "Everything written since is lost" in stderr  # the question was asked
    unchanged(sqlite_url)


def test_yes_on_a_terminal_restores_the_backup(after_a_run_without_down, sqlite_url):
    code, stderr = on_a_terminal(after_a_run_without_down, "y", "migrate", "--rollback")
    assert code == 0, stderr
    restored(sqlite_url)


def test_with_yes_it_restores_the_backup(after_a_run_without_down, sqlite_url, cli):
    done = cli("migrate", "--rollback", "--yes", "--json")
    assert done.code == 0, done
    assert done.json()["status"] == "rolled_back"
    restored(sqlite_url)


def test_rollback_asks_the_same_question(after_a_run_without_down, sqlite_url):
    code, stderr = on_a_terminal(after_a_run_without_down, "n", "rollback")
    assert code == 2, stderr
    assert "Everything written since is lost" in stderr
    unchanged(sqlite_url)
