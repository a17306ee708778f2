"""Backups before every run, their manifests, verification, retention, and the faults
that must stop a run before anything changes."""

import json
import os
import resource

import pytest
from helpers import ferryman_process, query, tables

from ferryman import Migrator
from ferryman.errors import BlockedError, StateError

USERS = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n"
                      "INSERT INTO users (id, email) VALUES (1, 'lin@example.com');",
    "1_users.down.sql": "DROP TABLE users;",
    "2_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY, body TEXT);",
    "2_letters.down.sql": "DROP TABLE letters;",
}


def backup_files(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_every_run_takes_a_backup_with_a_manifest(db_url, migrations, tmp_path):
    folder = migrations(USERS)
    backup_dir = tmp_path / "bk"
    migrator = Migrator(db_url, folder, backup_dir=str(backup_dir))
    migrator.up(target=1)
    migrator.up()
    listed = migrator.backups()
    assert len(listed) == 2
    newest = listed[0]
    manifest = json.loads((backup_dir / (os.path.basename(newest.path)[:-len(
        os.path.splitext(newest.path)[1])] + ".json")).read_text())
    for key in ("id", "path", "created_at", "size", "sha256", "database", "server_version",
                "migration_version", "dirty", "ferryman_version", "reason"):
        assert key in manifest, key
    assert manifest["migration_version"] == 1 and manifest["dirty"] is False
    assert manifest["size"] == os.path.getsize(newest.path)
    assert "before up" in manifest["reason"]
    # recorded in the database, so status on any host shows it
    assert migrator.status().last_backup == newest.id
    runs = query(db_url, "SELECT backup_id FROM ferryman_runs ORDER BY started_at")
    assert [r[0] for r in runs] == [b.id for b in reversed(listed)]
    assert not [n for n in backup_files(backup_dir) if n.endswith(".partial")]


def test_no_backup_is_recorded_as_such(db_url, migrations, tmp_path, monkeypatch):
    monkeypatch.setenv("FERRYMAN_BACKUP", "off")
    Migrator(db_url, migrations(USERS), backup_dir=str(tmp_path / "bk")).up()
    assert backup_files(tmp_path / "bk") == []
    assert query(db_url, "SELECT backup_id FROM ferryman_runs") == [("disabled",)]


def test_nothing_to_do_takes_no_backup(sqlite_url, migrations, tmp_path):
    folder = migrations(USERS)
    migrator = Migrator(sqlite_url, folder, backup_dir=str(tmp_path / "bk"))
    migrator.up()
    migrator.up()
    assert len(migrator.backups()) == 1


def test_verify_and_restore_refuse_a_corrupted_backup(db_url, migrations, tmp_path):
    migrator = Migrator(db_url, migrations(USERS), backup_dir=str(tmp_path / "bk"))
    migrator.up(target=1)
    backup = migrator.backup()
    assert migrator.verify_backup(backup.id)[1] == []
    data = open(backup.path, "rb").read()
    for corrupt in (data[: len(data) // 2], data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]):
        with open(backup.path, "wb") as handle:
            handle.write(corrupt)
        _info, problems = migrator.verify_backup(backup.id)
        assert problems, "a corrupted backup must not verify"
        migrator.up()  # the database moves on: version 2
        with pytest.raises(StateError) as refused:
            migrator.restore(backup.id, yes=True)
        assert refused.value.exit_code == 3
        assert migrator.status().current_version == 2  # untouched
        assert tables(db_url) == ["letters", "users"]
        migrator.down()


def test_retention_keeps_the_newest(sqlite_url, migrations, tmp_path):
    files = {f"{v}_t{v}.up.sql": f"CREATE TABLE t{v} (id INTEGER);" for v in range(1, 6)}
    migrator = Migrator(sqlite_url, migrations(files), backup_dir=str(tmp_path / "bk"),
                        backup_keep=2)
    for version in range(1, 6):
        migrator.up(target=version)
    kept = migrator.backups()
    assert len(kept) == 2
    last_run = query(sqlite_url, "SELECT backup_id FROM ferryman_runs ORDER BY started_at "
                                 "DESC LIMIT 1")[0][0]
    assert last_run in {b.id for b in kept}
    assert len(backup_files(tmp_path / "bk")) == 4  # two files and two manifests


def test_databases_sharing_a_folder_keep_to_their_own_backups(pg_url, pg_database,
                                                              migrations, tmp_path):
    """A SQLite file named like a PostgreSQL database, and a stem that starts another's
    ("shop" and "shop-eu"), in one folder: each lists and prunes only its own."""
    files = {f"{v}_t{v}.up.sql": f"CREATE TABLE t{v} (id INTEGER);" for v in range(1, 4)}
    folder, backup_dir = migrations(files), str(tmp_path / "bk")
    sqlite_twin = f"sqlite:///{tmp_path / (pg_database + '.db')}"
    shop_eu = f"sqlite:///{tmp_path / (pg_database + '-eu.db')}"
    for url in (sqlite_twin, shop_eu):
        Migrator(url, folder, backup_dir=backup_dir).up()
    theirs = {m: {b.id for b in Migrator(m, folder, backup_dir=backup_dir).backups()}
              for m in (sqlite_twin, shop_eu)}
    assert all(len(ids) == 1 for ids in theirs.values())
    pg = Migrator(pg_url, folder, backup_dir=backup_dir, backup_keep=2)
    for version in range(1, 4):
        pg.up(target=version)  # each run prunes down to two backups: of its own only
    assert [b.path.endswith(".dump") for b in pg.backups()] == [True, True]
    for url, ids in theirs.items():
        assert {b.id for b in Migrator(url, folder, backup_dir=backup_dir).backups()} == ids
    assert len(backup_files(tmp_path / "bk")) == 8  # 1 + 1 + 2 backups, a file and a manifest


@pytest.mark.parametrize("where", ["a file in the way", "missing parent"])
def test_unusable_backup_folder_stops_before_anything_changes(sqlite_url, migrations,
                                                              tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    backup_dir = blocker / "bk" if where == "a file in the way" else blocker / "x" / "y"
    migrator = Migrator(sqlite_url, migrations(USERS), backup_dir=str(backup_dir))
    with pytest.raises(BlockedError) as caught:
        migrator.up()
    assert caught.value.exit_code == 4 and "backup" in caught.value.message
    assert tables(sqlite_url) == []


# Fills the database with PostgreSQL's generate_series (MySQL backups:
# tests/safety/test_mysql_backup.py).
@pytest.mark.engines("sqlite", "postgresql")
def test_full_disk_during_the_backup_leaves_the_database_untouched(db_url, migrations,
                                                                   tmp_path):
    """A file-size limit on the process (ulimit -f) makes the backup's writes fail
    part way, as a full disk would."""
    folder = migrations(USERS)
    Migrator(db_url, folder, backup=False).up(target=1)
    if db_url.startswith("sqlite"):
        query(db_url, "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
                      "WHERE n < 4000) INSERT INTO users (id, email) "
                      "SELECT n + 10, hex(randomblob(256)) FROM s")
    else:  # random text, so that pg_dump's compression cannot shrink it under the limit
        query(db_url, "INSERT INTO users (id, email) SELECT n + 10, (SELECT string_agg("
                      "md5(random()::text || g || n), '') FROM generate_series(1, 16) AS g) "
                      "FROM generate_series(1, 4000) AS n")
    before = query(db_url, "SELECT count(*) FROM users")
    limit = 256 * 1024  # bytes; the database is ~2 MB

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    backup_dir = tmp_path / "bk"
    process = ferryman_process("up", env={"FERRYMAN_DATABASE_URL": db_url,
                                          "FERRYMAN_MIGRATIONS": folder,
                                          "FERRYMAN_BACKUP_DIR": str(backup_dir)},
                               preexec_fn=small_files)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 4, err
    assert "backup" in err.lower()
    assert any(w in err.lower() for w in ("file too large", "sigxfsz", "size limit")), err
    assert [n for n in backup_files(backup_dir) if not n.startswith(".")] == []
    assert query(db_url, "SELECT count(*) FROM users") == before
    assert tables(db_url) == ["users"]  # migration 2 did not run


def test_missing_pg_dump_stops_the_run(pg_url, migrations, tmp_path):
    env = {"FERRYMAN_DATABASE_URL": pg_url, "FERRYMAN_MIGRATIONS": migrations(USERS),
           "FERRYMAN_BACKUP_DIR": str(tmp_path / "bk"),
           "PATH": str(tmp_path / "empty-bin")}
    os.makedirs(tmp_path / "empty-bin")
    process = ferryman_process("up", env=env)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 4
    assert "pg_dump is not installed" in err
    assert tables(pg_url) == []


def test_too_old_pg_dump_is_named(pg_url, migrations, tmp_path):
    """pg_dump refuses servers newer than itself; ferryman says so before starting."""
    bin_dir = tmp_path / "old-bin"
    bin_dir.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        script = bin_dir / tool
        script.write_text("#!/bin/sh\necho \"" + tool + " (PostgreSQL) 11.22\"\n")
        script.chmod(0o755)
    env = {"FERRYMAN_DATABASE_URL": pg_url, "FERRYMAN_MIGRATIONS": migrations(USERS),
           "FERRYMAN_BACKUP_DIR": str(tmp_path / "bk"),
           "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    process = ferryman_process("up", env=env)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 4
    assert "pg_dump 11 cannot dump a PostgreSQL 15 server" in err
    assert tables(pg_url) == []


def test_backup_of_an_unreachable_database_is_exit_4(migrations, tmp_path, cli):
    result = cli("backup", "create", "--database-url", "postgresql://postgres@127.0.0.1:1/x",
                 "--migrations", migrations(USERS))
    assert result.code == 4
