"""kill -9 in the middle of a run: what the next command sees and does.

The run is the real ``ferryman up`` in its own process; the test waits until the
chosen migration is provably running (a marker file for SQLite, the sleeping query
in pg_stat_activity for PostgreSQL), then sends SIGKILL.

PostgreSQL notices a dead client during a running statement only when
client_connection_check_interval (PostgreSQL 14+) is set; otherwise the orphaned
backend runs its statement to the end and keeps the run's session lock until then.
The killed runs below set it through the URL's ``options``, so the server aborts the
orphan at once, as it aborts an idle one; ``test_next_up_waits_for_an_orphaned_backend``
shows the other case.
"""

import json
import os
import signal
import time

import pytest
from helpers import ferryman_process, query, tables

BASE = {
    "1_base.up.sql": "CREATE TABLE base (id INTEGER PRIMARY KEY);\n",
    "1_base.down.sql": "DROP TABLE base;\n",
}

# A data migration: enough rows that SQLite spills pages of the open transaction
# into the database file (its cache is 2 MB), so the kill leaves a hot journal.
FILL = '''\
ROWS = 4000


def up(ctx):
    ctx.execute("CREATE TABLE first_in_run (id INTEGER PRIMARY KEY, body TEXT)")
    mark = ctx.paramstyle
    ctx.connection.cursor().executemany(
        f"INSERT INTO first_in_run (id, body) VALUES ({mark}, {mark})",
        [(i, "x" * 1000) for i in range(ROWS)])


def down(ctx):
    ctx.execute("DROP TABLE first_in_run")
'''

# Sleeps for $SLEEP seconds (0 when unset): on the server for PostgreSQL, in Python
# after leaving a marker file for SQLite.
SLEEPY = '''\
import os
import time

MARKER = {marker!r}


def up(ctx):
    ctx.execute("CREATE TABLE sleepy (id INTEGER)")
    seconds = float(os.environ.get("SLEEP", "0"))
    if ctx.dialect == "postgresql":
        ctx.execute("SELECT pg_sleep(%s)" % seconds)
    else:
        with open(MARKER, "w"):
            pass
        time.sleep(seconds)


def down(ctx):
    ctx.execute("DROP TABLE sleepy")
'''

LAST = {
    "4_last.up.sql": "CREATE TABLE last_in_run (id INTEGER PRIMARY KEY);\n",
    "4_last.down.sql": "DROP TABLE last_in_run;\n",
}


def wait_until(predicate, what, timeout=60.0, proc=None):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"ferryman ended (exit {proc.returncode}) before {what}\n"
                        f"stdout: {out}\nstderr: {err}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def is_pg(url):
    return url.startswith("postgresql")


def dbname(url):
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def pg_sleeping(url):
    rows = query(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                      "AND state = 'active' AND query LIKE 'SELECT pg_sleep%%'", (dbname(url),))
    return rows[0][0] > 0


def backends_of(url, client_pid):
    return query(url, "SELECT pid FROM pg_stat_activity WHERE application_name LIKE %s",
                 (f"ferryman % pid {client_pid}",))


def killable_url(url):
    """The URL for a run about to be killed: on PostgreSQL 14+, the server checks
    for a dead client while a statement runs."""
    if not is_pg(url):
        return url
    (version,) = query(url, "SHOW server_version_num")[0]
    if int(version) < 140000:
        return url
    return url + "?options=-c%20client_connection_check_interval%3D200"


