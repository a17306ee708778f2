"""Maintenance, inspect and the pipeline's MySQL parts on the MariaDB server of this
machine: ANALYZE / OPTIMIZE / ALTER ... FORCE through `ferryman maintain`, the indexes
phase building online (ALGORITHM=INPLACE LOCK=NONE) and falling back with a warning
where the server refuses, orphan rows found per foreign key, and the precheck naming
the server."""

import json

from helpers import query

from ferryman import Migrator


def letters(url):
    for sql in ("CREATE TABLE letters (id INT PRIMARY KEY, body TEXT, sent DATETIME)",
                "CREATE INDEX letters_sent ON letters (sent)",
                "INSERT INTO letters VALUES (1, 'a', NOW()), (2, 'b', NOW())"):
        query(url, sql)


def test_maintain_runs_each_task_as_mysql_spells_it(cli, my_url):
    letters(my_url)
    expected = {"analyze": "ANALYZE TABLE `letters`", "vacuum": "OPTIMIZE TABLE `letters`",
                "reindex": "ALTER TABLE `letters` FORCE"}
    for task, sql in expected.items():
        dry = cli("maintain", task, "--table", "letters", "--dry-run", "--database-url",
                  my_url)
        assert dry.code == 0 and sql in dry.out, dry
        done = cli("maintain", task, "--table", "letters", "--database-url", my_url)
        assert done.code == 0, done
    assert query(my_url, "SELECT id FROM letters ORDER BY id") == [(1,), (2,)]
    indexes = query(my_url, "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
                            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'letters'")
    assert {r[0] for r in indexes} == {"PRIMARY", "letters_sent"}
    unknown = cli("maintain", "analyze", "--table", "nosuch", "--database-url", my_url)
    assert unknown.code == 2 and "no table named 'nosuch'" in unknown.err


def test_inspect_reads_sizes_and_sessions(cli, my_url):
    letters(my_url)
    result = cli("inspect", "--json", "--database-url", my_url)
    assert result.code == 0, result
    data = result.json()
    (row,) = [s for s in data["table_sizes"] if s["table"] == "letters"]
    assert row["rows"] == 2 and row["rows_estimated"] is False
    assert isinstance(data["connections"], list)
    assert data["slow_queries"] is None  # performance_schema is off on this MariaDB
    assert any("performance_schema" in note for note in data["notes"])


def test_the_indexes_phase_builds_online_and_falls_back_where_it_cannot(my_url, migrations,
                                                                       tmp_path):
    core = migrations({"0001_docs.up.sql": "CREATE TABLE docs (id INT PRIMARY KEY, "
                                           "title VARCHAR(50), body TEXT);\n"
                                           "INSERT INTO docs VALUES (1, 'x', 'hello');"},
                      "m/core")
    indexes = migrations({"0201_idx.up.sql": "CREATE INDEX docs_title ON docs (title);\n"
                                             "CREATE FULLTEXT INDEX docs_body ON docs (body);"},
                         "m/indexes")
    events = []
    migrator = Migrator(my_url, {"core": core, "indexes": indexes},
                        reports_dir=str(tmp_path / "reports"),
                        backup_dir=str(tmp_path / "backups"), on_event=events.append)
    result = migrator.migrate("unified")
    assert result.status == "ok", result
    report = json.loads(open(result.report_paths["json"], encoding="utf-8").read())
    precheck = next(p for p in report["phases"] if p["name"] == "precheck")
    assert precheck["details"]["server"] == "MariaDB"
    refused = [e.text for e in events if "refused to run it online" in str(
        getattr(e, "text", ""))]
    # the plain index (line 1) was built online; the server refused FULLTEXT (line 2)
    # with LOCK=NONE, so it ran again with the table locked, and said so
    assert len(refused) == 1 and "line 2" in refused[0], refused
    names = {r[0] for r in query(my_url, "SELECT INDEX_NAME FROM information_schema.STATISTICS "
                                         "WHERE TABLE_SCHEMA = DATABASE() AND "
                                         "TABLE_NAME = 'docs'")}
    assert {"docs_title", "docs_body"} <= names


def test_orphan_rows_are_found_per_foreign_key(my_url):
    for sql in ("CREATE TABLE parent (id INT PRIMARY KEY)",
                "CREATE TABLE child (id INT PRIMARY KEY, a INT, b INT, "
                "CONSTRAINT child_parent FOREIGN KEY (a) REFERENCES parent (id))",
                "INSERT INTO parent VALUES (1)"):
        query(my_url, sql)
    from ferryman.dialects import connect
    from ferryman.url import parse_url

    db = connect(parse_url(my_url))
    try:
        db.execute("SET FOREIGN_KEY_CHECKS = 0")
        db.execute("INSERT INTO child VALUES (1, 1, 0), (2, 7, 0), (3, NULL, 0)")
        problems = db.catalog().foreign_key_problems()
    finally:
        db.close()
    assert problems == ["foreign key child_parent: 1 row(s) of child refer to missing rows "
                        "of parent"]
