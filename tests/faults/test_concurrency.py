"""Several runners at once: the migration lock, with real processes.

Every runner is the real ``ferryman`` command in its own process (tests/helpers.py's
``ferryman_process``), all started before any is waited on. The migration that the
lock holder runs blocks on a gate file until every other runner is provably waiting
for the lock (connected to the server, or holding the SQLite lock file open), so the
runs truly overlap however slowly the processes start.
"""

import getpass
import json
import os
import socket
import time

import pytest
from helpers import ferryman_process, query, sqlite_path, tables

from ferryman import __version__

RUNNERS = 8

# The holder of the lock reaches this migration; the others must wait for the lock.
GATED = '''\
import os
import time

GATE = {gate!r}
ARRIVALS = {arrivals!r}


def up(ctx):
    with open(os.path.join(ARRIVALS, "arrived-%d" % os.getpid()), "w"):
        pass
    deadline = time.monotonic() + 120
    while not os.path.exists(GATE):
        if time.monotonic() > deadline:
            raise RuntimeError("the test never opened the gate")
        time.sleep(0.05)
    ctx.execute("UPDATE counter SET n = n + 1")
    time.sleep(0.3)


def down(ctx):
    ctx.execute("UPDATE counter SET n = n - 1")
'''

SLOW = '''\
import time


def up(ctx):
    time.sleep(0.3)
    ctx.execute("UPDATE counter SET n = n + 10")


def down(ctx):
    ctx.execute("UPDATE counter SET n = n - 10")
'''

COMMON = {
    "1_counter.up.sql": "CREATE TABLE counter (n INTEGER NOT NULL);\n"
                        "INSERT INTO counter (n) VALUES (0);\n"
                        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);\n",
    "1_counter.down.sql": "DROP TABLE accounts;\nDROP TABLE counter;\n",
    "3_slow.py": SLOW,
    "4_audit.up.sql": "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);\n"
                      "UPDATE counter SET n = n + 100;\n",
    "4_audit.down.sql": "DROP TABLE audit;\nUPDATE counter SET n = n - 100;\n",
}


def wait_until(predicate, what, timeout=60.0, procs=()):
    """Poll ``predicate`` until it is true; fail (showing the processes' output) if not."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g}s waiting for {what}" + "".join(
                f"\n--- process {p.pid} exit {p.poll()}" for p in procs))
        for p in procs:
            if p.poll() is not None:
                out, err = p.communicate()
                pytest.fail(f"process {p.pid} ended (exit {p.returncode}) while waiting for "
                            f"{what}\nstdout: {out}\nstderr: {err}")
        time.sleep(0.05)



def has_open(pid, path):
    """Whether process ``pid`` has ``path`` open (Linux /proc)."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(os.path.join(fd_dir, name)) == path:
                return True
        except OSError:
            continue
    return False


def connected_runners(url):
    """pids (client side) of the ferryman processes connected to this database."""
    db = url.rsplit("/", 1)[1]
    rows = query(url, "SELECT application_name FROM pg_stat_activity WHERE datname = %s "
                      "AND application_name LIKE 'ferryman %%'", (db,))
    return {int(name.rsplit(" pid ", 1)[1]) for (name,) in rows if " pid " in name}


def all_waiting(url, procs):
    """Every runner has reached the lock: connected (PostgreSQL), or holding the lock
    file open (SQLite: a runner opens it for its first try and keeps it while polling)."""
    pids = {p.pid for p in procs}
    if url.startswith("sqlite"):
        lock_path = os.path.realpath(sqlite_path(url) + ".ferryman_lock")
        return all(has_open(pid, lock_path) for pid in pids)
    if url.startswith("mysql"):  # a connection each (its program name needs
        # performance_schema, off on MariaDB): as many as runners, this query's aside
        (count,) = query(url, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                              "DB = DATABASE() AND ID <> CONNECTION_ID()")[0]
        return count >= len(pids)
    return pids <= connected_runners(url)


def arrivals(folder):
    return sorted(int(name.split("-", 1)[1]) for name in os.listdir(folder)
                  if name.startswith("arrived-"))


def gated_project(tmp_path, migrations):
    gate = str(tmp_path / "gate")
    arrived = tmp_path / "arrivals"
    arrived.mkdir()
    folder = migrations({**COMMON, "2_gated.py": GATED.format(gate=gate,
                                                             arrivals=str(arrived))})
    return folder, gate, str(arrived)


