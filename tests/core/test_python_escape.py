"""A Python migration cannot escape its transaction (issue 8, item 4).

Two classes of escape, each on both engines:
- whatever the migration raises, ``BaseException`` included (``sys.exit(0)``,
  ``KeyboardInterrupt``, a class of the migration's own), fails that migration: rolled
  back, exit code 1, the message naming the file and the exception;
- every way to end or change ferryman's transaction through ``ctx.connection`` (its
  methods, its settings, SQL sent through it or its cursors, ``with connection:``) is
  refused, and the migration fails and rolls back with its table gone. What reaches the
  driver past the guard anyway ends the run truthfully: exit 3, and ``status`` says
  dirty, naming the migration, because its table really is there.
"""

import pytest
from helpers import at_version_1, query, tables

# ferryman's transaction around a Python migration, and the guard against ending it,
# exist where DDL is transactional; on MySQL a Python migration runs in autocommit
# (tests/cli/test_mysql_runs.py).
pytestmark = pytest.mark.engines("sqlite", "postgresql")

ESCAPE = '''\
import sys


class Custom(BaseException):
    pass


def up(ctx):
    ctx.execute("CREATE TABLE escaped (id INTEGER)")
    {body}
'''


def setup(cli, migrations, monkeypatch, db_url, body, header=""):
    at_version_1(db_url, migrations, cli, monkeypatch)
    migrations({"2_escape.py": header + ESCAPE.format(body=body)})


def assert_where_it_started(cli, db_url, result):
    """Exit 1, rolled back: the table is gone, version 1, clean, 2 still pending."""
    assert result.code == 1, result
    assert "2_escape.py" in result.err, result
    assert "the database is where it started, at version 1" in result.err, result
    assert tables(db_url) == ["base"], result
    status = cli("status", "--json").json()
    assert status["current_version"] == 1 and status["dirty"] is False, status
    assert [p["version"] for p in status["pending"]] == [2]
    assert query(db_url, "SELECT version, outcome FROM ferryman_history "
                         "WHERE version = 2") == [(2, "failed")]


