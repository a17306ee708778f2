"""The command line's contract (DESIGN.md): commands, --json documents, exit codes,
--dry-run and read-only commands that change nothing, and the two parsers agreeing."""

import json
import os
import re
import sqlite3
import warnings

import pytest
from helpers import ROOT, pg_dsn_params
from helpers import ferryman_tables, query, sqlite_path, tables

from ferryman.cli.fast import parse
from ferryman.cli.spec import COMMANDS
from ferryman.core.compile import check_files
from ferryman.core.source import scan
from ferryman.dialects import dialect_class

USERS = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);",
    "1_users.down.sql": "DROP TABLE users;",
    "2_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY, body TEXT);\n"
                        "INSERT INTO letters (id, body) VALUES (1, 'hello; world');",
    "2_letters.down.sql": "DROP TABLE letters;",
    "3_outbox.up.sql": "CREATE TABLE outbox (id INTEGER PRIMARY KEY);",
    "3_outbox.down.sql": "DROP TABLE outbox;",
}
UNREACHABLE = "postgresql://postgres:unreachable-secret-pw@127.0.0.1:1/x"


@pytest.fixture
def run(cli, db_url, migrations):
    """``run(command, *args)`` against this test's database and a folder of USERS."""
    folder = migrations(USERS)

    def invoke(*args):
        return cli(*args, "--database-url", db_url, "--migrations", folder)

    invoke.folder = folder
    invoke.url = db_url
    return invoke



def snapshot(url):
    """Everything a command could change: for SQLite the file's bytes, its mtime and
    the files beside it; for PostgreSQL every table of public and all its rows."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        folder = sorted(os.listdir(os.path.dirname(path)))
        if not os.path.exists(path):
            return None, folder
        with open(path, "rb") as handle:
            return handle.read(), os.stat(path).st_mtime_ns, folder
    if url.startswith("mysql"):
        names = sorted(tables(url) + ferryman_tables(url))
        return {name: sorted(map(repr, query(url, f"SELECT * FROM `{name}`"))) for name in names}
    names = [r[0] for r in query(url, "SELECT tablename FROM pg_tables "
                                      "WHERE schemaname = 'public' ORDER BY 1")]
    return {name: sorted(map(repr, query(url, f'SELECT * FROM "{name}"'))) for name in names}



def untouched(url):
    """True when ferryman never wrote to this database: for SQLite, not even a file."""
    if url.startswith("sqlite"):
        return not os.path.exists(sqlite_path(url))
    return ferryman_tables(url) == [] and tables(url) == []


def unchanged(url):
    """True when the database holds nothing: no table of ferryman's, none of the user's.
    (An empty SQLite file may exist: see test_exit_2_for_bad_usage_and_nothing_changes.)"""
    if url.startswith("sqlite") and not os.path.exists(sqlite_path(url)):
        return True
    if url.startswith("sqlite"):
        return query(url, "SELECT name FROM sqlite_master") == []
    return ferryman_tables(url) == [] and tables(url) == []


def execute(url, sql):
    """Run one statement through the plain driver (a database made by someone else)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            conn.execute(sql)
        conn.close()
        return
    if url.startswith("mysql"):
        query(url, sql)
        return
    import psycopg

    from ferryman.url import parse_url

    u = parse_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.user, dbname=u.database,
                         autocommit=True) as conn:
        conn.execute(sql)


# -- status -------------------------------------------------------------------------------
def test_status_json_is_the_documented_document(run):
    assert run("up", "--target", "2").code == 0
    result = run("status", "--json")
    assert result.code == 0, result
    data = result.json()
    assert data["current_version"] == 2 and type(data["current_version"]) is int
    assert data["dirty"] is False
    assert data["pending_count"] == 1 and type(data["pending_count"]) is int
    assert data["last_backup"] is None or isinstance(data["last_backup"], str)
    assert [{k: a[k] for k in ("version", "name", "phase")} for a in data["applied"]] == [
        {"version": 1, "name": "users", "phase": "core"},
        {"version": 2, "name": "letters", "phase": "core"}]
    assert [{k: p[k] for k in ("version", "name", "phase")} for p in data["pending"]] == [
        {"version": 3, "name": "outbox", "phase": "core"}]


