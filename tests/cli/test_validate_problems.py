"""``validate --json`` lists the problems of the files as objects (file, line, kind,
message, hint), an up/down pair with one problem as one entry, says how the folder
was read and which format would take the names it refuses; ``status`` never picks
one of two files with the same version in silence."""

import os

import pytest

from helpers import tables

GOOD = {"1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
        "1_users.down.sql": "DROP TABLE users;\n"}


def validate(cli, url, folder):
    result = cli("validate", "--json", "--database-url", url, "--migrations", folder)
    return result, result.json()


def by_file(problems, name):
    found = [p for p in problems if p["file"] and os.path.basename(p["file"]) == name]
    assert len(found) == 1, (name, problems)
    return found[0]


@pytest.mark.parametrize("name, text, kind, line", [
    ("2_x.up.sqlite", "SELECT 1;\n", "name", None),
    ("3_ctl.up.sql", "SELECT 1;\nSELECT '\x00';\n", "control", 2),
    ("4_dir.up.sql", "-- ferryman:no-such\nSELECT 1;\n", "directive", 1),
    ("5_open.up.sql", "SELECT 1;\nBEGIN;\nSELECT 2;\n", "transaction", 2),
    ("6_bad.py", "def up(ctx:\n", "python", 1),
    ("7_bytes.up.sql", b"SELECT '\xff';\n", "encoding", None),
])
def test_each_problem_is_an_object_naming_its_file_line_and_kind(cli, sqlite_url, migrations,
                                                                 name, text, kind, line):
    folder = migrations(dict(GOOD, **{name: text}))
    result, data = validate(cli, sqlite_url, folder)
    assert result.code == 2 and data["ok"] is False and data["exit_code"] == 2, result
    problem = by_file(data["problems"], name)
    assert problem["kind"] == kind, problem
    assert problem["line"] == line, problem
    assert problem["message"] and set(problem) >= {"file", "line", "kind", "message", "hint"}
    assert not os.path.exists(sqlite_url.split("sqlite:///", 1)[1])  # nothing changed


def test_an_up_down_pair_with_one_problem_is_one_entry(cli, sqlite_url, migrations):
    folder = migrations(dict(GOOD, **{"2_x.up.txt": "SELECT 1;\n", "2_x.down.txt": "x"}))
    _result, data = validate(cli, sqlite_url, folder)
    assert len(data["problems"]) == 1, data["problems"]
    problem = data["problems"][0]
    assert os.path.basename(problem["file"]) == "2_x.up.txt"
    assert sorted(os.path.basename(f) for f in problem["files"]) == ["2_x.down.txt",
                                                                     "2_x.up.txt"]
    assert problem["hint"], problem


def test_duplicate_versions_name_both_files_and_the_way_forward(cli, sqlite_url, migrations):
    folder = migrations(dict(GOOD, **{"2_a.up.sql": "SELECT 1;\n",
                                      "2_b.up.sql": "SELECT 2;\n"}))
    _result, data = validate(cli, sqlite_url, folder)
    problem = [p for p in data["problems"] if p["kind"] == "duplicate"]
    assert len(problem) == 1, data["problems"]
    assert [os.path.basename(f) for f in problem[0]["files"]] == ["2_a.up.sql", "2_b.up.sql"]
    assert "own version" in problem[0]["hint"] and 'format = "name"' in problem[0]["hint"]


def test_a_folder_of_another_format_is_named_with_its_setting(cli, sqlite_url, migrations):
    folder = migrations(dict(GOOD, **{"0002_a.up.sql": "SELECT 1;\n",
                                      "0002_b.up.sql": "SELECT 1;\n",
                                      "0157.up.sql": "SELECT 1;\n"}))
    result, data = validate(cli, sqlite_url, folder)
    assert data["format"] == "ferryman"
    assert any('set format = "name"' in line for line in data["advice"]), data["advice"]
    human = cli("validate", "--database-url", sqlite_url, "--migrations", folder)
    assert human.code == 2 and 'set format = "name"' in human.err, human


