"""The engine under every layer: a run reads the state once, under the lock; the
runner honours a dialect's ``transactional_ddl``; nothing to do touches nothing."""

import os

import pytest

from ferryman import Migrator
from ferryman.core.history import History
from ferryman.dialects import connect
from ferryman.dialects.sqlite import SQLiteDialect
from ferryman.errors import MigrationError, RollbackError
from ferryman.url import parse_url

from helpers import query

TWO = {
    "1_first.up.sql": "CREATE TABLE first (id INTEGER PRIMARY KEY);",
    "1_first.down.sql": "DROP TABLE first;",
    "2_second.up.sql": "CREATE TABLE second (id INTEGER PRIMARY KEY);\n"
                       "INSERT INTO no_such_table VALUES (1);",
    "2_second.down.sql": "DROP TABLE second;",
}


def test_a_run_reads_the_state_once_and_under_the_lock(db_url, migrations, monkeypatch):
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);",
                         "2_b.up.sql": "CREATE TABLE b (id INTEGER);"})
    reads = []
    real = History.read_state

    def spy(history, strict=True):
        # Another connection cannot take the migration lock while the state is read.
        other = connect(parse_url(db_url))
        try:
            held = not other.try_lock("ferryman_")
        finally:
            other.unlock("ferryman_")
            other.close()
        reads.append(held)
        return real(history, strict)

    monkeypatch.setattr(History, "read_state", spy)
    result = Migrator(db_url, folder, backup=False).up()
    assert result.to_version == 2
    assert reads == [True]


def test_nothing_to_do_creates_no_file_and_no_lock_file(tmp_path, migrations):
    folder = migrations({})
    path = tmp_path / "fresh.db"
    result = Migrator(f"sqlite:///{path}", folder).up()
    assert result.nothing_to_do and result.run_id is None
    assert sorted(os.listdir(tmp_path)) == ["migrations"]


@pytest.mark.parametrize("transactional_ddl", [True, False])
def test_the_runner_honours_transactional_ddl(tmp_path, migrations, monkeypatch,
                                              transactional_ddl):
    """Where DDL commits implicitly, a step runs on its own, marked dirty until it
    finishes; a failure part way is undone through the down migration, or says so
    (exit 3) where there is none, instead of promising a rollback; where DDL is
    transactional, the failed step leaves nothing (exit 1)."""
    monkeypatch.setattr(SQLiteDialect, "transactional_ddl", transactional_ddl)
    if not transactional_ddl:  # as MySQL: every statement but INSERT/UPDATE/DELETE commits
        monkeypatch.setattr(SQLiteDialect, "implicit_commit", staticmethod(
            lambda words: words[:1] not in (("INSERT",), ("UPDATE",), ("DELETE",))))
    url = f"sqlite:///{tmp_path / 'app.db'}"
    folder = migrations(TWO)
    migrator = Migrator(url, folder, backup=False)
    with pytest.raises(MigrationError) as caught:
        migrator.up()
    tables = {r[0] for r in query(url, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    status = migrator.status()
    if transactional_ddl:
        assert caught.value.exit_code == 1
        assert "second" not in tables and "first" not in tables
        assert status.current_version is None and not status.dirty
    else:
        # The first statement of 2 committed on its own, so 2's down migration undid
        # it, and 1's down undid 1: the run is back where it started, and says how.
        assert caught.value.exit_code == 1
        assert "undone through" in caught.value.message
        assert "second" not in tables and "first" not in tables
        assert status.current_version is None and not status.dirty
        # Without 2's down, the truth is "dirty at 2", at its second statement.
        os.remove(os.path.join(folder, "2_second.down.sql"))
        with pytest.raises(RollbackError) as caught:
            Migrator(url, folder, backup=False).up()
        assert caught.value.exit_code == 3
        status = migrator.status()
        assert status.dirty and status.dirty_details["version"] == 2
        assert status.dirty_details["statement_index"] == 1
        assert "commits DDL implicitly" in status.dirty_details["reason"]
