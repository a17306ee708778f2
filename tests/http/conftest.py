"""Fixtures of the HTTP app's tests (helpers in httpkit.py)."""

import uuid

import psycopg
import pytest

from helpers import PG_DSN
from httpkit import SERVICES, write_config

from ferryman.coordinator.progress import set_current



@pytest.fixture(autouse=True)
def _no_progress_between_tests():
    """The progress of runs is per process: no test sees another test's run."""
    set_current(None)
    yield
    set_current(None)


@pytest.fixture
def sqlite_services(tmp_path, migrations):
    """(config path, {service: URL}): the four services on SQLite files."""
    urls = {name: f"sqlite:///{tmp_path / (name + '.db')}" for name in SERVICES}
    return write_config(tmp_path, urls, migrations), urls


@pytest.fixture
def pg_urls(pg_url):
    """{service: URL}: pg_url's database for the first service, and a database made
    here (and dropped afterwards) for each of the others."""
    base, _, _ = pg_url.rpartition("/")
    names = [f"ferryman_t_{uuid.uuid4().hex[:12]}" for _ in range(len(SERVICES) - 1)]
    with psycopg.connect(PG_DSN + " dbname=postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    urls = dict(zip(SERVICES, [pg_url] + [f"{base}/{name}" for name in names]))
    try:
        yield urls
    finally:
        with psycopg.connect(PG_DSN + " dbname=postgres", autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_services(tmp_path, migrations, pg_urls):
    """(config path, {service: URL}): the four services on PostgreSQL databases."""
    return write_config(tmp_path, pg_urls, migrations), pg_urls


@pytest.fixture
def sqlite_threads_checked(monkeypatch):
    """sqlite3's own thread check, back on for the whole process: a connection used or
    closed by a thread other than the one that opened it raises ProgrammingError.
    ferryman's dialect opens connections with check_same_thread=False; this forces it
    to True (the real driver and real files still do everything), so a connection
    shared between threads, the cause of the segfault of issue 8 item 20, fails the
    test instead of crashing it now and then."""
    import sqlite3

    real = sqlite3.connect

    def connect(*args, **kwargs):
        kwargs["check_same_thread"] = True
        return real(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
