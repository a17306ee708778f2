"""Restore, automatic rollback by restore, and `rollback` of the last run."""

import pytest
from helpers import query, tables

from ferryman import Migrator
from ferryman.errors import InputError, MigrationError, RollbackError
from ferryman.events import BackupRestored

USERS = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, "
                      "score REAL, joined TEXT);",
    "1_users.down.sql": "DROP TABLE users;",
    "2_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY, "
                        "sender INTEGER REFERENCES users (id), body TEXT);",
    "2_letters.down.sql": "DROP TABLE letters;",
}
HALF_DONE = {
    # Runs outside a transaction; its second statement fails after the first committed.
    "3_half.up.sql": "-- ferryman:no-transaction\n"
                     "CREATE TABLE museum (id INTEGER PRIMARY KEY);\n"
                     "INSERT INTO museum_typo VALUES (1);\n",
    "3_half.down.sql": "DROP TABLE museum;",
}


def fill(url):
    rows = [(i, f"user{i}@example.com", i * 1.5, f"2026-01-{i % 28 + 1:02d}")
            for i in range(1, 201)]
    letters = [(i, (i % 200) + 1, f"letter {i}; with 'quotes' and \\ backslashes")
               for i in range(1, 401)]
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.split("sqlite:///", 1)[1]) as conn:
            conn.executemany("INSERT INTO users VALUES (?, ?, ?, ?)", rows)
            conn.executemany("INSERT INTO letters VALUES (?, ?, ?)", letters)
    else:
        import psycopg
        from helpers import _pg_conninfo

        with psycopg.connect(_pg_conninfo(url)) as conn:
            conn.cursor().executemany("INSERT INTO users VALUES (%s, %s, %s, %s)", rows)
            conn.cursor().executemany("INSERT INTO letters VALUES (%s, %s, %s)", letters)


def snapshot(url):
    return {table: query(url, f"SELECT * FROM {table} ORDER BY 1") for table in tables(url)}


# Fills and compares through psycopg and sqlite3 (MySQL round trip:
# tests/safety/test_mysql_backup.py).
@pytest.mark.engines("sqlite", "postgresql")
def test_restore_brings_back_identical_data(db_url, migrations, tmp_path):
    migrator = Migrator(db_url, migrations(USERS), backup_dir=str(tmp_path / "bk"))
    migrator.up()
    fill(db_url)
    before = snapshot(db_url)
    backup = migrator.backup()
    query(db_url, "DELETE FROM letters WHERE id > 10")
    query(db_url, "UPDATE users SET email = 'changed'")
    query(db_url, "CREATE TABLE created_later (x INTEGER)")
    migrator.down()
    assert snapshot(db_url) != before
    migrator.restore(backup.id, yes=True)
    assert snapshot(db_url) == before  # row by row, and the later table is gone
    status = migrator.status()
    assert status.current_version == 2 and not status.dirty
    kinds = [b.reason for b in migrator.backups()]
    assert any(r.startswith("safety backup before restoring") for r in kinds)
    assert query(db_url, "SELECT command, outcome FROM ferryman_runs "
                         "WHERE command = 'restore'") == [("restore", "ok")]


def test_restore_asks_first(sqlite_url, migrations, tmp_path):
    migrator = Migrator(sqlite_url, migrations(USERS), backup_dir=str(tmp_path / "bk"))
    migrator.up()
    backup = migrator.backup()
    migrator.down()
    asked = []
    with pytest.raises(InputError):
        migrator.restore(backup.id, confirm=lambda q: asked.append(q) or False)
    assert asked and "safety backup" in asked[0]
    assert tables(sqlite_url) == ["users"]  # declined: nothing changed
    migrator.restore(backup.id, confirm=lambda q: True)
    assert tables(sqlite_url) == ["letters", "users"]


def test_half_done_no_transaction_migration_is_restored_on_sqlite(sqlite_url, migrations,
                                                                   tmp_path):
    folder = migrations({**USERS, **HALF_DONE})
    migrator = Migrator(sqlite_url, folder, backup_dir=str(tmp_path / "bk"))
    migrator.up(target=2)
    fill(sqlite_url)
    before = snapshot(sqlite_url)
    events = []
    migrator = Migrator(sqlite_url, folder, backup_dir=str(tmp_path / "bk"),
                        on_event=events.append)
    with pytest.raises(MigrationError) as caught:
        migrator.up()
    assert caught.value.exit_code == 1
    assert "restored the backup" in caught.value.message
    assert snapshot(sqlite_url) == before  # museum is gone, the data is whole
    status = migrator.status()
    assert not status.dirty and status.current_version == 2
    assert any(isinstance(e, BackupRestored) for e in events)
    assert query(sqlite_url, "SELECT outcome FROM ferryman_runs ORDER BY started_at "
                             "DESC LIMIT 1") == [("restored",)]


