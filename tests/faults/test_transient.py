"""A transient failure with ``--retries 0`` (issue 8, item 18).

A transient failure (the connection lost, a lock timeout; also a serialization
failure, a deadlock, a server shutdown: the same path, by SQLSTATE) is no fault of the
migration's: the error says it was transient and that running the command again is the
fix, never "fix 0002_slow.up.sql". The run is recorded (its ferryman_runs row and the
failed migration's history row) even when the connection was lost, through a new one,
and status afterwards is the truth: clean, at the version where the run started.

The connection is lost the way an administrator or a failover loses it: another session
calls pg_terminate_backend while the migration's pg_sleep runs (found by polling
pg_stat_activity, never by a fixed sleep).
"""

import subprocess

import psycopg
import pytest
from helpers import (_pg_conninfo, at_version_1, ferryman_process, query, sleeping_pids,
                     tables, wait_until)

pytestmark = pytest.mark.postgresql

SLOW = {"3_slow.up.sql": "CREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(3600);\n",
        "3_slow.down.sql": "DROP TABLE slow;\n"}


def terminate_while_sleeping(url, proc, timeout=60.0):
    """Wait until the run's pg_sleep is running, then end its backend from outside."""
    pids = wait_until(lambda: sleeping_pids(url), "pg_sleep to run", proc, timeout)
    assert query(url, "SELECT pg_terminate_backend(%s)", (pids[0],)) == [(True,)]
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"ferryman still running 60s after its backend was terminated\n{err}")
    return proc.returncode, out, err


@pytest.fixture
def env(pg_url, migrations, cli, monkeypatch):
    return at_version_1(pg_url, migrations, cli, monkeypatch)


def assert_transient_advice(err, command="up"):
    assert "this failure is transient" in err, err
    assert f"run `ferryman {command}` again" in err and "--retries N" in err, err
    assert "  next:      fix " not in err, err


def assert_clean_at_version_1(cli, pg_url, err):
    status = cli("status", "--json").json()
    assert status["current_version"] == 1 and status["dirty"] is False, (status, err)
    assert tables(pg_url) == ["base"]


def test_a_lost_connection_says_transient_and_is_recorded(pg_url, env, migrations, cli):
    migrations({"2_quick.up.sql": "CREATE TABLE quick (id INTEGER);\n", **SLOW})
    proc = ferryman_process("up", "--retries", "0", env=env)
    code, _out, err = terminate_while_sleeping(pg_url, proc)
    assert code == 1, err
    assert "terminating connection due to administrator command" in err, err
    assert "the connection to the database was lost and the server rolled the " \
           "transaction back" in err, err
    assert "rolled back to version 1, where the run started" in err, err
    assert_transient_advice(err)
    assert_clean_at_version_1(cli, pg_url, err)
    # Recorded through a new connection: the run and the migration that failed.
    runs = query(pg_url, "SELECT outcome, from_version, to_version, message FROM "
                         "ferryman_runs ORDER BY started_at")
    assert [r[:3] for r in runs] == [("ok", None, 1), ("rolled_back", 1, 1)], runs
    assert "transient" in runs[-1][3], runs
    failed = query(pg_url, "SELECT version, direction, outcome, error FROM ferryman_history "
                           "WHERE outcome <> 'ok'")
    assert [f[:3] for f in failed] == [(3, "up", "failed")], failed
    assert "terminating connection" in failed[0][3]
    # Running it again is the fix, as the error says (pg_sleep(0) this time).
    migrations({"3_slow.up.sql": "CREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(0);\n"})
    again = cli("up")
    assert again.code == 0, again
    assert tables(pg_url) == ["base", "quick", "slow"]


def test_a_lost_connection_after_a_commit_undoes_it_through_a_new_connection(
        pg_url, env, migrations, cli):
    """transaction=each: 2 committed before 3 lost the connection; the new connection
    takes the lock again and runs 2's down, so the run ends where it started."""
    migrations({"2_quick.up.sql": "CREATE TABLE quick (id INTEGER);\n",
                "2_quick.down.sql": "DROP TABLE quick;\n", **SLOW})
    proc = ferryman_process("up", "--retries", "0", "--transaction", "each", env=env)
    code, _out, err = terminate_while_sleeping(pg_url, proc)
    assert code == 1, err
    assert "rolled back to version 1, where the run started (1 migration undone)" in err, err
    assert_transient_advice(err)
    assert_clean_at_version_1(cli, pg_url, err)
    assert query(pg_url, "SELECT version, direction, outcome FROM ferryman_history "
                         "ORDER BY id") == [(1, "up", "ok"), (2, "up", "ok"),
                                            (2, "down", "ok"), (3, "up", "failed")]


def test_a_lock_timeout_says_transient(pg_url, env, migrations, cli):
    """Another session holds the table; lock_timeout (55P03) ends the statement."""
    migrations({"2_alter.up.sql": "ALTER TABLE base ADD COLUMN note TEXT;\n"})
    with psycopg.connect(_pg_conninfo(pg_url), autocommit=True) as other:
        other.execute("BEGIN")
        other.execute("LOCK TABLE base IN ACCESS EXCLUSIVE MODE")
        result = cli("up", "--retries", "0", "--table-lock-timeout", "1s")
        other.execute("ROLLBACK")
    assert result.code == 1, result
    assert "lock timeout" in result.err, result
    assert_transient_advice(result.err)
    status = cli("status", "--json").json()
    assert status["current_version"] == 1 and status["dirty"] is False, status
    assert query(pg_url, "SELECT outcome FROM ferryman_runs ORDER BY started_at") == [
        ("ok",), ("rolled_back",)]