def test_a_valid_folder_is_ok(cli, sqlite_url, migrations):
    result, data = validate(cli, sqlite_url, migrations(GOOD))
    assert result.code == 0 and data["ok"] is True and data["migrations"] == 1


def test_status_shows_both_files_of_a_shared_version_and_up_refuses(cli, sqlite_url,
                                                                   migrations):
    folder = migrations(dict(GOOD, **{"2_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
                                      "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n"}))
    args = ("--database-url", sqlite_url, "--migrations", folder)
    status = cli("status", "--json", "--exit-code", *args)
    assert status.code == 3, status
    assert any("2_a.up.sql" in p and "2_b.up.sql" in p for p in status.json()["problems"])
    up = cli("up", *args)
    assert up.code == 2 and "2_a.up.sql" in up.err and "2_b.up.sql" in up.err, up
    assert tables(sqlite_url) == []


# -- every kind, as an object --------------------------------------------------------------
MORE = {"2_more.up.sql": "SELECT 1;\n", "2_more.down.sql": "SELECT 1;\n"}


@pytest.mark.parametrize("name, text, kind, line", [
    ("9223372036854775808_big.up.sql", "SELECT 1;\n", "version", None),
    ("5_quote.up.sql", "SELECT 1;\nSELECT 'abc;\n", "split", 2),
    ("6_noup.py", "def down(ctx):\n    pass\n", "python", None),
    ("7_orphan.down.sql", "SELECT 1;\n", "pairing", None),
    ("8_late.up.sql", "SELECT 1;\n-- ferryman:no-transaction\n", "directive", 2),
    ("9_red\x1b.up.sql", "SELECT 1;\n", "name", None),
])
def test_more_kinds_are_objects_with_a_way_forward(cli, sqlite_url, migrations, name, text,
                                                   kind, line):
    folder = migrations(dict(GOOD, **{name: text}))
    result, data = validate(cli, sqlite_url, folder)
    assert result.code == 2, result
    (problem,) = data["problems"]
    assert (problem["kind"], problem["line"]) == (kind, line), problem
    assert os.path.basename(problem["file"]) == name.replace("\x1b", "\\x1b"), problem
    assert problem["hint"], problem  # every refusal says the way forward


def test_a_link_a_directory_and_a_python_down_file_are_objects(cli, sqlite_url, migrations):
    folder = migrations(dict(GOOD, **{"3_py.py": "def up(ctx):\n    pass\n",
                                      "3_py.down.sql": "SELECT 1;\n"}))
    os.symlink("/etc/hostname", os.path.join(folder, "4_host.up.sql"))
    os.mkdir(os.path.join(folder, "5_dir.up.sql"))
    _result, data = validate(cli, sqlite_url, folder)
    kinds = {os.path.basename(p["file"]): p["kind"] for p in data["problems"]}
    assert kinds == {"3_py.down.sql": "pairing", "4_host.up.sql": "link",
                     "5_dir.up.sql": "unreadable"}, data["problems"]
    assert all(p["hint"] for p in data["problems"]), data["problems"]


def test_a_repeatable_in_the_folder_and_its_dialect_subfolder_is_a_duplicate(
        cli, sqlite_url, migrations):
    folder = migrations(dict(GOOD, **{"R__v.sql": "SELECT 1;\n"}))
    migrations({"R__v.sql": "SELECT 2;\n"}, folder="migrations/sqlite")
    _result, data = validate(cli, sqlite_url, folder)
    (problem,) = data["problems"]
    assert problem["kind"] == "duplicate" and len(problem["files"]) == 2, problem


GOOSE_OK = "-- +goose Up\nCREATE TABLE a (id INTEGER);\n-- +goose Down\nDROP TABLE a;\n"


