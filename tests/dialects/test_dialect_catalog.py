"""The catalog the pipeline's checks ask (``Dialect.catalog(prefix)``): the user's
tables without ferryman's, exact row counts, metrics, foreign-key and integrity
problems, extensions, privileges, sizes, materialized views, the schema snapshot and
the suggestions; and the facts the safety layer and prechecks read (data_version,
min_server_version)."""

import json

from ferryman.core.history import History
from ferryman.dialects.base import Catalog

PREFIX = "ferryman_"
SOUND = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))",
    "INSERT INTO parent (id, name) VALUES (1, 'one'), (2, 'two')",
    "INSERT INTO child (id, parent_id) VALUES (1, 1), (2, 1), (3, 2), (4, NULL)",
]


def build(db, statements=SOUND):
    for sql in statements:
        db.execute(sql)
    history = History(db, PREFIX)
    db.begin()
    history.prepare(history.read_state())
    history.set_meta("last_backup", json.dumps({"id": "x"}))
    db.commit()


def test_tables_are_the_user_s_sorted_without_ferryman_s(engine, db):
    build(db)
    db.execute(f"CREATE TABLE {db.quote('Mixed Case')} (n INTEGER)")
    db.execute("CREATE TABLE ferrymanxlike (n INTEGER)")  # not the prefix: "_" is no wildcard
    catalog = db.catalog(PREFIX)
    assert isinstance(catalog, Catalog)
    assert catalog.tables() == sorted(["Mixed Case", "child", "ferrymanxlike", "parent"])
    assert db.catalog("app_").tables() == sorted(
        ["Mixed Case", "child", "ferrymanxlike", "parent"] + sorted(
            History(db, PREFIX).table_names().values()))


def test_row_counts_and_metrics_are_exact(db):
    build(db)
    db.execute("CREATE INDEX child_parent_id ON child (parent_id)")
    db.execute(f"CREATE TABLE {db.quote('Mixed Case')} (n INTEGER)")
    db.execute(f"INSERT INTO {db.quote('Mixed Case')} (n) VALUES (1)")
    catalog = db.catalog(PREFIX)
    counts = {t: catalog.row_count(t) for t in catalog.tables()}
    assert counts == {"child": 4, "parent": 2, "Mixed Case": 1}
    metrics = {m["name"]: m for m in catalog.table_metrics()}
    assert set(metrics) == set(counts)
    for name, metric in metrics.items():
        assert metric["rows"] == counts[name]
        assert metric["size_bytes"] is None or metric["size_bytes"] > 0
    assert metrics["child"]["indexes"] >= 1 + metrics["Mixed Case"]["indexes"]


def test_a_sound_database_has_no_problems(db):
    build(db)
    catalog = db.catalog(PREFIX)
    assert catalog.foreign_key_problems() == []
    assert catalog.integrity_problems() == []


def test_rows_referring_to_missing_parents_are_found(engine, db):
    build(db, engine.profile.orphan_rows)
    problems = db.catalog(PREFIX).foreign_key_problems()
    assert len(problems) == 1 and "child" in problems[0] and "parent" in problems[0], problems


def test_suggestions_name_a_foreign_key_without_an_index(engine, db):
    build(db)
    catalog = db.catalog(PREFIX)
    for suggestion in catalog.suggestions():
        assert set(suggestion) >= {"kind", "table", "detail"} and suggestion["detail"]
    unindexed = [s for s in catalog.suggestions() if s["kind"] == "foreign_key_without_index"]
    if engine.profile.foreign_keys_indexed:  # the server made one: child has two indexes
        assert unindexed == []
        metrics = {m["name"]: m for m in catalog.table_metrics()}
        assert metrics["child"]["indexes"] >= 2
        return
    assert [s["table"] for s in unindexed] == ["child"]
    db.execute("CREATE INDEX child_parent_id ON child (parent_id)")
    assert not [s for s in catalog.suggestions() if s["kind"] == "foreign_key_without_index"]


def test_extensions_privileges_and_size(db):
    build(db)
    catalog = db.catalog(PREFIX)
    available = catalog.available_extensions()
    assert isinstance(available, set) and all(isinstance(n, str) for n in available)
    said = catalog.enable_extension("ferryman_no_such_extension")
    assert isinstance(said, str) and said
    assert db.query("SELECT count(*) FROM parent") == [(2,)]  # still usable
    may, line = catalog.can_create()
    assert may is True and isinstance(line, str) and line
    assert catalog.database_size() > 0


def test_materialized_views_are_what_refresh_takes(engine, db):
    for sql in engine.profile.materialized_views:
        db.execute(sql)
    views = db.catalog(PREFIX).materialized_views()
    assert isinstance(views, list)
    assert bool(views) is bool(engine.profile.materialized_views)
    if views:
        statements, _note = db.maintenance_statements("refresh", views)
        assert len(statements) == len(views)


def test_the_schema_snapshot_shows_the_schema_and_follows_it(db):
    build(db)
    db.execute("CREATE INDEX child_parent_id ON child (parent_id)")
    catalog = db.catalog(PREFIX)
    first = catalog.schema_snapshot()
    assert isinstance(first, str)
    for name in ("parent", "child", "parent_id", "child_parent_id", "name"):
        assert name in first, name
    assert catalog.schema_snapshot() == first  # the same schema, the same text
    db.execute("INSERT INTO parent (id, name) VALUES (3, 'data is not schema')")
    assert catalog.schema_snapshot() == first
    db.execute("ALTER TABLE parent ADD COLUMN nickname TEXT")
    changed = catalog.schema_snapshot()
    assert changed != first and "nickname" in changed


def test_data_version_changes_when_another_connection_writes(db, other):
    build(db)
    first = db.data_version()
    if first is None:
        assert db.data_version() is None  # the engine cannot tell, consistently
        return
    assert db.data_version() == first  # nothing happened
    other.execute("INSERT INTO parent (id, name) VALUES (9, 'elsewhere')")
    assert db.data_version() != first


def test_the_server_is_at_least_the_oldest_supported(engine, db):
    minimum = engine.dialect.min_server_version
    if minimum is None:
        return
    as_tuple = [int(part) for part in str(minimum).split(".")]
    assert [int(part) for part in db.server_version().split(".")][:len(as_tuple)] >= as_tuple
