"""kill -9 inside a block of a file that controls its own transactions (issue 10).

The run is the real ``ferryman up`` in its own process, killed while the file's second
``BEGIN; ... COMMIT;`` block sleeps on the server (PostgreSQL: pg_sleep, seen in
pg_stat_activity). The server rolls that block back with the session; the dirty mark,
written only while none of the file's blocks is open, names the block's BEGIN as the
statement the migration stopped at.
"""

import json
import signal
import time

import pytest

from helpers import ferryman_process, query, tables, wait_until

FILE = (
    "BEGIN;\n"                                                   # statement 1
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, plan TEXT);\n"
    "INSERT INTO accounts VALUES (1, NULL);\n"
    "COMMIT;\n"
    "CREATE INDEX CONCURRENTLY accounts_plan ON accounts (plan);\n"
    "BEGIN;\n"                                                   # statement 6, line 6
    "UPDATE accounts SET plan = 'free';\n"
    "SELECT pg_sleep(60);\n"
    "COMMIT;\n"
)


def sleeping(url):
    database = url.rsplit("/", 1)[1]
    return query(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = "
                      "'active' AND query LIKE 'SELECT pg_sleep%%'", (database,))[0][0] > 0


def gone(url, client_pid):
    """Wait until the killed run's backend has ended (the server rolled its transaction
    back); a bound against a hang, not a timing assertion."""
    deadline = time.monotonic() + 60
    while backends_of(url, client_pid):
        if time.monotonic() > deadline:
            pytest.fail("the killed run's backend did not end within 60s")
        time.sleep(0.05)


def backends_of(url, client_pid):
    return query(url, "SELECT pid FROM pg_stat_activity WHERE application_name LIKE %s",
                 (f"ferryman % pid {client_pid}",))


def test_a_kill_inside_the_file_s_block_leaves_it_undone_and_dirty_at_its_begin(
        pg_url, migrations, cli, monkeypatch):
    folder = migrations({"1_accounts.up.sql": FILE})
    for name, value in (("FERRYMAN_DATABASE_URL", pg_url), ("FERRYMAN_MIGRATIONS", folder),
                        ("FERRYMAN_BACKUP", "false")):
        monkeypatch.setenv(name, value)
    proc = ferryman_process("up")
    wait_until(lambda: sleeping(pg_url), "the file's second block to sleep", proc)

    # While the block is open, another host reads the mark at the block's BEGIN.
    during = json.loads(cli("status", "--json").out)
    assert during["dirty"] is True
    assert during["dirty_details"]["statement_index"] == 5

    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    if backends_of(pg_url, proc.pid):  # PostgreSQL < 14 does not notice a dead client
        for (pid,) in backends_of(pg_url, proc.pid):
            query(pg_url, "SELECT pg_terminate_backend(%s)", (pid,))
    gone(pg_url, proc.pid)

    assert tables(pg_url) == ["accounts"]
    assert query(pg_url, "SELECT id, plan FROM accounts") == [(1, None)]  # block undone
    assert query(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'accounts' "
                         "AND indexname = 'accounts_plan'") == [("accounts_plan",)]
    after = json.loads(cli("status", "--json").out)
    assert after["dirty"] is True
    details = after["dirty_details"]
    assert (details["version"], details["statement_index"], details["statements"]) == (1, 5, 9)
    refused = cli("up")
    assert refused.code == 3 and "statement 6 of 9" in refused.err, refused
