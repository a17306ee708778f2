"""The unified pipeline on real databases: phases, strategies, checks, reports."""

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from helpers import ROOT, _pg_conninfo, query, run_chromium, tables

from ferryman import Migrator
from ferryman.errors import BlockedError, MigrationError
from ferryman.pipeline import PHASES
from ferryman.pipeline.checks import CheckFailed

CORE = {
    "0001_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
                         "INSERT INTO users (id, name) VALUES (1, 'lin'), (2, 'ana');",
    "0001_users.down.sql": "DROP TABLE users;",
    "0002_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY, "
                           "sender_id INTEGER NOT NULL REFERENCES users (id), body TEXT);\n"
                           "INSERT INTO letters (id, sender_id, body) VALUES (1, 1, 'hi');",
    "0002_letters.down.sql": "DROP TABLE letters;",
}
EXTENDED = {"0101_museum.up.sql": "CREATE TABLE museum (id INTEGER PRIMARY KEY, "
                                  "letter_id INTEGER REFERENCES letters (id));",
            "0101_museum.down.sql": "DROP TABLE museum;"}
INDEXES = {"0201_idx.up.sql": "CREATE INDEX letters_sender ON letters (sender_id);",
           "0201_idx.down.sql": "DROP INDEX letters_sender;"}
VIEWS = {"R__letter_counts.sql": "DROP VIEW IF EXISTS busy_writers;\n"
                                 "DROP VIEW IF EXISTS letter_counts;\n"
                                 "CREATE VIEW letter_counts AS SELECT sender_id, count(*) AS n "
                                 "FROM letters GROUP BY sender_id;",
         "R__busy_writers.sql": "DROP VIEW IF EXISTS busy_writers;\n"
                                "CREATE VIEW busy_writers AS SELECT sender_id FROM letter_counts "
                                "WHERE n > 0;"}


@pytest.fixture
def project(tmp_path, migrations):
    """A project with every phase folder; returns a function that makes a Migrator."""
    migrations(CORE, "m/core")
    migrations(EXTENDED, "m/extended")
    migrations(INDEXES, "m/indexes")
    migrations({}, "m/constraints")
    migrations(VIEWS, "m/views")
    migrations({"letters_have_senders.sql":
                "SELECT l.id FROM letters l LEFT JOIN users u ON u.id = l.sender_id "
                "WHERE u.id IS NULL;"}, "checks")
    migrations({"views_answer.sql": "SELECT count(*) >= 0 FROM letter_counts;"}, "health")

    def make(url, **options):
        phases = {name: str(tmp_path / "m" / name)
                  for name in ("core", "extended", "indexes", "constraints", "views")}
        options.setdefault("check_queries", str(tmp_path / "checks"))
        options.setdefault("health_queries", str(tmp_path / "health"))
        options.setdefault("reports_dir", str(tmp_path / "reports"))
        options.setdefault("backup_dir", str(tmp_path / "backups"))
        options.setdefault("required_tables", ["users", "letters"])
        return Migrator(url, phases, **options)

    return make


def phase_statuses(result):
    return {p["name"]: p["status"] for p in result.phases}


def test_unified_runs_all_ten_phases_in_order(db_url, project):
    result = project(db_url).migrate("unified")
    assert [p["name"] for p in result.phases] == list(PHASES)
    assert set(phase_statuses(result).values()) == {"ok"}
    assert result.status == "ok" and result.to_version == 201
    assert tables(db_url) == ["letters", "museum", "users"]
    assert query(db_url, "SELECT name FROM ferryman_repeatables ORDER BY name") == [
        ("busy_writers",), ("letter_counts",)]
    report = json.loads(Path(result.report_paths["json"]).read_text())
    assert report["strategy"] == "unified" and report["status"] == "ok"
    assert [p["name"] for p in report["phases"]] == list(PHASES)
    for phase in report["phases"]:
        assert {"name", "status", "duration_ms", "details"} <= set(phase)
        assert phase["duration_ms"] is not None
    assert [m["version"] for m in report["migrations"]] == [1, 2, 101, 201, None, None]
    assert [m["name"] for m in report["migrations"][-2:]] == ["letter_counts", "busy_writers"]
    assert {t["name"] for t in report["metrics"]["after"]["tables"]} >= {"users", "letters"}
    assert report["maintenance_plan"] and report["schema_snapshot"]
    snapshot = Path(result.report_paths["schema"]).read_text()
    assert "letters" in snapshot and "letter_counts" in snapshot
    integrity = next(p for p in report["phases"] if p["name"] == "integrity")
    assert integrity["details"]["check_queries"] == ["letters_have_senders.sql"]


