"""Migration folders as a hostile user leaves them (issue 8, items 1, 5, 6 and 7).

- Control characters in any migration file (item 1): refused at validation, exit 2,
  naming the file and the line; a NUL in a PostgreSQL statement never runs cut short.
- Names that look like migrations but cannot be taken (item 5): a problem, never
  skipped without a word; files that are clearly not migrations stay allowed.
- Symbolic links (item 6): a link leaving the folder is a problem; a link within it,
  and a migrations folder that is itself a link, are fine.
- The folder itself (item 7): a file, a missing or an unreadable folder is exit 2 with
  a message, never a traceback; a pipe named like a migration never blocks.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from helpers import ROOT, ferryman_process, ferryman_tables, query, sqlite_path, tables

from ferryman.core.compile import check_files
from ferryman.core.source import scan
from ferryman.dialects import dialect_class

SQLITE = dialect_class("sqlite")
POSTGRESQL = dialect_class("postgresql")

# Every control character refused (C0 but TAB, LF, FF, CR; and DEL), and those allowed.
REFUSED = [chr(c) for c in [*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F]]
ALLOWED = ["\t", "\n", "\f", "\r"]

USERS = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n"
                      "INSERT INTO users VALUES (1, 'a@example.org'), (2, 'b@example.org');\n",
    "1_users.down.sql": "DROP TABLE users;\n",
}


def problems_of(folder, dialect=SQLITE):
    return check_files(scan({"core": folder}), dialect)


# -- item 1: control characters -----------------------------------------------------------
def test_a_nul_byte_never_cuts_a_postgresql_statement_short(cli, pg_url, migrations):
    """The issue's case: the driver cut the text at the NUL, the WHERE was lost, and
    every row was updated. Now validate and up refuse the file and change nothing."""
    folder = migrations(USERS)
    args = ("--database-url", pg_url, "--migrations", folder)
    assert cli("up", *args).code == 0
    migrations({"2_gone.up.sql": "UPDATE users SET email='gone'\x00 WHERE id=1;\n"})
    path = os.path.join(folder, "2_gone.up.sql")
    for command in ("validate", "up"):
        result = cli(command, *args)
        assert result.code == 2, result
        assert f"{path}:1: control character U+0000 (NUL) at column 30" in result.err, result
        assert "Traceback" not in result.err
    assert query(pg_url, "SELECT id, email FROM users ORDER BY id") == [
        (1, "a@example.org"), (2, "b@example.org")]
    assert query(pg_url, "SELECT max(version) FROM ferryman_migrations") == [(1,)]


@pytest.mark.parametrize("name, template", [
    ("2_x.up.sql", "SELECT 1;\nSELECT '{c}';\n"),
    ("2_x.down.sql", "SELECT 1;\nSELECT '{c}';\n"),
    ("R__view.sql", "CREATE VIEW v AS SELECT 1 AS one;\n-- {c}\n"),
    ("3_data.py", "def up(ctx):\n    ctx.execute('SELECT \"{c}\"')\n"),
])
def test_every_refused_control_character_in_every_kind_of_file_names_file_and_line(
        migrations, name, template):
    for char in REFUSED:
        folder = migrations({"2_x.up.sql": "SELECT 1;\n", name: template.format(c=char)},
                            folder=f"m{ord(char)}")
        path = os.path.join(folder, name)
        for dialect in (SQLITE, POSTGRESQL):
            problems = problems_of(folder, dialect)
            assert len(problems) == 1, (repr(char), problems)
            assert problems[0].startswith(f"{path}:2: control character U+{ord(char):04X}"), (
                repr(char), problems)


def test_tab_newline_form_feed_and_carriage_return_are_fine(migrations):
    folder = migrations({
        "1_a.up.sql": "CREATE TABLE a (\r\n\tid INTEGER\r\n);\f\nSELECT 1;\r",
        "2_b.py": "def up(ctx):\n\tctx.execute('SELECT 1')\f\n",
    })
    assert problems_of(folder) == []
    assert problems_of(folder, POSTGRESQL) == []


def test_the_problem_counts_further_control_characters_and_gives_the_column(migrations):
    folder = migrations({"1_a.up.sql": "SELECT 1;\nSELECT 2;\n  SELECT '\x1b[31m\x07';\x00"})
    (problem,) = problems_of(folder)
    assert ("1_a.up.sql:3: control character U+001B (escape) at column 11, and 2 more in "
            "the file") in problem


def test_a_nul_in_a_python_migration_is_a_problem_not_a_crash(cli, sqlite_url, migrations):
    """ast.parse raises ValueError on a NUL on Python 3.11.2 (exit 70 before)."""
    folder = migrations({"1_data.py": "def up(ctx):\n    pass\x00\n"})
    (problem,) = problems_of(folder)
    assert "1_data.py:2: control character U+0000 (NUL)" in problem
    result = cli("up", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 2 and "1_data.py:2:" in result.err, result
    assert not os.path.exists(sqlite_path(sqlite_url))


# -- item 5: names that look like migrations ----------------------------------------------
@pytest.mark.parametrize("name", [
    "2_other.up.sqlite",       # golang-migrate runs any extension
    "2_other.down.txt",
    "3_x.up.SQL",              # the extension in upper case
    "3_x.PY",
    "R__view.SQL",
    "4_y.sql",                 # neither up nor down
    "4.up.sql",                # no title
    "1_users.up.sql.bak",      # an editor's or a person's leftover
    "1_users.up.sql~",
])
def test_a_name_that_looks_like_a_migration_must_parse(cli, sqlite_url, migrations, name):
    folder = migrations(dict(USERS, **{name: "CREATE TABLE other (id INTEGER);\n"}))
    path = os.path.join(folder, name)
    problems = problems_of(folder)
    assert len(problems) == 1 and problems[0].startswith(f"{path}: name does not follow"), \
        problems
    for command in ("validate", "up"):
        result = cli(command, "--database-url", sqlite_url, "--migrations", folder)
        assert result.code == 2, result
        assert "1 problem in the migration files" in result.err and path in result.err
    assert not os.path.exists(sqlite_path(sqlite_url))


def test_the_problem_says_why_a_name_cannot_be_taken(migrations):
    folder = migrations(dict(USERS, **{"2_other.up.sqlite": "", "3.down.txt": "",
                                       "4_x.up.SQL": ""}))
    problems = "\n".join(problems_of(folder))
    assert ("2_other.up.sqlite: name does not follow" in problems
            and "(ferryman runs only .sql and .py files, though golang-migrate would run "
                "this one; rename it" in problems), problems
    assert "(ferryman runs only .sql and .py files; rename it" in problems
    assert "(the extension must be .sql or .py, in lower case; rename it" in problems


def test_a_down_file_without_an_up_file_is_a_problem(migrations):
    folder = migrations(dict(USERS, **{"5_z.down.sql": "DROP TABLE z;\n"}))
    (problem,) = problems_of(folder)
    assert "5_z.down.sql: down migration without an up migration" in problem


def test_files_that_are_clearly_not_migrations_are_allowed(migrations):
    folder = migrations(dict(USERS, **{
        "README.md": "# migrations\n", ".gitkeep": "", "__init__.py": "",
        "seed.csv": "id\n1\n", "0001_seed.csv": "id\n1\n", "20260101_notes.md": "notes\n",
        "_draft.up.sql": "not yet", ".1_users.up.sql.swp": "\x00\x01",
        "notes.txt": "up.down.", "Makefile": "all:\n",
    }))
    os.makedirs(os.path.join(folder, "__pycache__"))
    (open(os.path.join(folder, "__pycache__", "2_b.cpython-311.pyc"), "wb")
     .write(b"\x00\x01\x02"))
    assert problems_of(folder) == []
    assert [m.version for m in scan({"core": folder}).migrations] == [1]


@pytest.mark.parametrize("name, expected", [
    ("1_a.up.sql", True), ("1_a.UP.sql", True), ("2_other.up.sqlite", True),
    ("2.down.txt", True), ("x.sql", True), ("x.Py", True), ("R__v.sql", True),
    ("README.md", False), ("0001_seed.csv", False), ("_1_a.up.sql", False),
    (".1_a.up.sql", False), ("__init__.py", False), ("up.down.txt", False),
    ("v1_a.up.txt", False),
])
def test_the_rule_for_what_looks_like_a_migration(name, expected):
    from ferryman.core.source import looks_like_migration

    assert looks_like_migration(name) is expected


def test_a_name_that_is_not_printable_is_a_problem_shown_escaped(cli, sqlite_url, migrations):
    folder = migrations(USERS)
    with open(os.path.join(os.fsencode(folder), b"2_caf\xe9.up.sql"), "wb") as handle:
        handle.write(b"SELECT 1;\n")  # a Latin-1 name: not UTF-8
    with open(os.path.join(folder, "3_red\x1b[31m.up.sql"), "w") as handle:
        handle.write("SELECT 1;\n")
    problems = problems_of(folder)
    assert len(problems) == 2, problems
    assert any("2_caf\\udce9.up.sql: the name holds a character that is not printable" in p
               for p in problems), problems
    assert any("3_red\\x1b[31m.up.sql: the name holds" in p for p in problems), problems
    result = cli("validate", "--json", "--database-url", sqlite_url, "--migrations", folder)
    assert result.code == 2, result
    assert "2 problems in the migration files" in result.json()["message"]
    assert "\x1b" not in result.err and "\x1b" not in result.out


# -- item 6: symbolic links -----------------------------------------------------------------
def test_a_link_to_a_file_outside_the_folder_is_refused(cli, sqlite_url, migrations, tmp_path):
    folder = migrations(USERS)
    outside = migrations({"2.sql": "CREATE TABLE other (id INTEGER);\n"}, folder="other")
    os.symlink("/etc/passwd", os.path.join(folder, "2_passwd.up.sql"))
    os.symlink(os.path.join("..", "other", "2.sql"), os.path.join(folder, "3_other.up.sql"))
    os.symlink(os.path.join(outside, "gone.sql"), os.path.join(folder, "4_gone.up.sql"))
    problems = problems_of(folder)
    assert len(problems) == 3, problems
    for name, target in (("2_passwd.up.sql", "/etc/passwd"),
                         ("3_other.up.sql", os.path.join(outside, "2.sql")),
                         ("4_gone.up.sql", os.path.join(outside, "gone.sql"))):
        assert any(p.startswith(f"{os.path.join(folder, name)}: a symbolic link to {target}, "
                                f"outside the migrations folder {folder}") for p in problems), (
            name, problems)
    for command in ("validate", "up"):
        result = cli(command, "--database-url", sqlite_url, "--migrations", folder)
        assert result.code == 2 and "2_passwd.up.sql: a symbolic link" in result.err, result
        assert "root:" not in result.err  # nothing of the file was read into a message
    assert not os.path.exists(sqlite_path(sqlite_url))


def test_a_link_within_the_folder_and_a_linked_folder_are_fine(cli, sqlite_url, migrations,
                                                               tmp_path):
    folder = migrations(USERS, folder="releases/42/migrations")
    migrations({"b.sql": "CREATE TABLE b (id INTEGER);\n"},
               folder="releases/42/migrations/shared")
    os.symlink(os.path.join("shared", "b.sql"), os.path.join(folder, "2_b.up.sql"))
    os.symlink(os.path.join(folder, "1_users.down.sql"),  # absolute, inside
               os.path.join(folder, "2_b.down.sql"))
    link = tmp_path / "current"
    os.symlink(folder, link)
    assert problems_of(str(link)) == []
    result = cli("up", "--database-url", sqlite_url, "--migrations", str(link))
    assert result.code == 0, result
    assert tables(sqlite_url) == ["b", "users"]


def test_a_dialect_subfolder_that_links_outside_is_refused(migrations, tmp_path):
    folder = migrations(USERS)
    elsewhere = migrations({"2_x.up.sql": "SELECT 1;\n"}, folder="elsewhere")
    os.symlink(elsewhere, os.path.join(folder, "sqlite"))
    (problem,) = check_files(scan({"core": folder}, "sqlite"), SQLITE)
    assert problem.startswith(f"{os.path.join(folder, 'sqlite')}: a symbolic link to "
                              f"{elsewhere}, outside the migrations folder"), problem


# -- item 7: the folder itself, and files that are not files ------------------------------
def test_a_file_or_a_missing_folder_as_the_migrations_folder_exits_2(cli, sqlite_url, tmp_path):
    for folder, words in (("/etc/passwd", "is not a folder"),
                          (str(tmp_path / "missing"), "does not exist"),
                          ("/etc/passwd/sub", "cannot read migrations folder")):
        for command in ("validate", "status", "up"):
            result = cli(command, "--database-url", sqlite_url, "--migrations", folder)
            assert result.code == 2, (command, folder, result)
            assert f"migrations folder {folder}" in result.err and words in result.err, result
            assert "Traceback" not in result.err and "internal error" not in result.err
    assert not os.path.exists(sqlite_path(sqlite_url))


def test_an_unreadable_folder_exits_2(migrations):
    """Run as nobody (setpriv), since root reads any folder; Debian's python3 runs it,
    as the venv's Python lives under /root."""
    setpriv = shutil.which("setpriv")
    python = "/usr/bin/python3"
    if setpriv is None or not os.path.exists(python):
        pytest.fail("this test needs setpriv (util-linux) and /usr/bin/python3")
    base = tempfile.mkdtemp(prefix="ferryman-unreadable-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        folder = os.path.join(base, "migrations")
        os.mkdir(folder)
        with open(os.path.join(folder, "1_a.up.sql"), "w") as handle:
            handle.write("SELECT 1;\n")
        os.chmod(folder, 0o000)
        done = subprocess.run(
            [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python, "-m",
             "ferryman", "validate", "--database-url", f"sqlite:///{base}/app.db",
             "--migrations", folder],
            capture_output=True, text=True, timeout=120, cwd=base,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                 "PYTHONPATH": os.path.join(ROOT, "src")})
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert f"cannot read migrations folder {folder}: Permission denied" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        os.chmod(os.path.join(base, "migrations"), 0o755)
        shutil.rmtree(base)


