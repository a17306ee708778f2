"""MySQL/MariaDB backups (safety/mysql.py) on the MariaDB server of this machine, with
the real mariadb-dump and mariadb client: a round trip of awkward data, the two restore
paths (an atomic RENAME TABLE swap; in place where views, routines, triggers, events
or a foreign key from another database are, or where no scratch database may be
made), verify, the password kept off every command line and out of every file but
the tools' own 0600 option file, and kill -9 during a dump."""

import os
import signal
import stat
import sys
import time

import pymysql
import pytest
from helpers import (ferryman_process, my_admin, my_url_of, my_user_with_password,
                     new_my_database, query)

from ferryman.errors import BlockedError, RestoreError
from ferryman.safety import mysql as mysql_backup
from ferryman.safety.backups import Backups
from ferryman.url import parse_url

PASSWORD = "My-S3cret\"pw\\x #;'"
DEADLINE = 60.0  # seconds; a guard against a hang, not a timing assertion


def make(url, *statements):
    for statement in statements:
        query(url, statement)


def backups(url, tmp_path, password=None):
    return Backups(parse_url(url), str(tmp_path / "backups"), password=password)


def database_of(url):
    return url.rsplit("/", 1)[1]


def leftovers(url):
    """Scratch databases of the database of ``url`` still on the server."""
    return query(url, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE "
                      "SCHEMA_NAME LIKE %s", (f"ferryman\\_%\\_{database_of(url)}",))


def mariadb():
    return "mariadb" in query(my_url_of("mysql"), "SELECT VERSION()")[0][0].lower()


def test_round_trip_brings_back_every_value_and_drops_what_came_after(my_url, tmp_path):
    make(my_url,
         "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(50) CHARACTER SET utf8mb4)",
         "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, blob_col VARBINARY(16), "
         "note TEXT, big LONGBLOB, FOREIGN KEY (parent_id) REFERENCES parent (id))",
         "INSERT INTO parent VALUES (1, 'ann 🚢'), (2, 'quote '' and \\\\ backslash'), "
         "(3, NULL)",
         "INSERT INTO child VALUES (1, 1, X'00FF0A27', NULL, NULL), "
         "(2, 2, NULL, 'line\\nbreak; -- not a comment', REPEAT(X'00FF', 40000))")
    before = (query(my_url, "SELECT * FROM parent ORDER BY id"),
              query(my_url, "SELECT * FROM child ORDER BY id"))
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    assert manifest["file"].endswith(".sql") and manifest["dialect"] == "mysql"
    assert manifest["tool"].startswith("mariadb-dump") or "mysqldump" in manifest["tool"]
    assert store.verify(manifest["id"])[1] == []
    make(my_url, "DELETE FROM child", "DELETE FROM parent WHERE id = 2",
         "CREATE TABLE later (id INT)", "ALTER TABLE parent ADD COLUMN extra INT")
    store.restore(manifest["id"])
    after = (query(my_url, "SELECT * FROM parent ORDER BY id"),
             query(my_url, "SELECT * FROM child ORDER BY id"))
    assert after == before
    assert after[0][0][1] == "ann 🚢" and after[1][1][4] == b"\x00\xff" * 40000
    names = {r[0] for r in query(my_url, "SHOW TABLES")}
    assert names == {"parent", "child"}  # `later` is gone: the database as it was
    # the foreign key still points at the restored parent, in this database, and holds
    refs = query(my_url, "SELECT REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME FROM "
                         "information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() "
                         "AND TABLE_NAME = 'child' AND REFERENCED_TABLE_NAME IS NOT NULL")
    assert refs == [(database_of(my_url), "parent")]
    with pytest.raises(pymysql.err.IntegrityError):
        make(my_url, "INSERT INTO child (id, parent_id) VALUES (3, 42)")
    assert leftovers(my_url) == []