@pytest.mark.parametrize("body, raised", [
    ("sys.exit(0)", "SystemExit: 0"),
    ("sys.exit()", "SystemExit"),
    ("raise SystemExit(3)", "SystemExit: 3"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
    ("raise Custom('mine')", "Custom: mine"),
    ("raise GeneratorExit", "GeneratorExit"),
])
def test_a_base_exception_fails_the_migration(db_url, cli, migrations, monkeypatch, body,
                                              raised):
    setup(cli, migrations, monkeypatch, db_url, body)
    result = cli("up")
    assert f"up() raised {raised}" in result.err, result
    assert_where_it_started(cli, db_url, result)


def test_sys_exit_at_import_fails_the_migration(db_url, cli, migrations, monkeypatch):
    setup(cli, migrations, monkeypatch, db_url, "pass")
    migrations({"2_escape.py": "import sys\nsys.exit(0)\n\ndef up(ctx):\n    pass\n"})
    result = cli("up")
    assert result.code == 1, result
    assert "importing it raised SystemExit" in result.err, result
    assert cli("status", "--json").json()["current_version"] == 1


# Every way to end or change the transaction through ctx.connection; each is refused.
REFUSED = {
    "commit": ("ctx.connection.commit()", "called connection.commit()"),
    "rollback": ("ctx.connection.rollback()", "called connection.rollback()"),
    "close": ("ctx.connection.close()", "called connection.close()"),
    "autocommit": ("ctx.connection.autocommit = True", "set connection.autocommit"),
    "isolation_level": ("ctx.connection.isolation_level = None",
                        "set connection.isolation_level"),
    "with": ("with ctx.connection:\n        pass", "used `with connection:`"),
    "execute COMMIT": ("ctx.connection.execute('COMMIT')", "sent COMMIT as SQL"),
    "ctx.execute END": ("ctx.execute('END')", "sent END as SQL"),
    "cursor ROLLBACK": ("ctx.connection.cursor().execute('ROLLBACK')", "sent ROLLBACK as SQL"),
    "second statement": ("ctx.execute('SELECT 1; COMMIT')", "sent COMMIT as SQL"),
    "comment first": ("ctx.execute('/* x */ commit -- y')", "sent COMMIT as SQL"),
    "begin": ("ctx.execute('BEGIN')", "sent BEGIN as SQL"),
    "cursor.connection": ("ctx.execute('SELECT 1').connection.commit()",
                          "called connection.commit()"),
    "caught and went on": ("try:\n        ctx.connection.commit()\n    except Exception:\n"
                           "        pass", "called connection.commit()"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_ending_the_transaction_is_refused_and_rolled_back(db_url, cli, migrations,
                                                           monkeypatch, case):
    body, said = REFUSED[case]
    setup(cli, migrations, monkeypatch, db_url, body)
    result = cli("up")
    assert f"up() {said}; a migration must not end or change ferryman's transaction" \
        in result.err, result
    assert_where_it_started(cli, db_url, result)


def test_sqlite_executescript_is_refused(sqlite_url, cli, migrations, monkeypatch):
    """sqlite3's executescript() commits first (the sqlite3 docs)."""
    setup(cli, migrations, monkeypatch, sqlite_url,
          "ctx.connection.executescript('CREATE TABLE more (id INTEGER);')")
    result = cli("up")
    assert "called connection.executescript()" in result.err, result
    assert_where_it_started(cli, sqlite_url, result)


def test_a_commit_past_the_guard_leaves_a_truthful_dirty_state(db_url, cli, migrations,
                                                               monkeypatch):
    """A migration that digs out the driver's own connection and commits: nothing can
    roll its table back, so the run must not say it did. Exit 3, and status shows the
    database dirty at migration 2, whose table exists."""
    raw = "object.__getattribute__(ctx.connection, '_connection')"
    setup(cli, migrations, monkeypatch, db_url, f"{raw}.execute('COMMIT')")
    result = cli("up")
    assert result.code == 3, result
    assert "ended ferryman's transaction itself" in result.err, result
    assert "the database is where it started" not in result.err, result
    assert tables(db_url) == ["base", "escaped"]  # the truth the status must tell
    status = cli("status", "--json").json()
    assert status["dirty"] is True, status
    assert status["dirty_details"]["version"] == 2, status
    assert "ended ferryman's transaction itself" in status["dirty_details"]["reason"]
    assert status["current_version"] == 1
    refused = cli("up")
    assert refused.code == 3, refused  # dirty: nothing more runs until a person looks


NO_TX_OWN_TRANSACTION = '''\
# ferryman:no-transaction


def up(ctx):
    ctx.execute("CREATE TABLE batches (id INTEGER)")
    for batch in range(3):
        ctx.execute("BEGIN")
        ctx.execute("INSERT INTO batches VALUES (%d)" % batch)
        ctx.connection.commit()
'''


def test_a_no_transaction_migration_may_commit_its_own_transactions(db_url, cli,
                                                                    migrations, monkeypatch):
    """The guard is about ferryman's transaction: in autocommit a migration may batch its
    work in transactions of its own."""
    setup(cli, migrations, monkeypatch, db_url, "pass")
    migrations({"2_escape.py": NO_TX_OWN_TRANSACTION})
    result = cli("up")
    assert result.code == 0, result
    assert query(db_url, "SELECT count(*) FROM batches") == [(3,)]
    assert cli("status", "--json").json()["current_version"] == 2


def test_a_no_transaction_migration_that_leaves_a_transaction_open_fails(
        db_url, cli, migrations, monkeypatch):
    setup(cli, migrations, monkeypatch, db_url, "ctx.execute('BEGIN')\n"
          "    ctx.execute('INSERT INTO escaped VALUES (1)')",
          header="# ferryman:no-transaction\n")
    result = cli("up")
    assert result.code == 3, result  # stopped part way outside a transaction
    assert "left a transaction open" in result.err, result
    assert query(db_url, "SELECT count(*) FROM escaped") == [(0,)]  # rolled back
    status = cli("status", "--json").json()
    assert status["dirty"] is True and status["dirty_details"]["version"] == 2, status


EVERYDAY = '''\
def up(ctx):
    mark = ctx.paramstyle
    ctx.execute("CREATE TABLE users (id INTEGER, email TEXT)")
    cursor = ctx.connection.cursor()
    cursor.executemany(f"INSERT INTO users VALUES ({mark}, {mark})",
                       [(1, "A@X"), (2, "B@X")])
    rows = [tuple(row) for row in ctx.execute("SELECT id, email FROM users ORDER BY id")]
    assert rows == [(1, "A@X"), (2, "B@X")], rows
    cursor = ctx.connection.cursor()
    cursor.execute("SELECT count(*) FROM users")
    assert cursor.fetchone()[0] == 2
    for user_id, email in ctx.query("SELECT id, email FROM users"):
        ctx.execute(f"UPDATE users SET email = {mark} WHERE id = {mark}",
                    (email.lower(), user_id))
    # Reading the settings is fine; only changing them is refused.
    assert ctx.dialect == "sqlite" or ctx.connection.autocommit in (True, False)
'''


def test_everyday_use_of_the_connection_still_works(db_url, cli, migrations, monkeypatch):
    setup(cli, migrations, monkeypatch, db_url, "pass")
    migrations({"2_escape.py": EVERYDAY})
    result = cli("up")
    assert result.code == 0, result
    assert query(db_url, "SELECT email FROM users ORDER BY id") == [("a@x",), ("b@x",)]
