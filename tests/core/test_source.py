"""Finding migration files, checking them all at once, and trusting them once applied.

The issue's requirement: "Every problem is listed at once, exit code 2, database
untouched". Then checksums: an applied migration whose file changed, or vanished,
needs a person (exit code 3), and so does a database that is ahead of the code.
"""

import hashlib
import os

import pytest
from helpers import ferryman_tables, query, sqlite_path, tables

from ferryman.core.compile import check_files
from ferryman.core.source import checksum_of, scan
from ferryman.dialects import dialect_class

SQLITE = dialect_class("sqlite")
POSTGRESQL = dialect_class("postgresql")

USERS = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
    "1_users.down.sql": "DROP TABLE users;\n",
    "2_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY, body TEXT);\n",
    "2_letters.down.sql": "DROP TABLE letters;\n",
}




# -- discovery ----------------------------------------------------------------------------
def test_a_golang_migrate_folder_is_read_unchanged(migrations):
    folder = migrations({
        "1_init.up.sql": "CREATE TABLE a (id INTEGER);",
        "1_init.down.sql": "DROP TABLE a;",
        "000002_add_b.up.sql": "CREATE TABLE b (id INTEGER);",
        "000002_add_b.down.sql": "DROP TABLE b;",
        "20260101120000_backfill.up.sql": "INSERT INTO a VALUES (1);",
        "3_with.dots.in.title.up.sql": "CREATE TABLE c (id INTEGER);",
        "README.md": "# migrations\n",
        "seed.csv": "id\n1\n",
        "notes.txt": "ignored\n",
        "_helpers.sql": "not a migration; ignored because of the underscore",
        "_shared.py": "X = 1\n",
        ".hidden.sql": "ignored because of the dot",
    })
    listing = scan({"core": folder})
    assert listing.problems == []
    found = [(m.version, m.name, m.kind, m.filename,
              os.path.basename(m.down_path) if m.down_path else None)
             for m in listing.migrations]
    assert found == [
        (1, "init", "sql", "1_init.up.sql", "1_init.down.sql"),
        (2, "add_b", "sql", "000002_add_b.up.sql", "000002_add_b.down.sql"),
        (3, "with.dots.in.title", "sql", "3_with.dots.in.title.up.sql", None),
        (20260101120000, "backfill", "sql", "20260101120000_backfill.up.sql", None),
    ]
    assert listing.head == 20260101120000
    assert all(m.phase == "core" for m in listing.migrations)
    assert check_files(listing, SQLITE) == []


def test_python_migrations_sit_beside_sql_ones(migrations):
    folder = migrations({
        "1_users.up.sql": "CREATE TABLE users (id INTEGER);",
        "2_backfill.py": "def up(ctx):\n    ctx.execute('SELECT 1')\n\n"
                         "def down(ctx):\n    pass\n",
        "3_no_down.py": "def up(ctx):\n    pass\n",
    })
    listing = scan({"core": folder})
    assert [(m.version, m.kind, m.has_down) for m in listing.migrations] == [
        (1, "sql", False), (2, "python", True), (3, "python", False)]
    assert check_files(listing, SQLITE) == []


