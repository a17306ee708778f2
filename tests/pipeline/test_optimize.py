"""The optimize phase of ``ferryman migrate``: it refreshes materialized views the way
``ferryman maintain refresh`` does, on a real PostgreSQL server."""

import json

from helpers import query

NAMES = {
    "0001_names.up.sql": "CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
                         "CREATE MATERIALIZED VIEW lower_names AS "
                         "SELECT id, lower(name) AS name FROM names;\n"
                         "CREATE UNIQUE INDEX lower_names_name ON lower_names ((lower(name)));",
    "0001_names.down.sql": "DROP MATERIALIZED VIEW lower_names;\nDROP TABLE names;",
    "0002_rows.up.sql": "INSERT INTO names (id, name) VALUES (1, 'Lin'), (2, 'Ana');",
    "0002_rows.down.sql": "DELETE FROM names;",
}


def test_a_view_whose_only_unique_index_is_on_an_expression_is_refreshed(
        cli, pg_url, migrations, tmp_path):
    """REFRESH ... CONCURRENTLY needs a unique index on plain columns: with only an
    expression index the view is refreshed plainly, and the run succeeds."""
    folder = migrations(NAMES)
    result = cli("migrate", "--strategy", "unified", "--database-url", pg_url,
                 "--migrations", folder, "--backup-dir", tmp_path / "backups",
                 "--reports-dir", tmp_path / "reports")
    assert result.code == 0, result
    # The view was created empty, before 0002 inserted the rows: only the refresh
    # of the optimize phase can have filled it.
    assert query(pg_url, "SELECT id, name FROM lower_names ORDER BY id") == [
        (1, "lin"), (2, "ana")]
    report = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    optimize = next(p for p in report["phases"] if p["name"] == "optimize")
    assert optimize["status"] == "ok"
    assert optimize["details"]["refreshed"] == ["lower_names"]
    assert "not CONCURRENTLY" in optimize["details"]["refresh_note"]
