"""Folders whose migrations are not numbered: a name-ordered folder (several files
share a number, some have no title, ``_up.sql`` names) and a Flyway folder (dotted
versions in Flyway's order, U files as the downs, R files). Their versions are names
or Flyway versions everywhere: in the plan, the commands, the JSON and ferryman's
tables (as labels). A database Flyway migrated is adopted, its checksums compared."""

import zlib

import pytest

from helpers import bound_cli, columns, query, run_with_client as apply_with_client, tables

NAMED = {
    "0000_init.up.sql": "CREATE TABLE base (id INTEGER PRIMARY KEY);\n",
    "0000_init.down.sql": "DROP TABLE base;\n",
    "0002_a.up.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);\n",
    "0002_a.down.sql": "DROP TABLE a;\n",
    "0002_b.up.sql": "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id));\n",
    "0002_b.down.sql": "DROP TABLE b;\n",
    "0157.up.sql": "ALTER TABLE b ADD COLUMN note TEXT;\n",
    "0157.down.sql": "ALTER TABLE b DROP COLUMN note;\n",
    "0158_tags_up.sql": "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
    "0158_tags_down.sql": "DROP TABLE tags;\n",
}
NAME_ORDER = ["0000_init", "0002_a", "0002_b", "0157", "0158_tags"]

FLYWAY = {
    "V1__init.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);\n",
    "V1.1__second.sql": "CREATE TABLE b (id INTEGER PRIMARY KEY);\n",
    "V1.9__ninth.sql": "CREATE TABLE c (id INTEGER PRIMARY KEY);\n",
    "V1_10__tenth.sql": "ALTER TABLE c ADD COLUMN note TEXT;\n",
    "U1_10__tenth.sql": "ALTER TABLE c DROP COLUMN note;\n",
    "R__a_view.sql": "CREATE VIEW a_view AS SELECT id FROM a;\n",
}


@pytest.fixture
def named(cli, db_url, migrations, monkeypatch, tmp_path):
    monkeypatch.setenv("FERRYMAN_BACKUP", "false")
    monkeypatch.setenv("FERRYMAN_FORMAT", "name")
    return bound_cli(cli, db_url, migrations(NAMED), tmp_path / "backups")


def test_a_name_ordered_folder_runs_in_name_order_and_round_trips(named):
    status = named("status", "--json").json()
    assert [p["version"] for p in status["pending"]] == NAME_ORDER
    up = named("up")
    assert up.code == 0, up
    history = named("history", "--json").json()
    assert [e["version"] for e in reversed(history)] == NAME_ORDER
    assert named("status", "--json").json()["current_version"] == "0158_tags"
    assert columns(named.url, "b") == ["id", "a_id", "note"]
    assert named("goto", "0002_a").code == 0
    assert sorted(tables(named.url)) == ["a", "base"]
    assert named("goto", "none").code == 0
    assert tables(named.url) == []
    assert named("up").code == 0
    assert sorted(tables(named.url)) == ["a", "b", "base", "tags"]
    # The labels keep the names in ferryman's own table.
    labels = sorted(r[0] for r in query(named.url, "SELECT label FROM ferryman_migrations"))
    assert labels == sorted(f"name:{n}" for n in NAME_ORDER)
    assert named("force", "0002_b").code == 0
    assert [a["version"] for a in named("status", "--json").json()["applied"]] == \
        NAME_ORDER[:3]


def test_the_schema_is_what_the_client_makes_of_the_files_in_name_order(named, db_url, twin):
    assert named("up").code == 0
    for file in sorted(n for n in NAMED if n.endswith("up.sql")):
        apply_with_client(twin, NAMED[file])
    for table in ("base", "a", "b", "tags"):
        assert columns(db_url, table) == columns(twin, table)


def test_a_name_that_is_not_in_the_folder_is_refused(named):
    assert named("up").code == 0
    result = named("goto", "0003_missing")
    assert result.code == 2 and "not a migration of this folder" in result.err, result