def test_another_formats_problems_are_objects_too(cli, sqlite_url, migrations):
    folder = migrations({"1_a.sql": GOOSE_OK,
                         "2_b.sql": "-- a comment\nSELECT 1;\n",
                         "3_c.sql": "-- +goose Up\n-- +goose Whatever\nSELECT 1;\n",
                         "4_d.go": "package migrations\n"})
    _result, data = validate(cli, sqlite_url, folder)
    assert data["format"] == "goose", data
    found = {os.path.basename(p["file"]): (p["kind"], p["line"]) for p in data["problems"]}
    assert found == {"2_b.sql": ("section", 2), "3_c.sql": ("annotation", 2),
                     "4_d.go": ("unsupported", None)}, data["problems"]


def test_no_problem_of_a_folder_full_of_them_is_a_bare_text(cli, sqlite_url, migrations):
    """Every place that finds a problem in the files makes it a formats.Problem: none
    comes out as kind "other" (a text without its parts)."""
    from ferryman.core.formats import PROBLEM_KINDS

    folder = migrations(dict(GOOD, **{
        "2_x.up.sqlite": "SELECT 1;\n", "3_ctl.up.sql": "SELECT '\x00';\n",
        "4_dir.up.sql": "-- ferryman:no-such\nSELECT 1;\n",
        "5_open.up.sql": "BEGIN;\nSELECT 2;\n", "6_bad.py": "def up(ctx:\n",
        "7_bytes.up.sql": b"SELECT '\xff';\n", "8_a.up.sql": "SELECT 1;\n",
        "8_b.up.sql": "SELECT 1;\n", "8_a.down.sql": "SELECT 1;\n",
        "8_b.down.sql": "SELECT 1;\n", "9_quote.up.sql": "SELECT 'x;\n",
        "10_orphan.down.sql": "SELECT 1;\n", "R__v.sql": "SELECT 1;\n"}))
    migrations({"R__v.sql": "SELECT 1;\n"}, folder="migrations/sqlite")
    _result, data = validate(cli, sqlite_url, folder)
    assert sorted(p["kind"] for p in data["problems"]) == [
        "control", "directive", "duplicate", "duplicate", "encoding", "name", "pairing",
        "python", "split", "transaction"], data["problems"]
    for problem in data["problems"]:
        assert problem["kind"] in PROBLEM_KINDS and problem["hint"], problem


# -- one entry per problem -------------------------------------------------------------------
def test_a_flyway_pair_in_a_ferryman_folder_is_one_entry_naming_flyway(cli, sqlite_url,
                                                                      migrations):
    folder = migrations(dict(GOOD, **MORE, **{"V3__x.sql": "SELECT 1;\n",
                                              "U3__x.sql": "SELECT 1;\n"}))
    _result, data = validate(cli, sqlite_url, folder)
    (problem,) = data["problems"]
    assert os.path.basename(problem["file"]) == "V3__x.sql" and problem["kind"] == "name"
    assert [os.path.basename(f) for f in problem["files"]] == ["V3__x.sql", "U3__x.sql"]
    assert 'set format = "flyway"' in problem["hint"], problem
    assert any('format = "flyway"' in line for line in data["advice"]), data["advice"]


def test_a_shared_versions_up_and_down_files_are_one_entry(cli, sqlite_url, migrations):
    folder = migrations(dict(GOOD, **{"2_a.up.sql": "SELECT 1;\n", "2_a.down.sql": "SELECT 1;\n",
                                      "2_b.up.sql": "SELECT 2;\n", "2_b.down.sql": "SELECT 2;\n"}))
    _result, data = validate(cli, sqlite_url, folder)
    (problem,) = data["problems"]
    assert os.path.basename(problem["file"]) == "2_a.up.sql", problem
    assert [os.path.basename(f) for f in problem["files"]] == [
        "2_a.up.sql", "2_b.up.sql", "2_a.down.sql", "2_b.down.sql"]
    assert "`ferryman new b`" in problem["hint"], problem


