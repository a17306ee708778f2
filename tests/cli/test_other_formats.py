"""Folders in dbmate's and goose's formats run unchanged: one file per migration,
its up and down sections cut as the tool cuts them; a round trip (up, down to
nothing, up) leaves the schema the files give when the database's own client runs the
sections in the tool's order. A database the real dbmate migrated is adopted, and
dbmate runs on after ferryman (the way back)."""

import os
import subprocess

import pytest

from helpers import query, sqlite_path, tables

DBMATE = {
    "20240101000000_users.sql": (
        "-- migrate:up\n"
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n"
        "INSERT INTO users (id, name) VALUES (1, 'semi;colon');\n\n"
        "-- migrate:down\nDROP TABLE users;\n"),
    "20240102000000_posts.sql": (
        "-- migrate:up transaction:false\n"
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER);\n"
        "CREATE INDEX posts_user ON posts (user_id);\n\n"
        "-- migrate:down\nDROP TABLE posts;\n"),
}
GOOSE = {
    "00001_users.sql": (
        "-- +goose Up\n"
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n"
        "INSERT INTO users (name) VALUES ('a'); INSERT INTO users (name) VALUES ('b');\n"
        "-- +goose Down\nDROP TABLE users;\n"),
    "00002_audit.sql": (
        "-- +goose Up\n"
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT);\n"
        "-- +goose StatementBegin\n"
        "CREATE TRIGGER users_audit AFTER INSERT ON users\n"
        "BEGIN\n  INSERT INTO audit (note) VALUES (NEW.name);\nEND;\n"
        "-- +goose StatementEnd\n"
        "-- +goose Down\nDROP TABLE audit;\n"),
}


def dbmate_binary():
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(here, ".tools", "node_modules", ".bin", "dbmate")
    if not os.path.exists(path):
        if os.environ.get("CI"):
            pytest.fail(f"dbmate is missing at {path}: run `make tools`")
        pytest.skip("dbmate is not installed: `make tools`")
    return path


def dbmate(url, folder, *args):
    if url.startswith("sqlite"):
        target = f"sqlite:{sqlite_path(url)}"
    elif url.startswith("mysql"):
        target = url
    else:
        target = url + ("&" if "?" in url else "?") + "sslmode=disable"
    return subprocess.run([dbmate_binary(), "--url", target, "--migrations-dir", folder,
                           "--no-dump-schema", *args], capture_output=True, text=True,
                          check=True)


def _args(url, folder):
    return ("--database-url", url, "--migrations", folder, "--no-backup")


def test_a_dbmate_folder_runs_round_trips_and_says_its_format(cli, sqlite_url, migrations):
    folder = migrations(DBMATE)
    args = _args(sqlite_url, folder)
    status = cli("status", "--json", "--database-url", sqlite_url, "--migrations", folder)
    assert status.json()["format"] == "dbmate" and status.json()["pending_count"] == 2
    assert cli("up", *args).code == 0
    assert tables(sqlite_url) == ["posts", "users"]
    assert query(sqlite_url, "SELECT name FROM users") == [("semi;colon",)]
    plan = cli("down", "--dry-run", *args)
    assert "outside a transaction" in plan.out or "DROP TABLE posts" in plan.out, plan
    assert cli("goto", "none", *args).code == 0
    assert tables(sqlite_url) == []
    assert cli("up", *args).code == 0
    assert tables(sqlite_url) == ["posts", "users"]


def test_a_goose_folder_runs_its_statements_as_goose_cuts_them(cli, sqlite_url, migrations):
    folder = migrations(GOOSE)
    args = _args(sqlite_url, folder)
    up = cli("up", *args)
    assert up.code == 0, up
    query(sqlite_url, "INSERT INTO users (name) VALUES ('c')")
    assert query(sqlite_url, "SELECT note FROM audit") == [("c",)]  # the trigger works
    assert [r[0] for r in query(sqlite_url, "SELECT name FROM users ORDER BY id")] == [
        "a", "b", "c"]
    assert cli("goto", "none", *args).code == 0
    assert tables(sqlite_url) == []


