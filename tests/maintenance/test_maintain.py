"""`ferryman maintain`: seed 000's maintenance plan, on real databases.

Each task runs and has its effect; purge deletes exactly the old rows, in batches; bad
names are exit 2 with nothing deleted; a dry run changes nothing; maintenance takes the
migration lock, so it never runs during a migration.
"""

import os
import threading
from datetime import datetime, timedelta, timezone

import pytest
from helpers import query, sqlite_path

from ferryman.config import load_settings
from ferryman.dialects import connect
from ferryman.errors import ConfigError
from ferryman.url import parse_url

LOCK = "ferryman_"  # the migration lock's name: the default table prefix


def is_pg(url):
    return url.startswith("postgresql")



def run(*statements, url):
    for sql in statements:
        query(url, sql)


def maintain(cli, url, *args):
    return cli("maintain", *args, "--database-url", url)


def file_state(url):
    path = sqlite_path(url)
    with open(path, "rb") as handle:
        return handle.read(), os.stat(path).st_mtime_ns, sorted(os.listdir(os.path.dirname(path)))


# -- soft-deleted rows --------------------------------------------------------------------
NOW = datetime.now(timezone.utc)
OLD_IDS = list(range(1, 26))        # deleted 40 days ago and more
RECENT_IDS = list(range(26, 31))    # deleted 2 days ago
LIVE_IDS = list(range(31, 34))      # not deleted: NULL


def stamp(url, moment, index):
    """A timestamp literal. On SQLite, every form the purge reads: datetime()'s text,
    ISO 8601 with a T and a Z, and Unix seconds."""
    if is_pg(url):
        return f"'{moment.isoformat()}'"
    if url.startswith("mysql"):  # TIMESTAMP reads its session's zone: UTC here, as NOW()
        return f"'{moment:%Y-%m-%d %H:%M:%S}'"
    forms = [f"'{moment:%Y-%m-%d %H:%M:%S}'", f"'{moment:%Y-%m-%dT%H:%M:%S.000Z}'",
             str(int(moment.timestamp()))]
    return forms[index % 3]


def make_letters(url, table="letters", column="deleted_at"):
    """A table of OLD, RECENT and LIVE rows; its name and column quoted as given."""
    kind = "TIMESTAMPTZ" if is_pg(url) else "TIMESTAMP"
    run(f'CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT, {column} {kind})',
        f"CREATE INDEX letters_deleted ON {table} ({column})", url=url)
    values = [f"({i}, 'old', {stamp(url, NOW - timedelta(days=40, minutes=i), i)})"
              for i in OLD_IDS]
    values += [f"({i}, 'recent', {stamp(url, NOW - timedelta(days=2), i)})" for i in RECENT_IDS]
    values += [f"({i}, 'live', NULL)" for i in LIVE_IDS]
    run(f"INSERT INTO {table} (id, body, {column}) VALUES " + ", ".join(values), url=url)


def ids(url, table="letters"):
    return [row[0] for row in query(url, f"SELECT id FROM {table} ORDER BY id")]