def test_status_json_of_a_database_never_migrated(run):
    data = run("status", "--json").json()
    assert data["current_version"] is None and data["dirty"] is False
    assert data["pending_count"] == 3 and data["applied"] == []
    assert [p["version"] for p in data["pending"]] == [1, 2, 3]
    assert data["last_backup"] is None


def test_status_for_people(run):
    assert run("up", "--target", "1").code == 0
    result = run("status")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert re.match(r"^database +(sqlite|postgresql|mysql)://", lines[0])
    assert re.search(r"^current version +1 \(users\)$", result.out, re.M)
    assert re.search(r"^dirty +no$", result.out, re.M)
    assert re.search(r"^pending +2: 2 letters, 3 outbox$", result.out, re.M)
    last_backup = run("status", "--json").json()["last_backup"]
    assert re.search(rf"^last backup +{re.escape(last_backup or 'none')}$", result.out, re.M)


# -- exit codes ---------------------------------------------------------------------------
def test_exit_0_when_done_and_when_there_is_nothing_to_do(run):
    first = run("up")
    assert first.code == 0, first
    assert "ran 3 migrations" in first.out
    again = run("up")
    assert again.code == 0, again
    assert "nothing to do" in again.out
    assert run("down", "--to", "0").code == 0
    assert run("down").code == 0  # nothing left to undo: still done


def test_exit_1_when_a_migration_failed_and_was_rolled_back(cli, db_url, migrations):
    folder = migrations({**USERS, "4_broken.up.sql": "CREATE TABLE museum (id INTEGER);\n"
                                                     "INSERT INTO no_such_table VALUES (1);",
                         "4_broken.down.sql": "DROP TABLE museum;"})
    result = cli("up", "--database-url", db_url, "--migrations", folder)
    assert result.code == 1, result
    assert "4_broken.up.sql" in result.err and "no_such_table" in result.err
    # rolled back: the transaction (PostgreSQL, SQLite), or statement 1 undone through
    # 4's down migration (MySQL, where the CREATE TABLE committed by itself)
    assert "rolled back" in result.err or "undone through" in result.err
    assert tables(db_url) == []
    status = cli("status", "--json", "--database-url", db_url, "--migrations", folder).json()
    assert status["current_version"] is None and status["dirty"] is False


@pytest.mark.parametrize("args", [
    ["up", "--no-such-option"],
    ["up", "--target", "soon"],
    ["up", "--transaction", "sometimes"],
    ["goto", "abc"],
    ["goto"],
    ["goto", "-1"],
    ["force", "1", "2"],
    ["down", "--steps", "0"],
    ["down", "--steps", "1", "--to", "0"],
    ["up", "--target", "99"],
    ["goto", "99"],
    ["force", "99"],
    ["status", "--lock-timeout", "whenever"],
    ["nosuchcommand"],
], ids=lambda a: " ".join(a))
def test_exit_2_for_bad_usage_and_nothing_changes(run, args):
    # Usage errors stop before any connection. Errors found while planning (--target 99,
    # --steps 0) are found under the lock, after a read-write open, which leaves an
    # empty SQLite file and its lock file behind: nothing in the database changes.
    result = run(*args)
    assert result.code == 2, result
    assert result.err.strip()
    assert unchanged(run.url)


def test_exit_2_for_a_bad_configuration_file(cli, tmp_path, migrations, db_url):
    migrations(USERS)
    (tmp_path / "ferryman.toml").write_text(
        f'migrations = "migrations"\nlock_timeout = "10m"\nretriez = 3\n'
        f'[database]\nurl = "{db_url}"\n')
    result = cli("up")
    assert result.code == 2, result
    assert "retriez" in result.err
    assert untouched(db_url)


def test_exit_2_for_bad_migration_files(run, migrations):
    migrations({"4_no_up.down.sql": "DROP TABLE x;"})
    result = run("up")
    assert result.code == 2, result
    assert "4_no_up.down.sql" in result.err
    assert untouched(run.url)