def test_a_goose_file_without_its_up_annotation_is_refused(cli, sqlite_url, migrations):
    folder = migrations({**GOOSE, "00003_bad.sql": "-- +goose Down\nDROP TABLE x;\n"})
    result = cli("validate", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 2, result
    assert "00003_bad.sql" in result.err and "goose Up" in result.err


def test_dbmate_up_then_ferryman_adopts_and_dbmate_runs_on(cli, db_url, migrations):
    folder = migrations(DBMATE)
    dbmate(db_url, folder, "up")
    third = os.path.join(folder, "20240103000000_tags.sql")
    with open(third, "w") as f:
        f.write("-- migrate:up\nCREATE TABLE tags (id INTEGER PRIMARY KEY);\n"
                "-- migrate:down\nDROP TABLE tags;\n")
    up = cli("up", *_args(db_url, folder))
    assert up.code == 0, up
    assert "adopted dbmate schema_migrations" in up.out and "ran 1 migration" in up.out
    assert sorted(r[0] for r in query(db_url, "SELECT version FROM schema_migrations")) == [
        "20240101000000", "20240102000000", "20240103000000"]
    # The way back: dbmate sees all three applied, rolls back the one ferryman ran.
    status = dbmate(db_url, folder, "status", "--exit-code").stdout
    assert "Pending: 0" in status, status
    dbmate(db_url, folder, "rollback")
    assert "tags" not in tables(db_url)
    dbmate(db_url, folder, "up")
    assert "tags" in tables(db_url)


@pytest.mark.parametrize("files, expected", [
    (DBMATE, r"^2\d{13}_add_tags\.sql$"),
    (GOOSE, r"^00003_add_tags\.sql$"),
    ({"V1__init.sql": "SELECT 1;\n", "V1_10__x.sql": "SELECT 1;\n"}, r"^V2__add_tags\.sql$"),
])
def test_new_follows_the_folder_s_format(cli, migrations, files, expected):
    import re

    folder = migrations(files)
    result = cli("new", "add tags", "--migrations", folder)
    assert result.code == 0, result
    created = sorted(set(os.listdir(folder)) - set(files))
    assert len(created) == 1 and re.match(expected, created[0]), created
    # and the folder still reads as before, the new file in it
    status = cli("status", "--json", "--database-url", "sqlite:///" + folder + "/x.db",
                 "--migrations", folder)
    assert status.code == 0 and status.json()["pending_count"] == len(files) + 1, status


def test_new_python_in_a_dbmate_folder_is_refused(cli, migrations):
    folder = migrations(DBMATE)
    result = cli("new", "x", "--python", "--migrations", folder)
    assert result.code == 2 and "dbmate folder" in result.err, result


GOLANG_MIGRATE_EXAMPLE = {  # shaped like golang-migrate's own example folders
    "1085649617_create_users_table.up.sql": "CREATE TABLE IF NOT EXISTS users (\n"
                                            "  user_id integer unique,\n  name varchar(40)\n);\n",
    "1085649617_create_users_table.down.sql": "DROP TABLE IF EXISTS users;\n",
    "1185749658_just_a_comment.up.sql": "-- This is a comment only migration\n",
    "1285849751_add_city.up.sql": "ALTER TABLE users ADD COLUMN city varchar(100);\n",
    "1285849751_add_city.down.sql": "ALTER TABLE users DROP COLUMN city;\n",
}


def test_a_comment_only_migration_needs_no_down_file(cli, db_url, migrations):
    folder = migrations(GOLANG_MIGRATE_EXAMPLE)
    args = _args(db_url, folder)
    for _ in range(2):
        assert cli("up", *args).code == 0
        down = cli("goto", "none", *args)
        assert down.code == 0, down
        assert tables(db_url) == [t for t in tables(db_url) if t.startswith("ferryman_")]


def test_goose_go_migrations_are_listed_never_skipped(cli, sqlite_url, migrations):
    folder = migrations({**GOOSE, "00003_rename.go": "package migrations\n",
                         "main.go": "package main\n"})
    result = cli("validate", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 2, result
    assert "00003_rename.go" in result.err and "cannot run Go" in result.err
    assert "main.go" not in result.err  # not a migration's name
