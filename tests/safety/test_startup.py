"""Migrations at application start-up: fail fast, replicas, the framework examples."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from helpers import ROOT, query, tables

import ferryman
from ferryman.errors import MigrationError

EXAMPLE_MIGRATIONS = os.path.join(ROOT, "examples", "penpal", "migrations", "core")
SLOW = {
    "1_counter.up.sql": "CREATE TABLE counter (n INTEGER NOT NULL);\n"
                        "INSERT INTO counter (n) VALUES (0);",
    "2_slow.py": "import time\n"
                 "def up(ctx):\n"
                 "    time.sleep(0.5)\n"
                 "    ctx.execute('UPDATE counter SET n = n + 1')\n",
    "3_more.up.sql": "UPDATE counter SET n = n + 10;",
}


def test_status_is_seed_004s_migration_status(db_url, migrations):
    folder = migrations(SLOW)
    status = ferryman.status(database_url=db_url, migrations=folder)
    assert (status.current_version, status.dirty, status.pending_count,
            status.last_backup) == (None, False, 3, None)


def test_migrate_on_startup_brings_the_database_to_head(db_url, migrations, tmp_path):
    folder = migrations(SLOW)
    status = ferryman.migrate_on_startup(database_url=db_url, migrations=folder,
                                         backup_dir=str(tmp_path / "bk"))
    assert status.current_version == 3 and status.pending_count == 0 and status.last_backup
    again = ferryman.migrate_on_startup(database_url=db_url, migrations=folder,
                                        backup_dir=str(tmp_path / "bk"))
    assert again.last_backup == status.last_backup  # nothing pending: no new backup
    assert query(db_url, "SELECT n FROM counter") == [(11,)]


# Leaving the database unchanged needs the run to roll back whole: transactional DDL.
@pytest.mark.engines("sqlite", "postgresql")
def test_broken_migration_fails_fast_and_leaves_the_database_unchanged(db_url, migrations,
                                                                        tmp_path):
    folder = migrations({**SLOW, "4_broken.up.sql": "ALTER TABLE counter ADD COLUMN x INT;\n"
                                                    "UPDATE nowhere SET x = 1;"})
    ferryman.Migrator(db_url, folder, backup=False).up(target=2)
    before = query(db_url, "SELECT n FROM counter")
    with pytest.raises(MigrationError) as caught:
        ferryman.migrate_on_startup(database_url=db_url, migrations=folder,
                                    backup_dir=str(tmp_path / "bk"))
    assert isinstance(caught.value, ferryman.FerrymanError)
    assert caught.value.version == 4 and "nowhere" in caught.value.statement
    assert query(db_url, "SELECT n FROM counter") == before
    assert ferryman.status(database_url=db_url, migrations=folder).current_version == 2


def test_startup_refuses_a_dirty_database(sqlite_url, migrations, tmp_path):
    folder = migrations(SLOW)
    migrator = ferryman.Migrator(sqlite_url, folder, backup=False)
    migrator.up(target=1)
    query(sqlite_url, "CREATE TABLE ferryman_fake (x INTEGER)")
    query(sqlite_url, "INSERT INTO ferryman_meta (key, value) VALUES ('dirty', "
                      "'{\"version\": 2, \"reason\": \"test\"}')")
    with pytest.raises(MigrationError) as caught:
        ferryman.migrate_on_startup(database_url=sqlite_url, migrations=folder)
    assert caught.value.exit_code == 3


def test_eight_replicas_start_at_once(db_url, migrations, tmp_path):
    folder = migrations(SLOW)
    script = ("import ferryman, sys\n"
              "s = ferryman.migrate_on_startup(database_url=sys.argv[1], migrations=sys.argv[2],"
              " backup_dir=sys.argv[3])\n"
              "print(s.current_version, s.pending_count)\n")
    replicas = [subprocess.Popen([sys.executable, "-c", script, db_url, folder,
                                  str(tmp_path / "bk")], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(8)]
    outputs = [r.communicate(timeout=120) for r in replicas]
    assert [r.returncode for r in replicas] == [0] * 8, outputs
    assert all(out.strip() == "3 0" for out, _err in outputs)
    assert query(db_url, "SELECT n FROM counter") == [(11,)]  # each migration ran once
    ups = query(db_url, "SELECT version, count(*) FROM ferryman_history WHERE direction = "
                        "'up' GROUP BY version ORDER BY version")
    assert ups == [(1, 1), (2, 1), (3, 1)]
    assert len(os.listdir(tmp_path / "bk")) == 2  # one backup (file + manifest)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(argv, env, port):
    """Start a web server; return it once it answers, or its output when it exits."""
    process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return process, process.stdout.read()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/migration/status", timeout=1)
            return process, None
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the example never answered")


def example_command(framework, port):
    """How each example app is started for real: uvicorn, or flask run."""
    if framework == "fastapi":
        return [sys.executable, "-m", "uvicorn", "app:app", "--app-dir",
                os.path.join(ROOT, "examples", "fastapi_app"), "--port", str(port)]
    return [sys.executable, "-m", "flask", "--app",
            os.path.join(ROOT, "examples", "flask_app", "app.py"), "run", "--port", str(port)]


def get_json(port, path):
    import json

    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.load(response)


# The example projects' migrations are written for SQLite and PostgreSQL.
@pytest.mark.engines("sqlite", "postgresql")
@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_examples_migrate_an_outdated_database_then_serve(framework, db_url, tmp_path):
    ferryman.Migrator(db_url, EXAMPLE_MIGRATIONS, backup=False).up(target=2)  # outdated
    port = free_port()
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(tmp_path / "bk")}
    argv = example_command(framework, port)
    process, failed = serve(argv, env, port)
    try:
        assert failed is None, failed
        status = get_json(port, "/migration/status")
        assert status["current_version"] == 4 and status["pending_count"] == 0
        assert status["last_backup"]
        letters = get_json(port, "/letters")
        assert [letter["title"] for letter in letters][:2] == ["Hello from Beijing",
                                                               "Re: Hello"]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_examples_refuse_to_serve_when_a_migration_fails(framework, sqlite_url, migrations,
                                                         tmp_path):
    folder = migrations({"1_broken.up.sql": "CREATE TABLE letters (id INTEGER);\n"
                                            "INSERT INTO nowhere VALUES (1);"})
    port = free_port()
    env = {"DATABASE_URL": sqlite_url, "MIGRATIONS": folder,
           "BACKUP_DIR": str(tmp_path / "bk")}
    argv = example_command(framework, port)
    process, output = serve(argv, env, port)
    assert output is not None, "the example served with a broken migration"
    assert process.returncode != 0
    assert "nowhere" in output
    assert tables(sqlite_url) == []


@pytest.mark.parametrize("damage", ["drop meta", "edit applied file"])
def test_start_up_refuses_a_database_that_up_would_refuse_even_with_nothing_pending(
        damage, db_url, migrations, tmp_path):
    """Nothing pending is no reason to start on damaged state: the fast path of start-up
    must fail as `up` would, with exit 3, and run nothing."""
    folder = migrations(SLOW)
    ferryman.migrate_on_startup(database_url=db_url, migrations=folder, backup=False)
    if damage == "drop meta":
        query(db_url, "DROP TABLE ferryman_meta")
    else:
        with open(os.path.join(folder, "3_more.up.sql"), "a") as handle:
            handle.write("\n-- edited after it was applied\n")
    with pytest.raises(ferryman.FerrymanError) as caught:
        ferryman.migrate_on_startup(database_url=db_url, migrations=folder, backup=False)
    assert caught.value.exit_code == 3, caught.value.details()
    assert query(db_url, "SELECT n FROM counter") == [(11,)]