def test_exit_3_for_a_dirty_database_until_forced(cli, db_url, migrations, monkeypatch):
    # On SQLite ferryman restores the pre-run backup by default (exit 1); without that,
    # the failed no-transaction migration leaves the database dirty on both engines.
    monkeypatch.setenv("FERRYMAN_RESTORE_ON_FAILURE", "off")
    folder = migrations({
        **USERS,
        "4_index.up.sql": "-- ferryman:no-transaction\n"
                          "CREATE INDEX users_email ON users (email);\n"
                          "CREATE INDEX broken ON no_such_table (x);\n",
        "4_index.down.sql": "DROP INDEX users_email;",
    })
    args = ("--database-url", db_url, "--migrations", folder)
    failed = cli("up", *args)
    assert failed.code == 3, failed
    status = cli("status", "--json", *args).json()
    assert status["dirty"] is True and status["current_version"] == 3
    human = cli("status", *args)
    assert re.search(r"^dirty +YES", human.out, re.M) and "no_such_table" in human.out

    refused = cli("up", *args)
    assert refused.code == 3, refused
    assert "dirty" in refused.err and "ferryman force" in refused.err
    assert cli("validate", *args).code == 3

    forced = cli("force", "3", *args)
    assert forced.code == 0, forced
    after = cli("status", "--json", *args).json()
    assert after["dirty"] is False and after["current_version"] == 3
    assert after["pending_count"] == 1


def test_exit_3_for_an_edited_applied_migration(run):
    assert run("up").code == 0
    with open(os.path.join(run.folder, "2_letters.up.sql"), "a") as handle:
        handle.write("\n-- an afterthought\n")
    result = run("up")
    assert result.code == 3, result
    assert "2_letters.up.sql" in result.err


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["up"], ["validate"],
                                     ["history"], ["goto", "1"], ["up", "--dry-run"]])
def test_exit_4_when_the_database_is_unreachable(cli, migrations, monkeypatch, command):
    monkeypatch.setenv("FERRYMAN_RETRIES", "0")  # a refused connection is retried by default
    folder = migrations(USERS)
    result = cli(*command, "--database-url", UNREACHABLE, "--migrations", folder,
                 "--connect-timeout", "5s")
    assert result.code == 4, result
    assert "cannot connect" in result.err
    assert "postgresql://postgres:***@127.0.0.1:1/x" in result.err
    assert "unreachable-secret-pw" not in result.err + result.out


def test_errors_in_json_mode_are_one_document_on_stdout(cli, migrations):
    folder = migrations(USERS)
    result = cli("status", "--json", "--database-url", UNREACHABLE, "--migrations", folder)
    assert result.code == 4
    error = result.json()
    assert error["exit_code"] == 4 and error["error"] == "ConnectError"
    assert "unreachable-secret-pw" not in result.out


# -- dry run ------------------------------------------------------------------------------
def test_up_dry_run_prints_the_sql_and_changes_nothing(run):
    before = snapshot(run.url)
    result = run("up", "--dry-run")
    assert result.code == 0, result
    assert "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);" in result.out
    assert "INSERT INTO letters (id, body) VALUES (1, 'hello; world');" in result.out
    assert "CREATE TABLE outbox" in result.out
    assert "nothing was changed" in result.out
    assert snapshot(run.url) == before
    assert untouched(run.url)


def test_up_dry_run_with_a_repeatable_names_it_and_the_target(cli, db_url, migrations):
    folder = migrations({**USERS, "R__user_emails.sql":
                         "CREATE VIEW user_emails AS SELECT email FROM users;"})
    before = snapshot(db_url)
    result = cli("up", "--dry-run", "--json", "--database-url", db_url, "--migrations", folder)
    assert result.code == 0, result
    plan = result.json()
    assert plan["to_version"] == 3  # the repeatable, with no version, does not count
    assert plan["steps"][-1]["version"] is None
    assert plan["steps"][-1]["name"] == "user_emails"
    text = cli("up", "--dry-run", "--database-url", db_url, "--migrations", folder)
    assert "-- up R user_emails  [R__user_emails.sql" in text.out, text
    assert snapshot(db_url) == before


def test_down_and_goto_dry_runs_print_the_sql_and_change_nothing(run):
    assert run("up", "--target", "2").code == 0
    before = snapshot(run.url)

    down = run("down", "--dry-run")
    assert down.code == 0, down
    assert "DROP TABLE letters;" in down.out and "DROP TABLE users" not in down.out

    back = run("goto", "0", "--dry-run")
    assert back.code == 0, back
    assert back.out.index("DROP TABLE letters;") < back.out.index("DROP TABLE users;")

    forward = run("goto", "3", "--dry-run")
    assert forward.code == 0, forward
    assert "CREATE TABLE outbox" in forward.out and "letters" not in forward.out

    steps = run("down", "--steps", "2", "--dry-run", "--json")
    assert steps.code == 0, steps
    plan = steps.json()
    assert plan["dry_run"] is True and plan["run_id"] is None
    assert [(s["version"], s["direction"]) for s in plan["steps"]] == [
        (2, "down"), (1, "down")]
    assert plan["steps"][0]["sql"] == ["DROP TABLE letters"]

    assert snapshot(run.url) == before
    assert tables(run.url) == ["letters", "users"]


