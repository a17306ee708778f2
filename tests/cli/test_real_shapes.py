"""Folders shaped like real projects' migration folders (nobody here wrote those; the
files below are our own, only the shapes are theirs), run unchanged: the format is
detected or configured, a round trip (up, down to nothing where downs exist, up
again) gives the schema the database's own client gives applying the same files in
the tool's order, and a database the other tool migrated half-way is adopted and
only the rest runs.

Shapes that failed on the real folders are here too, each with the bug it found
(fixed since)."""

import re
import subprocess
import zlib

import pytest
from helpers import bound_cli, query, run_with_client, tables

# Real PostgreSQL and SQLite projects' folders, compared with pg_dump and sqlite3's
# schema: their MySQL cases are not collected (MySQL folders: tests/cli/test_mysql_runs.py).
pytestmark = pytest.mark.engines("sqlite", "postgresql")


# -- helpers --------------------------------------------------------------------------------
_OTHER_TOOLS = ("ferryman", "schema_migrations", "goose_db_version", "flyway_schema_history")


def schema(url):
    """The user's schema as text lines, ferryman's and the other tools' tables left out:
    sqlite_master's SQL, or pg_dump --schema-only without its comments and settings."""
    if url.startswith("sqlite"):
        rows = query(url, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                          "AND name NOT LIKE 'sqlite_%' ORDER BY type, name")
        return [r[0] for r in rows if not any(t in r[0] for t in _OTHER_TOOLS)]
    excluded = [arg for t in _OTHER_TOOLS for arg in ("-T", t + ("*" if t == "ferryman"
                                                                   else ""))]
    dump = subprocess.run(["pg_dump", "--schema-only", "--no-owner", "--no-privileges",
                           *excluded, "-d", url], capture_output=True, text=True, check=True)
    return [line for line in dump.stdout.split("\n")
            if line.strip() and not line.startswith(("--", "SET ", "SELECT pg_catalog", "\\"))]


def on(cli, url, folder, monkeypatch, tmp_path, format=None):
    """``cli`` bound to ``url`` and ``folder``, without backups, in ``format``."""
    monkeypatch.setenv("FERRYMAN_BACKUP", "false")
    if format:
        monkeypatch.setenv("FERRYMAN_FORMAT", format)
    return bound_cli(cli, url, folder, tmp_path / "backups")


def round_trip(run):
    """up, down to nothing, up: each must succeed."""
    for step in (("up",), ("goto", "none"), ("up",)):
        result = run(*step)
        assert result.code == 0, (step, result)


def section(text, start, end):
    """The lines between a line matching ``start`` and one matching ``end``."""
    out, inside = [], False
    for line in text.split("\n"):
        if re.match(start, line, re.I):
            inside = True
        elif re.match(end, line, re.I):
            inside = False
        elif inside:
            out.append(line)
    return "\n".join(out) + "\n"


def golang_migrate_table(url, version):
    """schema_migrations as golang-migrate's postgres / sqlite3 drivers create it, at
    ``version``, clean."""
    if url.startswith("sqlite"):
        run_with_client(url, "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,"
                             "dirty bool);\nCREATE UNIQUE INDEX IF NOT EXISTS version_unique "
                             "ON schema_migrations (version);\n")
    else:
        run_with_client(url, 'CREATE TABLE IF NOT EXISTS "public"."schema_migrations" '
                             "(version bigint not null primary key, dirty boolean not null);\n")
    run_with_client(url, "DELETE FROM schema_migrations;\nINSERT INTO schema_migrations "
                         f"(version, dirty) VALUES ({version}, false);\n")


def goose_table(url, versions):
    """goose_db_version as goose v3 creates it, with its (0, true) row, then a row per
    version applied."""
    if url.startswith("sqlite"):
        run_with_client(url, "CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY "
                             "AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER "
                             "NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')));\n")
    else:
        run_with_client(url, "CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED "
                             "BY DEFAULT AS IDENTITY, version_id bigint NOT NULL, is_applied "
                             "boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now());\n")
    for version in [0, *versions]:
        run_with_client(url, "INSERT INTO goose_db_version (version_id, is_applied) "
                             f"VALUES ({version}, true);\n")