@pytest.mark.parametrize("strategy, applied, phases", [
    ("safe", [1, 2], ["precheck", "backup", "core"]),
    ("extended", [1, 2, 101], ["precheck", "backup", "core", "extended"]),
])
def test_smaller_strategies_run_their_phases_only(db_url, project, strategy, applied, phases):
    migrator = project(db_url)
    result = migrator.migrate(strategy)
    assert [p["name"] for p in result.phases] == phases
    assert [a.version for a in migrator.status().applied] == applied
    assert migrator.status().pending_count > 0  # the other phases wait for their strategy


def test_skip_optimization(sqlite_url, project):
    result = project(sqlite_url).migrate(skip_optimizations=True)
    assert phase_statuses(result)["optimize"] == "skipped"
    assert phase_statuses(result)["validate"] == "ok"


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
def test_dry_run_changes_nothing_and_prints_the_plan(db_url, project, tmp_path):
    result = project(db_url).migrate(dry_run=True)
    assert result.status == "dry_run"
    if db_url.startswith("sqlite"):
        assert not os.path.exists(db_url.split("sqlite:///")[1])
    else:
        assert tables(db_url) == []
        assert query(db_url, "SELECT count(*) FROM pg_tables WHERE tablename LIKE "
                             "'ferryman%'") == [(0,)]
    plan = {p["phase"]: p["steps"] for p in result.plan}
    assert [s.version for s in plan["core"]] == [1, 2]
    assert "CREATE TABLE users" in plan["core"][0].sql[0]
    assert [s.name for s in plan["views"]] == ["letter_counts", "busy_writers"]
    assert not os.path.exists(tmp_path / "backups")


def test_dry_run_through_the_cli_prints_sql_phase_by_phase(cli, sqlite_url, project, tmp_path):
    migrator = project(sqlite_url)
    config = tmp_path / "ferryman.toml"
    config.write_text(
        "[phases]\n" + "".join(f'{name} = "{folder}"\n' for name, folder in
                               migrator.settings.phases.items())
        + f'[database]\nurl = "{sqlite_url}"\n')
    result = cli("migrate", "--config", config, "--dry-run")
    assert result.code == 0, result
    out = result.out
    assert out.index("-- phase core: 2 migrations") < out.index("-- phase extended") < \
        out.index("-- phase indexes")
    assert "CREATE TABLE users" in out and "CREATE VIEW busy_writers" in out
    assert not os.path.exists(sqlite_url.split("sqlite:///")[1])


def test_a_failing_check_query_stops_and_rolls_back(db_url, project, migrations):
    migrations({"no_letters_from_lin.sql": "SELECT id FROM letters WHERE sender_id = 1;"},
               "checks")
    migrator = project(db_url)
    with pytest.raises(MigrationError) as caught:
        migrator.migrate()
    assert caught.value.exit_code == 1
    assert "no_letters_from_lin.sql returned 1 row" in caught.value.message
    assert tables(db_url) == []  # core and extended were rolled back
    assert migrator.status().current_version is None
    report = json.loads(next((Path(migrator.settings.reports_dir)).glob("*.json")).read_text())
    statuses = {p["name"]: p["status"] for p in report["phases"]}
    assert report["status"] == "rolled_back" and statuses["integrity"] == "failed"
    assert statuses["indexes"] == "skipped" and statuses["optimize"] == "skipped"


def test_continue_reports_failed_checks_and_goes_on(db_url, project, migrations):
    migrations({"no_letters_from_lin.sql": "SELECT id FROM letters WHERE sender_id = 1;"},
               "checks")
    migrator = project(db_url, failure_strategy="continue")
    with pytest.raises(CheckFailed) as caught:
        migrator.migrate()
    assert caught.value.exit_code == 3
    result = caught.value.result
    assert result.status == "failed" and phase_statuses(result)["integrity"] == "failed"
    assert phase_statuses(result)["views"] == "ok" and phase_statuses(result)["validate"] == "ok"
    assert migrator.status().current_version == 201  # the migrations stayed


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
def test_an_orphan_row_is_detected(db_url, project, migrations):
    """A row that refers to nothing, written where the foreign key was not enforced."""
    if db_url.startswith("sqlite"):
        orphan = "INSERT INTO museum (id, letter_id) VALUES (1, 999);"  # foreign_keys is off
    else:
        orphan = ("SET LOCAL session_replication_role = replica;\n"  # skips the FK trigger
                  "INSERT INTO museum (id, letter_id) VALUES (1, 999);")
    migrations({**EXTENDED, "0102_orphan.up.sql": orphan}, "m/extended")
    migrator = project(db_url)
    with pytest.raises(MigrationError) as caught:
        migrator.migrate()
    assert "museum" in caught.value.message and "letters" in caught.value.message
    assert tables(db_url) == []


