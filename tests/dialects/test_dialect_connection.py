"""Connecting: autocommit, read-only connections, errors in ferryman's terms, refused
connections that never show a password, the server's version, the redacted name."""

import re
import threading
import uuid

import pytest

from ferryman.core.history import History
from ferryman.dialects import DIALECTS, dialect_class
from ferryman.dialects.base import Dialect
from ferryman.errors import ConnectError, DriverError, FerrymanError
from ferryman.url import parse_url


def test_connect_gives_the_registered_dialect(engine, db):
    assert engine.parsed.dialect in DIALECTS
    assert engine.dialect is dialect_class(engine.parsed.dialect)
    assert isinstance(db, engine.dialect)
    assert isinstance(db, Dialect)
    assert db.name == engine.parsed.dialect
    assert db.url == engine.parsed
    direct = engine.dialect.open(engine.parsed)  # what connect() calls
    try:
        assert type(direct) is type(db) and direct.query("SELECT 1") == [(1,)]
    finally:
        direct.close()


def test_a_new_connection_is_in_autocommit(db, other):
    assert not db.transaction_open()
    db.execute("CREATE TABLE auto (n INTEGER)")
    db.execute(f"INSERT INTO auto (n) VALUES ({db.placeholder})", (5,))
    assert not db.transaction_open()
    # Seen at once by another connection: nothing waits for a COMMIT.
    assert other.query("SELECT n FROM auto") == [(5,)]


def test_parameters_use_the_placeholder(db):
    db.execute("CREATE TABLE params (a INTEGER, b TEXT)")
    p = db.placeholder
    db.execute(f"INSERT INTO params (a, b) VALUES ({p}, {p})", (1, "it's; fine"))
    db.executemany(f"INSERT INTO params (a, b) VALUES ({p}, {p})",
                   [(2, "two"), (3, None)])
    assert db.query(f"SELECT a, b FROM params WHERE a >= {p} ORDER BY a", (1,)) == [
        (1, "it's; fine"), (2, "two"), (3, None)]


def test_readonly_refuses_every_write(engine, db):
    db.execute("CREATE TABLE kept (n INTEGER)")
    db.execute("INSERT INTO kept (n) VALUES (1)")
    reader = engine.open(readonly=True)
    assert reader.query("SELECT n FROM kept") == [(1,)]
    for sql in ("INSERT INTO kept (n) VALUES (2)", "UPDATE kept SET n = 3",
                "DELETE FROM kept", "CREATE TABLE sneaked (n INTEGER)", "DROP TABLE kept"):
        with pytest.raises(DriverError):
            reader.execute(sql)
    # inside a transaction as well
    reader.begin()
    with pytest.raises(DriverError):
        reader.execute("INSERT INTO kept (n) VALUES (4)")
    reader.rollback()
    assert db.query("SELECT n FROM kept") == [(1,)]
    assert db.tables_present(["sneaked"]) == set()


def test_errors_are_translated_with_the_database_s_words(engine, db):
    db.execute("CREATE TABLE uniq (id INTEGER PRIMARY KEY, code TEXT UNIQUE)")
    db.execute("INSERT INTO uniq (id, code) VALUES (1, 'a')")
    states = engine.profile.sqlstates
    cases = [
        (lambda: db.query("SELECT * FROM no_such_table"), "missing_table", "no_such_table"),
        (lambda: db.execute("INSERT INTO uniq (id, code) VALUES (2, 'a')"), "unique", None),
        (lambda: db.execute("SELEC 1"), "syntax", "SELEC"),
        (lambda: db.executemany("INSERT INTO uniq (id, code) VALUES (3, 'a')", [()]),
         "unique", None),
    ]
    for action, kind, word in cases:
        with pytest.raises(DriverError) as caught:
            action()
        error = caught.value
        assert error.sqlstate == states[kind], (kind, error.sqlstate, error.db_message)
        assert error.db_message and (word is None or word in error.db_message), error.db_message
        assert error.missing_table is (kind == "missing_table")
        assert not error.transient and not error.lock_exhausted and not error.connection_lost
        # raise ... from the driver's exception, which translate() recognises
        assert error.__cause__ is not None and not isinstance(error.__cause__, FerrymanError)
        again = db.translate(error.__cause__)
        assert isinstance(again, DriverError) and again.sqlstate == error.sqlstate
    assert db.translate(ValueError("not the driver's")) is None
    # an ordinary error leaves the connection usable
    assert not db.connection_lost()
    assert db.query("SELECT count(*) FROM uniq") == [(1,)]


