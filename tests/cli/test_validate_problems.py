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