def test_without_format_name_the_shared_numbers_are_refused(cli, sqlite_url, migrations):
    folder = migrations(NAMED)
    result = cli("up", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 2, result
    assert "0002_a.up.sql" in result.err and "0002_b.up.sql" in result.err
    assert tables(sqlite_url) == []


@pytest.fixture
def flyway(cli, db_url, migrations, monkeypatch, tmp_path):
    monkeypatch.setenv("FERRYMAN_BACKUP", "false")
    return bound_cli(cli, db_url, migrations(FLYWAY), tmp_path / "backups")


def test_a_flyway_folder_runs_in_flyways_order_with_its_undo(flyway):
    status = flyway("status", "--json").json()
    assert status["format"] == "flyway"
    assert [p["version"] for p in status["pending"]] == ["1", "1.1", "1.9", "1.10", None]
    assert flyway("up").code == 0
    assert columns(flyway.url, "c") == ["id", "note"]
    assert query(flyway.url, "SELECT count(*) FROM a_view") == [(0,)]  # R__ ran last
    assert flyway("status", "--json").json()["current_version"] == "1.10"
    assert flyway("down").code == 0  # U1_10 undoes V1_10
    assert columns(flyway.url, "c") == ["id"]
    refused = flyway("down")  # 1.9 has no undo file
    assert refused.code == 2 and "no down migration for 1.9" in refused.err, refused
    assert flyway("goto", "1.10").code == 0
    assert flyway("goto", "1.9").code == 0 and columns(flyway.url, "c") == ["id"]


def test_flyway_versions_that_compare_equal_are_refused(cli, sqlite_url, migrations):
    folder = migrations({**FLYWAY, "V1.0__again.sql": "SELECT 1;\n"})
    result = cli("validate", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 2, result
    assert "V1__init.sql" in result.err and "V1.0__again.sql" in result.err


def test_flyway_placeholders_are_refused(cli, sqlite_url, migrations):
    folder = migrations({**FLYWAY, "V2__owner.sql": "ALTER TABLE a OWNER TO ${owner};\n"})
    result = cli("validate", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 2 and "V2__owner.sql" in result.err and "${owner}" in result.err


def flyway_crc(text):
    """Flyway's checksum, from its ChecksumCalculator as FORMATS.md describes it."""
    import re

    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    value = zlib.crc32("".join(lines).encode("utf-8"))
    return value - 2**32 if value >= 2**31 else value


MY_FLYWAY = 'CREATE TABLE flyway_schema_history (`installed_rank` INT NOT NULL, `version` VARCHAR(50), `description` VARCHAR(200) NOT NULL, `type` VARCHAR(20) NOT NULL, `script` VARCHAR(1000) NOT NULL, `checksum` INT, `installed_by` VARCHAR(100) NOT NULL, `installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, `execution_time` INT NOT NULL, `success` BOOL NOT NULL, CONSTRAINT `flyway_schema_history_pk` PRIMARY KEY (`installed_rank`)) ENGINE=InnoDB'


def flyway_history(url, rows):
    """flyway_schema_history as Flyway's PostgreSQL and SQLite databases create it."""
    if url.startswith("sqlite"):
        query(url, "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY "
                   "KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type "
                   "VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, "
                   "installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL DEFAULT "
                   "(strftime('%Y-%m-%d %H:%M:%f','now')), execution_time INT NOT NULL, "
                   "success BOOLEAN NOT NULL)")
        mark = "?"
    elif url.startswith("mysql"):  # mysql/createMetaDataTable.sql
        query(url, MY_FLYWAY)
        mark = "%s"
    else:
        query(url, 'CREATE TABLE flyway_schema_history ("installed_rank" INT NOT NULL, '
                   '"version" VARCHAR(50), "description" VARCHAR(200) NOT NULL, "type" '
                   'VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" '
                   'INTEGER, "installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP '
                   'NOT NULL DEFAULT now(), "execution_time" INTEGER NOT NULL, "success" '
                   "BOOLEAN NOT NULL)")
        query(url, 'ALTER TABLE flyway_schema_history ADD CONSTRAINT '
                   '"flyway_schema_history_pk" PRIMARY KEY ("installed_rank")')
        mark = "%s"
    for row in rows:
        query(url, "INSERT INTO flyway_schema_history (installed_rank, version, description, "
                   "type, script, checksum, installed_by, execution_time, success) VALUES "
                   f"({', '.join([mark] * 9)})", row)


def _flyway_applied(url, count, edit=None, success=True):
    rows = []
    for rank, (script, version) in enumerate(
            [("V1__init.sql", "1"), ("V1.1__second.sql", "1.1")][:count], 1):
        apply_with_client(url, FLYWAY[script])
        text = edit if edit and rank == count else FLYWAY[script]
        rows.append((rank, version, script.split("__")[1][:-4], "SQL", script,
                     flyway_crc(text), "flyway", 5, success if rank == count else True))
    flyway_history(url, rows)


def test_a_database_flyway_migrated_is_adopted_and_the_rest_runs(flyway):
    _flyway_applied(flyway.url, 2)
    up = flyway("up")
    assert up.code == 0, up
    assert "adopted Flyway flyway_schema_history" in up.out
    assert "ran 3 migrations" in up.out  # 1.9, 1.10 and the repeatable
    applied = [a["version"] for a in flyway("status", "--json").json()["applied"]]
    assert applied == ["1", "1.1", "1.9", "1.10"]
    labels = {r[0] for r in query(flyway.url, "SELECT label FROM ferryman_migrations")}
    assert "flyway:1.10" in labels


def test_an_edited_file_flyway_applied_is_refused(flyway):
    _flyway_applied(flyway.url, 2, edit="CREATE TABLE b (id BIGINT PRIMARY KEY);\n")
    up = flyway("up")
    assert up.code == 3, up
    assert "V1.1__second.sql" in up.err and "checksum" in up.err
    assert "ferryman_meta" not in tables(flyway.url)


def test_a_failed_flyway_migration_is_refused_with_repair(flyway):
    _flyway_applied(flyway.url, 2, success=False)
    up = flyway("up")
    assert up.code == 3, up
    assert "flyway repair" in up.err
    assert "ferryman_meta" not in tables(flyway.url)


def test_tables_of_schema_2_are_upgraded_with_their_rows(cli, sqlite_url, migrations):
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
                         "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n"})
    args = ("--database-url", sqlite_url, "--migrations", folder, "--no-backup")
    assert cli("up", "--target", "1", *args).code == 0
    # As ferryman 2's tables were: no label columns, schema_version 2.
    for table, column in (("migrations", "label"), ("history", "label"),
                          ("runs", "from_label"), ("runs", "to_label"),
                          ("backups", "migration_label")):
        query(sqlite_url, f"ALTER TABLE ferryman_{table} DROP COLUMN {column}")
    query(sqlite_url, "UPDATE ferryman_meta SET value = '2' WHERE ferryman_meta.key = 'schema_version'")
    status = cli("status", "--json", "--database-url", sqlite_url, "--migrations", folder)
    assert status.json()["current_version"] == 1 and not status.json()["problems"], status
    assert cli("history", "--json", "--database-url", sqlite_url, "--migrations",
               folder).code == 0
    assert cli("up", *args).code == 0
    assert query(sqlite_url, "SELECT value FROM ferryman_meta WHERE key = "
                             "'schema_version'") == [("3",)]
    assert [r[0] for r in query(sqlite_url, "SELECT version FROM ferryman_migrations "
                                            "ORDER BY version")] == [1, 2]
    assert "label" in columns(sqlite_url, "ferryman_migrations")
