"""The status service while a database is busy (issue 8, item 20), against a real
uvicorn server on 127.0.0.1: /healthz never waits on a database, a status read has a
deadline and then answers the last known state (saying how old it is), concurrent
requests share one read, and no sqlite3 connection is used by two threads.

The lock is held by the test itself (SQLite: BEGIN EXCLUSIVE; PostgreSQL: LOCK TABLE)
and released only once the answers under test have come, so what a request finds does
not depend on timing. Nothing here asserts how long anything took.
"""

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from helpers import PG_DSN
from httpkit import (MIGRATIONS, serving, single_service_config, stale_fields_ok,
                     wait_for)

from ferryman.api import Migrator
from ferryman.http import create_app

FILES = MIGRATIONS["users"]
# Long, so that a read that does wait on the lock (the old code did, in Starlette's
# pool) would still be waiting when the test looks: the deadline must cut it short.
SLOW_CONNECT = 'connect_timeout = "60s"'


def sqlite_service(tmp_path):
    """(config, the database file, service name): users' migrations applied."""
    path = tmp_path / "app.db"
    config = single_service_config(tmp_path, f"sqlite:///{path}", FILES, SLOW_CONNECT)
    Migrator(config=config).up()
    return config, str(path), "app"


class Held:
    """The SQLite file's exclusive lock, held by a connection of the test's own: no
    other connection reads or writes it (https://sqlite.org/lockingv3.html)."""

    def __init__(self, path):
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("BEGIN EXCLUSIVE")
        self.held = True

    def release(self):
        if self.held:
            self.connection.execute("ROLLBACK")
            self.connection.close()
            self.held = False


def get_all(base, paths, timeout=90.0):
    """GET every path at once, each on its own connection; [(path, response or error)]."""
    def get(path):
        try:
            return path, httpx.get(base + path, timeout=timeout)
        except httpx.HTTPError as exc:
            return path, exc

    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        return list(pool.map(get, paths))


def test_healthz_answers_while_every_status_read_waits_on_a_locked_sqlite_file(tmp_path):
    config, path, name = sqlite_service(tmp_path)
    app = create_app(config=config)
    with serving(app) as base:
        assert httpx.get(f"{base}/migration/status/{name}").json()["current_version"] == 2
        lock = Held(path)
        try:
            # More status requests than Starlette's pool has threads (40): on the old
            # code each one held a pool thread waiting on the file, and /healthz queued.
            statuses = ThreadPoolExecutor(max_workers=1).submit(
                get_all, base, [f"/migration/status/{name}"] * 60)
            in_app = _uvicorn_tasks(app)
            wait_for(lambda: statuses.done() or len(in_app()) > 40,
                     what="the status requests to be answered or to fill the pool")
            health = {}

            def probe():
                health["response"] = httpx.get(f"{base}/healthz", timeout=90)
                health["while_locked"] = lock.held

            prober = threading.Thread(target=probe)
            prober.start()
            # The lock goes when /healthz has answered, or after a limit that only
            # stops a hang: on the old code /healthz answers once the lock is gone.
            prober.join(timeout=30)
            # ... and once every status request has had its answer, so that each of
            # them found the file locked, however late the machine let it arrive.
            if not prober.is_alive():
                wait_for(statuses.done, timeout=120,
                         what="every status request to be answered while locked")
        finally:
            lock.release()
        prober.join()
        answers = statuses.result()
    assert health["response"].status_code == 200
    assert health["response"].json() == {"status": "ok"}
    assert health["while_locked"], "/healthz answered only after the database was unlocked"
    for _path, response in answers:
        assert not isinstance(response, Exception), response
        assert response.status_code == 200, response.text
        status = stale_fields_ok(response.json())
        # Read before the lock, answered from then on: marked, with its age and why.
        assert status["stale"] is True and status["current_version"] == 2
        assert "busy" in status["stale_reason"] or "did not answer" in status["stale_reason"]


