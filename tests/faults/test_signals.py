"""SIGINT and SIGTERM during ``ferryman up`` (issue 8, item 13).

The run is the real command in its own process, on a migration whose statement would
run for hours: a recursive CTE counting to 10^12 on SQLite, ``pg_sleep(3600)`` on
PostgreSQL. The test waits until that migration is provably under way (its StepStarted
line in the log file; the sleeping query in pg_stat_activity), sends the signal, and
checks that the process ends long before the statement would (a liveness bound, not a
timing assertion), with 130 for SIGINT and 143 for SIGTERM, a message saying what
happened, the database at the previous version, clean, and the run recorded.
"""

import os
import signal
import subprocess

import pytest
from helpers import (BASE, at_version_1, ferryman_process, query, sleeping_pids, tables,
                     wait_until)

# Slow statements and whole-run rollbacks of PostgreSQL and SQLite; a signal on MySQL:
# tests/cli/test_mysql_runs.py.
pytestmark = pytest.mark.engines("sqlite", "postgresql")

# Each would run for hours: the signal, not the statement's end, must stop the run.
SLOW_SQLITE = ("CREATE TABLE slow (id INTEGER);\n"
               "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
               "WHERE x < 1000000000000) SELECT count(*) FROM c;\n")
SLOW_PG = "CREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(3600);\n"

# Pure Python, no statement running: the signal's handler must reach the migration.
SLEEPY_PY = '''\
import time


def up(ctx):
    ctx.execute("CREATE TABLE slow (id INTEGER)")
    with open({marker!r}, "w"):
        pass
    time.sleep(3600)
'''

LIVENESS = 60  # seconds: generous; the statements above take hours
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def ended(proc):
    """(exit code, stdout, stderr) once the process ends; fails if it does not."""
    try:
        out, err = proc.communicate(timeout=LIVENESS)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"ferryman was still running {LIVENESS}s after the signal: the "
                    f"running statement was not stopped\nstdout: {out}\nstderr: {err}")
    return proc.returncode, out, err


def logged(path, text):
    def check():
        try:
            with open(path, encoding="utf-8") as handle:
                return text in handle.read()
        except FileNotFoundError:
            return False
    return check


@pytest.fixture
def prepared(db_url, migrations, cli, monkeypatch):
    """Version 1 applied; returns the environment of the run (FERRYMAN_*)."""
    return at_version_1(db_url, migrations, cli, monkeypatch)


def assert_back_at_version_1(cli, db_url, err, signame):
    assert f"interrupted by {signame} during 2_slow: rolled back to version 1" in err, err
    assert "Traceback" not in err, err
    status = cli("status", "--json").json()
    assert status["current_version"] == 1 and status["dirty"] is False, status
    assert [p["version"] for p in status["pending"]] == [2]
    assert tables(db_url) == ["base"]
    # The run is recorded, with what happened.
    runs = query(db_url, "SELECT outcome, message FROM ferryman_runs ORDER BY started_at")
    assert runs[-1][0] == "rolled_back" and f"interrupted by {signame}" in runs[-1][1], runs
    assert query(db_url, "SELECT version, outcome FROM ferryman_history "
                         "WHERE version = 2") == [(2, "failed")]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_signal_cancels_the_running_statement_and_rolls_back(db_url, prepared, migrations,
                                                               cli, tmp_path, signum):
    is_pg = db_url.startswith("postgresql")
    migrations({"2_slow.up.sql": SLOW_PG if is_pg else SLOW_SQLITE})
    log = str(tmp_path / "run.log")
    proc = ferryman_process("up", "--log-file", log, env=prepared)
    if is_pg:
        wait_until(lambda: sleeping_pids(db_url), "pg_sleep of 2_slow to run", proc)
    else:
        # The CTE runs right after the step starts; a signal that comes between the
        # two is caught before the statement (the test holds either way).
        wait_until(logged(log, "StepStarted version=2"), "2_slow to start", proc)
    proc.send_signal(signum)
    code, _out, err = ended(proc)
    assert code == CODES[signum], err
    assert_back_at_version_1(cli, db_url, err, signal.Signals(signum).name)
    if is_pg:
        assert not sleeping_pids(db_url)  # the statement was cancelled, not left running