def flyway_crc(text):
    """Flyway's checksum (ChecksumCalculator, as FORMATS.md describes it)."""
    lines = re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff"))
    if lines and lines[-1] == "":
        lines.pop()
    value = zlib.crc32("".join(lines).encode("utf-8"))
    return value - 2**32 if value >= 2**31 else value


def flyway_history(url, rows):
    """flyway_schema_history as Flyway's PostgreSQL and SQLite databases create it;
    ``rows``: (rank, version, description, script, checksum)."""
    if url.startswith("sqlite"):
        ddl = ("CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, "
               "version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT "
               "NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) "
               "NOT NULL, installed_on TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f',"
               "'now')), execution_time INT NOT NULL, success BOOLEAN NOT NULL);\n")
    else:
        ddl = ('CREATE TABLE flyway_schema_history ("installed_rank" INT NOT NULL, "version" '
               'VARCHAR(50), "description" VARCHAR(200) NOT NULL, "type" VARCHAR(20) NOT NULL, '
               '"script" VARCHAR(1000) NOT NULL, "checksum" INTEGER, "installed_by" '
               'VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(), '
               '"execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL);\n'
               'ALTER TABLE flyway_schema_history ADD CONSTRAINT "flyway_schema_history_pk" '
               'PRIMARY KEY ("installed_rank");\nCREATE INDEX "flyway_schema_history_s_idx" '
               'ON flyway_schema_history ("success");\n')
    run_with_client(url, ddl)
    for rank, version, description, script, checksum in rows:
        run_with_client(url, "INSERT INTO flyway_schema_history (installed_rank, version, "
                             "description, type, script, checksum, installed_by, "
                             f"execution_time, success) VALUES ({rank}, '{version}', "
                             f"'{description}', 'SQL', '{script}', {checksum}, 'flyway', 5, "
                             "true);\n")


# -- shapes that work -----------------------------------------------------------------------
# golang-migrate's own postgres example folder: ten-digit versions, up files of comments
# only with no down file, a unique index built CONCURRENTLY (PostgreSQL only).
GM_EXAMPLES = {
    "1100000001_make_people.up.sql": "CREATE TABLE people (id serial PRIMARY KEY, mail text);\n",
    "1100000001_make_people.down.sql": "DROP TABLE IF EXISTS people;\n",
    "1200000002_people_town.up.sql": "ALTER TABLE people ADD COLUMN town text;\n",
    "1200000002_people_town.down.sql": "ALTER TABLE people DROP COLUMN town;\n",
    "1300000003_people_mail_key.up.sql":
        "CREATE UNIQUE INDEX CONCURRENTLY people_mail_key ON people (mail);\n",
    "1300000003_people_mail_key.down.sql": "DROP INDEX CONCURRENTLY people_mail_key;\n",
    "1400000004_only_words.up.sql": "-- nothing to change here\n-- just a note\n",
    "1500000005_more_words.up.sql": "-- another note\n",
    "1600000006_make_pets.up.sql":
        "CREATE TABLE pets (id serial PRIMARY KEY, owner int REFERENCES people (id));\n",
    "1600000006_make_pets.down.sql": "DROP TABLE pets;\n",
}


def test_golang_migrates_example_shape_round_trips_to_the_clients_schema(
        cli, pg_url, pg_twin, migrations, monkeypatch, tmp_path):
    run = on(cli, pg_url, migrations(GM_EXAMPLES), monkeypatch, tmp_path)
    assert run("validate").code == 0
    assert run("status", "--json").json()["pending_count"] == 6
    round_trip(run)
    for name in sorted(n for n in GM_EXAMPLES if n.endswith(".up.sql")):
        run_with_client(pg_twin, GM_EXAMPLES[name])
    assert schema(pg_url) == schema(pg_twin)