def kill_when(proc, url, running, what):
    """SIGKILL ``proc`` once ``running()``; on PostgreSQL, wait until its backend is gone
    (the server rolled its transaction back and dropped its session lock)."""
    wait_until(running, what, proc=proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    if is_pg(url):
        (version,) = query(url, "SHOW server_version_num")[0]
        if int(version) < 140000:  # no client_connection_check_interval: do its job
            for (pid,) in backends_of(url, proc.pid):
                query(url, "SELECT pg_terminate_backend(%s)", (pid,))
        wait_until(lambda: not backends_of(url, proc.pid), "the killed run's backend to end")


@pytest.fixture
def env_for(db_url, migrations, monkeypatch):
    """FERRYMAN_* for the in-process ``cli`` and for subprocesses; SLEEP unset here."""
    monkeypatch.delenv("SLEEP", raising=False)

    def setup(files):
        folder = migrations(files)
        monkeypatch.setenv("FERRYMAN_DATABASE_URL", db_url)
        monkeypatch.setenv("FERRYMAN_MIGRATIONS", folder)
        return {"FERRYMAN_DATABASE_URL": killable_url(db_url), "FERRYMAN_MIGRATIONS": folder}

    return setup


def status_json(cli):
    result = cli("status", "--json")
    assert result.code == 0, result
    return json.loads(result.out)


# A transactional run: transactional DDL (MySQL kill -9: tests/cli/test_mysql_runs.py).
@pytest.mark.engines("sqlite", "postgresql")
def test_kill_during_a_transactional_run_leaves_the_database_as_before(db_url, migrations,
                                                                      tmp_path, cli, env_for):
    marker = str(tmp_path / "sleeping")
    env = env_for(BASE)
    first = cli("up")
    assert first.code == 0, first
    migrations({"2_fill.py": FILL, "3_sleepy.py": SLEEPY.format(marker=marker), **LAST})

    proc = ferryman_process("up", env=dict(env, SLEEP="30"))
    if is_pg(db_url):
        kill_when(proc, db_url, lambda: pg_sleeping(db_url), "pg_sleep of 3_sleepy to run")
    else:
        kill_when(proc, db_url, lambda: os.path.exists(marker), "3_sleepy to run")
        # The premise: the open transaction had spilled into the file, and the kill
        # left its rollback journal behind (a hot journal) for the next reader.
        assert os.path.exists(db_url.split("sqlite:///", 1)[1] + "-journal"), \
            "no rollback journal after the kill: the scenario did not happen"

    status = status_json(cli)  # read-only, straight after the kill
    assert status["dirty"] is False, status
    assert status["current_version"] == 1
    assert [p["version"] for p in status["pending"]] == [2, 3, 4]
    # The run was one transaction: migration 2, which had finished, is gone with it.
    assert tables(db_url) == ["base"]
    assert query(db_url, "SELECT version FROM ferryman_migrations") == [(1,)]
    assert query(db_url, "SELECT version, direction, outcome FROM ferryman_history") == [
        (1, "up", "ok")]

    again = cli("up")  # SLEEP is unset here: the migration does not sleep
    assert again.code == 0, again
    assert "version 1 -> 4" in again.out, again
    assert tables(db_url) == ["base", "first_in_run", "last_in_run", "sleepy"]
    assert query(db_url, "SELECT count(*) FROM first_in_run") == [(4000,)]
    after = status_json(cli)
    assert after["current_version"] == 4 and not after["dirty"] and after["pending_count"] == 0
    assert query(db_url, "SELECT version, count(*) FROM ferryman_history WHERE "
                         "direction = 'up' AND outcome = 'ok' GROUP BY version "
                         "ORDER BY version") == [(1, 1), (2, 1), (3, 1), (4, 1)]


NO_TX_PY = '''\
# ferryman:no-transaction
import os
import time

MARKER = {marker!r}


def up(ctx):
    ctx.execute("CREATE TABLE half_done (id INTEGER)")
    with open(MARKER, "w"):
        pass
    time.sleep(float(os.environ.get("SLEEP", "0")))
    ctx.execute("CREATE TABLE finished (id INTEGER)")


def down(ctx):
    ctx.execute("DROP TABLE IF EXISTS finished")
    ctx.execute("DROP TABLE half_done")
'''

NO_TX_SQL = {
    "2_slow.up.sql": "-- ferryman:no-transaction\n"
                     "CREATE TABLE half_done (id INTEGER);\n"
                     "SELECT pg_sleep(30);\n"
                     "CREATE TABLE finished (id INTEGER);\n",
    "2_slow.down.sql": "-- ferryman:no-transaction\n"
                       "DROP TABLE IF EXISTS finished;\n"
                       "DROP TABLE half_done;\n",
}


def test_kill_during_a_no_transaction_migration_leaves_it_dirty(db_url, tmp_path, cli,
                                                                env_for):
    marker = str(tmp_path / "half")
    slow = NO_TX_SQL if is_pg(db_url) else {"2_slow.py": NO_TX_PY.format(marker=marker)}
    env = env_for({**BASE, **slow, "3_after.up.sql": "CREATE TABLE after_slow (id INTEGER);\n"})

    proc = ferryman_process("up", env=dict(env, SLEEP="30"))
    if is_pg(db_url):
        kill_when(proc, db_url, lambda: pg_sleeping(db_url), "pg_sleep of 2_slow to run")
    else:
        kill_when(proc, db_url, lambda: os.path.exists(marker), "2_slow to run")

    status = status_json(cli)
    assert status["dirty"] is True, status
    details = status["dirty_details"]
    assert details["version"] == 2
    assert details["file"].endswith("2_slow.up.sql" if is_pg(db_url) else "2_slow.py")
    assert status["current_version"] == 1  # 1 committed before the no-transaction split
    if is_pg(db_url):
        assert details["statement_index"] == 1 and details["statements"] == 3
    # Autocommit: what ran before the kill stays, what did not run is not there.
    assert tables(db_url) == ["base", "half_done"]
    text = cli("status")
    assert text.code == 0, text
    assert "dirty            YES" in text.out and "version 2," in text.out, text
    if is_pg(db_url):
        assert "stopped at statement 2 of 3" in text.out, text

    for _ in range(2):  # refused every time, not just once
        refused = cli("up")
        assert refused.code == 3, refused
        assert "dirty" in refused.err and "ferryman force 2" in refused.err, refused
    assert tables(db_url) == ["base", "half_done"]  # nothing ran

    # A person finished migration 2 by hand, then records it.
    query(db_url, "CREATE TABLE finished (id INTEGER)")
    forced = cli("force", "2")
    assert forced.code == 0, forced
    clean = status_json(cli)
    assert clean["dirty"] is False and clean["dirty_details"] is None
    assert clean["current_version"] == 2 and clean["pending_count"] == 1
    done = cli("up")
    assert done.code == 0, done
    assert tables(db_url) == ["after_slow", "base", "finished", "half_done"]
    assert status_json(cli)["current_version"] == 3


@pytest.mark.postgresql
@pytest.mark.slow
def test_next_up_waits_for_an_orphaned_backend(pg_url, migrations, tmp_path, cli,
                                               monkeypatch):
    """Without client_connection_check_interval the killed run's backend finishes its
    statement first; the next ``up`` polls the lock meanwhile and then succeeds."""
    monkeypatch.delenv("SLEEP", raising=False)
    folder = migrations({**BASE, "2_fill.py": FILL,
                         "3_sleepy.py": SLEEPY.format(marker=str(tmp_path / "unused")),
                         **LAST})
    monkeypatch.setenv("FERRYMAN_DATABASE_URL", pg_url)
    monkeypatch.setenv("FERRYMAN_MIGRATIONS", folder)
    env = {"FERRYMAN_DATABASE_URL": pg_url, "FERRYMAN_MIGRATIONS": folder, "SLEEP": "6"}
    proc = ferryman_process("up", env=env)
    wait_until(lambda: pg_sleeping(pg_url), "pg_sleep of 3_sleepy to run", proc=proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert backends_of(pg_url, proc.pid), "the orphan should still be running its statement"
    assert status_json(cli)["current_version"] is None  # its work is not visible

    again = cli("up", "--verbose")
    assert again.code == 0, again
    assert "waiting for the migration lock" in again.out, again
    assert "version none (nothing applied) -> 4" in again.out, again
    assert not backends_of(pg_url, proc.pid)
    assert tables(pg_url) == ["base", "first_in_run", "last_in_run", "sleepy"]
    assert query(pg_url, "SELECT version, count(*) FROM ferryman_history WHERE "
                         "direction = 'up' AND outcome = 'ok' GROUP BY version "
                         "ORDER BY version") == [(1, 1), (2, 1), (3, 1), (4, 1)]
