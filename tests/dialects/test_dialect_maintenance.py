"""Maintenance and monitoring (``ferryman maintain`` / ``ferryman inspect``): every
task's statements run alone on the engine, names are checked against the catalog, the
purge deletes exactly the old rows in batches, and the read-only views answer in the
shape the CLI prints (rows as dicts, or None and a note)."""

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from ferryman.errors import InputError

TASKS = ("analyze", "vacuum", "reindex", "refresh")


def build(db):
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER)")
    db.execute("CREATE INDEX orders_total ON orders (total)")
    db.execute(f"CREATE TABLE {db.quote('Mixed Case')} (n INTEGER)")
    db.executemany(f"INSERT INTO orders (id, total) VALUES ({db.placeholder}, "
                   f"{db.placeholder})", [(i, i * 10) for i in range(1, 21)])


def run_alone(db, statements):
    for statement in statements:
        db.execute(statement)  # in autocommit, one by one


def test_every_task_for_the_whole_database_runs(engine, db):
    build(db)
    for sql in engine.profile.materialized_views:
        db.execute(sql)
    for task in TASKS:
        statements, note = db.maintenance_statements(task)
        assert isinstance(statements, list) and (note is None or isinstance(note, str))
        assert statements or note, f"{task}: nothing to run and no note saying why"
        run_alone(db, statements)
    assert db.query("SELECT count(*) FROM orders") == [(20,)]


def test_named_tables_are_resolved_through_the_catalog(db):
    build(db)
    for task in ("analyze", "reindex"):
        statements, _ = db.maintenance_statements(task, ["orders", "Mixed Case"])
        assert statements
        run_alone(db, statements)
    for task in ("analyze", "reindex", "vacuum"):
        with pytest.raises(InputError) as caught:
            db.maintenance_statements(task, ["no_such_table"])
        assert "no_such_table" in str(caught.value)
    with pytest.raises(InputError):  # a name is never trusted as SQL
        db.maintenance_statements("analyze", ["orders; DROP TABLE orders"])
    assert db.query("SELECT count(*) FROM orders") == [(20,)]


def test_refresh_refreshes_every_materialized_view(engine, db):
    """Each view refreshes, whatever its indexes: CONCURRENTLY only where the engine
    allows it (a unique index on plain columns, the view populated)."""
    for sql in engine.profile.materialized_views:
        db.execute(sql)
    views = db.catalog().materialized_views()
    statements, note = db.maintenance_statements("refresh")
    assert len(statements) == len(views)
    run_alone(db, statements)
    if not views:
        assert note  # the engine has none, and says so
        return
    with pytest.raises(InputError):
        db.maintenance_statements("refresh", ["no_such_view"])
    named, _ = db.maintenance_statements("refresh", views[:1])
    assert len(named) == 1
    run_alone(db, named)


def test_purge_deletes_exactly_the_old_rows_in_batches(engine, db, other):
    t = engine.dialect.TYPES
    db.execute(f"CREATE TABLE events (id INTEGER PRIMARY KEY, deleted_at {t['timestamp']}, "
               "note TEXT)")
    now = datetime.now(timezone.utc)
    rows = [(i, db.timestamp(now - timedelta(days=100 + i)), "old") for i in range(5)]
    rows += [(10 + i, db.timestamp(now - timedelta(days=i)), "new") for i in range(3)]
    rows += [(20, None, "never deleted")]
    p = db.placeholder
    db.executemany(f"INSERT INTO events (id, deleted_at, note) VALUES ({p}, {p}, {p})", rows)
    target = db.purge_target("events", "deleted_at")
    assert target["column"] == "deleted_at" and "events" in target["table"]
    cutoff = db.purge_cutoff(30)
    assert db.purge_count(target, cutoff) == 5
    deleted = []
    while True:
        db.begin()
        count = db.purge_batch(target, cutoff, 2)
        db.commit()
        deleted.append(count)
        if count == 0:
            break
    assert deleted == [2, 2, 1, 0]
    assert other.query("SELECT note, count(*) FROM events GROUP BY note ORDER BY note") == [
        ("never deleted", 1), ("new", 3)]
    # a batch rolled back deletes nothing
    old = db.timestamp(now - timedelta(days=400))
    db.execute(f"INSERT INTO events (id, deleted_at, note) VALUES (30, {p}, 'old')", (old,))
    db.begin()
    assert db.purge_batch(target, cutoff, 10) == 1
    db.rollback()
    assert db.purge_count(target, cutoff) == 1


def test_purge_refuses_unknown_names(db):
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, note TEXT)")
    with pytest.raises(InputError):
        db.purge_target("no_such_table", "deleted_at")
    with pytest.raises(InputError):
        db.purge_target("events", "no_such_column")
    with pytest.raises(InputError):
        db.purge_target("events; DROP TABLE events", "note")


def test_table_sizes_list_every_table_with_its_rows(engine, db):
    build(db)
    for statement in db.maintenance_statements("analyze")[0]:
        db.execute(statement)  # so that an engine's estimates are current
    sizes, note = db.table_sizes()
    assert note is None or isinstance(note, str)
    by_name = {entry["table"].rsplit(".", 1)[-1].strip('"'): entry for entry in sizes}
    assert {"orders", "Mixed Case"} <= set(by_name)
    orders = by_name["orders"]
    assert set(orders) >= {"table", "rows", "rows_estimated", "total_bytes", "table_bytes",
                           "indexes_bytes"}
    assert orders["rows"] == 20  # exact, or an estimate just refreshed by analyze
    if orders["total_bytes"] is not None:
        assert orders["total_bytes"] >= orders["table_bytes"] > 0
        assert orders["indexes_bytes"] > 0


def test_the_read_only_views_answer_in_shape(engine, db, other):
    build(db)
    for name, (rows, note) in (("slow_queries", db.slow_queries(5)),
                               ("connections", db.connections()), ("locks", db.locks())):
        assert rows is None or (isinstance(rows, list) and
                                all(isinstance(r, dict) for r in rows)), name
        assert note is None or isinstance(note, str), name
        if rows is None:
            assert note, f"{name}: not available, and a note must say so"
    rows, _ = db.connections()
    if rows is not None:  # the other connection is there
        assert sum(r["count"] for r in rows) >= 1
    rows, _ = db.locks()
    assert rows == [] or rows is None  # nobody waits


def test_locks_show_a_connection_waiting_for_another(engine, db, other):
    build(db)
    db.begin()
    db.execute("UPDATE orders SET total = total + 1 WHERE id = 1")
    waiter = engine.open(table_lock_timeout=60)
    done = []
    worker = threading.Thread(target=lambda: done.append(
        waiter.execute("UPDATE orders SET total = total + 100 WHERE id = 1")), daemon=True)
    worker.start()
    try:
        rows = seen = None
        deadline = time.monotonic() + 60  # a bound against a hang, not a timing assertion
        while time.monotonic() < deadline:
            rows, note = other.locks()
            if rows is None:
                assert note  # the engine cannot tell, and says so
                break
            if rows:
                seen = rows
                break
            # not faster: InnoDB's information_schema tables (MySQL's locks) are
            # refreshed only when no one read them for 0.1 s
            time.sleep(0.25)
        assert rows is None or seen, "locks() never showed the waiting connection"
    finally:
        db.commit()
        worker.join(60)
    assert done == [None]
    assert other.query("SELECT total FROM orders WHERE id = 1") == [(111,)]
