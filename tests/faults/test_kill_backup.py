"""kill -9 of ferryman during a backup (issue 8, item 14).

Before, pg_dump went on running after its ferryman was killed (on the report's
database: 14 s and 122 MB more), and the ``.partial`` files of killed backups stayed
in the folder for ever. Now pg_dump ends with ferryman, and the next backup of the
same database removes the partial files whose writer is dead, and only those.

pg_dump is made to wait, not to be slow: the test holds an ACCESS EXCLUSIVE lock on a
table, which pg_dump's LOCK TABLE ... IN ACCESS SHARE MODE waits for. So pg_dump is
provably running (its session waits on that lock in pg_stat_activity) for as long as
the test needs, with no race against its finishing.
"""

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from helpers import _pg_conninfo, ferryman_process, query

from ferryman.safety.store import Store

FILES = {
    "1_big.up.sql": "CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT);\n"
                    "INSERT INTO big SELECT n, md5(n::text) FROM generate_series(1, 20000) n;\n",
    "1_big.down.sql": "DROP TABLE big;\n",
}
DEADLINE = 60.0  # seconds; polls end as soon as the condition holds


def wait_until(predicate, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def proc_stat(pid):
    """(state, parent pid, start time) of a process from /proc, or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
    except OSError:
        return None
    return fields[0].decode(), int(fields[1]), int(fields[19])


def descendants(root):
    """{pid: (command name, start time)} of every process below ``root``."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            found = proc_stat(int(name))
            if found:
                table[int(name)] = found
    below, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (_state, ppid, started) in table.items():
            if ppid == parent and pid not in below:
                try:
                    with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
                        below[pid] = (handle.read().strip(), started)
                except OSError:
                    continue  # it ended meanwhile
                frontier.append(pid)
    return below


def running(pid, started):
    """The process ``pid`` that started at ``started`` is alive (a zombie is not)."""
    found = proc_stat(pid)
    return found is not None and found[2] == started and found[0] not in ("Z", "X")


def pg_dump_waiting(url):
    database = url.rsplit("/", 1)[1]
    return query(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                      "application_name = 'pg_dump' AND wait_event_type = 'Lock'",
                 (database,))[0][0] > 0


def partials(folder):
    return sorted(n for n in os.listdir(folder) if ".partial" in n) if os.path.isdir(
        folder) else []


def ferryman(*args, env, code=0):
    proc = ferryman_process(*args, env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, (args, out, err)
    return out


@pytest.mark.postgresql
def test_kill_9_during_pg_dump_ends_pg_dump_and_the_next_backup_sweeps_its_partial(
        pg_url, migrations, tmp_path):
    backup_dir = tmp_path / "bk"
    env = {"FERRYMAN_DATABASE_URL": pg_url, "FERRYMAN_MIGRATIONS": migrations(FILES),
           "FERRYMAN_BACKUP_DIR": str(backup_dir)}
    ferryman("up", "--no-backup", env=env)
    seen = {}
    with psycopg.connect(_pg_conninfo(pg_url)) as blocker:
        blocker.execute("LOCK TABLE big IN ACCESS EXCLUSIVE MODE")  # in a transaction
        proc = ferryman_process("backup", "create", env=env)
        try:
            wait_until(lambda: pg_dump_waiting(pg_url) or proc.poll() is not None,
                       "pg_dump to wait for the table lock")
            assert proc.poll() is None, proc.communicate()
            seen = descendants(proc.pid)
            assert "pg_dump" in {name for name, _ in seen.values()}, seen
            left = partials(backup_dir)
            assert len(left) == 1 and ".dump." in left[0] and left[0].endswith(".partial")
            partial_mode = os.stat(backup_dir / left[0]).st_mode & 0o777
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            wait_until(lambda: not any(running(pid, started)
                                       for pid, (_n, started) in seen.items()),
                       f"ferryman's children {seen} to end with it")
        finally:
            for pid, (_name, started) in seen.items():  # only on failure: ours, if alive
                if running(pid, started):
                    os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            blocker.rollback()
    assert partials(backup_dir) == left  # nothing swept it yet
    assert partial_mode == 0o600  # item 10: private from its first byte
    out = ferryman("backup", "create", env=env)
    assert partials(backup_dir) == []
    backup_id = out.split()[1].rstrip(":")
    assert "is sound" in ferryman("backup", "verify", backup_id, env=env)


def dead_writers_partial(store, backup_id, extension):
    """A partial file left by a writer that was killed: a real process creates it with
    ferryman's own Store, writes a little, and dies by SIGKILL."""
    code = (
        "import os, signal, sys\n"
        "from ferryman.safety.store import Store\n"
        "store = Store(sys.argv[1], sys.argv[2], sys.argv[3])\n"
        "final, _ = store.paths(sys.argv[4], sys.argv[5])\n"
        "path = store.temporary(final)\n"
        "with open(path, 'wb') as handle:\n"
        "    handle.write(b'half a backup')\n"
        "with open(path + '-journal', 'wb') as handle:\n"
        "    handle.write(b'its journal')\n"
        "print(path, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", code, store.folder, store.stem,
                           store.dialect, backup_id, extension], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return os.path.basename(done.stdout.strip())


def test_the_next_sqlite_backup_sweeps_only_partials_of_its_own_dead_writers(
        migrations, tmp_path):
    backup_dir = tmp_path / "bk"
    url = f"sqlite:///{tmp_path / 'app.db'}"
    env = {"FERRYMAN_DATABASE_URL": url, "FERRYMAN_MIGRATIONS": migrations({
        "1_a.up.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);\n"}),
        "FERRYMAN_BACKUP_DIR": str(backup_dir)}
    ferryman("up", env=env)
    mine = Store(str(backup_dir), "app", "sqlite")
    dead = dead_writers_partial(mine, "20260101T000000Z-aaaaaa", ".sqlite")
    dead_manifest = dead_writers_partial(mine, "20260101T000000Z-aaaaaa", ".json")
    kept = [
        # another database's, in the same folder, whose writer died too
        dead_writers_partial(Store(str(backup_dir), "app-eu", "sqlite"),
                             "20260101T000000Z-bbbbbb", ".sqlite"),
        # a writer still at work: this test's own process
        os.path.basename(mine.temporary(mine.paths("20260101T000000Z-cccccc", ".sqlite")[0])),
        # another machine's (or container's): its pid means nothing here
        "app-20260101T000000Z-dddddd.sqlite.00000000-1234567-eeeeee.partial",
    ]
    (backup_dir / kept[-1]).write_bytes(b"elsewhere")
    assert {dead, dead + "-journal", dead_manifest} <= set(partials(backup_dir))
    out = ferryman("backup", "create", env=env)
    assert sorted(partials(backup_dir)) == sorted(kept + [kept[0] + "-journal"])
    backup_id = out.split()[1].rstrip(":")
    assert "is sound" in ferryman("backup", "verify", backup_id, env=env)
