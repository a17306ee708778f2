"""How a dialect writes ferryman's own tables: identifier quoting, column types, the
CREATE TABLE / CREATE INDEX statements (safe to run again) and the one upsert."""

from datetime import datetime, timezone

import pytest

from ferryman.core.history import iso
from ferryman.errors import DriverError

ODD = 'we"ird; Name'


def test_quote_makes_any_name_an_identifier(engine, db):
    q = engine.dialect.quote
    db.execute(f"CREATE TABLE {q(ODD)} ({q('key')} INTEGER, {q('select')} TEXT)")
    db.execute(f"INSERT INTO {q(ODD)} ({q('key')}, {q('select')}) VALUES (1, 'x')")
    assert db.query(f"SELECT {q('key')}, {q('select')} FROM {q(ODD)}") == [(1, "x")]
    assert db.quote(ODD) == q(ODD)
    # quoted, a name keeps its case: two spellings are two tables
    db.execute(f"CREATE TABLE {q('Mixed')} (n INTEGER)")
    db.execute(f"CREATE TABLE {q('mixed_other')} (n INTEGER)")
    with pytest.raises(DriverError):
        db.execute(f"CREATE TABLE {q('Mixed')} (n INTEGER)")


def test_types_of_ferryman_s_tables(engine, db):
    """TYPES holds every kind ferryman's tables use, and each stores what it says."""
    assert set(engine.dialect.TYPES) >= {"bigint", "text", "varchar", "timestamp", "real",
                                         "id"}
    assert db.column_type("bigint") == engine.dialect.TYPES["bigint"]
    assert db.column_type("varchar(16)") == engine.dialect.TYPES["varchar"] + "(16)"
    db.execute(db.create_table("typed", [
        ("id", "id", None), ("big", "bigint", None), ("words", "text", "NOT NULL"),
        ("code", "varchar(16)", None), ("at", "timestamp", None), ("ms", "real", None)]))
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    p = db.placeholder
    for big in (20260102030405, 2 ** 62):
        db.execute(f"INSERT INTO typed (big, words, code, at, ms) VALUES ({p}, {p}, {p}, "
                   f"{p}, {p})", (big, "ünïcode; text", "c1", db.timestamp(moment), 1.25))
    rows = db.query("SELECT id, big, words, code, at, ms FROM typed ORDER BY id")
    assert [r[1] for r in rows] == [20260102030405, 2 ** 62]
    assert rows[0][0] < rows[1][0]  # generated, increasing
    assert rows[0][2:4] == ("ünïcode; text", "c1") and rows[0][5] == 1.25
    assert iso(rows[0][4]) == "2026-01-02T03:04:05.678Z"
    with pytest.raises(DriverError):  # NOT NULL holds
        db.execute("INSERT INTO typed (big, words) VALUES (1, NULL)")


def test_create_table_and_index_can_run_again(db, other):
    columns = [("key", "varchar(64)", "PRIMARY KEY"), ("value", "text", "NOT NULL")]
    for _ in range(2):
        db.execute(db.create_table("own_meta", columns))
        db.execute(db.create_index("own_meta_value", "own_meta", ["value"]))
    assert other.tables_present(["own_meta"]) == {"own_meta"}
    q = db.quote
    db.execute(f"INSERT INTO own_meta ({q('key')}, {q('value')}) VALUES ('a', 'b')")
    with pytest.raises(DriverError):  # the primary key holds
        db.execute(f"INSERT INTO own_meta ({q('key')}, {q('value')}) VALUES ('a', 'c')")


def test_upsert_inserts_then_updates(db, other):
    db.execute(db.create_table("own_kv", [
        ("key", "varchar(64)", "PRIMARY KEY"), ("value", "text", "NOT NULL"),
        ("n", "bigint", None)]))
    statement = db.upsert("own_kv", ["key"], ["key", "value", "n"])
    db.execute(statement, ("dirty", "first", 1))
    db.execute(statement, ("other", "kept", 2))
    db.execute(statement, ("dirty", "second", 3))
    q = db.quote
    assert other.query(f"SELECT {q('key')}, {q('value')}, n FROM own_kv "
                       f"ORDER BY {q('key')}") == [("dirty", "second", 3), ("other", "kept", 2)]
    # in a transaction, rolled back with it
    db.begin()
    db.execute(statement, ("dirty", "third", 4))
    db.rollback()
    assert other.query(f"SELECT {q('value')} FROM own_kv WHERE {q('key')} = 'dirty'") == [
        ("second",)]


def test_columns_lists_a_table_s_columns_and_nothing_for_a_missing_one(engine, db):
    db.execute(db.create_table("described", [("id", "id", None), ("label", "varchar(255)",
                                                                   None)]))
    db.begin()
    try:
        columns = db.columns("described")
        assert set(columns) == {"id", "label"}
        assert "char" in columns["label"] or "text" in columns["label"], columns
        assert db.columns("no_such_table") == {}
        db.execute("INSERT INTO described (label) VALUES ('still in the transaction')")
    finally:
        db.rollback()