def test_a_locked_database_never_read_before_is_503_then_fresh_once_free(tmp_path):
    config, path, name = sqlite_service(tmp_path)
    lock = Held(path)  # before the server starts: its first read finds it locked
    try:
        with serving(create_app(config=config, status_deadline=0.3)) as base:
            response = httpx.get(f"{base}/migration/status/{name}", timeout=90)
            still_locked = lock.held
            lock.release()
            # Free again: the next answers come from the database, not stale.
            fresh = wait_for(lambda: _fresh(base, name), what="a fresh answer")
    finally:
        lock.release()
    assert still_locked
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "BlockedError" and "never read before" in body["message"]
    assert "Traceback" not in response.text
    assert fresh["current_version"] == 2 and fresh["stale_reason"] is None


def _fresh(base, name):
    status = httpx.get(f"{base}/migration/status/{name}", timeout=90).json()
    return stale_fields_ok(status) if status["stale"] is False else None


def test_twenty_requests_during_one_slow_read_share_it(tmp_path):
    """Single flight: the twenty requests wait for one read and get its answer (one
    as_of), rather than twenty reads on twenty connections in twenty threads."""
    config, path, name = sqlite_service(tmp_path)
    app = create_app(config=config, status_deadline=60)
    lock = Held(path)  # before the server starts: nothing can be read until it goes
    try:
        with serving(app) as base:
            pending = ThreadPoolExecutor(max_workers=1).submit(
                get_all, base, [f"/migration/status/{name}"] * 20)
            # Nothing is known, so every request waits for the read; release the lock
            # once all twenty are in the app (uvicorn's own count of requests).
            server_tasks = _uvicorn_tasks(app)
            wait_for(lambda: len(server_tasks()) >= 20, what="twenty requests in the app")
            lock.release()
            answers = pending.result()
    finally:
        lock.release()
    statuses = [stale_fields_ok(r.json()) for _p, r in answers if r.status_code == 200]
    assert len(statuses) == 20, [(p, getattr(r, "text", r)) for p, r in answers]
    assert {s["as_of"] for s in statuses} == {statuses[0]["as_of"]}
    assert {s["stale"] for s in statuses} == {False}


def _uvicorn_tasks(app):
    """The requests uvicorn is serving now, found through the server that runs ``app``."""
    import gc

    import uvicorn

    servers = [o for o in gc.get_objects() if isinstance(o, uvicorn.Server)
               and o.config.app is app]
    assert len(servers) == 1
    return lambda: servers[0].server_state.tasks


def test_no_sqlite_connection_is_used_by_two_threads(tmp_path, sqlite_threads_checked):
    """With sqlite3's thread check forced on, many status requests from many clients
    (Starlette spreads its work over many threads) all answer 200."""
    config, _path, name = sqlite_service(tmp_path)
    with serving(create_app(config=config)) as base:
        paths = [f"/migration/status/{name}", "/migration/status", "/readyz", "/metrics",
                 "/"]
        # One of each first: a burst on a cold server could outrun the first read's
        # deadline on a busy machine, which is not what this test is about.
        answers = get_all(base, paths[:1]) + get_all(base, paths * 20)
    for path, response in answers:
        assert not isinstance(response, Exception), (path, response)
        if path == "/readyz":  # 503 too when a read was slower than the deadline
            assert response.status_code in (200, 503) and "ready" in response.json()
        else:
            assert response.status_code == 200, (path, response.text)


@pytest.mark.postgresql
def test_a_postgresql_read_queued_behind_a_table_lock_meets_the_deadline(tmp_path, pg_url):
    config = single_service_config(tmp_path, pg_url, FILES)
    Migrator(config=config).up()
    name = pg_url.rsplit("/", 1)[1]
    with serving(create_app(config=config, status_deadline=0.5)) as base:
        assert httpx.get(f"{base}/migration/status/{name}").json()["stale"] is False
        dsn = f"{PG_DSN} dbname={name}"
        with psycopg.connect(dsn) as holder:  # a transaction, until the block ends
            holder.execute("LOCK TABLE ferryman_migrations IN ACCESS EXCLUSIVE MODE")
            first = httpx.get(f"{base}/migration/status/{name}", timeout=90)
            second = httpx.get(f"{base}/migration/status/{name}", timeout=90)
            health = httpx.get(f"{base}/healthz", timeout=90)
            metrics = httpx.get(f"{base}/metrics", timeout=90).text
            ready = httpx.get(f"{base}/readyz", timeout=90)
            holder.rollback()
        fresh = wait_for(lambda: _fresh(base, name), what="a fresh answer")
    for response in (first, second):
        assert response.status_code == 200, response.text
        status = stale_fields_ok(response.json())
        assert status["stale"] is True and status["current_version"] == 2
    assert "did not answer within 0.5s" in first.json()["stale_reason"]
    assert health.json() == {"status": "ok"}
    assert f'ferryman_status_stale{{service="{name}"}} 1' in metrics
    assert f'ferryman_current_version{{service="{name}"}} 2' in metrics
    assert ready.status_code == 503
    assert [r.split(":")[0] for r in ready.json()["reasons"]] == [name]
    assert "last known state" in ready.json()["reasons"][0]
    assert fresh["current_version"] == 2