# -- analyze, vacuum, reindex, refresh ----------------------------------------------------
def analyzed(url, table="letters"):
    if is_pg(url):
        rows = query(url, "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s",
                     (table,))
        return rows[0][0] is not None
    if not query(url, "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"):
        return False
    return bool(query(url, "SELECT 1 FROM sqlite_stat1 WHERE tbl = ?", (table,)))


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
def test_analyze_refreshes_the_planner_statistics(cli, db_url):
    make_letters(db_url)
    assert not analyzed(db_url)
    result = maintain(cli, db_url, "analyze")
    assert result.code == 0, result
    assert analyzed(db_url)
    assert result.out.startswith("analyze: ") and "ANALYZE" in result.out
    if not is_pg(db_url):
        assert "PRAGMA optimize" in result.out


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
def test_analyze_only_the_tables_named_repeated_or_in_a_comma_list(cli, db_url):
    make_letters(db_url)
    for table in ("stamps", "outbox", "drafts"):  # SQLite's ANALYZE skips empty tables
        run(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)",
            f"INSERT INTO {table} (id) VALUES (1), (2)", url=db_url)
    result = maintain(cli, db_url, "analyze", "--table", "letters,stamps", "--table", "OUTBOX",
                      "--json")
    assert result.code == 0, result
    data = result.json()
    assert data["task"] == "analyze" and data["dry_run"] is False
    assert len(data["statements"]) == 3
    assert all(s["duration_ms"] >= 0 for s in data["statements"])
    assert [analyzed(db_url, t) for t in ("letters", "stamps", "outbox", "drafts")] == [
        True, True, True, False]


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
def test_vacuum(cli, db_url):
    make_letters(db_url)
    if is_pg(db_url):
        result = maintain(cli, db_url, "vacuum")
        assert result.code == 0, result
        assert "VACUUM (ANALYZE)" in result.out
        assert query(db_url, "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL "
                             "FROM pg_stat_user_tables WHERE relname = 'letters'") == [
            (True, True)]
        return
    run("CREATE TABLE bulk (body TEXT)",
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 500) "
        "INSERT INTO bulk SELECT printf('%.2000c', 'x') FROM g", "DELETE FROM bulk", url=db_url)
    assert query(db_url, "PRAGMA freelist_count")[0][0] > 100
    result = maintain(cli, db_url, "vacuum")
    assert result.code == 0, result
    assert query(db_url, "PRAGMA freelist_count") == [(0,)]  # the free pages are gone


def test_vacuum_of_one_sqlite_table_is_bad_input(cli, sqlite_url):
    make_letters(sqlite_url)
    result = maintain(cli, sqlite_url, "vacuum", "--table", "letters")
    assert result.code == 2, result
    assert "whole file" in result.err


def index_files(url):
    """{index: its file}: a rebuilt index is written to a new file."""
    if is_pg(url):
        return dict(query(url, "SELECT c.relname, pg_relation_filenode(c.oid) FROM pg_class c "
                               "JOIN pg_index i ON i.indexrelid = c.oid "
                               "WHERE i.indrelid = 'letters'::regclass"))
    # SQLite rebuilds in place; the file change counter (header bytes 24-27) moves.
    with open(sqlite_path(url), "rb") as handle:
        return {"file change counter": handle.read(28)[24:]}


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
def test_reindex_rebuilds_the_indexes(cli, db_url):
    make_letters(db_url)
    before = index_files(db_url)
    result = maintain(cli, db_url, "reindex", "--json")
    assert result.code == 0, result
    after = index_files(db_url)
    assert after.keys() == before.keys()
    assert all(after[name] != before[name] for name in before)
    statements = [s["sql"] for s in result.json()["statements"]]
    if is_pg(db_url):
        # CONCURRENTLY: the new index is built beside the old one and swapped in, so
        # writes never wait; every index is valid afterwards, none left behind.
        assert statements == ['REINDEX TABLE CONCURRENTLY "public"."letters"']
        assert query(db_url, "SELECT count(*), bool_and(indisvalid) FROM pg_index "
                             "WHERE indrelid = 'letters'::regclass") == [(2, True)]
        assert query(db_url, "SELECT count(*) FROM pg_class WHERE relname LIKE '%ccnew%' "
                             "OR relname LIKE '%ccold%'") == [(0,)]
    else:
        assert statements == ["REINDEX"]
        assert query(db_url, "PRAGMA integrity_check") == [("ok",)]


def test_refresh_refreshes_materialized_views_concurrently_where_it_can(cli, pg_url):
    make_letters(pg_url)
    run("CREATE MATERIALIZED VIEW letter_count AS SELECT count(*) AS n FROM letters",
        "CREATE MATERIALIZED VIEW letter_ids AS SELECT id FROM letters",
        "CREATE UNIQUE INDEX ON letter_ids (id)",
        "CREATE MATERIALIZED VIEW letter_bodies AS SELECT id, body FROM letters WITH NO DATA",
        "CREATE UNIQUE INDEX ON letter_bodies (id)",
        "INSERT INTO letters (id, body) VALUES (100, 'new'), (101, 'new')", url=pg_url)
    result = maintain(cli, pg_url, "refresh", "--json")
    assert result.code == 0, result
    assert [s["sql"] for s in result.json()["statements"]] == [
        'REFRESH MATERIALIZED VIEW "public"."letter_count"',
        'REFRESH MATERIALIZED VIEW CONCURRENTLY "public"."letter_ids"',
        # never populated: CONCURRENTLY would be refused
        'REFRESH MATERIALIZED VIEW "public"."letter_bodies"']
    rows = len(OLD_IDS + RECENT_IDS + LIVE_IDS) + 2
    assert query(pg_url, "SELECT n FROM letter_count") == [(rows,)]
    assert query(pg_url, "SELECT count(*) FROM letter_ids") == [(rows,)]
    assert query(pg_url, "SELECT count(*) FROM letter_bodies") == [(rows,)]