# Built on SQLite's and PostgreSQL's catalogs and SQL (sqlite_master, pg_tables, their
# triggers); MySQL: tests/maintenance/test_mysql_maintenance.py.
@pytest.mark.engines("sqlite", "postgresql")
def test_a_table_that_lost_rows_untouched_is_reported(db_url, project, migrations):
    """letters loses a row through a cascade; no migration of the run names letters."""
    migrator = project(db_url)
    migrator.migrate("safe")
    cascade = ("CREATE TABLE archive (id INTEGER PRIMARY KEY);\n"
               "DELETE FROM users WHERE id = 2;")
    query(db_url, "INSERT INTO letters (id, sender_id, body) VALUES (2, 2, 'gone')")
    if db_url.startswith("sqlite"):
        trigger = ("CREATE TRIGGER users_gone AFTER DELETE ON users BEGIN "
                   "DELETE FROM letters WHERE sender_id = OLD.id; END;")
    else:
        trigger = ("CREATE FUNCTION users_gone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   "DELETE FROM letters WHERE sender_id = OLD.id; RETURN OLD; END $$;\n"
                   "CREATE TRIGGER users_gone BEFORE DELETE ON users FOR EACH ROW "
                   "EXECUTE FUNCTION users_gone();")
    query(db_url, trigger) if db_url.startswith("sqlite") else [query(db_url, s + ";")
                                                                for s in trigger.split(";\n")]
    migrations({**EXTENDED, "0102_cascade.up.sql": cascade}, "m/extended")
    result = project(db_url).migrate("unified")
    assert any("letters lost 1 row" in w for w in result.warnings), result.warnings
    assert not any(w.startswith("users lost") for w in result.warnings)  # it was touched


def test_an_edited_repeatable_view_is_applied_again_with_its_dependents(db_url, project,
                                                                        migrations):
    migrator = project(db_url)
    migrator.migrate()
    assert migrator.migrate().migrations == ()  # nothing changed: nothing re-applied
    migrations({"R__letter_counts.sql": VIEWS["R__letter_counts.sql"].replace(
        "count(*) AS n", "count(*) AS n, max(id) AS last_letter")}, "m/views")
    assert migrator.status().pending_count == 2  # the view and the one built on it
    result = migrator.migrate()
    assert [m["name"] for m in result.migrations] == ["letter_counts", "busy_writers"]
    assert query(db_url, "SELECT sender_id, n, last_letter FROM letter_counts") == [(1, 1, 1)]
    assert query(db_url, "SELECT sender_id FROM busy_writers") == [(1,)]


def test_constraints_are_added_not_valid_then_validated_on_postgresql(pg_url, project,
                                                                      migrations):
    migrations({"0301_check.up.sql": "ALTER TABLE letters ADD CONSTRAINT body_set "
                                     "CHECK (body IS NOT NULL);",
                "0301_check.down.sql": "ALTER TABLE letters DROP CONSTRAINT body_set;"},
               "m/constraints")
    migrator = project(pg_url)
    migrator.migrate()
    assert query(pg_url, "SELECT convalidated FROM pg_constraint WHERE conname = "
                         "'body_set'") == [(True,)]
    report = json.loads(Path(next(iter(sorted(Path(migrator.settings.reports_dir)
                                             .glob("*.json"))))).read_text())
    assert report["status"] == "ok"


def test_a_violating_row_fails_validation_and_rolls_back(pg_url, project, migrations):
    migrations({"0301_check.up.sql": "ALTER TABLE letters ADD CONSTRAINT short_body "
                                     "CHECK (length(body) > 5);",
                "0301_check.down.sql": "ALTER TABLE letters DROP CONSTRAINT short_body;"},
               "m/constraints")
    migrator = project(pg_url)
    with pytest.raises(MigrationError) as caught:
        migrator.migrate()
    assert "VALIDATE CONSTRAINT short_body" in caught.value.statement
    assert caught.value.exit_code == 1
    assert migrator.status().current_version is None and tables(pg_url) == []