def test_dry_run_shows_a_python_migration_and_a_no_transaction_one(cli, sqlite_url, migrations):
    folder = migrations({
        "1_users.up.sql": USERS["1_users.up.sql"],
        "2_backfill.py": "def up(ctx):\n    ctx.execute('SELECT 1')\n",
        "3_vacuum.up.sql": "-- ferryman:no-transaction\nVACUUM;\n",
    })
    result = cli("up", "--dry-run", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 0, result
    assert "Python: up(ctx)" in result.out
    assert "VACUUM;" in result.out and "outside a transaction" in result.out
    assert not os.path.exists(sqlite_path(sqlite_url))


# -- read-only commands never write -------------------------------------------------------
@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["validate"],
                                     ["history"], ["history", "--json"]])
def test_read_only_commands_do_not_create_the_database(run, command):
    result = run(*command)
    assert result.code == 0, result
    assert untouched(run.url)
    if run.url.startswith("sqlite"):
        assert os.listdir(os.path.dirname(sqlite_path(run.url))) == ["migrations"]


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["validate"],
                                     ["history", "--json"]])
def test_read_only_commands_leave_an_existing_database_as_it_was(run, command):
    assert run("up", "--target", "2").code == 0
    before = snapshot(run.url)
    result = run(*command)
    assert result.code == 0, result
    assert snapshot(run.url) == before


