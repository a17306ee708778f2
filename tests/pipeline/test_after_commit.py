"""A failure after the run's commit (the optimize and validate phases): the migrations
stay, so the run exits 3 (needs a person) and says at which version they committed;
never 4, which says that nothing changed."""

import pytest

from ferryman import Migrator, StateError
from ferryman.errors import CheckFailed

ORDERS = {
    "0001_orders.up.sql": "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT "
                          "NULL, items INTEGER NOT NULL);\n"
                          "INSERT INTO orders (id, total, items) VALUES (1, 10, 0);",
    "0001_orders.down.sql": "DROP TABLE orders;",
    "0002_customers.up.sql": "CREATE TABLE customers (id INTEGER PRIMARY KEY);",
    "0002_customers.down.sql": "DROP TABLE customers;",
}


@pytest.fixture
def project(monkeypatch, tmp_path, migrations):
    """The database and its migrations, for the command: write(extra files, url)."""

    def make(url, files=None, **settings):
        folder = migrations({**ORDERS, **(files or {})})
        monkeypatch.setenv("FERRYMAN_DATABASE_URL", url)
        monkeypatch.setenv("FERRYMAN_MIGRATIONS", folder)
        monkeypatch.setenv("FERRYMAN_REPORTS_DIR", str(tmp_path / "reports"))
        monkeypatch.setenv("FERRYMAN_BACKUP_DIR", str(tmp_path / "backups"))
        for name, value in settings.items():
            monkeypatch.setenv(f"FERRYMAN_{name.upper()}", value)

    return make


def assert_committed(cli, version):
    status = cli("status", "--json").json()
    assert status["current_version"] == version and status["pending_count"] == 0
    assert status["dirty"] is False


def test_a_database_error_in_optimize_after_the_commit_exits_3(cli, project, pg_url):
    """The optimize phase refreshes a materialized view whose query fails on the data
    the migrations wrote: the database's error comes after the commit."""
    project(pg_url, {"0003_prices.up.sql": "CREATE MATERIALIZED VIEW order_prices AS "
                                           "SELECT id, total / items AS price FROM orders "
                                           "WITH NO DATA;",
                     "0003_prices.down.sql": "DROP MATERIALIZED VIEW order_prices;"})
    result = cli("migrate", "--strategy", "unified")
    assert result.code == 3, result
    assert ("the migrations are committed: the database is at version 3; then the "
            "optimize phase failed") in result.err
    assert "division by zero" in result.err
    assert_committed(cli, 3)


def test_an_environment_error_in_validate_after_the_commit_exits_3(cli, project, db_url,
                                                                   tmp_path):
    """A health-queries folder that is not there stops the validate phase with an
    environment error (4 before a run) once the migrations are in."""
    project(db_url, health_queries=str(tmp_path / "no-such-folder"))
    result = cli("migrate", "--strategy", "unified")
    assert result.code == 3, result
    assert ("the migrations are committed: the database is at version 2; then the "
            "validate phase failed") in result.err
    assert "no-such-folder" in result.err
    assert_committed(cli, 2)
    with pytest.raises(StateError) as caught:  # the same through the Python API
        Migrator(db_url, str(tmp_path / "migrations"),
                 health_queries=str(tmp_path / "no-such-folder")).migrate("unified")
    assert caught.value.exit_code == 3 and caught.value.phase == "validate"


def test_a_failed_health_query_after_the_commit_exits_3(cli, project, db_url, migrations):
    health = migrations({"orders_have_items.sql": "SELECT count(*) = 0 FROM orders "
                                                  "WHERE items = 0;"}, "health")
    project(db_url, health_queries=health)
    result = cli("migrate", "--strategy", "unified")
    assert result.code == 3, result
    assert "the database is at version 2; then the validate phase failed" in result.err
    assert "orders_have_items.sql answered" in result.err
    assert_committed(cli, 2)
    migrations({"0003_more.up.sql": "CREATE TABLE more (id INTEGER);"})
    with pytest.raises(CheckFailed) as caught:  # the same through the Python API
        Migrator(db_url, migrations({}), health_queries=health).migrate("unified")
    assert caught.value.exit_code == 3 and caught.value.committed_version == 3