def test_mariadb_sequences_and_system_versioned_history_come_back(my_url, tmp_path):
    if not mariadb():
        pytest.skip("sequences and system versioning are MariaDB's")
    make(my_url, "CREATE SEQUENCE seq START WITH 100",
         "CREATE TABLE versioned (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING",
         "INSERT INTO versioned VALUES (1, 1)", "UPDATE versioned SET x = 2",
         "DO NEXTVAL(seq)")
    history = query(my_url, "SELECT id, x FROM versioned FOR SYSTEM_TIME ALL ORDER BY x")
    assert history == [(1, 1), (1, 2)]
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    make(my_url, "DROP SEQUENCE seq", "DELETE FROM versioned")
    store.restore(manifest["id"])
    assert query(my_url, "SELECT id, x FROM versioned FOR SYSTEM_TIME ALL ORDER BY x") == history
    assert query(my_url, "SELECT id, x FROM versioned") == [(1, 2)]
    assert query(my_url, "SELECT NEXTVAL(seq)")[0][0] > 100
    assert leftovers(my_url) == []


def test_views_routines_triggers_and_events_are_restored_in_place(my_url, tmp_path):
    make(my_url, "CREATE TABLE t (id INT PRIMARY KEY, n INT)",
         "CREATE TABLE audit (n INT)",
         "CREATE TRIGGER t_audit AFTER INSERT ON t FOR EACH ROW INSERT INTO audit VALUES (NEW.n)",
         "CREATE VIEW v AS SELECT id, n * 2 AS twice FROM t",
         "CREATE FUNCTION plus_one(x INT) RETURNS INT DETERMINISTIC RETURN x + 1",
         "CREATE PROCEDURE twice_all() BEGIN UPDATE t SET n = n * 2; SELECT 1; END",
         "CREATE EVENT tidy ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit",
         "INSERT INTO t VALUES (1, 10)")
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    assert store.verify(manifest["id"])[1] == []  # DELIMITER blocks split cleanly
    make(my_url, "DROP VIEW v", "DROP FUNCTION plus_one", "DROP TRIGGER t_audit",
         "DROP PROCEDURE twice_all", "DROP EVENT tidy", "DELETE FROM t", "DELETE FROM audit",
         "CREATE TABLE later (id INT)", "CREATE VIEW later_v AS SELECT 1 AS one")
    seen = []

    def before_swap():  # the caller's safety backup: the live database is as it was
        seen.append(query(my_url, "SELECT COUNT(*) FROM t")[0][0])

    store.restore(manifest["id"], before_swap=before_swap)
    assert seen == [0]
    assert query(my_url, "SELECT id, twice FROM v") == [(1, 20)]
    assert query(my_url, "SELECT plus_one(41)") == [(42,)]
    assert query(my_url, "SELECT EVENT_NAME, STATUS FROM information_schema.EVENTS WHERE "
                         "EVENT_SCHEMA = DATABASE()") == [("tidy", "DISABLED")]
    make(my_url, "CALL twice_all()", "INSERT INTO t VALUES (2, 5)")
    assert query(my_url, "SELECT n FROM audit ORDER BY n") == [(5,), (10,)]
    assert query(my_url, "SELECT n FROM t ORDER BY id") == [(20,), (5,)]
    assert {r[0] for r in query(my_url, "SHOW TABLES")} == {"t", "audit", "v"}
    assert leftovers(my_url) == []


def test_a_foreign_key_from_another_database_keeps_pointing_here(my_url, tmp_path):
    """RENAME TABLE would carry the other database's foreign key off to the retired
    tables; the restore goes in place instead, and the key finds the new parent."""
    target = database_of(my_url)
    make(my_url, "CREATE TABLE parent (id INT PRIMARY KEY)", "INSERT INTO parent VALUES (1)")
    names = new_my_database()
    other = my_url_of(next(names))
    try:
        make(other, "CREATE TABLE ext (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) "
                    f"REFERENCES `{target}`.parent (id))", "INSERT INTO ext VALUES (1, 1)")
        store = backups(my_url, tmp_path)
        manifest = store.create("test")
        make(my_url, "INSERT INTO parent VALUES (2)")
        store.restore(manifest["id"])
        assert query(my_url, "SELECT id FROM parent") == [(1,)]
        assert query(other, "SELECT UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME FROM "
                            "information_schema.REFERENTIAL_CONSTRAINTS WHERE "
                            "CONSTRAINT_SCHEMA = DATABASE()") == [(target, "parent")]
        with pytest.raises(pymysql.err.IntegrityError):
            make(other, "INSERT INTO ext VALUES (2, 2)")  # 2 is gone from the parent
        assert leftovers(my_url) == []
    finally:
        next(names, None)