def test_status_of_a_sqlite_file_made_by_someone_else_is_read_only(cli, sqlite_url, migrations):
    folder = migrations(USERS)
    with sqlite3.connect(sqlite_path(sqlite_url)) as conn:
        conn.execute("CREATE TABLE legacy (id INTEGER)")
    conn.close()
    before = snapshot(sqlite_url)
    result = cli("status", "--json", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 0 and result.json()["current_version"] is None
    assert snapshot(sqlite_url) == before
    assert ferryman_tables(sqlite_url) == []


# -- init and new -------------------------------------------------------------------------
def test_init_creates_a_configuration_and_a_folder_and_never_overwrites(cli, tmp_path):
    result = cli("init", "--database-url", "sqlite:///app.db")
    assert result.code == 0, result
    config = tmp_path / "ferryman.toml"
    assert config.is_file() and (tmp_path / "migrations").is_dir()
    text = config.read_text()
    assert 'url = "sqlite:///app.db"' in text and 'migrations = "migrations"' in text

    again = cli("init", "--database-url", "sqlite:///other.db", "-m", "elsewhere")
    assert again.code == 2, again
    assert "exists" in again.err
    assert config.read_text() == text and not (tmp_path / "elsewhere").exists()


def test_init_refuses_a_url_with_a_password(cli, tmp_path):
    result = cli("init", "--database-url", "postgresql://app:init-secret-pw@db/app")
    assert result.code == 2, result
    assert not (tmp_path / "ferryman.toml").exists()
    assert "init-secret-pw" not in result.err + result.out


def test_init_new_up_from_nothing(cli, tmp_path):
    assert cli("init", "--database-url", "sqlite:///app.db", "-m", "db/migrations").code == 0
    created = cli("new", "create users")
    assert created.code == 0, created
    folder = tmp_path / "db" / "migrations"
    names = sorted(os.listdir(folder))
    assert len(names) == 2
    assert re.fullmatch(r"\d{14}_create_users\.down\.sql", names[0])
    assert re.fullmatch(r"\d{14}_create_users\.up\.sql", names[1])
    for name in names:
        assert name in created.out
    up = folder / names[1]
    up.write_text(up.read_text() + "CREATE TABLE users (id INTEGER PRIMARY KEY);\n")
    down = folder / names[0]
    down.write_text(down.read_text() + "DROP TABLE users;\n")
    assert cli("up").code == 0
    assert tables(f"sqlite:///{tmp_path / 'app.db'}") == ["users"]
    assert cli("down").code == 0
    assert tables(f"sqlite:///{tmp_path / 'app.db'}") == []


def test_new_uses_a_utc_timestamp_in_an_empty_folder(cli, migrations):
    folder = migrations({})
    result = cli("new", "add_email", "-m", folder)
    assert result.code == 0, result
    listing = scan({"core": folder})
    assert len(listing.migrations) == 1
    (m,) = listing.migrations
    assert len(str(m.version)) == 14 and m.name == "add_email" and m.down_path
    assert check_files(listing, dialect_class("sqlite")) == []


def test_new_continues_a_numbered_sequence(cli, migrations):
    folder = migrations({"0001_init.up.sql": "SELECT 1;", "0002_more.up.sql": "SELECT 1;",
                         "0002_more.down.sql": "SELECT 1;"})
    assert cli("new", "Add Users Email!", "-m", folder).code == 0
    assert sorted(os.listdir(folder))[-2:] == ["0003_add_users_email.down.sql",
                                               "0003_add_users_email.up.sql"]


def test_new_seq_starts_a_sequence(cli, migrations):
    folder = migrations({})
    assert cli("new", "first", "--seq", "-m", folder).code == 0
    assert sorted(os.listdir(folder)) == ["0001_first.down.sql", "0001_first.up.sql"]


def test_new_python_creates_a_module_with_up_and_down(cli, migrations, sqlite_url):
    folder = migrations({"0001_init.up.sql": "CREATE TABLE a (id INTEGER);"})
    assert cli("new", "backfill", "--python", "-m", folder).code == 0
    assert sorted(os.listdir(folder)) == ["0001_init.up.sql", "0002_backfill.py"]
    listing = scan({"core": folder})
    module = listing.by_version[2]
    assert module.kind == "python" and module.has_down
    text = module.script("up").text
    assert "def up(ctx):" in text and "def down(ctx):" in text
    assert check_files(listing, dialect_class("sqlite")) == []
    args = ("--database-url", sqlite_url, "--migrations", folder)
    assert cli("up", *args).code == 0 and cli("down", *args).code == 0


def test_new_without_a_migrations_folder_is_bad_input(cli, tmp_path):
    result = cli("new", "x")
    assert result.code == 2, result
    assert "FERRYMAN_MIGRATIONS" in result.err or "migrations" in result.err
    assert os.listdir(tmp_path) == []


# -- force, baseline, validate, history ---------------------------------------------------
def test_force_records_a_version_without_running_anything(run):
    assert run("up").code == 0
    forced = run("force", "1")
    assert forced.code == 0, forced
    assert tables(run.url) == ["letters", "outbox", "users"]  # nothing ran
    data = run("status", "--json").json()
    assert data["current_version"] == 1 and data["pending_count"] == 2
    entries = run("history", "--json").json()
    assert {(e["version"], e["direction"]) for e in entries[:2]} == {
        (3, "force-down"), (2, "force-down")}
    assert run("force", "0").code == 0
    assert run("status", "--json").json()["current_version"] is None
    assert run("force", "3").code == 0
    assert run("status", "--json").json()["current_version"] == 3
    assert tables(run.url) == ["letters", "outbox", "users"]


def test_baseline_adopts_an_existing_database(run):
    # the database was made by hand (or by another tool) up to migration 2
    execute(run.url, USERS["1_users.up.sql"])
    execute(run.url, "CREATE TABLE letters (id INTEGER PRIMARY KEY, body TEXT)")
    result = run("baseline", "2")
    assert result.code == 0, result
    assert "marked applied 2 migrations" in result.out
    assert query(run.url, "SELECT count(*) FROM letters") == [(0,)]  # 2 did not run
    data = run("status", "--json").json()
    assert [a["version"] for a in data["applied"]] == [1, 2] and data["pending_count"] == 1
    directions = {e["direction"] for e in run("history", "--json").json()}
    assert directions == {"baseline"}
    assert run("up").code == 0  # only 3 runs; 1 and 2 would fail (tables exist)
    assert tables(run.url) == ["letters", "outbox", "users"]


def test_baseline_refuses_a_database_with_history(run):
    assert run("up", "--target", "1").code == 0
    before = snapshot(run.url)
    result = run("baseline", "2")
    assert result.code == 2, result
    assert "already has ferryman history" in result.err and "ferryman force" in result.err
    assert snapshot(run.url) == before


def test_validate(run):
    fresh = run("validate")
    assert fresh.code == 0, fresh
    assert "3 migration files are valid; 0 applied" in fresh.out
    assert run("up", "--target", "2").code == 0
    data = run("validate", "--json").json()
    assert data["ok"] is True and data["migrations"] == 3 and data["applied_checked"] == 2


def test_history_json_fields(run):
    assert run("up").code == 0
    assert run("down").code == 0
    entries = run("history", "--json").json()
    assert [(e["version"], e["direction"], e["outcome"]) for e in entries] == [
        (3, "down", "ok"), (3, "up", "ok"), (2, "up", "ok"), (1, "up", "ok")]
    assert set(entries[0]) >= {
        "id", "run_id", "version", "name", "phase", "kind", "checksum", "direction",
        "started_at", "finished_at", "duration_ms", "applied_by", "ferryman_version",
        "outcome", "error"}
    first = entries[-1]
    assert first["name"] == "users" and first["phase"] == "core" and first["kind"] == "sql"
    assert len(first["checksum"]) == 64 and "@" in first["applied_by"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["started_at"])
    assert isinstance(first["duration_ms"], (int, float)) and first["error"] is None
    assert entries[0]["run_id"] != entries[1]["run_id"]
    limited = run("history", "--json", "--limit", "1").json()
    assert len(limited) == 1 and limited[0]["id"] == entries[0]["id"]
    only = run("history", "--json", "--version", "3").json()
    assert [e["direction"] for e in only] == ["down", "up"]


def test_history_of_a_database_never_migrated_is_empty(run):
    assert run("history", "--json").json() == []
    assert "no history" in run("history").out


# -- connection options -------------------------------------------------------------------
@pytest.mark.parametrize("where", ["after", "before"])
def test_a_password_on_the_command_line_is_refused(cli, migrations, sqlite_url, where):
    folder = migrations(USERS)
    args = ["--password", "cli-secret-pw", "--database-url", sqlite_url, "--migrations", folder]
    result = cli(*(["status", *args] if where == "after" else [*args, "status"]))
    assert result.code == 2, result
    assert "--password is not accepted" in result.err
    assert "FERRYMAN_PASSWORD" in result.err and "--password-file" in result.err
    assert "cli-secret-pw" not in result.err + result.out
    assert not os.path.exists(sqlite_path(sqlite_url))


def test_the_seed_connection_flags_work_against_postgresql(cli, pg_database, migrations):
    params = pg_dsn_params()
    folder = migrations(USERS)
    flags = ["--host", params.get("host", "127.0.0.1"), "--port", params.get("port", "5432"),
             "--user", params.get("user", "postgres"), "--database", pg_database,
             "--ssl", "disable", "--migrations", folder]
    result = cli("up", "--target", "2", *flags)
    assert result.code == 0, result
    data = cli("status", "--json", *flags).json()
    assert data["current_version"] == 2
    assert data["database"].endswith(f"/{pg_database}?sslmode=disable")
    url = f"postgresql://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:" \
          f"{params.get('port', '5432')}/{pg_database}"
    assert tables(url) == ["letters", "users"]
    # the flags may come before the command too
    assert cli(*flags, "down").code == 0
    assert tables(url) == ["users"]


def test_the_environment_alone_is_enough(cli, db_url, migrations, monkeypatch, tmp_path):
    folder = migrations(USERS)
    monkeypatch.setenv("FERRYMAN_DATABASE_URL", db_url)
    monkeypatch.setenv("FERRYMAN_MIGRATIONS", folder)
    assert not (tmp_path / "ferryman.toml").exists()
    for args in (["status"], ["validate"], ["up", "--dry-run"], ["up", "--target", "2"],
                 ["history"], ["goto", "3"], ["down"], ["force", "2"], ["down", "--to", "0"]):
        result = cli(*args)
        assert result.code == 0, (args, result)
    data = cli("status", "--json").json()
    assert data["current_version"] is None and data["pending_count"] == 3
    # force 2 changed nothing (the database was at 2) and is recorded all the same
    assert [(e["version"], e["direction"]) for e in cli("history", "--json").json()] == [
        (1, "down"), (2, "down"), (2, "force"), (3, "down"), (3, "up"), (2, "up"), (1, "up")]


# -- help and documentation ---------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_a_summary_and_an_example(cli, name):
    result = cli(*name.split(), "--help")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].startswith(f"Usage: ferryman {name}")
    assert lines[1] == ""
    summary = lines[2].strip()
    assert summary == COMMANDS[name].summary
    assert summary.endswith(".") and lines[3] == ""  # one line, then a blank one
    assert "Example" in result.out
    assert f"ferryman {name}" in result.out.split("Example", 1)[1]


