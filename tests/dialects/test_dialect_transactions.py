"""Transactions: begin, commit, rollback, what the driver says is open, whether DDL
really rolls back as ``transactional_ddl`` claims, and which statements must run alone
(``needs_autocommit``), checked against what the engine actually does."""

import pytest

from ferryman.errors import DriverError


def words_of(engine, statement):
    """The words the core classifies a statement by (as compile.py takes them)."""
    (only,) = engine.dialect.split(statement)
    return only.words


def test_commit_publishes_and_rollback_discards(db, other):
    db.execute("CREATE TABLE ledger (n INTEGER)")
    db.begin()
    db.execute("INSERT INTO ledger (n) VALUES (1)")
    assert other.query("SELECT count(*) FROM ledger") == [(0,)]  # not before COMMIT
    db.commit()
    assert other.query("SELECT n FROM ledger") == [(1,)]
    db.begin()
    db.execute("INSERT INTO ledger (n) VALUES (2)")
    db.execute("UPDATE ledger SET n = 10 WHERE n = 1")
    db.rollback()
    assert other.query("SELECT n FROM ledger") == [(1,)]
    assert db.query("SELECT n FROM ledger") == [(1,)]


def test_transaction_open_is_the_driver_s_view(db):
    assert db.transaction_open() is False
    db.begin()
    assert db.transaction_open() is True
    db.commit()
    assert db.transaction_open() is False
    db.begin()
    db.rollback()
    assert db.transaction_open() is False
    # A COMMIT sent as SQL (a Python migration's own) ends the core's transaction.
    db.begin()
    db.execute("COMMIT")
    assert db.transaction_open() is False
    # A BEGIN sent as SQL opens one the core did not begin.
    db.execute("BEGIN")
    assert db.transaction_open() is True
    db.rollback()
    assert db.transaction_open() is False


def test_a_failed_statement_leaves_the_transaction_to_roll_back(db, other):
    db.execute("CREATE TABLE failing (n INTEGER)")
    db.begin()
    db.execute("INSERT INTO failing (n) VALUES (1)")
    with pytest.raises(DriverError):
        db.execute("INSERT INTO no_such_table (n) VALUES (1)")
    assert db.transaction_open() is True
    db.rollback()
    assert db.transaction_open() is False
    assert other.query("SELECT count(*) FROM failing") == [(0,)]
    db.execute("INSERT INTO failing (n) VALUES (2)")  # usable again, in autocommit
    assert other.query("SELECT n FROM failing") == [(2,)]


def test_rollback_without_a_transaction_never_raises(db):
    db.rollback()
    db.rollback()
    assert db.transaction_open() is False
    assert db.query("SELECT 1") == [(1,)]


def test_transactional_ddl_says_what_the_engine_does(engine, db, other):
    """The flag is honest: DDL rolled back is gone exactly when it says so."""
    db.begin()
    db.execute("CREATE TABLE ddl_probe (n INTEGER)")
    db.execute("CREATE INDEX ddl_probe_n ON ddl_probe (n)")
    db.rollback()
    survived = other.tables_present(["ddl_probe"]) == {"ddl_probe"}
    assert isinstance(engine.dialect.transactional_ddl, bool)
    assert survived is (not engine.dialect.transactional_ddl)
    assert db.transactional_ddl is engine.dialect.transactional_ddl


def test_ddl_and_data_commit_together(db, other):
    db.begin()
    db.execute("CREATE TABLE together (n INTEGER)")
    db.execute("INSERT INTO together (n) VALUES (7)")
    db.commit()
    assert other.query("SELECT n FROM together") == [(7,)]


def test_statements_that_need_autocommit_cannot_run_in_a_transaction(engine, db):
    cases = engine.profile.autocommit_only
    assert cases, "the profile names the engine's statements that must run alone"
    for setup, statement, probe in cases:
        fresh = engine.open()
        for sql in setup:
            fresh.execute(sql)
        assert engine.dialect.needs_autocommit(words_of(engine, statement)), statement
        fresh.begin()
        if probe is None:
            with pytest.raises(DriverError):
                fresh.execute(statement)
            fresh.rollback()
        else:
            query, value = probe
            fresh.execute(statement)
            fresh.commit()
            assert fresh.query(query) != value, f"{statement} took effect in a transaction"
        fresh.execute(statement)  # alone, in autocommit, it runs
        if probe is not None:
            assert fresh.query(probe[0]) == probe[1], statement


def test_statements_that_run_in_a_transaction_do_not_claim_autocommit(engine, db):
    for setup, statement in engine.profile.transaction_ok + [
            ([], "CREATE TABLE plain (n INTEGER)"), ([], "SELECT 1")]:
        fresh = engine.open()
        for sql in setup:
            fresh.execute(sql)
        assert not engine.dialect.needs_autocommit(words_of(engine, statement)), statement
        fresh.begin()
        fresh.execute(statement)
        fresh.rollback()
    assert engine.dialect.needs_autocommit(()) is False