def test_a_pipe_named_like_a_migration_is_a_problem_and_never_blocks(migrations, sqlite_url):
    """A subprocess with a deadline: before, opening the pipe waited for a writer
    forever."""
    folder = migrations(USERS)
    os.mkfifo(os.path.join(folder, "2_pipe.up.sql"))
    process = ferryman_process("validate", "--database-url", sqlite_url, "--migrations",
                               folder)
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("validate blocked on a pipe named like a migration")
    assert process.returncode == 2, (out, err)
    assert "2_pipe.up.sql: cannot read: not a regular file, not a migration file" in err


def test_a_directory_named_like_a_migration_says_so(migrations):
    folder = migrations(USERS)
    os.mkdir(os.path.join(folder, "2_dir.up.sql"))
    (problem,) = problems_of(folder)
    assert "2_dir.up.sql: cannot read: a directory, not a migration file (" in problem
    assert problem.kind == "unreadable"


def test_nothing_was_created_by_refused_files_on_postgresql(cli, pg_url, migrations):
    """Exit 2 means nothing changed: not even ferryman's own tables."""
    folder = migrations(dict(USERS, **{"2_other.up.sqlite": "SELECT 1;\n"}))
    os.symlink("/etc/hostname", os.path.join(folder, "3_host.up.sql"))
    result = cli("up", "--database-url", pg_url, "--migrations", folder)
    assert result.code == 2 and "2 problems in the migration files" in result.err, result
    assert ferryman_tables(pg_url) == [] and tables(pg_url) == []