def test_refresh_only_the_views_named(cli, pg_url):
    make_letters(pg_url)
    run("CREATE MATERIALIZED VIEW a_count AS SELECT count(*) AS n FROM letters",
        "CREATE MATERIALIZED VIEW b_count AS SELECT count(*) AS n FROM letters",
        "DELETE FROM letters", url=pg_url)
    result = maintain(cli, pg_url, "refresh", "--table", "b_count")
    assert result.code == 0, result
    assert query(pg_url, "SELECT n FROM b_count") == [(0,)]
    assert query(pg_url, "SELECT n FROM a_count")[0][0] > 0
    assert maintain(cli, pg_url, "refresh", "--table", "letters").code == 2  # not a view


def test_refresh_on_sqlite_says_there_is_nothing_to_refresh(cli, sqlite_url):
    make_letters(sqlite_url)
    result = maintain(cli, sqlite_url, "refresh")
    assert result.code == 0, result
    assert "SQLite has no materialized views" in result.out


# -- purge --------------------------------------------------------------------------------
def test_purge_deletes_exactly_the_old_rows_in_batches(cli, db_url):
    make_letters(db_url)
    result = maintain(cli, db_url, "purge", "--table", "letters", "--column", "deleted_at",
                      "--days", "30", "--batch-size", "10", "--json")
    assert result.code == 0, result
    data = result.json()
    assert data["rows"] == len(OLD_IDS) == 25
    assert data["batches"] == 3  # 10, 10, then 5: fewer than a batch, so the last
    assert data["cutoff"] and data["duration_ms"] >= 0
    assert ids(db_url) == RECENT_IDS + LIVE_IDS


def test_purge_reports_the_count_for_people(cli, db_url):
    make_letters(db_url)
    result = maintain(cli, db_url, "purge", "--table", "letters", "--column", "deleted_at")
    assert result.code == 0, result
    assert result.out.startswith("purge: deleted 25 rows in 1 batch ")
    assert ids(db_url) == RECENT_IDS + LIVE_IDS


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
def test_purge_of_names_that_need_quoting(cli, db_url):
    make_letters(db_url, table='"Soft Letters"', column='"Deleted At"')
    result = maintain(cli, db_url, "purge", "--table", "Soft Letters", "--column",
                      "Deleted At", "--batch-size", "7")
    assert result.code == 0, result
    assert ids(db_url, '"Soft Letters"') == RECENT_IDS + LIVE_IDS


def test_purge_dry_run_counts_and_deletes_nothing(cli, db_url):
    make_letters(db_url)
    result = maintain(cli, db_url, "purge", "--table", "letters", "--column", "deleted_at",
                      "--dry-run")
    assert result.code == 0, result
    assert "nothing was changed" in result.out and "would delete 25 rows" in result.out
    assert "DELETE FROM" in result.out
    assert ids(db_url) == OLD_IDS + RECENT_IDS + LIVE_IDS
    data = maintain(cli, db_url, "purge", "--table", "letters", "--column", "deleted_at",
                    "--dry-run", "--json").json()
    assert data["dry_run"] is True and data["rows"] == 25 and data["batches"] == 0
    assert ids(db_url) == OLD_IDS + RECENT_IDS + LIVE_IDS


@pytest.mark.parametrize("table, column, said", [
    ("nosuch", "deleted_at", "no table named 'nosuch'"),
    ("letters", "nosuch", "has no column 'nosuch'"),
    ("letters; DROP TABLE letters", "deleted_at", "no table named"),
    ("letters", "deleted_at; DELETE FROM letters", "has no column"),
    ('letters" WHERE 1=1; --', "deleted_at", "no table named"),
])
def test_purge_of_bad_names_is_exit_2_and_deletes_nothing(cli, db_url, table, column, said):
    make_letters(db_url)
    result = maintain(cli, db_url, "purge", "--table", table, "--column", column)
    assert result.code == 2, result
    assert said in result.err
    assert ids(db_url) == OLD_IDS + RECENT_IDS + LIVE_IDS


