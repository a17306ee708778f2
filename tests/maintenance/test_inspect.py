"""`ferryman inspect`: seed 000's monitoring views (slow queries, table sizes,
connections, locks), read-only, on real databases."""

import os
import sqlite3
import threading
import time

import psycopg
import pytest
from helpers import query, sqlite_path

KEYS = {"database", "slow_queries", "table_sizes", "connections", "locks", "notes"}


def is_pg(url):
    return url.startswith("postgresql")



def inspect(cli, url, *args):
    return cli("inspect", *args, "--database-url", url)


def make_letters(url):
    for sql in ("CREATE TABLE letters (id INTEGER PRIMARY KEY, body TEXT)",
                "CREATE INDEX letters_body ON letters (body)",
                "INSERT INTO letters (id, body) VALUES (1, 'a'), (2, 'b'), (3, 'c')"):
        query(url, sql)
    if is_pg(url):
        query(url, "ANALYZE letters")  # the row estimate


def pg_connect(url, application):
    from ferryman.url import parse_url

    u = parse_url(url)
    return psycopg.connect(host=u.host, port=u.port, user=u.user, dbname=u.database,
                           autocommit=True, application_name=application)


def wait_until(condition, what):
    """Poll ``condition`` (a state another session reaches); fail after a minute."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- the document -------------------------------------------------------------------------
def test_inspect_json_is_one_document_of_the_four_views(cli, db_url):
    make_letters(db_url)
    result = inspect(cli, db_url, "--json")
    assert result.code == 0, result
    data = result.json()
    assert set(data) == KEYS
    assert all(isinstance(note, str) for note in data["notes"])
    sizes = {s["table"].removeprefix("public."): s for s in data["table_sizes"]}
    letters = sizes["letters"]
    assert set(letters) == {"table", "rows", "rows_estimated", "total_bytes", "table_bytes",
                            "indexes_bytes"}
    assert letters["rows"] == 3
    assert data["slow_queries"] is None  # pg_stat_statements is not installed here
    if is_pg(db_url):
        assert letters["rows_estimated"] is True
        assert letters["indexes_bytes"] > 0 and letters["table_bytes"] > 0
        assert letters["total_bytes"] >= letters["table_bytes"] + letters["indexes_bytes"]
        assert isinstance(data["connections"], list) and data["locks"] == []
    elif db_url.startswith("mysql"):  # a small table is counted, not estimated
        assert letters["rows_estimated"] is False and letters["total_bytes"] > 0
        assert isinstance(data["connections"], list) and data["locks"] == []
    else:
        assert letters["rows_estimated"] is False
        assert data["connections"] is None and data["locks"] == []
        assert any("not applicable to SQLite" in n for n in data["notes"])


def test_sqlite_table_sizes_are_pages_times_the_page_size(cli, sqlite_url):
    make_letters(sqlite_url)
    query(sqlite_url, "CREATE TABLE bulk (body TEXT)")
    query(sqlite_url, "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g "
                      "WHERE n < 100) INSERT INTO bulk SELECT printf('%.1000c', 'x') FROM g")
    data = inspect(cli, sqlite_url, "--json").json()
    sizes = {s["table"]: s for s in data["table_sizes"]}
    has_dbstat = query(sqlite_url, "SELECT 1 FROM pragma_compile_options "
                                   "WHERE compile_options = 'ENABLE_DBSTAT_VTAB'")
    if not has_dbstat:
        assert sizes["bulk"]["total_bytes"] is None and sizes["bulk"]["rows"] == 100
        assert any("dbstat" in note for note in data["notes"])
        return
    page_size = query(sqlite_url, "PRAGMA page_size")[0][0]
    pages = query(sqlite_url, "SELECT count(*) FROM dbstat WHERE name = 'bulk'")[0][0]
    assert sizes["bulk"]["table_bytes"] == pages * page_size > 100 * 1000
    assert sizes["bulk"]["indexes_bytes"] == 0
    assert sizes["letters"]["indexes_bytes"] == page_size  # letters_body: one page
    assert data["table_sizes"][0]["table"] == "bulk"  # largest first


def test_inspect_for_people_prints_aligned_tables(cli, db_url):
    make_letters(db_url)
    result = inspect(cli, db_url)
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].startswith("database  ")
    for title in ("slow queries", "table sizes", "connections", "locks"):
        assert any(line.startswith(title) for line in lines), title
    header = next(line for line in lines if line.split()[:2] == ["table", "total"])
    row = next(line for line in lines if "letters" in line and "KiB" in line)
    # aligned: each value starts where its column's header does
    assert row.index("KiB") < header.index("data") < len(row)
    assert header.index("total") == row.index(row.split()[1])


def test_inspect_limit_must_be_positive(cli, db_url):
    result = inspect(cli, db_url, "--limit", "0")
    assert result.code == 2, result
    assert "--limit 0" in result.err


# -- read-only ----------------------------------------------------------------------------
def test_inspect_leaves_a_sqlite_file_byte_for_byte_as_it_was(cli, sqlite_url):
    make_letters(sqlite_url)
    path = sqlite_path(sqlite_url)

    def state():
        with open(path, "rb") as handle:
            return (handle.read(), os.stat(path).st_mtime_ns,
                    sorted(os.listdir(os.path.dirname(path))))

    before = state()
    assert inspect(cli, sqlite_url).code == 0
    assert inspect(cli, sqlite_url, "--json").code == 0
    assert state() == before


def test_inspect_does_not_create_a_sqlite_file(cli, sqlite_url):
    result = inspect(cli, sqlite_url, "--json")
    assert result.code == 0, result
    assert result.json()["table_sizes"] == [] and result.json()["locks"] == []
    assert not os.path.exists(sqlite_path(sqlite_url))


def test_inspect_on_postgresql_writes_nothing(cli, pg_url):
    make_letters(pg_url)

    def state():
        return (query(pg_url, "SELECT relname, relkind FROM pg_class c JOIN pg_namespace n "
                              "ON n.oid = c.relnamespace WHERE nspname = 'public' ORDER BY 1"),
                query(pg_url, "SELECT * FROM letters ORDER BY id"))

    before = state()
    assert inspect(cli, pg_url, "--json").code == 0
    assert inspect(cli, pg_url).code == 0
    assert state() == before


# -- slow queries -------------------------------------------------------------------------
def test_slow_queries_say_how_to_enable_pg_stat_statements(cli, pg_url):
    assert query(pg_url, "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'") == []
    data = inspect(cli, pg_url, "--json").json()
    assert data["slow_queries"] is None
    note = next(n for n in data["notes"] if n.startswith("slow queries"))
    assert "pg_stat_statements is not installed" in note
    assert "shared_preload_libraries" in note and "CREATE EXTENSION pg_stat_statements" in note


def test_slow_queries_are_not_available_on_sqlite(cli, sqlite_url):
    data = inspect(cli, sqlite_url, "--json").json()
    assert data["slow_queries"] is None
    assert any(n.startswith("slow queries: not available on SQLite") for n in data["notes"])


# -- connections --------------------------------------------------------------------------
def test_connections_are_grouped_with_clipped_queries_and_no_password(cli, pg_url, monkeypatch):
    secret = "hunter2-correct-horse"
    monkeypatch.setenv("FERRYMAN_PASSWORD", secret)  # registered: never printed
    others = [pg_connect(pg_url, "penpal-web") for _ in range(2)]
    try:
        for other in others:
            other.execute(f"SELECT '{secret}' AS pw, '{'x' * 400}' AS padding")
        result = inspect(cli, pg_url, "--json")
        people = inspect(cli, pg_url)
    finally:
        for other in others:
            other.close()
    assert result.code == 0, result
    groups = [c for c in result.json()["connections"] if c["application_name"] == "penpal-web"]
    assert len(groups) == 1
    group = groups[0]
    assert (group["state"], group["count"], group["user"]) == ("idle", 2, "postgres")
    assert group["query"].startswith("SELECT '***' AS pw, 'xxx")
    assert len(group["query"]) == 200  # clipped, after the secret was taken out
    assert secret not in result.out and secret not in people.out
    assert "penpal-web" in people.out


# -- locks --------------------------------------------------------------------------------
def test_inspect_shows_who_blocks_whom_on_postgresql(cli, pg_url):
    make_letters(pg_url)
    holder = pg_connect(pg_url, "holder")
    waiter = pg_connect(pg_url, "waiter")
    holder_pid, waiter_pid = holder.info.backend_pid, waiter.info.backend_pid
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE letters IN ACCESS EXCLUSIVE MODE")
    blocked = threading.Thread(target=lambda: waiter.execute("SELECT count(*) FROM letters"))
    blocked.start()
    try:
        wait_until(lambda: query(pg_url, "SELECT count(*) FROM pg_locks WHERE pid = %s "
                                         "AND NOT granted", (waiter_pid,)) == [(1,)],
                   "the waiter to queue behind the holder")
        result = inspect(cli, pg_url, "--json")
        people = inspect(cli, pg_url)
    finally:
        holder.execute("ROLLBACK")
        blocked.join(60)
        holder.close()
        waiter.close()
    assert result.code == 0, result
    locks = result.json()["locks"]
    assert len(locks) == 1
    lock = locks[0]
    assert (lock["blocked_pid"], lock["blocking_pid"]) == (waiter_pid, holder_pid)
    assert (lock["locktype"], lock["mode"], lock["relation"]) == (
        "relation", "AccessShareLock", "letters")
    assert lock["blocked_query"] == "SELECT count(*) FROM letters"
    assert lock["blocking_query"] == "LOCK TABLE letters IN ACCESS EXCLUSIVE MODE"
    assert lock["blocking_state"] == "idle in transaction"
    assert lock["waiting_seconds"] >= 0 and lock["blocking_transaction_seconds"] >= 0
    # inspect never queued behind the lock to size the table: it left that out
    sizes = {s["table"]: s for s in result.json()["table_sizes"]}
    assert sizes["public.letters"]["total_bytes"] is None
    assert any("locks exclusively: public.letters" in n for n in result.json()["notes"])
    locks_section = people.out.split("\nlocks\n", 1)[1]
    assert f"{waiter_pid}" in locks_section and f"{holder_pid}" in locks_section
    assert "AccessShareLock" in locks_section


def test_inspect_sees_a_sqlite_write_lock_and_changes_nothing(cli, sqlite_url):
    make_letters(sqlite_url)
    writer = sqlite3.connect(sqlite_path(sqlite_url), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO letters (id, body) VALUES (4, 'd')")
        locked = inspect(cli, sqlite_url, "--json")
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert locked.code == 0, locked
    assert [lock["lock"] for lock in locked.json()["locks"]] == ["write"]
    assert any("another connection holds the write lock" in n for n in locked.json()["notes"])
    # The writer's transaction was not disturbed: it committed its row.
    assert query(sqlite_url, "SELECT count(*) FROM letters") == [(4,)]
    free = inspect(cli, sqlite_url, "--json").json()
    assert free["locks"] == []
    assert any("no connection holds the write lock" in n for n in free["notes"])


@pytest.mark.parametrize("limit", ["1", "25"])
def test_inspect_accepts_a_limit(cli, db_url, limit):
    result = inspect(cli, db_url, "--limit", limit, "--json")
    assert result.code == 0, result
    assert set(result.json()) == KEYS