def test_indexes_are_built_concurrently_on_postgresql(pg_url, project):
    migrator = project(pg_url)
    result = migrator.migrate(dry_run=True)
    step = next(p for p in result.plan if p["phase"] == "indexes")["steps"][0]
    assert step.sql == ("CREATE INDEX CONCURRENTLY letters_sender ON letters (sender_id)",)
    assert not step.transactional
    migrator.migrate()
    assert query(pg_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = "
                         "'letters_sender'::regclass") == [(True,)]
    plain = project(pg_url, concurrent_indexes=False).migrate(dry_run=True)
    assert plain.plan and all(not p["steps"] for p in plain.plan)  # nothing left to plan


def test_a_failed_concurrent_index_build_is_dropped_and_built_again(pg_url, project):
    """The first build is cancelled while it waits for an old transaction (as a
    statement timeout or a DBA would); it leaves an invalid index, which ferryman drops
    before building once more."""
    import psycopg

    migrator = project(pg_url)
    migrator.migrate("extended")
    blocker = psycopg.connect(_pg_conninfo(pg_url))
    blocker.execute("UPDATE letters SET body = body WHERE id = 1")  # an open writer
    cancelled = []

    def cancel_the_first_build():
        deadline = time.monotonic() + 30
        with psycopg.connect(_pg_conninfo(pg_url), autocommit=True) as admin:
            while time.monotonic() < deadline:
                rows = admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX "
                    "CONCURRENTLY%' AND wait_event_type IS NOT NULL AND pid <> "
                    "pg_backend_pid() AND datname = current_database()").fetchall()
                if rows:
                    admin.execute("SELECT pg_cancel_backend(%s)", (rows[0][0],))
                    cancelled.append(rows[0][0])
                    blocker.rollback()  # the next build has nothing to wait for
                    return
                time.sleep(0.05)

    watcher = threading.Thread(target=cancel_the_first_build)
    watcher.start()
    try:
        events = []
        migrator.consumers.append(events.append)
        migrator.migrate()
    finally:
        watcher.join()
        blocker.close()
    assert cancelled, "the build was never seen waiting"
    assert any("dropped the invalid index" in getattr(e, "text", "") for e in events)
    assert query(pg_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = "
                         "'letters_sender'::regclass") == [(True,)]
    assert not migrator.status().dirty


def test_precheck_refuses_a_server_older_than_required(pg_url, project):
    migrator = project(pg_url, min_server_version="99")
    with pytest.raises(BlockedError) as caught:
        migrator.migrate()
    assert caught.value.exit_code == 4 and "needs 99 or newer" in caught.value.message
    assert tables(pg_url) == []


def test_precheck_refuses_missing_required_extensions(pg_url, project):
    migrator = project(pg_url, required_extensions=["no_such_extension"])
    with pytest.raises(BlockedError) as caught:
        migrator.migrate()
    assert "no_such_extension" in caught.value.message


def test_rollback_mode_undoes_the_last_run(sqlite_url, project):
    migrator = project(sqlite_url)
    migrator.migrate("safe")
    migrator.migrate("extended")
    result = migrator.migrate(rollback_mode=True)
    assert result.status == "rolled_back"
    assert [a.version for a in migrator.status().applied] == [1, 2]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_example_project_migrates_with_the_unified_strategy(engine, request, tmp_path,
                                                                  cli):
    example = tmp_path / "penpal"
    shutil.copytree(os.path.join(ROOT, "examples", "penpal"), example,
                    ignore=shutil.ignore_patterns("*.db*", "backups", "reports"))
    url = request.getfixturevalue("sqlite_url" if engine == "sqlite" else "pg_url")
    result = cli("migrate", "--config", example / "ferryman.toml", "--database-url", url,
                 "--json")
    assert result.code == 0, result
    data = result.json()
    assert data["status"] == "ok" and data["to_version"] == 301
    assert all(p["status"] == "ok" for p in data["phases"])
    names = [m["name"] for m in data["migrations"]]
    assert names[-2:] == ["letter_stats", "museum_overview"] or "monthly_letters" in names
    assert {"letters", "museum_items", "users"} <= set(tables(url))
    # the example's rules hold: an unknown status is refused
    with pytest.raises(Exception):
        query(url, "UPDATE letters SET status = 'lost' WHERE id = 1")
    html = Path(data["report_paths"]["html"])
    dom = run_chromium(tmp_path, "example", "--dump-dom", html.as_uri())
    assert dom.count('class="phase-bar') == 10
    assert dom.count('class="migration-bar') == len(data["migrations"])