# A Rust/Go service's folder that starts at version 0 (000000_init), every version with
# its down file.
ZERO = {
    "000000_init.up.sql": "CREATE TABLE party (id TEXT PRIMARY KEY, size INTEGER NOT NULL);\n",
    "000000_init.down.sql": "DROP TABLE party;\n",
    "000001_owner.up.sql": "CREATE TABLE owner (party TEXT NOT NULL, key TEXT NOT NULL,\n"
                           "  PRIMARY KEY (party, key));\nCREATE INDEX owner_party ON owner "
                           "(party);\n",
    "000001_owner.down.sql": "DROP INDEX owner_party;\nDROP TABLE owner;\n",
    "000002_party_note.up.sql": "ALTER TABLE party ADD COLUMN note TEXT DEFAULT '';\n",
    "000002_party_note.down.sql": "ALTER TABLE party DROP COLUMN note;\n",
    "000003_audit.up.sql": "CREATE TABLE audit (at INTEGER NOT NULL, what TEXT NOT NULL);\n",
    "000003_audit.down.sql": "DROP TABLE audit;\n",
}


def test_a_folder_starting_at_version_0_round_trips_to_the_clients_schema(
        cli, db_url, twin, migrations, monkeypatch, tmp_path):
    run = on(cli, db_url, migrations(ZERO), monkeypatch, tmp_path)
    round_trip(run)
    assert run("status", "--json").json()["applied"][0]["version"] == 0
    for name in sorted(n for n in ZERO if n.endswith(".up.sql")):
        run_with_client(twin, ZERO[name])
    assert schema(db_url) == schema(twin)


def test_golang_migrate_at_version_0_is_adopted_and_the_way_back_empties_its_table(
        cli, db_url, migrations, monkeypatch, tmp_path):
    folder = migrations(ZERO)
    run_with_client(db_url, ZERO["000000_init.up.sql"])
    golang_migrate_table(db_url, 0)
    run = on(cli, db_url, folder, monkeypatch, tmp_path)
    up = run("up")
    assert up.code == 0, up
    assert "version 0, clean" in up.out and "ran 3 migrations" in up.out
    assert query(db_url, "SELECT version FROM schema_migrations") == [(3,)]
    assert run("goto", "0").code == 0
    assert query(db_url, "SELECT version FROM schema_migrations") == [(0,)]
    assert run("goto", "none").code == 0
    assert query(db_url, "SELECT count(*) FROM schema_migrations") == [(0,)]
    assert tables(db_url) == ["schema_migrations"]


# A product's own migrations that alter golang-migrate's table (data_version added by one
# release, dropped by a later one), on a database golang-migrate took to the middle.
ALTERS_STATE = {
    "0001_base.up.sql": "CREATE TABLE project (id INTEGER PRIMARY KEY, name TEXT);\n",
    "0002_tags.up.sql": "CREATE TABLE tag (id INTEGER PRIMARY KEY, label TEXT);\n",
    "0010_release_two.up.sql":
        "ALTER TABLE schema_migrations ADD COLUMN data_version INTEGER;\n"
        "ALTER TABLE project ADD COLUMN owner TEXT;\n",
    "0020_release_three.up.sql":
        "ALTER TABLE schema_migrations DROP COLUMN data_version;\n"
        "CREATE INDEX project_owner ON project (owner);\n",
}


def test_an_adopted_folder_whose_releases_alter_schema_migrations_runs_on(
        cli, db_url, twin, migrations, monkeypatch, tmp_path):
    for name in ("0001_base.up.sql", "0002_tags.up.sql"):
        run_with_client(db_url, ALTERS_STATE[name])
    golang_migrate_table(db_url, 2)
    run = on(cli, db_url, migrations(ALTERS_STATE), monkeypatch, tmp_path)
    up = run("up")
    assert up.code == 0, up
    assert "ran 2 migrations" in up.out
    assert query(db_url, "SELECT version, dirty FROM schema_migrations") in (
        [(20, False)], [(20, 0)])
    golang_migrate_table(twin, 0)
    for name in sorted(ALTERS_STATE):
        run_with_client(twin, ALTERS_STATE[name])
    assert schema(db_url) == schema(twin)


