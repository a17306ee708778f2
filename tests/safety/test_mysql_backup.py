"""MySQL/MariaDB backups (safety/mysql.py) on the MariaDB server of this machine: the
real mariadb-dump and mariadb client, a round trip of awkward data, the two restore
paths (an atomic RENAME TABLE swap; in place where views, routines and triggers are),
verify, and the password kept off every command line."""

import os
import stat

import pytest
from helpers import my_user_with_password, query

from ferryman.errors import BlockedError
from ferryman.safety.backups import Backups
from ferryman.url import parse_url

PASSWORD = "My-S3cret\"pw\\x"


def make(url, *statements):
    for statement in statements:
        query(url, statement)


def backups(url, tmp_path, password=None):
    return Backups(parse_url(url), str(tmp_path / "backups"), password=password)


def test_round_trip_brings_back_every_value_and_drops_what_came_after(my_url, tmp_path):
    make(my_url,
         "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(50) CHARACTER SET utf8mb4)",
         "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, blob_col VARBINARY(16), "
         "note TEXT, FOREIGN KEY (parent_id) REFERENCES parent (id))",
         "INSERT INTO parent VALUES (1, 'ann 🚢'), (2, 'quote '' and \\\\ backslash')",
         "INSERT INTO child VALUES (1, 1, X'00FF0A27', NULL), (2, 2, NULL, 'line\\nbreak')")
    before = (query(my_url, "SELECT * FROM parent ORDER BY id"),
              query(my_url, "SELECT * FROM child ORDER BY id"))
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    assert manifest["file"].endswith(".sql") and manifest["dialect"] == "mysql"
    assert store.verify(manifest["id"])[1] == []
    make(my_url, "DELETE FROM child", "DELETE FROM parent WHERE id = 2",
         "CREATE TABLE later (id INT)", "ALTER TABLE parent ADD COLUMN extra INT")
    store.restore(manifest["id"])
    after = (query(my_url, "SELECT * FROM parent ORDER BY id"),
             query(my_url, "SELECT * FROM child ORDER BY id"))
    assert after == before
    names = {r[0] for r in query(my_url, "SHOW TABLES")}
    assert names == {"parent", "child"}  # `later` is gone: the database as it was
    # the foreign key still points at the restored parent, in this database
    refs = query(my_url, "SELECT REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME FROM "
                         "information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() "
                         "AND TABLE_NAME = 'child' AND REFERENCED_TABLE_NAME IS NOT NULL")
    assert refs == [(my_url.rsplit("/", 1)[1], "parent")]
    # no scratch database is left behind
    leftovers = query(my_url, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE "
                              "SCHEMA_NAME LIKE %s", (f"ferryman\\_%\\_{my_url.rsplit('/', 1)[1]}",))
    assert leftovers == []


def test_views_routines_and_triggers_are_restored_in_place(my_url, tmp_path):
    make(my_url, "CREATE TABLE t (id INT PRIMARY KEY, n INT)",
         "CREATE TABLE audit (n INT)",
         "CREATE TRIGGER t_audit AFTER INSERT ON t FOR EACH ROW INSERT INTO audit VALUES (NEW.n)",
         "CREATE VIEW v AS SELECT id, n * 2 AS twice FROM t",
         "CREATE FUNCTION plus_one(x INT) RETURNS INT DETERMINISTIC RETURN x + 1",
         "INSERT INTO t VALUES (1, 10)")
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    make(my_url, "DROP VIEW v", "DROP FUNCTION plus_one", "DROP TRIGGER t_audit",
         "DELETE FROM t", "DELETE FROM audit")
    taken = []
    store.restore(manifest["id"], before_swap=lambda: taken.append("safety backup"))
    assert taken == ["safety backup"]
    assert query(my_url, "SELECT id, twice FROM v") == [(1, 20)]
    assert query(my_url, "SELECT plus_one(41)") == [(42,)]
    make(my_url, "INSERT INTO t VALUES (2, 5)")
    assert query(my_url, "SELECT n FROM audit ORDER BY n") == [(5,), (10,)]


def test_verify_finds_a_dump_cut_short(my_url, tmp_path):
    make(my_url, "CREATE TABLE t (id INT)", "INSERT INTO t VALUES (1)")
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    provider = store.provider
    with open(manifest["path"], "rb") as handle:
        data = handle.read()
    cut = tmp_path / "cut.sql"
    cut.write_bytes(data[: len(data) // 2])
    assert any("cut short" in p for p in provider.verify(str(cut)))
    other = tmp_path / "other.sql"
    other.write_text("SELECT 1;\n")
    assert len(provider.verify(str(other))) == 2


def test_the_password_goes_through_a_private_option_file(my_url, tmp_path, request,
                                                         monkeypatch):
    """A recording stand-in for mariadb-dump (first on PATH) writes down its command line
    and the mode of the option file it was given, then runs the real tool."""
    user_url = my_user_with_password(request, my_url, PASSWORD)
    real = __import__("shutil").which("mariadb-dump")
    shim = tmp_path / "bin" / "mariadb-dump"
    shim.parent.mkdir()
    log = tmp_path / "argv.log"
    shim.write_text(
        "#!/usr/bin/env python3\nimport os, stat, sys\n"
        f"log = open({str(log)!r}, 'a')\n"
        "log.write(repr(sys.argv) + '\\n')\n"
        "for arg in sys.argv:\n"
        "    if arg.startswith('--defaults-extra-file='):\n"
        "        path = arg.split('=', 1)[1]\n"
        "        log.write('mode %o\\n' % stat.S_IMODE(os.stat(path).st_mode))\n"
        "        log.write('file ' + path + '\\n')\n"
        "log.close()\n"
        f"os.execv({real!r}, [{real!r}] + sys.argv[1:])\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    make(my_url, "CREATE TABLE t (id INT)")
    store = backups(user_url, tmp_path, password=PASSWORD)
    manifest = store.create("test")
    text = log.read_text()
    assert "mode 600" in text and PASSWORD not in text
    option_file = text.split("file ", 1)[1].splitlines()[0]
    assert not os.path.exists(option_file)  # removed afterwards
    for root, _dirs, files in os.walk(tmp_path / "backups"):
        for name in files:
            path = os.path.join(root, name)
            assert PASSWORD.encode() not in open(path, "rb").read(), path
            assert not stat.S_IMODE(os.stat(path).st_mode) & 0o077, path
    assert PASSWORD not in repr(manifest)


def test_a_missing_dump_tool_stops_before_anything(my_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    with pytest.raises(BlockedError) as caught:
        backups(my_url, tmp_path).create("test")
    assert "not installed" in caught.value.message and caught.value.hint