def test_purge_by_a_column_that_is_not_a_timestamp_is_exit_2(cli, pg_url):
    make_letters(pg_url)
    result = maintain(cli, pg_url, "purge", "--table", "letters", "--column", "body")
    assert result.code == 2, result
    assert "body of public.letters is text, not a timestamp" in result.err
    assert ids(pg_url) == OLD_IDS + RECENT_IDS + LIVE_IDS


def test_purge_of_a_partitioned_table_deletes_only_old_rows(cli, pg_url):
    # A ctid is unique only within one partition: rows of the other partition at the
    # same ctid must survive unless they are old too.
    run("CREATE TABLE letters (id INTEGER, body TEXT, deleted_at TIMESTAMPTZ) "
        "PARTITION BY RANGE (id)",
        "CREATE TABLE letters_low PARTITION OF letters FOR VALUES FROM (1) TO (100)",
        "CREATE TABLE letters_high PARTITION OF letters FOR VALUES FROM (100) TO (200)",
        "INSERT INTO letters SELECT g, 'old', now() - interval '40 days' "
        "FROM generate_series(1, 20) g",
        "INSERT INTO letters SELECT g, 'recent', now() - interval '1 day' "
        "FROM generate_series(100, 119) g", url=pg_url)
    result = maintain(cli, pg_url, "purge", "--table", "letters", "--column", "deleted_at",
                      "--batch-size", "3", "--json")
    assert result.code == 0, result
    assert result.json()["rows"] == 20
    assert ids(pg_url) == list(range(100, 120))


def test_purge_of_a_sqlite_table_without_rowid(cli, sqlite_url):
    old = (NOW - timedelta(days=90)).strftime("%Y-%m-%d %H:%M:%S")
    run("CREATE TABLE events (kind TEXT, n INTEGER, deleted_at TEXT, PRIMARY KEY (kind, n)) "
        "WITHOUT ROWID",
        "INSERT INTO events VALUES " + ", ".join(
            f"('{k}', {n}, '{old}')" for k in "ab" for n in range(6)),
        "INSERT INTO events VALUES ('a', 99, NULL), ('b', 99, datetime('now'))", url=sqlite_url)
    result = maintain(cli, sqlite_url, "purge", "--table", "events", "--column", "deleted_at",
                      "--batch-size", "5", "--json")
    assert result.code == 0, result
    assert (result.json()["rows"], result.json()["batches"]) == (12, 3)
    assert query(sqlite_url, "SELECT kind, n FROM events ORDER BY 1, 2") == [("a", 99),
                                                                             ("b", 99)]


def test_purge_takes_its_table_column_and_days_from_the_configuration(cli, db_url, tmp_path):
    make_letters(db_url)
    (tmp_path / "ferryman.toml").write_text(
        f'[database]\nurl = "{db_url}"\n'
        '[maintenance]\ntable = "letters"\ncolumn = "deleted_at"\ndays = 1\n')
    result = cli("maintain", "purge")
    assert result.code == 0, result
    assert ids(db_url) == LIVE_IDS  # 1 day: the rows deleted 2 days ago go too


def test_the_maintenance_table_of_the_configuration(tmp_path):
    (tmp_path / "ferryman.toml").write_text(
        '[maintenance]\ntable = "letters"\ncolumn = "deleted_at"\n')
    settings = load_settings(cwd=str(tmp_path), env={})
    assert (settings.purge_table, settings.purge_column, settings.purge_days) == (
        "letters", "deleted_at", 30)
    (tmp_path / "ferryman.toml").write_text('[maintenance]\ntabel = "letters"\n')
    with pytest.raises(ConfigError, match="maintenance.tabel"):
        load_settings(cwd=str(tmp_path), env={})
    env = {"FERRYMAN_PURGE_DAYS": "7"}
    assert load_settings(cwd=str(tmp_path / "nowhere"), env=env).purge_days == 7