def test_adapted_statements_run_as_they_are_classified(engine, db):
    """What adapt() makes of an index migration runs, each statement in a transaction
    or alone as needs_autocommit says (the rewrite keeps its words honest)."""
    text = "CREATE INDEX adapted_a ON adapted (a);\nCREATE UNIQUE INDEX adapted_b ON adapted (b);"
    for phase, options in (("indexes", {}), ("indexes", {"concurrent_indexes": False}),
                           ("core", {})):
        db.execute("CREATE TABLE adapted (a INTEGER, b INTEGER)")
        statements, notes = engine.dialect.adapt(engine.dialect.split(text), phase, options)
        assert isinstance(notes, list)
        assert len(statements) == 2
        for statement in statements:
            if engine.dialect.needs_autocommit(statement.words):
                db.execute(statement.text)
            else:
                db.begin()
                db.execute(statement.text)
                db.commit()
        db.execute("DROP TABLE adapted")  # and its indexes (DROP INDEX is not portable)


def test_a_failed_index_build_leaves_nothing_or_is_recovered(engine, db):
    """A unique index over duplicates fails; whatever it left behind, recover() cleans
    so that the same statement succeeds once the data is fixed."""
    db.execute("CREATE TABLE dupes (a INTEGER)")
    db.execute("INSERT INTO dupes (a) VALUES (1), (1)")
    (statement,), _ = engine.dialect.adapt(
        engine.dialect.split("CREATE UNIQUE INDEX dupes_a ON dupes (a)"), "indexes", {})
    alone = engine.dialect.needs_autocommit(statement.words)
    with pytest.raises(DriverError) as caught:
        if alone:
            db.execute(statement.text)
        else:
            db.begin()
            db.execute(statement.text)
    if not alone:
        db.rollback()
    retry = db.recover(statement.text, caught.value)
    assert retry in (True, False)
    db.execute("DELETE FROM dupes")
    db.execute("INSERT INTO dupes (a) VALUES (1), (2)")
    db.execute(statement.text)
    with pytest.raises(DriverError):
        db.execute("INSERT INTO dupes (a) VALUES (2)")


def test_lock_budget_and_locks_held(engine, db):
    budget = db.lock_budget()
    assert budget is None or (isinstance(budget, int) and budget > 0)
    before = db.locks_held()
    assert isinstance(before, int) and before >= 0
    if budget is not None:
        # an engine with a lock table counts the locks a transaction takes
        db.begin()
        for i in range(5):
            db.execute(f"CREATE TABLE locked_{i} (n INTEGER)")
        assert db.locks_held() > before
        db.rollback()


def test_ready_to_write_changes_nothing_and_may_hold_for_the_run(db, other):
    db.execute("CREATE TABLE ready (n INTEGER)")
    db.ready_to_write(5)
    assert db.transaction_open() is False  # nothing kept without hold
    other.execute("INSERT INTO ready (n) VALUES (1)")  # and nothing blocks a writer
    db.ready_to_write(5, hold=True)
    db.begin()  # the run goes on from there
    db.execute("INSERT INTO ready (n) VALUES (2)")
    db.commit()
    assert db.transaction_open() is False
    assert other.query("SELECT n FROM ready ORDER BY n") == [(1,), (2,)]
    assert db.lock_wait(5, lambda: "done") == "done"


def test_implicit_commit_says_which_statements_end_the_transaction(engine, db, other):
    """A statement implicit_commit() says commits by itself does commit the open
    transaction (MySQL's DDL); a data-only statement never does, so the runner may
    group those with its own record of where a migration stands."""
    db.execute("CREATE TABLE kept (n INTEGER)")
    assert engine.dialect.implicit_commit(words_of(engine, "INSERT INTO kept VALUES (1)")) \
        is False
    ddl = "CREATE TABLE made_inside (n INTEGER)"
    claims = engine.dialect.implicit_commit(words_of(engine, ddl))
    assert claims is (not engine.dialect.transactional_ddl)
    db.begin()
    db.execute("INSERT INTO kept (n) VALUES (1)")
    db.execute(ddl)
    db.execute("INSERT INTO kept (n) VALUES (2)")
    db.rollback()
    # Where the DDL commits by itself it ends the transaction: the first row is
    # committed with it, and the second ran in autocommit after it; elsewhere the
    # rollback takes all three statements back.
    survived = [row[0] for row in other.query("SELECT n FROM kept ORDER BY n")]
    assert survived == ([1, 2] if claims else []), survived


def test_product_names_the_server(db):
    product = db.product()
    assert isinstance(product, str) and product.strip() == product and product