# A large product's name-ordered folder (its runner sorts file names): several files per
# number from 0000 on, {name}_up.sql beside {name}.up.sql, names with no title.
NAMED = {
    "0000_a_extension.up.sql": "CREATE TABLE ext_a (id INTEGER PRIMARY KEY);\n",
    "0000_b_extension.up.sql": "CREATE TABLE ext_b (id INTEGER PRIMARY KEY);\n",
    "0001_create_table_a_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    "0001_create_table_b_spaces.up.sql":
        "CREATE TABLE spaces (id INTEGER PRIMARY KEY, owner INTEGER REFERENCES users (id));\n",
    "0002_index_spaces_owner.up.sql": "CREATE INDEX spaces_owner ON spaces (owner);\n",
    "0002_index_spaces_owner.down.sql": "DROP INDEX spaces_owner;\n",
    "0003_alter_spaces_add_note_up.sql": "ALTER TABLE spaces ADD COLUMN note TEXT;\n",
    "0003_alter_spaces_add_note_down.sql": "ALTER TABLE spaces DROP COLUMN note;\n",
    "0004.up.sql": "CREATE TABLE labels (id INTEGER PRIMARY KEY, name TEXT);\n",
    "0004.down.sql": "DROP TABLE labels;\n",
    "0005.up.sql": "ALTER TABLE labels ADD COLUMN color TEXT;\n",
    "0005.down.sql": "ALTER TABLE labels DROP COLUMN color;\n",
}


def test_a_name_ordered_product_folder_needs_format_name_then_matches_the_client(
        cli, db_url, twin, migrations, monkeypatch, tmp_path):
    folder = migrations(NAMED)
    refused = on(cli, db_url, folder, monkeypatch, tmp_path)("validate")
    assert refused.code == 2 and 'format = "name"' in refused.err
    run = on(cli, db_url, folder, monkeypatch, tmp_path, format="name")
    assert run("up").code == 0
    assert run("status", "--json").json()["current_version"] == "0005"
    assert run("goto", "0002_index_spaces_owner").code == 0
    assert "labels" not in tables(db_url)
    assert run("up").code == 0
    ups = sorted((re.sub(r"(\.up|_up)\.sql$", "", n), n) for n in NAMED
                 if n.endswith(("_up.sql", ".up.sql")))
    for _name, filename in ups:
        run_with_client(twin, NAMED[filename])
    assert schema(db_url) == schema(twin)


# Spring Boot services' Flyway folders: V1__, V1_1__, V1_2__, V1_2_1__, V2.9__, V2.9.1__,
# V2.10__ (Flyway's numeric parts, not text order), hyphens in descriptions.
FLYWAY = {
    "V1__init.sql": "CREATE TABLE event (id INTEGER PRIMARY KEY, kind VARCHAR(20));\n",
    "V1_1__add-channel-lock.sql": "CREATE TABLE channel_lock (id INTEGER PRIMARY KEY);\n",
    "V1_2__scheduled.sql": "ALTER TABLE event ADD COLUMN due VARCHAR(30);\n",
    "V1_2_1__fix-welcome.sql": "UPDATE event SET kind = 'welcome' WHERE kind = 'hello';\n",
    "V2__columns.sql": "ALTER TABLE event ADD COLUMN source VARCHAR(40);\n",
    "V2.9__learners.sql": "CREATE TABLE learner (id INTEGER PRIMARY KEY, uid INTEGER);\n",
    "V2.9.1__learner-uid-text.sql": "CREATE INDEX learner_uid ON learner (uid);\n",
    "V2.10__timestamps.sql": "ALTER TABLE learner ADD COLUMN seen VARCHAR(30);\n",
}
FLYWAY_ORDER = ["V1__init.sql", "V1_1__add-channel-lock.sql", "V1_2__scheduled.sql",
                "V1_2_1__fix-welcome.sql", "V2__columns.sql", "V2.9__learners.sql",
                "V2.9.1__learner-uid-text.sql", "V2.10__timestamps.sql"]


