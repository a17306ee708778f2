"""Chunked runs on PostgreSQL: the shared lock table, for real.

PostgreSQL keeps every lock a transaction takes until it ends, in one table shared
by the whole server: max_locks_per_transaction × (max_connections +
max_prepared_transactions) slots, and a little slack. The runner commits a chunk
before the run holds half of it (the proactive budget); if the table fills anyway
(SQLSTATE 53200) it rolls the chunk back whole and retries in halves (the reactive
path). These tests disable or shrink the budget, which is ferryman's own policy
(fault injection on ferryman, never a mocked database), and let the real server run
out of lock slots.

Note: while the reactive test holds most of the server's lock table, DDL of other
sessions on the same server can fail with "out of shared memory" for a moment.
"""

import pytest
from helpers import query, tables

from ferryman import Migrator
from ferryman.core.runner import BUDGET_EVERY
from ferryman.dialects.postgresql import PostgreSQLDialect
from ferryman.events import ChunkCommitted, ChunkSplit

pytestmark = pytest.mark.postgresql

LOCKS_PER_MIGRATION = 5  # table, TOAST table, TOAST index, primary key, index


def table_migrations(first, last, fail_at=None):
    """{file: text}: migration v creates table t{v} (a TEXT column, so a TOAST table,
    a primary key and an index); ``fail_at`` gets a statement that cannot run."""
    files = {}
    for v in range(first, last + 1):
        up = (f"CREATE TABLE t{v} (id INTEGER PRIMARY KEY, body TEXT);\n"
              f"CREATE INDEX t{v}_body ON t{v} (body);\n")
        if v == fail_at:
            up += "INSERT INTO no_such_table VALUES (1);\n"
        files[f"{v}_t{v}.up.sql"] = up
        files[f"{v}_t{v}.down.sql"] = f"DROP TABLE t{v};\n"
    return files


def lock_table_slots(url):
    """The slots of the server's shared lock table. The nominal size is
    max_locks_per_transaction × (max_connections + max_prepared_transactions);
    the server sizes it for every backend it may start, background workers too."""
    (slots,) = query(url, "SELECT current_setting('max_locks_per_transaction')::int * "
                          "(current_setting('max_connections')::int + "
                          "current_setting('max_prepared_transactions')::int + "
                          "current_setting('autovacuum_max_workers')::int + 1 + "
                          "current_setting('max_worker_processes')::int + "
                          "current_setting('max_wal_senders')::int)")[0]
    return slots


def user_tables_like_t(url):
    return [name for name in tables(url) if name.startswith("t") and name[1:].isdigit()]


@pytest.mark.slow
@pytest.mark.serial  # fills the server's whole lock table: runs alone, after the others
def test_full_lock_table_rolls_the_chunk_back_and_retries_in_halves(pg_url, migrations,
                                                                    monkeypatch):
    # No proactive budget: the run keeps taking locks until the server refuses one.
    monkeypatch.setattr(PostgreSQLDialect, "lock_budget", lambda self: None)
    slots = lock_table_slots(pg_url)
    # Twice what the table holds (at ~5 locks a migration), so one transaction
    # overflows it even with the server's slack; the retry must fit in halves.
    count = 2 * slots // LOCKS_PER_MIGRATION
    folder = migrations(table_migrations(1, count))
    events = []
    result = Migrator(pg_url, folder, on_event=events.append).up()

    splits = [e for e in events if isinstance(e, ChunkSplit)]
    assert splits, "the run never filled the lock table: the workload is too small"
    assert all(0 < e.size < count for e in splits)
    assert "lock table" in splits[0].reason
    assert any(isinstance(e, ChunkCommitted) for e in events)
    assert len(result.steps) == count and result.to_version == count
    assert [s.version for s in result.steps] == list(range(1, count + 1))
    # Applied exactly once: one state row and one successful 'up' per version.
    assert query(pg_url, "SELECT count(*), count(DISTINCT version), min(version), "
                         "max(version) FROM ferryman_migrations") == [(count, count, 1, count)]
    assert query(pg_url, "SELECT count(*), count(DISTINCT version) FROM ferryman_history "
                         "WHERE direction = 'up' AND outcome = 'ok'") == [(count, count)]
    assert query(pg_url, "SELECT count(*) FROM ferryman_history "
                         "WHERE NOT (direction = 'up' AND outcome = 'ok')") == [(0,)]
    assert query(pg_url, "SELECT outcome, from_version, to_version FROM ferryman_runs") == [
        ("ok", None, count)]
    assert len(user_tables_like_t(pg_url)) == count
    status = Migrator(pg_url, folder).status()
    assert status.current_version == count and not status.dirty and status.pending_count == 0


def test_failure_in_a_chunked_run_undoes_the_committed_chunks(pg_url, migrations, cli,
                                                             monkeypatch):
    # A tiny budget: the runner commits a chunk at every look at the lock table
    # (every BUDGET_EVERY migrations), as it would near the limit of a real server.
    monkeypatch.setattr(PostgreSQLDialect, "lock_budget", lambda self: 1)
    every = BUDGET_EVERY
    folder = migrations(table_migrations(1, 3))
    monkeypatch.setenv("FERRYMAN_DATABASE_URL", pg_url)
    monkeypatch.setenv("FERRYMAN_MIGRATIONS", folder)
    first = cli("up")
    assert first.code == 0, first
    (before_history,) = query(pg_url, "SELECT count(*) FROM ferryman_history")[0]

    # Two chunks commit (4 .. 3 + 2 × every), then 16 more run in the open chunk,
    # then fail_at fails; the migrations after it never run.
    committed = 2 * every
    fail_at = 4 + committed + 16
    last = fail_at + 15
    migrations(table_migrations(4, last, fail_at=fail_at))
    run = cli("up", "--verbose")

    assert run.code == 1, run
    assert run.out.count(f"committed {every} migrations") == 2, run
    assert (f"rolling back {committed} migrations committed earlier in this run"
            in run.out), run
    assert "no_such_table" in run.err and f"{fail_at}_t{fail_at}.up.sql" in run.err, run
    assert f"{committed} migrations undone" in run.err, run
    # The committed chunks were undone through their down migrations, and the open
    # one went with its transaction: the database is where it started.
    assert user_tables_like_t(pg_url) == ["t1", "t2", "t3"]
    assert query(pg_url, "SELECT version FROM ferryman_migrations ORDER BY version") == [
        (1,), (2,), (3,)]
    status = cli("status", "--json")
    assert status.code == 0, status
    data = status.json()
    assert data["current_version"] == 3 and data["dirty"] is False
    assert data["pending_count"] == last - 3
    downs = query(pg_url, "SELECT version FROM ferryman_history WHERE direction = 'down' "
                          "AND outcome = 'ok' ORDER BY id")
    assert [v for (v,) in downs] == list(range(3 + committed, 3, -1))  # newest first
    assert query(pg_url, "SELECT version, direction FROM ferryman_history "
                         "WHERE outcome = 'failed'") == [(fail_at, "up")]
    assert query(pg_url, "SELECT count(*) FROM ferryman_history WHERE version > %s",
                 (3 + committed,)) == [(1,)]  # only the failure: the open chunk left none
    assert query(pg_url, "SELECT outcome FROM ferryman_runs ORDER BY started_at") == [
        ("ok",), ("rolled_back",)]
    (after_history,) = query(pg_url, "SELECT count(*) FROM ferryman_history")[0]
    assert after_history == before_history + committed + committed + 1