def test_human_output_prints_one_line_per_entry_and_the_format(cli, sqlite_url, migrations):
    folder = migrations(dict(GOOD, **{"2_x.up.txt": "SELECT 1;\n", "2_x.down.txt": "x",
                                      "3_ctl.up.sql": "SELECT '\x00';\n"}))
    human = cli("validate", "--database-url", sqlite_url, "--migrations", folder)
    assert human.code == 2 and "2 problems in the migration files" in human.err, human
    entries = [line for line in human.err.splitlines() if line.startswith("  - ")]
    assert len(entries) == 2, human.err
    assert f"  - {folder}/2_x.up.txt (and 2_x.down.txt): name does not follow" in human.err
    assert "ferryman runs only .sql and .py files" in human.err  # the hint, as before
    assert f"  - {folder}/3_ctl.up.sql:1: control character U+0000 (NUL)" in human.err
    assert human.out.startswith("format: ferryman"), human


def test_the_json_shape_is_stable(cli, sqlite_url, migrations):
    _result, bad = validate(cli, sqlite_url, migrations(dict(GOOD, **{"2_x.up.txt": "x"})))
    assert set(bad) == {"ok", "error", "exit_code", "message", "format", "format_reasons",
                        "advice", "problems", "hint"}, bad
    assert set(bad["problems"][0]) == {"file", "files", "line", "kind", "message", "hint"}
    assert bad["format"] == "ferryman" and bad["format_reasons"], bad
    _result, good = validate(cli, sqlite_url, migrations(GOOD, folder="good"))
    assert set(good) == {"ok", "migrations", "applied_checked", "database", "problems",
                         "format", "format_reasons"}, good
    assert good["format"] == "ferryman" and good["format_reasons"], good


def test_a_configured_format_says_so(cli, sqlite_url, migrations, tmp_path, monkeypatch):
    folder = migrations({"V1__a.sql": "CREATE TABLE a (id INTEGER);\n"})
    (tmp_path / "ferryman.toml").write_text(
        f'database_url = "{sqlite_url}"\nmigrations = "{folder}"\nformat = "flyway"\n')
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "--json")
    assert result.code == 0, result
    assert result.json()["format"] == "flyway"
    assert result.json()["format_reasons"] == ["set in the configuration"]
    human = cli("validate")
    assert human.out.startswith("format: flyway (set in the configuration)"), human


def test_status_shows_a_shared_version_with_its_way_forward(cli, sqlite_url, migrations):
    folder = migrations(dict(GOOD, **{"2_a.up.sql": "CREATE TABLE a (id INTEGER);\n",
                                      "2_a.down.sql": "DROP TABLE a;\n",
                                      "2_b.up.sql": "CREATE TABLE b (id INTEGER);\n",
                                      "2_b.down.sql": "DROP TABLE b;\n"}))
    args = ("--database-url", sqlite_url, "--migrations", folder)
    data = cli("status", "--json", *args).json()
    shared = [p for p in data["problems"] if "version 2 is used by 2 migrations" in p]
    assert len(shared) == 1 and "2_a.up.sql" in shared[0] and "2_b.up.sql" in shared[0]
    assert "own version" in shared[0] and data["hint"], data
    human = cli("status", *args)
    assert "problem: " in human.out and "2_b.up.sql" in human.out, human
    up = cli("up", *args)
    assert up.code == 2 and "2_a.up.sql" in up.err and "2_b.up.sql" in up.err, up
    assert "2_a.down.sql" in up.err and "2_b.down.sql" in up.err, up
    assert tables(sqlite_url) == []


def test_a_flyway_undo_without_its_migration_names_the_v_file(cli, sqlite_url, migrations):
    folder = migrations({"V1__a.sql": "CREATE TABLE a (id INTEGER);\n",
                         "U2__b.sql": "SELECT 1;\n"})
    _result, data = validate(cli, sqlite_url, folder)
    (problem,) = data["problems"]
    assert (os.path.basename(problem["file"]), problem["kind"]) == ("U2__b.sql", "pairing")
    assert problem["hint"].startswith("expected V2__b.sql: add it"), problem