def test_eight_runners_at_once_apply_each_migration_exactly_once(db_url, migrations,
                                                                  tmp_path):
    if db_url.startswith("sqlite") and not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to see that every runner waits for the lock file")
    folder, gate, arrived = gated_project(tmp_path, migrations)
    env = {"FERRYMAN_DATABASE_URL": db_url, "FERRYMAN_MIGRATIONS": folder}
    procs = [ferryman_process("up", env=env) for _ in range(RUNNERS)]
    try:
        wait_until(lambda: arrivals(arrived) and all_waiting(db_url, procs),
                   "one runner at the gate and all of them at the lock", procs=procs)
        time.sleep(0.5)  # room for a broken lock to let a second runner in
        assert len(arrivals(arrived)) == 1, "two runners were inside the run at once"
        with open(gate, "w"):
            pass
        results = [(p.pid, *p.communicate(timeout=180), p.returncode) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    for pid, out, err, code in results:
        assert code == 0, f"runner {pid} exited {code}\nstdout: {out}\nstderr: {err}"
    (holder,) = arrivals(arrived)  # the gated migration ran once, in one process
    ran = {pid: out for pid, out, _err, _code in results if "ran 4 migrations" in out}
    assert list(ran) == [holder], results
    waited = [(pid, out) for pid, out, _err, _code in results if pid != holder]
    assert len(waited) == RUNNERS - 1
    for pid, out in waited:
        # Each one found the lock taken, waited, then found nothing to do.
        assert "waiting for the migration lock" in out, (pid, out)
        assert "nothing to do: the database is at version 4" in out, (pid, out)
        assert "ran " not in out, (pid, out)

    assert tables(db_url) == ["accounts", "audit", "counter"]
    assert query(db_url, "SELECT n FROM counter") == [(111,)]  # 1 + 10 + 100, once each
    assert query(db_url, "SELECT version FROM ferryman_migrations ORDER BY version") == [
        (1,), (2,), (3,), (4,)]
    assert query(db_url, "SELECT version, count(*) FROM ferryman_history WHERE "
                         "direction = 'up' AND outcome = 'ok' GROUP BY version "
                         "ORDER BY version") == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert query(db_url, "SELECT count(*) FROM ferryman_history") == [(4,)]
    # Runners with nothing to do leave no run behind.
    assert query(db_url, "SELECT outcome, from_version, to_version FROM ferryman_runs") == [
        ("ok", None, 4)]


# Finds the holder's backend in pg_stat_activity (MySQL's holder: tests/dialects,
# test_lock_holder_names_the_holder).
@pytest.mark.engines("sqlite", "postgresql")
def test_lock_timeout_gives_up_with_exit_4_and_names_the_holder(db_url, migrations,
                                                                tmp_path, cli, monkeypatch):
    folder, gate, arrived = gated_project(tmp_path, migrations)
    env = {"FERRYMAN_DATABASE_URL": db_url, "FERRYMAN_MIGRATIONS": folder}
    holder = ferryman_process("up", env=env)
    loser = None
    try:
        wait_until(lambda: arrivals(arrived), "the first runner to hold the lock",
                   procs=[holder])
        assert arrivals(arrived) == [holder.pid]

        loser = ferryman_process("up", "--lock-timeout", "1s", env=env)
        if db_url.startswith("postgresql"):
            # While it polls, the runner never queues on the server: no lock request
            # of its waits in pg_locks (pg_advisory_lock would show granted = false).
            while loser.poll() is None:
                assert waiting_advisory_locks(db_url) == 0
                time.sleep(0.02)
        out, err = loser.communicate(timeout=60)
        assert loser.returncode == 4, (out, err)
        assert "another ferryman holds the migration lock" in err, err
        assert "gave up after 1s" in err, err
        if db_url.startswith("sqlite"):
            # The holder wrote its pid into the lock file beside the database.
            with open(sqlite_path(db_url) + ".ferryman_lock", encoding="utf-8") as handle:
                assert handle.read().startswith(f"pid {holder.pid} ")
            assert f"held by pid {holder.pid} " in err, err
        else:
            backend, application = holder_backend(db_url, holder.pid)
            expected = (f"ferryman {__version__} {getpass.getuser()}@{socket.gethostname()} "
                        f"pid {holder.pid}")[:63]
            assert application == expected
            assert f"held by pid {backend} ({application})" in err, err
            # The runner that gave up left nothing behind: the only advisory lock on
            # this database is the holder's, granted.
            assert waiting_advisory_locks(db_url) == 0
            assert granted_advisory_locks(db_url) == [backend]
        assert tables(db_url) == []  # the holder's run is not committed yet

        with open(gate, "w"):
            pass
        out, err = holder.communicate(timeout=120)
        assert holder.returncode == 0, (out, err)
        assert "ran 4 migrations" in out
    finally:
        for p in (holder, loser):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()

    if db_url.startswith("postgresql"):
        assert granted_advisory_locks(db_url) == []
    # The lock is free again: a new run takes it at once and applies a new migration.
    migrations({"5_after.up.sql": "CREATE TABLE after_holder (id INTEGER);\n"})
    monkeypatch.setenv("FERRYMAN_DATABASE_URL", db_url)
    monkeypatch.setenv("FERRYMAN_MIGRATIONS", folder)
    again = cli("up", "--lock-timeout", "1s")
    assert again.code == 0, again
    assert "ran 1 migration: version 4 -> 5" in again.out, again
    assert tables(db_url) == ["accounts", "after_holder", "audit", "counter"]
    status = cli("status", "--json")
    assert json.loads(status.out)["current_version"] == 5


def _this_database(url):
    return "(SELECT oid FROM pg_database WHERE datname = %s)", (url.rsplit("/", 1)[1],)


def waiting_advisory_locks(url):
    where, params = _this_database(url)
    return query(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                      f"AND NOT granted AND database = {where}", params)[0][0]


def granted_advisory_locks(url):
    where, params = _this_database(url)
    rows = query(url, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                      f"AND database = {where}", params)
    return sorted(pid for (pid,) in rows)


def holder_backend(url, client_pid):
    """(backend pid, application_name) of the ferryman process ``client_pid``."""
    rows = query(url, "SELECT pid, application_name FROM pg_stat_activity "
                      "WHERE application_name LIKE %s", (f"ferryman % pid {client_pid}",))
    assert len(rows) == 1, rows
    return rows[0]