@pytest.mark.parametrize("args, said", [
    (["purge"], "purge needs a table and its timestamp column"),
    (["purge", "--table", "letters"], "purge needs a table and its timestamp column"),
    (["purge", "--table", "letters,outbox", "--column", "deleted_at"], "one table at a time"),
    (["purge", "--table", "letters", "--column", "deleted_at", "--days", "0"], "--days 0"),
    (["purge", "--table", "letters", "--column", "deleted_at", "--batch-size", "0"],
     "--batch-size 0"),
    (["analyze", "--days", "3"], "only for `ferryman maintain purge`"),
    (["defragment"], "unknown maintenance task 'defragment'"),
    (["analyze", "--table", "letters,"], "an empty table name"),
    (["analyze", "--table", "nosuch"], "no table named 'nosuch'"),
])
def test_bad_maintenance_requests_are_exit_2(cli, db_url, args, said):
    make_letters(db_url)
    result = maintain(cli, db_url, *args)
    assert result.code == 2, result
    assert said in result.err
    assert ids(db_url) == OLD_IDS + RECENT_IDS + LIVE_IDS


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
# -- dry runs -----------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["analyze", "vacuum", "reindex", "refresh", "purge"])
def test_a_dry_run_prints_the_sql_and_changes_nothing(cli, db_url, task):
    make_letters(db_url)
    extra = ["--table", "letters", "--column", "deleted_at"] if task == "purge" else []
    before = file_state(db_url) if not is_pg(db_url) else None
    result = maintain(cli, db_url, task, *extra, "--dry-run")
    assert result.code == 0, result
    assert result.out.startswith(f"-- dry run of `ferryman maintain {task}`: nothing was "
                                 "changed")
    assert not analyzed(db_url)
    assert ids(db_url) == OLD_IDS + RECENT_IDS + LIVE_IDS
    if before is not None:
        assert file_state(db_url) == before
    expected = {"analyze": "ANALYZE", "vacuum": "VACUUM", "reindex": "REINDEX",
                "purge": "DELETE FROM"}.get(task)
    if expected:
        assert f"\n{expected}" in result.out


# -- the migration lock -------------------------------------------------------------------
def hold_migration_lock(url):
    """Another connection holding the migration lock, as a running migration would."""
    holder = connect(parse_url(url))
    assert holder.try_lock(LOCK)
    return holder


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
def test_maintain_never_runs_while_the_migration_lock_is_held(cli, db_url):
    make_letters(db_url)
    holder = hold_migration_lock(db_url)
    try:
        analyze = maintain(cli, db_url, "analyze", "--lock-timeout", "1s")
        purge = maintain(cli, db_url, "purge", "--table", "letters", "--column", "deleted_at",
                         "--lock-timeout", "1s")
    finally:
        holder.unlock(LOCK)
        holder.close()
    assert analyze.code == 4, analyze
    assert "another ferryman holds the migration lock" in analyze.err
    assert purge.code == 4, purge
    assert not analyzed(db_url)
    assert ids(db_url) == OLD_IDS + RECENT_IDS + LIVE_IDS


def test_maintain_waits_for_the_migration_lock_then_runs(db_url):
    from ferryman import Migrator
    from ferryman.events import LockWaiting

    make_letters(db_url)
    waiting = threading.Event()
    migrator = Migrator(db_url, lock_timeout="5m",
                        on_event=lambda e: isinstance(e, LockWaiting) and waiting.set())
    results = []
    holder = hold_migration_lock(db_url)
    worker = threading.Thread(target=lambda: results.append(
        migrator.maintain("purge", tables="letters", column="deleted_at", batch_size=10)))
    worker.start()
    try:
        assert waiting.wait(60), "maintain never reported waiting for the lock"
        assert ids(db_url) == OLD_IDS + RECENT_IDS + LIVE_IDS  # it waits: nothing deleted
    finally:
        holder.unlock(LOCK)
        holder.close()
    worker.join(120)
    assert results, "maintain did not finish once the lock was released"
    assert (results[0].task, results[0].rows, results[0].batches) == ("purge", 25, 3)
    assert results[0].to_dict()["rows"] == 25
    assert ids(db_url) == RECENT_IDS + LIVE_IDS