def test_no_restore_when_another_connection_wrote_meanwhile(sqlite_url, migrations, tmp_path):
    """Restoring would lose the other writer's rows: stop, dirty, print the command."""
    folder = migrations({
        **USERS,
        "3_half.py": "# ferryman:no-transaction\n"
                     "import sqlite3\n"
                     "def up(ctx):\n"
                     "    ctx.execute('CREATE TABLE museum (id INTEGER)')\n"
                     f"    other = sqlite3.connect({sqlite_url.split('sqlite:///')[1]!r})\n"
                     "    other.execute(\"INSERT INTO users (id, email) VALUES (999, 'app')\")\n"
                     "    other.commit()\n"
                     "    other.close()\n"
                     "    raise RuntimeError('boom')\n",
    })
    migrator = Migrator(sqlite_url, folder, backup_dir=str(tmp_path / "bk"))
    with pytest.raises(RollbackError) as caught:
        migrator.up()
    assert caught.value.exit_code == 3
    assert "ferryman backup restore" in caught.value.hint
    assert query(sqlite_url, "SELECT email FROM users WHERE id = 999") == [("app",)]
    assert migrator.status().dirty


def test_postgresql_restores_only_when_asked(pg_url, migrations, tmp_path):
    folder = migrations({**USERS, **HALF_DONE})
    Migrator(pg_url, folder, backup=False).up(target=2)
    fill(pg_url)
    before = snapshot(pg_url)
    default = Migrator(pg_url, folder, backup_dir=str(tmp_path / "bk"))
    with pytest.raises(RollbackError) as caught:
        default.up()
    backup_id = default.backups()[0].id
    assert f"ferryman backup restore {backup_id}" in caught.value.hint
    assert default.status().dirty and "museum" in tables(pg_url)
    default.force(2)
    query(pg_url, "DROP TABLE museum")
    opted_in = Migrator(pg_url, folder, backup_dir=str(tmp_path / "bk"),
                        restore_on_failure=True)
    with pytest.raises(MigrationError) as restored:
        opted_in.up()
    assert restored.value.exit_code == 1 and "restored the backup" in restored.value.message
    assert snapshot(pg_url) == before
    assert not opted_in.status().dirty
    mine = pg_url.rsplit("/", 1)[1]
    leftovers = query(pg_url, "SELECT datname FROM pg_database WHERE datname LIKE "
                              "'ferryman_re%%' AND datname LIKE %s", (f"%_{mine}",))
    assert leftovers == []


def test_rollback_undoes_the_last_run_through_downs(db_url, migrations, tmp_path):
    folder = migrations({**USERS, "3_notes.up.sql": "CREATE TABLE notes (id INTEGER);",
                         "3_notes.down.sql": "DROP TABLE notes;"})
    migrator = Migrator(db_url, folder, backup_dir=str(tmp_path / "bk"))
    migrator.up(target=1)
    migrator.up()
    plan = migrator.rollback(dry_run=True)
    assert [(s.version, s.direction) for s in plan.steps] == [(3, "down"), (2, "down")]
    assert tables(db_url) == ["letters", "notes", "users"]
    result = migrator.rollback()
    assert [(s.version, s.direction) for s in result.steps] == [(3, "down"), (2, "down")]
    assert tables(db_url) == ["users"] and migrator.status().current_version == 1


def test_rollback_without_a_down_restores_the_runs_backup(sqlite_url, migrations, tmp_path):
    files = dict(USERS)
    del files["2_letters.down.sql"]
    migrator = Migrator(sqlite_url, migrations(files), backup_dir=str(tmp_path / "bk"))
    migrator.up(target=1)
    fill_users = "INSERT INTO users (id, email) VALUES (5, 'kept@example.com')"
    query(sqlite_url, fill_users)
    migrator.up()
    with pytest.raises(InputError):
        migrator.rollback()  # a restore loses writes: it asks first
    result = migrator.rollback(yes=True)
    assert "restored backup" in result.outcome
    assert tables(sqlite_url) == ["users"]
    assert query(sqlite_url, "SELECT email FROM users") == [("kept@example.com",)]
    assert migrator.status().current_version == 1


def test_scratch_databases_are_named_after_their_target():
    from ferryman.safety.postgresql import scratch_name

    first, second = scratch_name("restore", "shop"), scratch_name("restore", "shop")
    assert first != second and first.startswith("ferryman_restore_")
    assert first.endswith("_shop")
    long = "ä" * 40  # 80 bytes: cut on a character boundary, unique part kept
    cut = scratch_name("replaced", long)
    assert len(cut.encode()) <= 63 and cut.endswith("ä")
    assert cut.startswith("ferryman_replaced_") and cut != scratch_name("replaced", long)