def test_the_program_help_lists_every_command(cli):
    result = cli("--help")
    assert result.code == 0 and "Example" in result.out
    for name in COMMANDS:
        assert re.search(rf"^  {name.split()[0]}\b", result.out, re.M), name


def test_every_command_is_documented_in_the_readme():
    readme = os.path.join(ROOT, "README.md")
    assert os.path.exists(readme), "README.md is missing"
    with open(readme, encoding="utf-8") as handle:
        text = handle.read()
    missing = [name for name in COMMANDS if not re.search(rf"ferryman {name}\b", text)]
    assert missing == [], f"commands not documented in README.md: {missing}"


# -- the fast parser agrees with click ----------------------------------------------------
def click_parse(argv):
    """(command, params) as the click application hands them to ``run``."""
    from ferryman.cli.app import parse as parse_with_click

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return parse_with_click(argv)


AGREED = [
    ["status"],
    ["status", "--json"],
    ["--database-url", "sqlite:///a.db", "status", "--json"],
    ["status", "--database-url=sqlite:///a.db", "-m", "migrations"],
    ["-m", "migrations", "--config", "f.toml", "status"],
    ["-c", "f.toml", "status", "-v"],
    ["--verbose", "up", "--quiet"],
    ["-v", "status", "-v"],
    ["--database-url", "sqlite:///a.db", "up", "--database-url", "sqlite:///b.db"],
    ["up", "--target", "20260101120000", "--dry-run", "--json"],
    ["up", "--target=3", "--allow-out-of-order", "--transaction", "each"],
    ["up", "--target", "1", "--target", "2"],
    ["up", "--transaction=run", "--lock-timeout", "10m", "--connect-timeout=5s"],
    ["--host", "127.0.0.1", "--port", "5432", "--user", "postgres", "--database", "app",
     "--ssl", "disable", "status"],
    ["status", "--host=db", "--port=6543", "--ssl=verify-full", "--password-file", "pw.txt"],
    ["--table-prefix", "fm_", "history", "--limit", "5", "--version", "3", "--json"],
    ["history"],
    ["status", "--password", "pw"],
    ["down"],
    ["down", "--steps", "2", "--dry-run"],
    ["down", "-n", "2"],
    ["down", "-n", "-2"],
    ["down", "--to", "0", "--transaction", "each"],
    ["down", "--to=0"],
    ["goto", "3"],
    ["goto", "+3"],
    ["goto", "0", "--dry-run"],
    ["goto", "--dry-run", "20260101120000"],
    ["goto", "--", "5"],
    ["-v", "goto", "5", "--json", "-q"],
    ["force", "5"],
    ["force", "0", "--json"],
    ["baseline", "12", "--database-url", "postgresql://app@db/app"],
    ["validate"],
    ["validate", "--json", "-m", "db/migrations"],
    ["init"],
    ["init", "--database-url", "sqlite:///app.db", "-m", "db/migrations"],
    ["-v", "init", "--migrations=m"],
    ["--database-url", "sqlite:///x.db", "init"],
    ["new", "add_users"],
    ["new", "--python", "backfill"],
    ["new", "add_users", "--seq", "-m", "migrations", "--config", "x.toml"],
    ["-c", "x.toml", "new", "add users email"],
    ["new", "-"],
    ["up", "--no-backup", "--restore-on-failure", "--timeout", "30m"],
    ["--backup-dir", "bk", "up", "--statement-timeout=5s", "--table-lock-timeout", "2s",
     "--retries", "0", "--log-file", "migration.log"],
    ["migrate"],
    ["migrate", "--strategy", "safe", "--dry-run", "--json"],
    ["migrate", "--strategy=extended", "--skip-optimization", "--failure-strategy", "continue",
     "--no-concurrent-indexes", "--reports-dir", "r", "--no-backup", "--timeout", "1h"],
    ["-v", "migrate", "--rollback"],
    ["migrate", "--rollback", "--yes"],
    ["migrate", "--rollback", "-y", "--dry-run"],
    ["rollback"],
    ["rollback", "--dry-run", "--yes", "--no-backup"],
    ["backup", "create"],
    ["backup", "create", "--json", "-m", "migrations"],
    ["--database-url", "sqlite:///a.db", "backup", "list", "--json"],
    ["backup", "verify", "20261121T101500Z-3fa9c2"],
    ["backup", "restore", "20261121T101500Z-3fa9c2", "--yes", "--backup-dir", "bk"],
    ["backup", "restore", "-y", "abc"],
    ["maintain", "analyze"],
    ["maintain", "reindex", "--table", "letters", "--table=outbox,drafts", "--json"],
    ["--lock-timeout", "1s", "maintain", "vacuum", "--dry-run"],
    ["maintain", "purge", "--table", "letters", "--column", "deleted_at", "--days", "30",
     "--batch-size", "500", "--dry-run", "--json"],
    ["inspect"],
    ["inspect", "--limit", "5", "--json", "--database-url", "sqlite:///a.db"],
    ["adopt", "--dry-run", "--json"],
    ["serve"],
    ["serve", "--bind", "0.0.0.0", "--bind-port", "9100", "--allow-host", "status.internal",
     "--allow-host=ops", "--host", "db", "--port", "5433"],
]