def test_a_flyway_service_folder_runs_in_flyways_order_to_the_clients_schema(
        cli, db_url, twin, migrations, monkeypatch, tmp_path):
    run = on(cli, db_url, migrations(FLYWAY), monkeypatch, tmp_path)
    status = run("status", "--json").json()
    assert status["format"] == "flyway"
    assert [p["version"] for p in status["pending"]] == [
        "1", "1.1", "1.2", "1.2.1", "2", "2.9", "2.9.1", "2.10"]
    assert run("up").code == 0
    for name in FLYWAY_ORDER:
        run_with_client(twin, FLYWAY[name])
    assert schema(db_url) == schema(twin)


def test_a_flyway_service_migrated_half_way_is_adopted_and_the_rest_runs(
        cli, db_url, twin, migrations, monkeypatch, tmp_path):
    rows = []
    for rank, name in enumerate(FLYWAY_ORDER[:5], 1):
        run_with_client(db_url, FLYWAY[name])
        version, description = name[1:-4].split("__")
        rows.append((rank, version.replace("_", "."), description.replace("_", " "), name,
                     flyway_crc(FLYWAY[name])))
    flyway_history(db_url, rows)
    run = on(cli, db_url, migrations(FLYWAY), monkeypatch, tmp_path)
    up = run("up")
    assert up.code == 0, up
    assert "adopted Flyway flyway_schema_history" in up.out and "ran 3 migrations" in up.out
    for name in FLYWAY_ORDER:
        run_with_client(twin, FLYWAY[name])
    assert schema(db_url) == schema(twin)


# goose's own PostgreSQL test data: a type and two tables in one StatementBegin block, a
# PL/pgSQL function whose body says COMMIT, a NO TRANSACTION file with CREATE INDEX
# CONCURRENTLY, lower-case annotations.
GOOSE_PG = {
    "00001_kinds.sql": (
        "-- +goose Up\n-- +goose StatementBegin\n"
        "CREATE TYPE holder_kind AS ENUM ('person', 'team');\n\n"
        "CREATE TABLE holders (holder_id BIGSERIAL PRIMARY KEY, holder_name text NOT NULL,\n"
        "    kind holder_kind NOT NULL);\n"
        "CREATE TABLE boxes (box_id BIGSERIAL PRIMARY KEY,\n"
        "    holder bigint NOT NULL REFERENCES holders (holder_id) ON DELETE CASCADE);\n"
        "-- +goose StatementEnd\n\n"
        "-- +goose Down\n-- +goose StatementBegin\n"
        "DROP TABLE boxes;\nDROP TABLE holders;\nDROP TYPE holder_kind;\n"
        "-- +goose StatementEnd\n"),
    "00002_rows.sql": (
        "-- +goose Up\n"
        "INSERT INTO holders (holder_name, kind) VALUES ('ann', 'person'), ('ops', 'team');\n"
        "INSERT INTO boxes (holder) VALUES (1), (2);\n\n"
        "-- +goose Down\nDELETE FROM holders;\n"),
    "00003_unique_name.sql": (
        "-- +goose NO TRANSACTION\n\n-- +goose Up\n"
        "CREATE UNIQUE INDEX CONCURRENTLY holders_name ON holders (holder_name);\n\n"
        "-- +goose Down\nDROP INDEX IF EXISTS holders_name;\n"),
    "00004_add_box.sql": (
        "-- +goose up\n-- +goose statementbegin\n"
        "CREATE OR REPLACE FUNCTION add_box(p_name text) RETURNS void AS $$\n"
        "DECLARE\n    v_id bigint;\nBEGIN\n"
        "    SELECT holder_id INTO v_id FROM holders WHERE holder_name = p_name;\n"
        "    INSERT INTO boxes (holder) VALUES (v_id);\n"
        "    -- the caller commits\n    COMMIT;\nEND;\n$$ LANGUAGE plpgsql;\n"
        "-- +goose statementend\n\n"
        "-- +goose down\nDROP FUNCTION IF EXISTS add_box(text);\n"),
}