# -- every problem at once -----------------------------------------------------------------
BAD_FOLDER = {
    # names that do not follow the naming (golang-migrate would skip them silently)
    "create_users.sql": "CREATE TABLE users (id INTEGER);",
    "v3_orders.up.sql": "CREATE TABLE orders (id INTEGER);",
    "helper.py": "X = 1\n",
    "4_python.up.py": "def up(ctx):\n    pass\n",
    # duplicate versions
    "1_a.up.sql": "CREATE TABLE a (id INTEGER);",
    "0001_b.up.sql": "CREATE TABLE b (id INTEGER);",
    "2_a.up.sql": "CREATE TABLE c (id INTEGER);",
    "2_b.py": "def up(ctx):\n    pass\n",
    # a down file without an up file
    "5_orphan.down.sql": "DROP TABLE orphan;",
    # a file that is not UTF-8
    "6_latin1.up.sql": "INSERT INTO a VALUES ('caf\xe9');".encode("latin-1"),
    # unknown directive; directive after the first statement
    "8_bogus.up.sql": "-- ferryman:bogus\nCREATE TABLE d (id INTEGER);",
    "9_late.up.sql": "CREATE TABLE e (id INTEGER);\n-- ferryman:no-transaction\n"
                     "CREATE TABLE f (id INTEGER);",
    # a file that ends inside a transaction of its own (one with a stray COMMIT in the
    # middle runs as written: see test_own_transactions.py)
    "10_open.up.sql": "CREATE TABLE g (id INTEGER);\nBEGIN;\nCREATE TABLE h (id INTEGER);",
    # SQL that cannot be split: an unterminated string
    "11_unterminated.up.sql": "INSERT INTO a VALUES ('never closed);\n",
    # Python: a syntax error; no up()
    "12_syntax.py": "def up(ctx:\n    pass\n",
    "13_no_up.py": "def down(ctx):\n    pass\n",
}


def write_bad_folder(migrations):
    folder = migrations(BAD_FOLDER)
    # unreadable: tests run as root, so chmod would not stop a read; a dangling
    # symlink named like a migration cannot be read by anyone
    os.symlink(os.path.join(folder, "gone.sql"), os.path.join(folder, "7_dangling.up.sql"))
    return folder


def expected_problems(folder):
    """(file names that must appear in the same problem line, words of that line)."""
    return [
        (["create_users.sql"], "name does not follow"),
        (["v3_orders.up.sql"], "name does not follow"),
        (["helper.py"], "name does not follow"),
        (["4_python.up.py"], "name does not follow"),
        (["1_a.up.sql", "0001_b.up.sql"], "version 1 is used by 2 migrations"),
        (["2_a.up.sql", "2_b.py"], "version 2 is used by 2 migrations"),
        (["5_orphan.down.sql"], "down migration without an up migration"),
        (["6_latin1.up.sql"], "not UTF-8"),
        (["7_dangling.up.sql"], "cannot read"),
        (["8_bogus.up.sql"], "unknown directive 'ferryman:bogus'"),
        (["9_late.up.sql"], "must come before the first statement"),
        (["10_open.up.sql"], "BEGIN at line 2 is never committed"),
        (["11_unterminated.up.sql"], "unterminated string"),
        (["12_syntax.py"], "syntax error"),
        (["13_no_up.py"], "defines up(ctx)"),
    ]


def test_every_problem_in_the_files_is_listed_at_once(migrations):
    folder = write_bad_folder(migrations)
    problems = check_files(scan({"core": folder}), SQLITE)
    for names, words in expected_problems(folder):
        matching = [p for p in problems if words in p and all(n in p for n in names)]
        assert len(matching) == 1, (names, words, problems)
    assert len(problems) == len(expected_problems(folder))


def test_problems_name_the_line_of_what_is_wrong(migrations):
    folder = write_bad_folder(migrations)
    problems = check_files(scan({"core": folder}), SQLITE)
    assert any(p.startswith(os.path.join(folder, "9_late.up.sql") + ":2:")
               for p in problems), problems
    assert any(p.endswith(os.path.join(folder, "10_open.up.sql") + ":2: BEGIN at line 2 is "
                          "never committed: the file ends inside its own transaction (add "
                          "COMMIT; after its last statement, or ROLLBACK; to undo it)")
               for p in problems), problems
    assert any("12_syntax.py:1:" in p for p in problems), problems


def test_a_directory_named_like_a_migration_is_a_problem(migrations):
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);"})
    os.mkdir(os.path.join(folder, "2_folder.up.sql"))
    problems = check_files(scan({"core": folder}), SQLITE)
    assert len(problems) == 1 and "2_folder.up.sql: cannot read" in problems[0]


