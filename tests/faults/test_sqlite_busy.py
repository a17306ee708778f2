"""Another connection holds SQLite's write lock (issue 8, item 15).

A writer that is not ferryman (an application, a `sqlite3` shell) keeps a transaction
open on the database file. ferryman's flock does not see it; SQLite's busy lock does.
`--lock-timeout` must bound that wait too, in the rollback-journal mode ferryman
creates databases in and in WAL mode, and the run must stop with exit 4 before the
backup, naming the file (and, on Linux, the process) and saying what to do.

The holder is a second sqlite3 connection of this test process, so the pid the
message names is ours. ferryman runs as the real command in a subprocess; its
liveness is a generous subprocess timeout, never a timed assertion.
"""

import os
import sqlite3

import pytest
from helpers import ferryman_process

MIGRATIONS = {
    "0001_accounts.up.sql": "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);\n",
    "0002_notes.up.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n",
}

# How the other connection takes the write lock: BEGIN EXCLUSIVE (in rollback-journal
# mode it also shuts out readers, so ferryman's first read waits), or BEGIN IMMEDIATE
# and a write it has not committed (readers go on; ferryman's first write waits).
HOLDERS = {
    "exclusive": ["BEGIN EXCLUSIVE"],
    "immediate-write": ["BEGIN IMMEDIATE", "INSERT INTO accounts (name) VALUES ('held')"],
}


def _run(*args, env):
    process = ferryman_process(*args, env=env)
    try:
        out, err = process.communicate(timeout=60)
    except Exception:
        process.kill()
        process.communicate()
        raise
    return process.returncode, out, err


def _snapshot(path):
    """Every row of every table (ferryman's own included), as SQL."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _files(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.fixture
def project(tmp_path, migrations):
    """A database at version 1 (0002 pending), its environment and backup folder."""
    folder = migrations({"0001_accounts.up.sql": MIGRATIONS["0001_accounts.up.sql"]})
    db = tmp_path / "app.db"
    env = {"FERRYMAN_DATABASE_URL": f"sqlite:///{db}", "FERRYMAN_MIGRATIONS": folder,
           "FERRYMAN_BACKUP_DIR": str(tmp_path / "backups")}
    code, out, err = _run("up", env=env)
    assert code == 0, err
    migrations({"0002_notes.up.sql": MIGRATIONS["0002_notes.up.sql"]})
    return str(db), env, str(tmp_path / "backups")


@pytest.mark.parametrize("holder", sorted(HOLDERS))
@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_a_foreign_write_lock_is_waited_for_lock_timeout_then_named(project, journal_mode,
                                                                    holder):
    path, env, backups = project
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute(f"PRAGMA journal_mode = {journal_mode}").fetchone()[0] == journal_mode
    before, backups_before = _snapshot(path), _files(backups)
    for statement in HOLDERS[holder]:
        conn.execute(statement)
    try:
        code, out, err = _run("up", "--lock-timeout", "1s", env=env)
    finally:
        conn.execute("ROLLBACK")
        conn.close()

    assert code == 4, (out, err)
    assert "another connection" in err and f"holds a write lock on {path}" in err, err
    assert "after 1s (--lock-timeout)" in err and "nothing was changed" in err, err
    assert "fuser -v" in err and "wait for its transaction to end" in err, err
    if os.path.exists("/proc/locks"):  # Linux says who: this test process
        assert f"pid {os.getpid()}" in err, err
    assert "Traceback" not in err
    # Stopped before anything: no migration, no run row, no backup taken or recorded.
    assert _snapshot(path) == before
    assert _files(backups) == backups_before


def test_force_waits_for_a_foreign_write_lock_within_lock_timeout(project, cli):
    """The commands that change ferryman's tables without a run (force, baseline,
    backup, maintain) stop the same way; in-process, the holder is this process."""
    path, env, _backups = project
    conn = sqlite3.connect(path, isolation_level=None)
    before = _snapshot(path)
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = cli("force", "2", "--lock-timeout", "0.5s", "--database-url", env[
            "FERRYMAN_DATABASE_URL"], "--migrations", env["FERRYMAN_MIGRATIONS"])
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    assert result.code == 4, result
    assert f"holds a write lock on {path}" in result.err, result
    assert _snapshot(path) == before


def test_the_run_goes_on_once_the_other_writer_is_gone(project):
    """The check takes nothing away: with no other writer, the same command runs, and
    the write lock it took before the backup carries the run."""
    path, env, backups = project
    code, out, err = _run("up", "--lock-timeout", "1s", env=env)
    assert code == 0, err
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'notes'"
                            ).fetchone() == (1,)
        assert conn.execute("SELECT max(version) FROM ferryman_migrations").fetchone() == (2,)
    finally:
        conn.close()
    assert len([f for f in _files(backups) if f.endswith(".sqlite")]) == 2


def _waiting_on(process, path, deadline=30.0):
    """Poll until ``process`` has ``path`` open and its main thread sleeps (SQLite's busy
    handler sleeps between its tries): it is inside the wait for the other writer."""
    import time

    sleeps = {"35", "230"}  # nanosleep, clock_nanosleep (x86-64); others: see below
    end = time.monotonic() + deadline
    while time.monotonic() < end and process.poll() is None:
        try:
            fds = [os.readlink(f"/proc/{process.pid}/fd/{fd}")
                   for fd in os.listdir(f"/proc/{process.pid}/fd")]
            with open(f"/proc/{process.pid}/syscall") as handle:
                call = handle.read().split(" ", 1)[0]
        except OSError:
            fds, call = [], ""
        if path in fds and call in sleeps:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.skipif(not os.path.exists("/proc/self/syscall"), reason="needs Linux's /proc")
@pytest.mark.parametrize("holder", sorted(HOLDERS))
def test_sigterm_ends_the_wait_for_a_foreign_write_lock(project, holder):
    """With the default --lock-timeout (10 minutes), SIGTERM while ferryman waits for
    another connection's write lock ends it at once with 143 and nothing changed:
    the wait is cut in slices between which Python runs the signal's handler."""
    import signal

    path, env, backups = project
    conn = sqlite3.connect(path, isolation_level=None)
    before, backups_before = _snapshot(path), _files(backups)
    for statement in HOLDERS[holder]:
        conn.execute(statement)
    process = ferryman_process("up", env=env)
    try:
        assert _waiting_on(process, path), process.communicate(timeout=60)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)  # liveness: the lock wait is 10 min
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        conn.execute("ROLLBACK")
        conn.close()
    assert process.returncode == 143, (out, err)
    assert "interrupted by SIGTERM" in err and "nothing was changed" in err, err
    assert "Traceback" not in err
    assert _snapshot(path) == before
    assert _files(backups) == backups_before