def test_goose_postgres_test_data_shape_is_adopted_half_way_and_round_trips(
        cli, pg_url, migrations, monkeypatch, tmp_path):
    for name in ("00001_kinds.sql", "00002_rows.sql"):
        run_with_client(pg_url, section(GOOSE_PG[name], r"^-- \+goose up",
                                        r"^-- \+goose down"))
    goose_table(pg_url, [1, 2])
    run = on(cli, pg_url, migrations(GOOSE_PG), monkeypatch, tmp_path)
    up = run("up")
    assert up.code == 0, up
    assert "adopted goose goose_db_version" in up.out and "ran 2 migrations" in up.out
    assert query(pg_url, "SELECT count(*) FROM boxes") == [(2,)]
    assert query(pg_url, "SELECT proname FROM pg_proc WHERE proname = 'add_box'") == [
        ("add_box",)]
    round_trip(run)
    assert sorted(tables(pg_url)) == ["boxes", "goose_db_version", "holders"]


# -- shapes that failed on real folders: each was a bug, fixed since --------------------
# Found on a real folder (fixed): a fresh database never gets golang-migrate's
# schema_migrations, even with format = golang-migrate and keep_foreign_state = true,
# so a folder whose migration alters it (a container registry's 0030) fails with
# 'relation schema_migrations does not exist' and the hint 'fix 0030'; history.prepare
# keeps a foreign table only when one was adopted
def test_a_fresh_database_gets_schema_migrations_when_keep_foreign_state_is_set(
        cli, db_url, migrations, monkeypatch, tmp_path):
    monkeypatch.setenv("FERRYMAN_KEEP_FOREIGN_STATE", "true")
    run = on(cli, db_url, migrations(ALTERS_STATE), monkeypatch, tmp_path,
             format="golang-migrate")
    up = run("up")
    assert up.code == 0, up
    assert query(db_url, "SELECT version, dirty FROM schema_migrations") in (
        [(20, False)], [(20, 0)])


# Found on a real folder (fixed): a golang-migrate up file named N_title.up..sql (a
# media organiser ships 30_..._autotag.up..sql; golang-migrate reads its extension as
# '.sql' and runs it) is refused, and the hint advises format = goose or dbmate for the
# whole folder
def test_a_golang_migrate_up_file_with_a_doubled_dot_before_sql_runs(
        cli, sqlite_url, migrations, monkeypatch, tmp_path):
    folder = migrations({
        "1_scenes.up.sql": "CREATE TABLE scenes (id INTEGER PRIMARY KEY);\n",
        "2_scene_flag.up..sql": "ALTER TABLE scenes ADD COLUMN flag INTEGER DEFAULT 0;\n",
        "3_tags.up.sql": "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
    })
    run = on(cli, sqlite_url, folder, monkeypatch, tmp_path)
    result = run("up")
    assert result.code == 0, result
    assert "goose" not in result.err
    assert query(sqlite_url, "SELECT name FROM pragma_table_info('scenes')") == [
        ("id",), ("flag",)]


# Found on a real folder (fixed): the 'down migration without an up migration' problem
# names a wrong file to add: in a name-ordered folder the title twice (0003_b_b.up.sql)
# and 'golang-migrate runs such a version'; in a zero-padded folder the padding lost
# (1_init.up.sql for 0000000000001_init.down.sql); source._down_problems builds it from
# version and title
def test_a_down_file_without_its_up_file_names_the_up_file_it_lacks(
        cli, sqlite_url, migrations, monkeypatch, tmp_path):
    named = migrations({"0001_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
                        "0003_b.down.sql": "DROP TABLE b;\n"}, folder="named")
    result = on(cli, sqlite_url, named, monkeypatch, tmp_path, format="name")("validate")
    assert result.code == 2
    assert "0003_b.up.sql" in result.err and "0003_b_b" not in result.err
    assert "golang-migrate" not in result.err
    padded = migrations({"0000000000001_init.down.sql": "DROP TABLE x;\n",
                         "0000000000002_init.up.sql": "CREATE TABLE x (id INTEGER);\n"},
                        folder="padded")
    result = on(cli, sqlite_url, padded, monkeypatch, tmp_path)("validate")
    assert result.code == 2
    assert "expected 0000000000001_init.up.sql" in result.err, result