def test_a_file_added_right_after_a_listing_is_seen(migrations):
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);"})
    assert [m.version for m in scan({"core": folder}).migrations] == [1]
    migrations({"2_b.up.sql": "CREATE TABLE b (id INTEGER);"})
    assert [m.version for m in scan({"core": folder}).migrations] == [1, 2]
    os.remove(os.path.join(folder, "1_a.up.sql"))
    assert [m.version for m in scan({"core": folder}).migrations] == [2]


def test_an_unterminated_dollar_quote_is_a_problem_on_postgresql(migrations):
    folder = migrations({
        "1_function.up.sql": "CREATE FUNCTION one() RETURNS integer AS $body$\n"
                             "  SELECT 1;\n",
        "2_fine.up.sql": "CREATE FUNCTION two() RETURNS integer AS $$ SELECT 2; $$ "
                         "LANGUAGE sql;\n",
    })
    problems = check_files(scan({"core": folder}), POSTGRESQL)
    assert len(problems) == 1
    assert "1_function.up.sql" in problems[0]
    assert "unterminated dollar-quoted string $body$" in problems[0]


def test_a_no_transaction_file_may_commit_and_wrapping_begin_commit_is_fine(migrations):
    folder = migrations({
        "1_wrapped.up.sql": "BEGIN;\nCREATE TABLE a (id INTEGER);\nCOMMIT;\n",
        "2_own.up.sql": "-- ferryman:no-transaction\nCREATE TABLE b (id INTEGER);\nCOMMIT;\n"
                        "CREATE TABLE c (id INTEGER);\n",
    })
    assert check_files(scan({"core": folder}), SQLITE) == []


def test_bad_files_through_the_cli_exit_2_list_everything_and_touch_nothing(
        cli, db_url, migrations):
    folder = write_bad_folder(migrations)
    result = cli("up", "--database-url", db_url, "--migrations", folder)
    assert result.code == 2, result
    assert f"{len(expected_problems(folder))} problems in the migration files" in result.err
    for names, words in expected_problems(folder):
        assert words in result.err, words
        for name in names:
            assert name in result.err, name
    if db_url.startswith("sqlite"):
        assert not os.path.exists(sqlite_path(db_url))  # not even created
        assert os.listdir(os.path.dirname(sqlite_path(db_url))) == ["migrations"]
    else:
        assert ferryman_tables(db_url) == []
        assert tables(db_url) == []


