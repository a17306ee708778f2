"""The status service under load during a real migration (issue 8, item 20): 2,000
requests from 20 clients against a real uvicorn server on 127.0.0.1, while a migration
holds its transaction (and on SQLite the file's exclusive lock) open, then commits.

Every answer must be 200 with a valid body, and /healthz must answer while the
migration holds on. The migration waits for a file the test writes once half the
requests and a /healthz have been answered, so what happens during it does not depend
on timing. Latencies are recorded (``record_property``), never asserted: the figures
come from ``bench/http_load.py``.
"""

import itertools
import os
import threading
import time

import httpx
import psycopg
import pytest
from helpers import PG_DSN, ferryman_process
from httpkit import (AUTH, TOKEN, serving, single_service_config, stale_fields_ok,
                     wait_for)

from ferryman.api import Migrator
from ferryman.http import create_app

pytestmark = pytest.mark.slow

REQUESTS = 2000
CLIENTS = 20

HOLD = '''"""Holds its transaction open until the test says so."""
import os
import time

READY, RELEASE = {ready!r}, {release!r}


def up(ctx):
    blob = "BLOB" if ctx.dialect == "sqlite" else "BYTEA"
    ctx.execute(f"CREATE TABLE payload (id INTEGER PRIMARY KEY, body {{blob}})")
    if ctx.dialect == "sqlite":
        # A page cache of 8 pages spills the rows to the file, so the writer takes the
        # exclusive lock now and keeps it to its commit: no reader gets in
        # (https://sqlite.org/lockingv3.html, section 5: the cache spill).
        ctx.execute("PRAGMA cache_size = 8")
        ctx.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                    "WHERE x < 2000) INSERT INTO payload SELECT x, randomblob(1000) FROM c")
    else:
        ctx.execute("INSERT INTO payload SELECT g, convert_to(md5(g::text), 'UTF8') "
                    "FROM generate_series(1, 2000) AS g")
    open(READY, "w").close()
    limit = time.monotonic() + 120  # never hangs a test run
    while not os.path.exists(RELEASE) and time.monotonic() < limit:
        time.sleep(0.01)


def down(ctx):
    ctx.execute("DROP TABLE payload")
'''


def files(tmp_path):
    ready, release = str(tmp_path / "ready"), str(tmp_path / "release")
    return ready, release, {
        "1_create_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);",
        "1_create_users.down.sql": "DROP TABLE users;",
        "2_hold.py": HOLD.format(ready=ready, release=release),
    }