# Found on a real folder (fixed): a goose file whose Up section is empty and which has
# no Down section (goose's own test data, 00004_empty.sql) blocks going down ('no down
# migration for 4'); goose runs it as nothing both ways, and ferryman already treats
# golang-migrate's comment-only up files so; source.Migration.has_down for sectioned
# formats
def test_an_empty_goose_migration_does_not_block_going_down(
        cli, db_url, migrations, monkeypatch, tmp_path):
    folder = migrations({
        "00001_table.sql": "-- +goose Up\nCREATE TABLE t (id INTEGER PRIMARY KEY);\n"
                           "-- +goose Down\nDROP TABLE t;\n",
        "00002_empty.sql": "-- +goose Up\n",
        "00003_other.sql": "-- +goose Up\nCREATE TABLE u (id INTEGER PRIMARY KEY);\n"
                           "-- +goose Down\nDROP TABLE u;\n",
    })
    run = on(cli, db_url, folder, monkeypatch, tmp_path)
    round_trip(run)
    assert tables(db_url) == ["t", "u"]


# Found on a real folder (fixed): going down past a migration without an undo says
# 'write the .down.sql file (or down() in the module)' in Flyway and goose folders,
# where the undo is a U{version}__ file or a '-- +goose Down' section (plan.py)
def test_the_missing_down_hint_speaks_the_folders_format(
        cli, sqlite_url, migrations, monkeypatch, tmp_path):
    flyway = migrations({"V1__init.sql": "CREATE TABLE a (id INTEGER);\n"}, folder="fly")
    run = on(cli, sqlite_url, flyway, monkeypatch, tmp_path)
    assert run("up").code == 0
    result = run("goto", "none")
    assert result.code == 2
    assert "U1__" in result.err and ".down.sql" not in result.err, result
    goose = migrations({"00001_a.sql": "-- +goose Up\nCREATE TABLE g (id INTEGER);\n"},
                       folder="goose")
    run = on(cli, f"sqlite:///{tmp_path / 'g.db'}", goose, monkeypatch, tmp_path)
    assert run("up").code == 0
    result = run("goto", "none")
    assert result.code == 2
    assert "+goose Down" in result.err and ".down.sql" not in result.err, result


# Found on a real folder (fixed): adopting a Flyway history of V1_1__-style files says
# 'version 2.1 ... (…, 1_3, 1_4, 2_1)': two spellings of one version in one message;
# status and history say 1.3
def test_adopting_flyway_names_its_versions_one_way(
        cli, sqlite_url, migrations, monkeypatch, tmp_path):
    files = {"V1_1__init.sql": "CREATE TABLE a (id INTEGER);\n",
             "V1_2__more.sql": "CREATE TABLE b (id INTEGER);\n",
             "V2__last.sql": "CREATE TABLE c (id INTEGER);\n"}
    rows = []
    for rank, name in enumerate(["V1_1__init.sql", "V1_2__more.sql"], 1):
        run_with_client(sqlite_url, files[name])
        version, description = name[1:-4].split("__")
        rows.append((rank, version.replace("_", "."), description, name,
                     flyway_crc(files[name])))
    flyway_history(sqlite_url, rows)
    up = on(cli, sqlite_url, migrations(files), monkeypatch, tmp_path)("up")
    assert up.code == 0, up
    assert "1.1" in up.out and "1_1" not in up.out, up