def test_a_dump_that_fails_to_load_leaves_the_live_database_alone(my_url, tmp_path):
    make(my_url, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    make(my_url, "INSERT INTO t VALUES (3)")
    text = open(manifest["path"], encoding="utf-8").read()
    marker = "-- Dump completed"
    broken = tmp_path / "broken.sql"
    broken.write_text(text.replace(marker, "SELECT no_such_column FROM t;\n" + marker))
    with pytest.raises(RestoreError) as caught:
        store.provider.restore(str(broken))
    message = caught.value.message
    assert "scratch database" in message and "not touched" in message, message
    assert "no_such_column" in caught.value.db_message
    assert query(my_url, "SELECT id FROM t ORDER BY id") == [(1,), (2,), (3,)]
    assert leftovers(my_url) == []


def test_a_table_held_by_a_transaction_stops_the_swap_cleanly(my_url, tmp_path, monkeypatch):
    monkeypatch.setattr(mysql_backup, "LOCK_WAIT", 1)
    monkeypatch.setattr(mysql_backup, "ATTEMPTS", 2)
    make(my_url, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    make(my_url, "INSERT INTO t VALUES (2)")
    holder = my_admin()
    try:
        with holder.cursor() as cursor:
            cursor.execute(f"USE `{database_of(my_url)}`")
            cursor.execute("BEGIN")
            cursor.execute("SELECT * FROM t")  # its table lock lasts to the transaction's end
            with pytest.raises(RestoreError) as caught:
                store.restore(manifest["id"])
            assert "RENAME TABLE" in caught.value.message
            assert "not touched" in caught.value.message
            assert f"{holder.thread_id()} (root" in caught.value.message
            cursor.execute("COMMIT")
    finally:
        holder.close()
    assert query(my_url, "SELECT id FROM t ORDER BY id") == [(1,), (2,)]
    assert leftovers(my_url) == []
    store.restore(manifest["id"])  # once the transaction has ended
    assert query(my_url, "SELECT id FROM t") == [(1,)]


def test_verify_finds_a_dump_cut_short_or_damaged_inside(my_url, tmp_path):
    make(my_url, "CREATE TABLE t (id INT, s TEXT)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    provider = store.provider
    with open(manifest["path"], "rb") as handle:
        data = handle.read()
    assert provider.verify(manifest["path"]) == []
    cut = tmp_path / "cut.sql"
    cut.write_bytes(data[: len(data) // 2])
    assert any("cut short" in p for p in provider.verify(str(cut)))
    damaged = tmp_path / "damaged.sql"  # a quote lost in the middle; the trailer intact
    damaged.write_bytes(data.replace(b"(1,'a')", b"(1,a')"))
    assert damaged.read_bytes() != data
    problems = provider.verify(str(damaged))
    assert len(problems) == 1 and "splitter" in problems[0], problems
    other = tmp_path / "other.sql"
    other.write_text("SELECT 1;\n")
    assert len(provider.verify(str(other))) == 2


SHIM = r'''#!{python}
import os, stat, sys
secret = {secret!r}.encode()
out = ["run " + os.path.basename(sys.argv[0]) + " " + repr(sys.argv[1:])]
option = sys.argv[1].split("=", 1)[1] if sys.argv[1].startswith("--defaults-file=") else None
if option:
    out.append("mode %o folder %o" % (stat.S_IMODE(os.stat(option).st_mode),
                                      stat.S_IMODE(os.stat(os.path.dirname(option)).st_mode)))
    out.append("file " + option)
    with open(option, "rb") as handle:
        for line in handle.read().splitlines():
            out.append("password line" if line.startswith(b"password=")
                       else "option " + line.decode())
for pid in os.listdir("/proc"):  # every command line on the machine, while the tool runs
    try:
        with open(f"/proc/{{pid}}/cmdline", "rb") as handle:
            if secret in handle.read():
                out.append(f"LEAK in the command line of {{pid}}")
    except OSError:
        pass
if any(secret in value.encode() for value in os.environ.values()):
    out.append("LEAK in the environment")
with open({log!r}, "a") as handle:
    handle.write("\n".join(out) + "\n")
os.execv({real!r}, [{real!r}] + sys.argv[1:])
'''


def recording_tools(tmp_path, monkeypatch, secret):
    """Stand-ins for mariadb-dump and mariadb, first on PATH: each writes down its
    command line, its option file (but the password line), every command line on the
    machine holding ``secret``, then runs the real tool. Returns the log's path."""
    import shutil

    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "tools.log"
    for name in ("mariadb-dump", "mariadb"):
        real = shutil.which(name)
        shim = folder / name
        shim.write_text(SHIM.format(python=sys.executable, secret=secret, log=str(log),
                                    real=real))
        shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    return log


def test_the_password_goes_only_through_a_private_option_file(my_url, tmp_path, request,
                                                              monkeypatch):
    """A user with a password and rights on its database only: the backup, and a
    restore in place (it may not create the scratch database) through the client."""
    user_url = my_user_with_password(request, my_url, PASSWORD)
    log = recording_tools(tmp_path, monkeypatch, PASSWORD)
    make(my_url, "CREATE TABLE t (id INT)", "INSERT INTO t VALUES (1)")
    store = backups(user_url, tmp_path, password=PASSWORD)
    manifest = store.create("test")
    make(my_url, "INSERT INTO t VALUES (2)")
    store.restore(manifest["id"])
    assert query(my_url, "SELECT id FROM t") == [(1,)]
    text = log.read_text()
    runs = [line.split()[1] for line in text.splitlines()
            if line.startswith("run ") and "--defaults-file=" in line]
    assert runs == ["mariadb-dump", "mariadb"], text  # --version aside
    assert "LEAK" not in text and PASSWORD not in text
    assert text.count("mode 600 folder 700") == 2 and text.count("password line") == 2
    assert 'option protocol="tcp"' in text and 'option host="127.0.0.1"' in text
    for line in text.splitlines():
        if line.startswith("file "):
            assert not os.path.exists(os.path.dirname(line[5:]))  # removed afterwards
    for root, _dirs, files in os.walk(tmp_path / "backups"):
        for name in files:
            path = os.path.join(root, name)
            assert PASSWORD.encode() not in open(path, "rb").read(), path
            assert not stat.S_IMODE(os.stat(path).st_mode) & 0o077, path
    assert PASSWORD not in repr(manifest)
    # a failed restore, in place: the error says so, and shows no password
    broken = tmp_path / "broken.sql"
    broken.write_text(open(manifest["path"], encoding="utf-8").read().replace(
        "-- Dump completed", "SELECT no_such_column;\n-- Dump completed"))
    with pytest.raises(RestoreError) as caught:
        store.provider.restore(str(broken))
    assert "in place" in caught.value.message and "emptied" in caught.value.message
    assert PASSWORD not in caught.value.details()


def test_the_users_own_option_files_are_not_read(my_url, tmp_path, monkeypatch):
    """A ~/.my.cnf naming another user, and asking mariadb-dump for --compact (no
    trailer), changes nothing: the tools read ferryman's option file only."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".my.cnf").write_text("[client]\nuser=nobody\npassword=wrong\nhost=192.0.2.1\n"
                                  "[mariadb-dump]\ncompact\n[mysqldump]\ncompact\n"
                                  "[mysql]\ndatabase=nowhere\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MYSQL_PWD", "wrong")
    make(my_url, "CREATE TABLE t (id INT)", "INSERT INTO t VALUES (1)")
    store = backups(my_url, tmp_path)
    manifest = store.create("test")
    assert store.verify(manifest["id"])[1] == []
    make(my_url, "DELETE FROM t")
    store.restore(manifest["id"])
    assert query(my_url, "SELECT id FROM t") == [(1,)]


def test_the_urls_tls_mode_reaches_the_tools(my_url, tmp_path, monkeypatch):
    """The tools connect as PyMySQL does: here without TLS (this server has none), in
    MariaDB's spelling. (Modes that need TLS are not tested: no server here has it.)"""
    log = recording_tools(tmp_path, monkeypatch, "no secret here")
    make(my_url, "CREATE TABLE t (id INT)")
    backups(my_url + "?ssl_mode=disabled", tmp_path).create("test")
    assert "option skip-ssl" in log.read_text()


def test_a_missing_dump_tool_stops_before_anything(my_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    with pytest.raises(BlockedError) as caught:
        backups(my_url, tmp_path).create("test")
    assert caught.value.exit_code == 4
    assert "not installed" in caught.value.message and "apt install" in caught.value.hint


def test_a_dump_tool_older_than_the_server_is_refused(my_url, tmp_path):
    if not mariadb():
        pytest.skip("the stand-in speaks as MariaDB's tool")
    folder = tmp_path / "old-bin"
    folder.mkdir()
    tool = folder / "mariadb-dump"
    tool.write_text("#!/bin/sh\necho 'mariadb-dump  Ver 10.19 Distrib 10.3.39-MariaDB, "
                    "for debian-linux-gnu (x86_64)'\n")
    tool.chmod(0o755)
    env = {"FERRYMAN_DATABASE_URL": my_url, "FERRYMAN_BACKUP_DIR": str(tmp_path / "bk"),
           "PATH": f"{folder}:{os.environ['PATH']}"}
    process = ferryman_process("backup", "create", env=env)
    _out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 4, err
    assert "mariadb-dump 10.3 is older than the MariaDB 10." in err, err
    assert "Traceback" not in err


def proc_stat(pid):
    """(state, parent pid, start time) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()
    except OSError:
        return None
    return fields[0].decode(), int(fields[1]), int(fields[19])


def descendants(root):
    """{pid: (command line, start time)} of every process below ``root``."""
    table = {int(n): s for n in os.listdir("/proc") if n.isdigit()
             for s in [proc_stat(int(n))] if s}
    below, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (_state, ppid, started) in table.items():
            if ppid == parent and pid not in below:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        below[pid] = (handle.read().split(b"\0"), started)
                except OSError:
                    continue
                frontier.append(pid)
    return below


def running(pid, started):
    found = proc_stat(pid)
    return found is not None and found[2] == started and found[0] not in ("Z", "X")


def wait_until(predicate, what):
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {DEADLINE:g}s waiting for {what}")
        time.sleep(0.05)


def test_kill_9_during_a_dump_ends_the_dump_tool_and_its_option_file(my_url, tmp_path,
                                                                     request):
    """mariadb-dump is made to wait, not to be slow: a session holds the table with
    LOCK TABLES ... WRITE, which the dump's SELECT waits for (its session shows it in
    the process list), for as long as the test needs."""
    user_url = my_user_with_password(request, my_url, PASSWORD)
    make(my_url, "CREATE TABLE big (id INT PRIMARY KEY)", "INSERT INTO big VALUES (1)")
    backup_dir = tmp_path / "bk"
    env = {"FERRYMAN_DATABASE_URL": user_url, "FERRYMAN_PASSWORD": PASSWORD,
           "FERRYMAN_BACKUP_DIR": str(backup_dir)}
    blocker, seen = my_admin(), {}
    try:
        with blocker.cursor() as cursor:
            cursor.execute(f"USE `{database_of(my_url)}`")
            cursor.execute("LOCK TABLES big WRITE")
        proc = ferryman_process("backup", "create", env=env)
        try:
            wait_until(lambda: proc.poll() is not None or query(
                my_url, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = "
                        "DATABASE() AND STATE LIKE '%%metadata lock%%'")[0][0] > 0,
                       "mariadb-dump to wait for the table")
            assert proc.poll() is None, proc.communicate()
            seen = descendants(proc.pid)
            tools = [argv for argv, _ in seen.values()
                     if os.path.basename(argv[0]) == b"mariadb-dump"]
            assert len(tools) == 1, seen
            for argv, _started in seen.values():  # ps shows no password, anywhere
                assert PASSWORD.encode() not in b" ".join(argv)
            option = tools[0][1].decode().split("=", 1)[1]
            assert tools[0][1].startswith(b"--defaults-file=") and os.path.exists(option)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=DEADLINE)
            wait_until(lambda: not any(running(pid, started)
                                       for pid, (_a, started) in seen.items()),
                       f"ferryman's children {seen} to end with it")
            assert not os.path.exists(os.path.dirname(option))  # the supervisor removed it
        finally:
            for pid, (_argv, started) in seen.items():  # only on failure: ours, if alive
                if running(pid, started):
                    os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    finally:
        blocker.close()  # its table lock ends with it
    process = ferryman_process("backup", "create", env=env)
    out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, err
    assert not [n for n in os.listdir(backup_dir) if ".partial" in n]  # swept
