"""Backups of every engine through the safety layer (``safety.backups.Backups``): a
backup restored brings the data back as it was, verification passes on a sound file,
and a damaged file fails it (by its hash, and by the engine's own reader when the
manifest was rewritten to match) and is never restored."""

import json
import os

import pytest

from ferryman.core.history import History
from ferryman.errors import FerrymanError
from ferryman.safety.backups import Backups

PREFIX = "ferryman_"


def fill(db):
    """The data a backup must keep: a table with rows (text with a semicolon and a
    quote, a NULL), an index, and ferryman's own tables with a meta row."""
    db.execute("CREATE TABLE kept (id INTEGER PRIMARY KEY, body TEXT)")
    db.execute("CREATE INDEX kept_body ON kept (body)")
    db.executemany(f"INSERT INTO kept (id, body) VALUES ({db.placeholder}, {db.placeholder})",
                   [(1, "one; 'quoted'"), (2, None), (3, "three")])
    history = History(db, PREFIX)
    db.begin()
    history.prepare(history.read_state())
    history.set_meta("last_backup", json.dumps({"id": "before"}))
    db.commit()


def snapshot(db):
    return (db.query("SELECT id, body FROM kept ORDER BY id"),
            History(db, PREFIX).read_state().last_backup,
            db.tables_present(["kept", "added", f"{PREFIX}meta"]))


def damage(path):
    """Overwrite the start of the file (its header) with bytes of no format."""
    with open(path, "r+b") as handle:
        handle.write(b"not a backup; " * 8)


def test_a_restored_backup_brings_the_data_back(engine, db, tmp_path):
    fill(db)
    before = snapshot(db)
    backups = Backups(engine.parsed, str(tmp_path / "backups"))
    manifest = backups.create("conformance")
    assert os.path.getsize(manifest["path"]) == manifest["size"] > 0
    assert manifest["dialect"] == engine.parsed.dialect
    assert manifest["server_version"] == db.server_version()
    assert [m["id"] for m in backups.list()] == [manifest["id"]]
    _, problems = backups.verify(manifest["id"])
    assert problems == []
    # change everything the backup holds
    db.execute("INSERT INTO kept (id, body) VALUES (4, 'after')")
    db.execute("UPDATE kept SET body = 'changed' WHERE id = 1")
    db.execute("DELETE FROM kept WHERE id = 3")
    db.execute("CREATE TABLE added (n INTEGER)")
    History(db, PREFIX).set_meta("last_backup", json.dumps({"id": "after"}))
    assert snapshot(db) != before
    backups.restore(manifest["id"], release=db.close)
    restored = engine.open()
    assert snapshot(restored) == before
    assert restored.tables_present(["added"]) == set()
    restored.execute("INSERT INTO kept (id, body) VALUES (5, 'writable')")  # usable after
    assert restored.query("SELECT count(*) FROM kept") == [(4,)]


def test_a_damaged_backup_fails_verification_and_is_not_restored(engine, db, tmp_path):
    fill(db)
    backups = Backups(engine.parsed, str(tmp_path / "backups"))
    manifest = backups.create("conformance")
    db.execute("INSERT INTO kept (id, body) VALUES (4, 'after the backup')")
    damage(manifest["path"])
    _, problems = backups.verify(manifest["id"])
    assert problems and "sha256" in problems[0], problems
    with pytest.raises(FerrymanError) as caught:
        backups.restore(manifest["id"])
    assert caught.value.exit_code == 3
    # The manifest rewritten to match the damaged file: the engine's own reader
    # (integrity check, pg_restore --list) still refuses it.
    from ferryman.safety.store import sha256_file

    written = os.path.splitext(manifest["path"])[0] + ".json"
    with open(written, encoding="utf-8") as handle:
        stored = json.load(handle)
    stored.update(sha256=sha256_file(manifest["path"]), size=os.path.getsize(manifest["path"]))
    with open(written, "w", encoding="utf-8") as handle:
        json.dump(stored, handle)
    _, problems = backups.verify(manifest["id"])
    assert problems and "sha256" not in " ".join(problems), problems
    with pytest.raises(FerrymanError):
        backups.restore(manifest["id"])
    live = engine.open()
    assert live.query("SELECT count(*) FROM kept") == [(4,)]  # untouched