def test_the_table_covers_every_command():
    assert {click_parse(argv)[0] for argv in AGREED} == set(COMMANDS)


@pytest.mark.parametrize("argv", AGREED, ids=lambda a: " ".join(a))
def test_the_fast_parser_agrees_with_click(argv):
    fast = parse(argv)
    assert fast is not None, "the fast parser declined a well-formed command line"
    assert fast == click_parse(argv)


DECLINED = [
    [],
    ["--help"],
    ["-h"],
    ["--version"],
    ["status", "--help"],
    ["up", "-h"],
    ["nosuch"],
    ["status", "--bogus"],
    ["--bogus", "status"],
    ["-vq", "status"],
    ["status", "-vq"],
    ["--json", "status"],
    ["init", "--json"],
    ["init", "--host", "db"],
    ["goto"],
    ["goto", "1", "2"],
    ["goto", "-1"],
    ["force", "-3"],
    ["new"],
    ["new", "a", "b"],
    ["up", "--target"],
    ["up", "--dry-run=yes"],
    ["status", "--ssl", "bogus"],
    ["up", "--transaction", "sometimes"],
    ["history", "--limit", "many"],
    ["status", "--port", "x"],
    ["down", "-n2"],
    ["-m=migrations", "status"],
    ["status", "-m=migrations"],
    ["migrate", "--strategy", "sideways"],
    ["migrate", "--failure-strategy=maybe"],
    ["backup"],
    ["backup", "nosuch"],
    ["backup", "verify"],
    ["status", "--no-backup"],
    ["up", "--no-backup=yes"],
    ["maintain"],
    ["maintain", "analyze", "vacuum"],
    ["maintain", "analyze", "--table"],
    ["maintain", "purge", "--days", "many"],
    ["inspect", "--limit", "few"],
    ["inspect", "locks"],
    ["serve", "--bind-port", "http"],
]


@pytest.mark.parametrize("argv", DECLINED, ids=lambda a: " ".join(a) or "(nothing)")
def test_the_fast_parser_declines_what_click_must_explain(argv):
    assert parse(argv) is None


# Declined command lines that click accepts too (-vq, -n2, -m=x) are left out: they run.
@pytest.mark.parametrize("argv", [a for a in DECLINED if a and not {
    "-h", "--help", "--version", "-vq", "-m=migrations", "-n2"} & set(a)],
    ids=lambda a: " ".join(a))
def test_what_the_fast_parser_declines_click_refuses_with_exit_2(cli, argv):
    result = cli(*argv)
    assert result.code == 2, result
    assert "Error" in result.err or "Usage" in result.err


def test_json_output_is_one_document(run):
    result = run("up", "--json")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert [s["version"] for s in data["steps"]] == [1, 2, 3]
    assert data["from_version"] is None and data["to_version"] == 3