@pytest.mark.parametrize("command", [["validate"], ["goto", "1"], ["up", "--dry-run"]])
def test_other_commands_refuse_bad_files_too(cli, sqlite_url, migrations, command):
    folder = write_bad_folder(migrations)
    result = cli(*command, "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 2, result
    assert "7_dangling.up.sql" in result.err and "13_no_up.py" in result.err
    assert not os.path.exists(sqlite_path(sqlite_url))


# -- checksums -----------------------------------------------------------------------------
def test_checksum_is_sha256_of_the_text_with_line_endings_normalised(migrations):
    lf = "CREATE TABLE a (\n  id INTEGER\n);\n"
    folder = migrations({
        "1_lf.up.sql": lf,
        "2_crlf.up.sql": lf.replace("\n", "\r\n"),
        "3_bom.up.sql": "\ufeff" + lf.replace("\n", "\r\n"),
        "4_other.up.sql": lf.replace("a", "b"),
    })
    by_version = scan({"core": folder}).by_version
    expected = hashlib.sha256(lf.encode("utf-8")).hexdigest()
    assert by_version[1].checksum == expected
    assert by_version[2].checksum == expected
    assert by_version[3].checksum == expected
    assert by_version[4].checksum != expected
    assert checksum_of(lf.replace("\n", "\r")) == expected


def test_the_stored_checksum_is_the_files(cli, db_url, migrations):
    folder = migrations(USERS)
    assert cli("up", "--database-url", db_url, "--migrations", folder).code == 0
    stored = dict(query(db_url, "SELECT version, checksum FROM ferryman_migrations"))
    assert stored == {
        1: hashlib.sha256(USERS["1_users.up.sql"].encode()).hexdigest(),
        2: hashlib.sha256(USERS["2_letters.up.sql"].encode()).hexdigest(),
    }


def test_converting_an_applied_file_to_crlf_is_not_tampering(cli, sqlite_url, migrations):
    folder = migrations(USERS)
    assert cli("up", "--database-url", sqlite_url, "--migrations", folder).code == 0
    path = os.path.join(folder, "1_users.up.sql")
    with open(path, "wb") as handle:
        handle.write(USERS["1_users.up.sql"].replace("\n", "\r\n").encode())
    result = cli("validate", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 0, result


def test_an_edited_applied_migration_needs_a_person(cli, db_url, migrations):
    folder = migrations(USERS)
    assert cli("up", "--database-url", db_url, "--migrations", folder).code == 0
    (old,) = query(db_url, "SELECT checksum FROM ferryman_migrations WHERE version = 1")[0]
    edited = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT);\n"
    migrations({"1_users.up.sql": edited, "3_more.up.sql": "CREATE TABLE more (id INTEGER);"})
    new = hashlib.sha256(edited.encode()).hexdigest()
    for command in ("up", "validate"):
        result = cli(command, "--database-url", db_url, "--migrations", folder)
        assert result.code == 3, result
        assert os.path.join(folder, "1_users.up.sql") in result.err
        assert old in result.err and new in result.err
        assert "2_letters" not in result.err  # only the edited file is named
    assert tables(db_url) == ["letters", "users"]  # 3 did not run
    assert query(db_url, "SELECT max(version) FROM ferryman_migrations") == [(2,)]


def test_a_removed_applied_migration_needs_a_person(cli, db_url, migrations):
    folder = migrations(USERS)
    assert cli("up", "--database-url", db_url, "--migrations", folder).code == 0
    os.remove(os.path.join(folder, "1_users.up.sql"))
    os.remove(os.path.join(folder, "1_users.down.sql"))
    for command in ("up", "validate", "down"):
        result = cli(command, "--database-url", db_url, "--migrations", folder)
        assert result.code == 3, result
        assert "missing" in result.err and "1 (users)" in result.err
    assert tables(db_url) == ["letters", "users"]


def test_a_database_ahead_of_the_code_needs_a_person(cli, db_url, migrations):
    newer = migrations(USERS, folder="newer")
    older = migrations({k: v for k, v in USERS.items() if k.startswith("1_")}, folder="older")
    assert cli("up", "--database-url", db_url, "--migrations", newer).code == 0
    for command in ("up", "validate"):
        result = cli(command, "--database-url", db_url, "--migrations", older)
        assert result.code == 3, result
        assert "ahead of the code" in result.err and "2 (letters)" in result.err
    assert tables(db_url) == ["letters", "users"]


# -- out of order --------------------------------------------------------------------------
def test_a_migration_added_below_the_current_version(cli, db_url, migrations):
    folder = migrations({
        "1_a.up.sql": "CREATE TABLE a (id INTEGER);",
        "3_c.up.sql": "CREATE TABLE c (id INTEGER);",
    })
    args = ("--database-url", db_url, "--migrations", folder)
    assert cli("up", *args).code == 0
    migrations({"2_b.up.sql": "CREATE TABLE b (id INTEGER);"})

    refused = cli("up", *args)
    assert refused.code == 2, refused
    assert "2_b.up.sql" in refused.err and "--allow-out-of-order" in refused.err
    assert tables(db_url) == ["a", "c"]

    status = cli("status", "--json", *args).json()
    assert status["current_version"] == 3 and status["pending_count"] == 1
    assert status["pending"] == [
        {"version": 2, "name": "b", "phase": "core", "out_of_order": True}]

    applied = cli("up", "--allow-out-of-order", *args)
    assert applied.code == 0, applied
    assert tables(db_url) == ["a", "b", "c"]
    after = cli("status", "--json", *args).json()
    assert [a["version"] for a in after["applied"]] == [1, 2, 3]
    assert after["pending"] == [] and after["current_version"] == 3