class Load:
    """``REQUESTS`` GETs of one service's status from ``CLIENTS`` clients (a thread and
    a keep-alive connection each), with /healthz asked alongside until ``release``."""

    def __init__(self, base, name, release):
        self.base, self.name, self.release = base, name, release
        self.answers = []  # (index, status code or None, body or error text, seconds)
        self.health = []   # (status code or error, the migration still held on)
        self._next = itertools.count()
        self._released = threading.Event()

    def run(self):
        prober = threading.Thread(target=self._probe_health)
        prober.start()
        clients = [threading.Thread(target=self._client) for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        self._release()  # if the half-way point did not (it always does)
        prober.join()
        self.answers.sort()
        return self

    def _client(self):
        with httpx.Client(base_url=self.base, timeout=30) as http:
            while (index := next(self._next)) < REQUESTS:
                if index == REQUESTS // 2:
                    # Half the requests were made while the migration held on; let it
                    # commit once /healthz has answered too, and go on during the commit.
                    wait_for(lambda: self.health, what="/healthz to answer")
                    self._release()
                started = time.perf_counter()
                try:
                    response = http.get(f"/migration/status/{self.name}")
                    answer = (response.status_code, response.text)
                except httpx.HTTPError as exc:
                    answer = (None, repr(exc))
                self.answers.append((index, *answer, time.perf_counter() - started))

    def _probe_health(self):
        with httpx.Client(base_url=self.base, timeout=30) as http:
            while not self._released.is_set():
                try:
                    code = http.get("/healthz").status_code
                except httpx.HTTPError as exc:
                    code = repr(exc)
                self.health.append((code, not self._released.is_set()))
                time.sleep(0.02)

    def _release(self):
        if not self._released.is_set():
            open(self.release, "w").close()
            self._released.set()

    def check(self, record_property):
        """Zero errors; /healthz answered while the migration held on. Returns the
        statuses."""
        import json

        errors = [a for a in self.answers if a[1] != 200]
        assert not errors, f"{len(errors)} of {REQUESTS} failed, e.g. {errors[:3]}"
        assert len(self.answers) == REQUESTS
        statuses = [stale_fields_ok(json.loads(a[2])) for a in self.answers]
        for status in statuses:
            assert status["name"] == self.name and status["current_version"] in (1, 2)
            assert status["dirty"] is False and isinstance(status["running"], bool)
        assert any(code == 200 and holding for code, holding in self.health), self.health
        assert all(code == 200 for code, _holding in self.health), self.health
        # The first half ran while the migration held the lock: it shows.
        assert any(s["running"] for s in statuses[:REQUESTS // 2])
        seconds = sorted(a[3] for a in self.answers)
        record_property("status_p50_ms", round(seconds[len(seconds) // 2] * 1000, 1))
        record_property("status_p99_ms", round(seconds[int(len(seconds) * 0.99)] * 1000, 1))
        return statuses


def test_sqlite_status_under_load_during_a_migration(tmp_path, sqlite_threads_checked,
                                                     record_property):
    ready, release, migration_files = files(tmp_path)
    config = single_service_config(tmp_path, f"sqlite:///{tmp_path / 'app.db'}",
                                   migration_files)
    Migrator(config=config).up(target=1)
    with serving(create_app(config=config, token=TOKEN)) as base:
        http = httpx.Client(base_url=base, timeout=30)
        assert http.get("/migration/status/app").json()["current_version"] == 1
        # The migration runs in this server, in its background thread, as over HTTP.
        assert http.post("/migration/migrate/app", headers=AUTH).status_code == 202
        wait_for(lambda: os.path.exists(ready), what="the migration to hold the lock")
        statuses = Load(base, "app", release).run().check(record_property)
        progress = _finished(http)
        final = wait_for(lambda: _fresh(http, "app"), what="a fresh answer")
    assert progress["services"][0]["status"] == "ok", progress
    # While the writer held the file's exclusive lock, the answers were the last known
    # state, marked stale; once it committed, the new version.
    assert any(s["stale"] and s["current_version"] == 1 for s in statuses)
    assert final["current_version"] == 2 and final["running"] is False


@pytest.mark.postgresql
def test_postgresql_status_under_load_during_a_migration(tmp_path, pg_url, record_property):
    ready, release, migration_files = files(tmp_path)
    config = single_service_config(tmp_path, pg_url, migration_files)
    Migrator(config=config).up(target=1)
    name = pg_url.rsplit("/", 1)[1]
    with serving(create_app(config=config)) as base:
        http = httpx.Client(base_url=base, timeout=30)
        assert http.get(f"/migration/status/{name}").json()["current_version"] == 1
        # The migration runs in another process, as `ferryman up` on a deploy would.
        runner = ferryman_process("up", "--config", config, "--no-backup")
        try:
            wait_for(lambda: os.path.exists(ready) or runner.poll() is not None,
                     what="the migration to hold its transaction")
            assert runner.poll() is None, runner.communicate()
            sessions = Sessions(pg_url)
            load = Load(base, name, release).run()
            sessions.stop()
            out, err = runner.communicate(timeout=120)
        finally:
            if runner.poll() is None:
                open(release, "w").close()
                runner.kill()
                runner.wait()
        load.check(record_property)
        final = wait_for(lambda: _fresh(http, name), what="a fresh answer")
    assert runner.returncode == 0, (out, err)
    assert final["current_version"] == 2 and final["running"] is False
    # Single flight: however many clients, this server kept one session on the database.
    assert sessions.most == 1, sessions.most


class Sessions:
    """Counts, every 20 ms, this process's sessions on the database of ``url``."""

    def __init__(self, url):
        self.url, self.name, self.most = url, url.rsplit("/", 1)[1], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._count)
        self._thread.start()

    def _count(self):
        mine = _application_name(self.url)  # ferryman's sessions of this process
        with psycopg.connect(f"{PG_DSN} dbname=postgres", autocommit=True) as admin:
            while not self._stop.is_set():
                count = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND application_name = %s", (self.name, mine)).fetchone()[0]
                self.most = max(self.most, count)
                time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join()


def _finished(http):
    def done():
        progress = http.get("/migration/runs/latest").json()["progress"]
        return progress if progress and not progress["running"] else None

    return wait_for(done, timeout=120, what="the background migration to finish")


def _fresh(http, name):
    status = http.get(f"/migration/status/{name}").json()
    return status if status["stale"] is False and not status["running"] else None


def _application_name(url):
    from ferryman.dialects import connect
    from ferryman.url import parse_url

    db = connect(parse_url(url))
    try:
        return db.query("SELECT current_setting('application_name')")[0][0]
    finally:
        db.close()