def test_waiting_for_a_lock_too_long_is_transient(engine, db):
    db.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
    db.execute("INSERT INTO counter (id, n) VALUES (1, 0)")
    db.begin()
    db.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
    waiter = engine.open(table_lock_timeout=0.2)
    with pytest.raises(DriverError) as caught:
        waiter.execute("UPDATE counter SET n = n + 10 WHERE id = 1")
    assert caught.value.transient, caught.value.db_message
    db.commit()
    waiter.execute("UPDATE counter SET n = n + 10 WHERE id = 1")
    assert db.query("SELECT n FROM counter") == [(11,)]


@pytest.mark.parametrize("method", ["execute", "query"])
def test_the_statement_timeout_stops_a_long_statement(engine, method):
    db = engine.open(statement_timeout=0.05)
    outcome = _bounded(lambda: getattr(db, method)(engine.profile.slow_query))
    assert isinstance(outcome, DriverError), outcome
    assert not outcome.connection_lost
    assert db.query("SELECT 1") == [(1,)]


def test_cancel_stops_the_running_statement_from_another_thread(engine, db):
    done = []
    worker = threading.Thread(target=lambda: done.append(_outcome(
        lambda: db.execute(engine.profile.slow_query))), daemon=True)
    worker.start()
    # cancel() is a no-op while nothing runs, so it is repeated until the statement ends
    # (a bound against a hang, not a timing assertion).
    for _ in range(600):
        db.cancel()
        worker.join(0.05)
        if not worker.is_alive():
            break
    assert done and isinstance(done[0], DriverError), done
    assert db.query("SELECT 1") == [(1,)]


def test_a_refused_connection_names_the_database_and_never_the_password(engine):
    in_url, given = f"Url{uuid.uuid4().hex[:10]}", f"Kw{uuid.uuid4().hex[:10]}"
    for url in engine.refused_urls(in_url):
        parsed = parse_url(url)
        with pytest.raises(ConnectError) as caught:
            engine.open(url, password=given, timeout=5)
        error = caught.value
        said = " ".join(str(part) for part in (error, repr(error), error.details(),
                                               error.db_message, error.hint, error.to_dict()))
        assert in_url not in said and given not in said, said
        assert (parsed.database or parsed.path) in str(error), str(error)
        assert error.db_message, "the driver's own message"
        assert error.exit_code == 4


def test_server_version_is_the_engine_s(engine, db):
    version = db.server_version()
    assert re.match(r"^\d+(\.\d+)+$", version), version
    (said,) = db.query(engine.profile.version_query)[0]
    assert str(said).startswith(version), (said, version)


def test_describe_is_redacted(engine):
    secret = f"Pw{uuid.uuid4().hex[:10]}"
    parsed = engine.parsed
    url = engine.profile.with_password(engine.request, engine.url, secret)
    db = engine.open(url)
    assert secret in url and secret not in db.describe() and secret not in repr(db)
    assert (parsed.database or parsed.path) in db.describe()


def test_a_session_ended_by_the_server_is_reported_lost(engine, db, other):
    if not engine.profile.terminate(db, other):
        pytest.skip(f"{engine.name} has no server that could end a session")
    with pytest.raises(DriverError) as caught:
        db.query("SELECT 1")
    assert caught.value.connection_lost and caught.value.transient
    assert db.connection_lost()
    assert other.query("SELECT 1") == [(1,)]


def _outcome(action):
    try:
        return action()
    except Exception as exc:  # the outcome is what the test asserts on
        return exc


def _bounded(action, limit=120):
    """``action()``'s result or exception, in a thread joined at most ``limit`` seconds
    (a bound against a hang, not a timing assertion)."""
    done = []
    worker = threading.Thread(target=lambda: done.append(_outcome(action)), daemon=True)
    worker.start()
    worker.join(limit)
    assert done, f"still running after {limit}s"
    return done[0]


def test_exists_is_asked_without_creating_anything(engine, db):
    db.execute("CREATE TABLE here (n INTEGER)")
    assert engine.dialect.exists(engine.parsed) is True
    elsewhere = parse_url(engine.another_url("not_made_yet"))
    if engine.dialect.exists(elsewhere):
        return  # a server's database, made by its owner (this suite's fixture)
    # not there yet: a read-only connection reads it as empty and makes nothing
    reader = engine.open(elsewhere, readonly=True)
    assert reader.tables_present(["here"]) == set()
    assert History(reader, "ferryman_").read_state().current_version is None
    reader.close()
    assert engine.dialect.exists(elsewhere) is False