CLOSE_DURING_A_READ = """
import json, sqlite3, sys, threading, time
from ferryman.config import load_settings
from ferryman.readonly import StatusReader

config, path = sys.argv[1:3]
s = load_settings(config)
reader = StatusReader(s.url, s.require_phases(), prefix=s.table_prefix, timeout=60)
reader.read(raw=True)  # its connection is open now
holder = sqlite3.connect(path, isolation_level=None)
holder.execute("BEGIN EXCLUSIVE")
done = []
reading = threading.Thread(target=lambda: done.append(reader.read(raw=True)))
reading.start()
limit = time.monotonic() + 60
while reader.lock.acquire(blocking=False):  # until the read has it, waiting on the file
    reader.lock.release()
    assert time.monotonic() < limit, "the read never started"
    time.sleep(0.01)
closing = threading.Thread(target=reader.close)
closing.start()
closing.join(timeout=2)  # the old code returned at once, the read still running
closed_under_the_read = not closing.is_alive()
holder.execute("ROLLBACK")
reading.join()
closing.join()
print(json.dumps({"closed_under_the_read": closed_under_the_read,
                  "versions": [d["current_version"] for d in done],
                  "closed": reader.db is None}))
"""


def test_a_status_reader_is_not_closed_under_a_read_in_progress(tmp_path):
    """The library's StatusReader (Migrator.status) is shared by threads: close() from
    one thread waits for another's read instead of closing its connection under it.
    That is how `ferryman serve` segfaulted at the end of a migration: on the old code
    this script dies of SIGSEGV, so it runs in a process of its own."""
    import json
    import subprocess
    import sys

    config, path, _name = sqlite_service(tmp_path)
    done = subprocess.run([sys.executable, "-c", CLOSE_DURING_A_READ, config, path],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
    assert json.loads(done.stdout) == {"closed_under_the_read": False, "versions": [2],
                                       "closed": True}


@pytest.mark.parametrize("bad", [0, -1, "1s", True, 10_000])
def test_a_read_deadline_that_is_not_a_positive_number_of_seconds_is_refused(tmp_path, bad):
    from ferryman.errors import ConfigError

    config, _path, _name = sqlite_service(tmp_path)
    with pytest.raises(ConfigError) as refused:
        create_app(config=config, status_deadline=bad)
    assert refused.value.exit_code == 2 and "status_deadline" in refused.value.message


def test_the_read_deadline_is_a_setting_of_the_file_and_range_checked(tmp_path):
    """`status_deadline` in ferryman.toml (or FERRYMAN_STATUS_DEADLINE) sets the read
    deadline of `ferryman serve`; an argument to create_app wins; 0s is refused (exit 2)."""
    from ferryman.errors import ConfigError

    path = tmp_path / "app.db"
    config = single_service_config(tmp_path, f"sqlite:///{path}", FILES,
                                   'status_deadline = "250ms"')
    assert create_app(config=config).state.ferryman.services.deadline == 0.25
    assert create_app(config=config, status_deadline=2).state.ferryman.services.deadline == 2
    other = tmp_path / "zero"
    other.mkdir()
    zero = single_service_config(other, f"sqlite:///{path}", FILES, 'status_deadline = "0s"')
    with pytest.raises(ConfigError) as refused:
        create_app(config=zero)
    assert refused.value.exit_code == 2 and "status_deadline" in refused.value.message
