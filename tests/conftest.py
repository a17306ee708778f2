"""Shared fixtures: real databases, each test its own.

- ``sqlite_url``: a SQLite file in the test's own tmp_path.
- ``pg_url``: a fresh PostgreSQL database with a unique name, dropped afterwards.
  PostgreSQL tests never skip silently: if the server at FERRYMAN_TEST_PG_DSN
  (default host=127.0.0.1 user=postgres) is unreachable they fail, unless
  FERRYMAN_TEST_PG=off is set on a machine without PostgreSQL.
- ``db_url``: both, parametrised (yoyo's habit): one test, every engine.
- ``migrations``: a helper that writes a migration folder inline.
- ``cli``: runs the ``ferryman`` command in-process and returns (exit code, stdout, stderr).
"""

import os
import uuid

import pytest

from helpers import PG_DSN, PG_OFF, my_url_of, new_my_database, pg_dsn_params


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test sees the developer's FERRYMAN_* variables or a ferryman.toml around it."""
    for name in list(os.environ):
        if name.startswith("FERRYMAN_") and not name.startswith("FERRYMAN_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _pg_admin():
    import psycopg

    try:
        return psycopg.connect(PG_DSN + " dbname=postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if PG_OFF:
            pytest.skip("PostgreSQL is off for this run (FERRYMAN_TEST_PG=off)")
        pytest.fail(f"PostgreSQL is required and unreachable at {PG_DSN!r}: {exc}")


def _new_pg_database():
    """Create a uniquely named database; yield its name; drop it."""
    name = f"ferryman_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database():
    yield from _new_pg_database()


@pytest.fixture
def my_database():
    yield from new_my_database()


@pytest.fixture
def my_url(my_database):
    """A fresh MySQL/MariaDB database (``mysql://root@127.0.0.1:3306/<unique>``)."""
    return my_url_of(my_database)


def _twin_of(url, tmp_path):
    """A second, empty database on the engine of ``url`` (the ground truth a database's
    own client builds from the same files), dropped afterwards."""
    if url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'twin.db'}"
        return
    if url.startswith("mysql"):
        for name in new_my_database():
            yield my_url_of(name)
        return
    for name in _new_pg_database():
        yield url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def twin(db_url, tmp_path):
    yield from _twin_of(db_url, tmp_path)


@pytest.fixture
def pg_twin(pg_url, tmp_path):
    yield from _twin_of(pg_url, tmp_path)


@pytest.fixture
def pg_url(pg_database):
    params = pg_dsn_params()
    user = params.get("user", "postgres")
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    return f"postgresql://{user}@{host}:{port}/{pg_database}"


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.db'}"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "engines(*names, reason): the engines of db_url a test is about; its "
                   "other engines' cases are not collected (the reason says why)")


def pytest_collection_modifyitems(config, items):
    """Leave out the db_url cases of engines a test does not apply to (``@engines``):
    not a skip, since nothing is missing; the test says why in its marker."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("engines")
        engine = getattr(getattr(item, "callspec", None), "params", {}).get("db_url")
        if marker is not None and engine is not None and engine not in marker.args:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db_url(request):
    """One test, every engine: SQLite, PostgreSQL, MySQL/MariaDB."""
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "pg_url",
                                    "mysql": "my_url"}[request.param])


@pytest.fixture
def migrations(tmp_path):
    """write(files, folder="migrations") -> folder path. ``files``: {name: text}."""

    def write(files, folder="migrations"):
        path = tmp_path / folder
        path.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            data = text.encode() if isinstance(text, str) else text
            (path / name).write_bytes(data)
        return str(path)

    return write


class CliResult:
    def __init__(self, code, out, err):
        self.code = code
        self.out = out
        self.err = err

    def json(self):
        import json

        return json.loads(self.out)

    def __repr__(self):
        return f"<exit {self.code}\nstdout: {self.out}\nstderr: {self.err}>"


@pytest.fixture
def cli(capsys):
    """Run ``ferryman ARGS`` in-process, the way the console script does."""
    from ferryman.cli import main

    def run(*args):
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