def test_sigterm_stops_a_python_migration_in_its_own_code(db_url, prepared, migrations,
                                                          cli, tmp_path):
    """No statement runs (the migration sleeps in Python): the handler's exception
    reaches the migration's code, and the run rolls back as for a failure."""
    marker = str(tmp_path / "sleeping")
    migrations({"2_slow.py": SLEEPY_PY.format(marker=marker)})
    proc = ferryman_process("up", env=prepared)
    wait_until(lambda: os.path.exists(marker), "2_slow to sleep", proc)
    proc.send_signal(signal.SIGTERM)
    code, _out, err = ended(proc)
    assert code == 143, err
    assert_back_at_version_1(cli, db_url, err, "SIGTERM")


def test_sigterm_while_waiting_for_the_lock_changes_nothing(db_url, prepared, migrations,
                                                            cli, tmp_path):
    """Before the run began: exit 143, nothing changed, and it says so."""
    migrations({"2_slow.up.sql": "CREATE TABLE slow (id INTEGER);\n"})
    holder = ferryman_process("up", "--log-file", str(tmp_path / "holder.log"),
                              env=dict(prepared, FERRYMAN_MIGRATIONS=migrations(
                                  {**BASE, "2_slow.up.sql": SLOW_PG if db_url.startswith(
                                      "postgresql") else SLOW_SQLITE}, folder="held")))
    try:
        wait_until(logged(str(tmp_path / "holder.log"), "StepStarted version=2"),
                   "the first run to hold the lock", holder)
        log = str(tmp_path / "waiter.log")
        proc = ferryman_process("up", "--log-file", log, env=prepared)
        wait_until(logged(log, "LockWaiting"), "the second run to wait for the lock", proc)
        proc.send_signal(signal.SIGTERM)
        code, _out, err = ended(proc)
        assert code == 143, err
        assert "interrupted by SIGTERM before any migration ran: nothing was changed" in err
    finally:
        holder.send_signal(signal.SIGTERM)
        holder_code, _out, holder_err = ended(holder)
    assert holder_code == 143, holder_err
    assert cli("status", "--json").json()["current_version"] == 1
    assert tables(db_url) == ["base"]


def test_a_signal_after_a_commit_undoes_it_through_its_down(db_url, prepared, migrations,
                                                            cli, tmp_path):
    """transaction=each: 2 committed before the signal came during 3; the rollback runs
    2's down to the end (the stop request must not stop the undo too)."""
    is_pg = db_url.startswith("postgresql")
    slow = (SLOW_PG if is_pg else SLOW_SQLITE).replace("slow", "slow3")
    migrations({"2_quick.up.sql": "CREATE TABLE quick (id INTEGER);\n",
                "2_quick.down.sql": "DROP TABLE quick;\n", "3_slow.up.sql": slow})
    log = str(tmp_path / "run.log")
    proc = ferryman_process("up", "--transaction", "each", "--log-file", log, env=prepared)
    if is_pg:
        wait_until(lambda: sleeping_pids(db_url), "pg_sleep of 3_slow to run", proc)
    else:
        wait_until(logged(log, "StepStarted version=3"), "3_slow to start", proc)
    proc.send_signal(signal.SIGTERM)
    code, _out, err = ended(proc)
    assert code == 143, err
    assert "interrupted by SIGTERM during 3_slow: rolled back to version 1, where the run " \
           "started (1 migration undone)" in err, err
    status = cli("status", "--json").json()
    assert status["current_version"] == 1 and status["dirty"] is False, status
    assert tables(db_url) == ["base"]
    assert query(db_url, "SELECT version, direction, outcome FROM ferryman_history "
                         "ORDER BY id") == [(1, "up", "ok"), (2, "up", "ok"),
                                            (2, "down", "ok"), (3, "up", "failed")]
