"""The folder formats (issue 10, item 1): each tool's names, order and file sections, as
the tools' own sources read them (FORMATS.md), and which format a folder is in.

Pure functions: names and texts in, no files, no database. The fixtures are shaped like
real projects' folders (synthetic names and contents).
"""

import pickle
import re
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.core.formats import (
    FORMATS, FlywayVersion, Name, Problem, check_names, dbmate_sections, detect,
    explain_refusal, flyway_checksum, flyway_placeholders, goose_sections, parse_name,
)
from ferryman.core.splitter import split

BOUNDED = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def names(format, filenames):
    """{filename: parse_name's result}."""
    return {f: parse_name(format, f) for f in filenames}


def ordered(format, filenames):
    """The files that parse, in the order the format runs them."""
    found = [parse_name(format, f) for f in filenames]
    return [n.file for n in sorted((n for n in found if isinstance(n, Name)),
                                   key=lambda n: n.order)]


# -- fixtures shaped like real folders ------------------------------------------------------
GOLANG_MIGRATE = [
    "0_initial.up.sql", "0_initial.down.sql",
    "000001_create_users.up.sql", "000001_create_users.down.sql",
    "000002_add.index.to.users.up.sql",
    "20240131120000_backfill.up.sql", "20240131120000_backfill.down.sql",
    "README.md", "seed.csv", "_shared.sql", ".gitkeep",
]
NAME_ORDERED = [  # a product's folder whose runner sorts by file name
    "0000_init_up.sql", "0000_init_down.sql",
    "0001_users.up.sql", "0001_users.down.sql",
    "0002_a.up.sql", "0002_a.down.sql", "0002_b.up.sql", "0002_b.down.sql",
    "0157.up.sql", "0157.down.sql",
    "0158_Settings.up.sql", "0158_audit.up.sql",
    "README.md",
]
FLYWAY = [
    "V1__init.sql", "V1.1__users.sql", "V1_2__orders.sql", "V1.10__tenants.sql",
    "V2__accounts.SQL", "V17.1__archive.sql", "V001_5__padded.sql",
    "U1.1__users.sql", "B2__baseline_at_2.sql",
    "R__views.sql", "R__functions_and_triggers.sql",
    "README.md",
]
DBMATE = [
    "20230101000000_create_users.sql", "20230102000000_add_email.sql",
    "9_legacy.sql", "10_legacy.sql", "schema.txt",
]
GOOSE = [
    "00001_create_users.sql", "00002_add_email.sql", "20240101120000_backfill.sql",
    "00003_seed.go", "helpers.go", "00004_seed_test.go",
]
FERRYMAN = [
    "1_users.up.sql", "1_users.down.sql", "2_backfill.py", "R__views.sql", "__init__.py",
]


# -- names: golang-migrate -----------------------------------------------------------------
def test_golang_migrate_takes_version_zero_leading_zeros_and_dotted_titles():
    found = names("golang-migrate", GOLANG_MIGRATE)
    assert found["0_initial.up.sql"] == Name(
        "golang-migrate", "0_initial.up.sql", 0, "0", "initial", "up", "sql", (0, 0))
    assert found["000001_create_users.down.sql"].key == 1
    assert found["000001_create_users.down.sql"].version_text == "000001"
    assert found["000002_add.index.to.users.up.sql"].title == "add.index.to.users"
    ignored = ("README.md", "seed.csv", "_shared.sql", ".gitkeep")
    assert [found[f] for f in ignored] == [None] * 4
    assert [found[f].key for f in ordered("golang-migrate", GOLANG_MIGRATE)] == [
        0, 0, 1, 1, 2, 20240131120000, 20240131120000]
    assert check_names("golang-migrate",
                       [n for n in found.values() if isinstance(n, Name)]) == []


def test_golang_migrate_lists_other_extensions_as_problems():
    found = names("golang-migrate", ["2_other.up.sqlite", "3_x.up.SQL", "1_a.up.sql.bak",
                                     "4_cql.down.cql"])
    assert found["3_x.up.SQL"].key == 3  # golang-migrate runs it: so does ferryman
    for name in ("2_other.up.sqlite", "1_a.up.sql.bak", "4_cql.down.cql"):
        problem = found[name]
        assert isinstance(problem, Problem) and problem.kind == "unsupported"
        assert problem.startswith(f"{name}: extension .")
        assert "driver's own client" in problem and "ferryman runs SQL files only" in problem
        assert "rename it" in problem.hint


def test_golang_migrate_versions_beyond_bigint():
    found = names("golang-migrate", [f"{2**63 - 1}_max.up.sql", f"{2**63}_over.up.sql",
                                     f"{2**64}_skipped.up.sql"])
    assert found[f"{2**63 - 1}_max.up.sql"].key == 2**63 - 1
    assert "BIGINT" in found[f"{2**63}_over.up.sql"]
    assert "ParseUint" in found[f"{2**64}_skipped.up.sql"]


def test_golang_migrate_duplicates_suggest_the_name_format():
    found = [parse_name("golang-migrate", f)
             for f in ("1_a.up.sql", "01_b.up.sql", "1_a.down.sql", "2_c.up.sql")]
    (problem,) = check_names("golang-migrate", found)
    assert problem.kind == "duplicate"
    assert problem == ("1_a.up.sql: version 1 has 2 up files: 1_a.up.sql, 01_b.up.sql "
                       "(01 and 1 are the same number) (renumber all but one; or, if the "
                       "runner orders this folder by file name so that several files may "
                       'share a number, set format = "name")')


def test_a_refused_name_says_which_format_takes_it():
    found = names("golang-migrate", ["0157.up.sql", "V1__init.sql", "R__views.sql",
                                     "20240101_x.sql"])
    assert found["0157.up.sql"].hint.endswith('set format = "name"')
    assert found["V1__init.sql"].hint.endswith('Flyway takes this name: set format = "flyway"')
    assert found["R__views.sql"].hint.endswith('set format = "ferryman"')
    assert 'set format = "goose" or "dbmate"' in found["20240101_x.sql"]


# -- names: ferryman --------------------------------------------------------------------------
def test_ferryman_names():
    found = names("ferryman", FERRYMAN)
    assert found["1_users.up.sql"].key == 1
    python = found["2_backfill.py"]
    assert (python.kind, python.direction) == ("python", "both")
    assert found["R__views.sql"][2:] == (
        "views", "", "views", "up", "repeatable", (1, "views"))
    assert found["__init__.py"] is None
    assert ordered("ferryman", FERRYMAN) == [
        "1_users.up.sql", "1_users.down.sql", "2_backfill.py", "R__views.sql"]
    flyway = parse_name("ferryman", "V1__init.sql")
    assert isinstance(flyway, Problem) and 'set format = "flyway"' in flyway
    assert isinstance(parse_name("ferryman", "3_x.up.py"), Problem)
    assert "BIGINT" in parse_name("ferryman", f"{2**63}_x.up.sql")


def test_a_path_names_the_file():
    assert parse_name("ferryman", "1_a.up.sql", "db/migrations/1_a.up.sql").file == (
        "db/migrations/1_a.up.sql")
    problem = parse_name("ferryman", "1_a.up.sqlite", "db/1_a.up.sqlite")
    assert problem.file == "db/1_a.up.sqlite" and problem.startswith("db/1_a.up.sqlite: ")


def test_a_problem_keeps_its_parts():
    problem = goose_sections("-- +goose Up\nSELECT 1\n", "db/00001_x.sql").problems[0]
    assert (problem.file, problem.line, problem.kind) == ("db/00001_x.sql", 2, "section")
    assert problem == f"db/00001_x.sql:2: {problem.message} ({problem.hint})"
    copy = pickle.loads(pickle.dumps(problem))
    assert (copy, copy.kind, copy.hint) == (problem, problem.kind, problem.hint)


def test_an_unknown_format_is_a_value_error():
    with pytest.raises(ValueError, match="unknown migrations format 'liquibase'"):
        parse_name("liquibase", "1_a.up.sql")


# -- names: ordered by file name --------------------------------------------------------------
def test_name_format_identity_and_order():
    found = names("name", NAME_ORDERED)
    assert found["0002_a.up.sql"].key == "0002_a"
    assert found["0002_a.down.sql"].key == "0002_a"
    assert (found["0157.up.sql"].key, found["0157.up.sql"].version_text,
            found["0157.up.sql"].title) == ("0157", "0157", "")
    assert (found["0000_init_up.sql"].key, found["0000_init_down.sql"].direction) == (
        "0000_init", "down")
    assert found["README.md"] is None
    ups = [f for f in ordered("name", NAME_ORDERED) if found[f].direction == "up"]
    assert ups == ["0000_init_up.sql", "0001_users.up.sql", "0002_a.up.sql", "0002_b.up.sql",
                   "0157.up.sql", "0158_Settings.up.sql", "0158_audit.up.sql"]
    downs = sorted((n for n in found.values() if n and n.direction == "down"),
                   key=lambda n: n.order)
    assert [n.key for n in downs] == ["0000_init", "0001_users", "0002_a", "0002_b", "0157"]
    assert check_names("name", [n for n in found.values() if n]) == []


def test_name_format_compares_numbers_as_text_as_a_runner_listing_the_folder_does():
    assert ordered("name", ["2_b.up.sql", "10_a.up.sql", "a.up.sql", "B.up.sql"]) == [
        "10_a.up.sql", "2_b.up.sql", "B.up.sql", "a.up.sql"]


def test_name_format_problems():
    found = names("name", ["0003_x.sql", "0004_y.up.sqlite", "5_z.py"])
    assert "name does not follow {name}.up.sql" in found["0003_x.sql"]
    assert found["0004_y.up.sqlite"].kind == "unsupported"
    assert 'set format = "ferryman"' in found["5_z.py"]
    clash = [parse_name("name", f) for f in ("0002_a.up.sql", "0002_a_up.sql")]
    (problem,) = check_names("name", clash)
    assert "2 up files name the migration '0002_a'" in problem


# -- names: Flyway ---------------------------------------------------------------------------
def test_flyway_names():
    found = names("flyway", FLYWAY)
    v = found["V1_2__orders.sql"]
    assert (str(v.key), v.version_text, v.title, v.direction, v.kind) == (
        "1.2", "1_2", "orders", "up", "sql")
    assert found["V2__accounts.SQL"].key == FlywayVersion("2")  # suffix in any case
    assert str(found["V001_5__padded.sql"].key) == "001.5"  # leading zeros kept
    undo = found["U1.1__users.sql"]
    assert (undo.kind, undo.direction) == ("undo", "down")
    assert found["B2__baseline_at_2.sql"].kind == "baseline"
    assert found["R__functions_and_triggers.sql"].key == "functions and triggers"
    assert found["README.md"] is None
    assert ordered("flyway", FLYWAY) == [
        "V1__init.sql", "V1.1__users.sql", "U1.1__users.sql", "V1_2__orders.sql",
        "V001_5__padded.sql", "V1.10__tenants.sql", "V2__accounts.SQL",
        "B2__baseline_at_2.sql", "V17.1__archive.sql",
        "R__functions_and_triggers.sql", "R__views.sql"]
    assert check_names("flyway", [n for n in found.values() if n]) == []


def test_flyway_version_without_description_and_split_at_the_first_separator():
    found = names("flyway", ["V3.sql", "V4__a__b.sql", "R__.sql"])
    assert (str(found["V3.sql"].key), found["V3.sql"].title) == ("3", "")
    assert found["V4__a__b.sql"].title == "a  b"
    assert found["R__.sql"].key == ""


def test_flyway_repeatables_sort_by_description_in_utf16_order():
    # Java compares UTF-16 code units: U+1F600 is D83D DE00, before U+FF5E.
    files = ["R__\uff5e.sql", "R__\U0001f600.sql", "R__b.sql", "R__B.sql"]
    assert ordered("flyway", files) == [
        "R__B.sql", "R__b.sql", "R__\U0001f600.sql", "R__\uff5e.sql"]


def test_flyway_equal_versions_are_a_problem():
    found = [parse_name("flyway", f) for f in
             ("V1__a.sql", "V1.0__b.sql", "V001__c.sql", "V1_0_0__d.sql", "U1__a.sql",
              "B1__base.sql", "R__x_y.sql", "R__x y.sql")]
    problems = check_names("flyway", found)
    assert len(problems) == 2
    assert problems[0].startswith(
        "V1__a.sql: Found more than one migration with version 1: "
        "V1__a.sql, V1.0__b.sql, V001__c.sql, V1_0_0__d.sql")
    assert "renumber all but one" in problems[0]
    assert "repeatable migrations have the description 'x y'" in problems[1]


def test_flyway_names_it_cannot_take():
    found = names("flyway", ["V1_init.sql", "v2__x.sql", "Vcurrent__x.sql", "V1..2__x.sql",
                             "afterMigrate.sql", "beforeEachMigrate__grants.sql",
                             "R1__x.sql", "init.sql", "V3__script.sh", "R.sql"])
    assert found["V1_init.sql"].hint == (
        "Flyway splits the version from the description at two underscores: rename it "
        "V1__init.sql")
    assert "skip the file silently" in found["V1_init.sql"]
    assert "prefixes are upper case: rename it V2__x.sql" in found["v2__x.sql"]
    assert "marker (CURRENT)" in found["Vcurrent__x.sql"]
    assert "Flyway cannot read the version '1..2'" in found["V1..2__x.sql"]
    assert "Flyway callback (afterMigrate)" in found["afterMigrate.sql"]
    assert "(beforeEachMigrate)" in found["beforeEachMigrate__grants.sql"]
    assert found["R1__x.sql"].hint == "rename it R__x.sql"
    assert "Flyway would skip it silently" in found["init.sql"]
    assert "script migration" in found["V3__script.sh"]
    assert isinstance(found["R.sql"], Problem)


def test_flyway_version_values():
    one = {FlywayVersion(t) for t in ("1", "1.0", "1_0", "001", "1.0.0", "+1")}
    assert len(one) == 1
    assert [str(FlywayVersion(t)) for t in ("2_1", "001", "1.0")] == ["2.1", "001", "1.0"]
    assert FlywayVersion("1.2") < FlywayVersion("1.10") < FlywayVersion("2")
    assert FlywayVersion("1") < FlywayVersion("1.0.1")
    assert FlywayVersion("-1") < FlywayVersion("0") == FlywayVersion("0.0")
    assert FlywayVersion("201004200021") > FlywayVersion("17.1")
    for bad in ("", "1.", ".1", "1..2", "1.a", "a", " 1", "1.-2", "latest", "NEXT",
                str(2**63 - 1)):
        with pytest.raises(ValueError):
            FlywayVersion(bad)
    assert FlywayVersion("1") != "1" and FlywayVersion("1") != 1
    with pytest.raises(ValueError, match="more than 1000 digits"):
        FlywayVersion("1." + "2" * 4400)


def test_flyway_checksum():
    def signed(data):
        crc = zlib.crc32(data)
        return crc - 2**32 if crc >= 2**31 else crc

    text = "CREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);\n"
    expected = signed(b"CREATE TABLE a (id INT);INSERT INTO a VALUES (1);")
    assert flyway_checksum(text) == expected
    assert flyway_checksum(text.replace("\n", "\r\n")) == expected
    assert flyway_checksum(text.replace("\n", "\r")) == expected
    assert flyway_checksum("\ufeff" + text) == expected
    assert flyway_checksum("a;\n\ufeffb;") == signed("a;\ufeffb;".encode())  # first line only
    assert flyway_checksum("a\u2028b\x85c") == signed("a\u2028b\x85c".encode())  # no line ends
    assert flyway_checksum("") == 0
    assert flyway_checksum("é") == signed("é".encode("utf-8"))
    negative = next(t for t in (f"SELECT {i};" for i in range(100))
                    if zlib.crc32(t.encode()) >= 2**31)
    assert flyway_checksum(negative) < 0


def test_flyway_placeholders_are_problems():
    text = "CREATE TABLE ${schema}.a (id INT);\nSELECT '$1', '${flyway:user}';\n"
    problems = flyway_placeholders(text, "V1__a.sql")
    assert [(p.line, p.kind) for p in problems] == [(1, "placeholder"), (2, "placeholder")]
    assert problems[0].startswith("V1__a.sql:1: Flyway placeholder ${schema}")
    assert flyway_placeholders("SELECT $$x$$;", "V1__a.sql") == []


# -- names: dbmate and goose ----------------------------------------------------------------
def test_dbmate_names_keep_the_version_as_written_and_run_in_name_order():
    found = names("dbmate", DBMATE + ["001_a.sql", "1_b.sql", "002_x.SQL", "notes.sql"])
    assert (found["001_a.sql"].key, found["1_b.sql"].key) == ("001", "1")
    assert found["20230101000000_create_users.sql"].title == "create_users"
    assert found["schema.txt"] is None
    assert "lower case" in found["002_x.SQL"]
    assert "does not start with a version" in found["notes.sql"]
    assert ordered("dbmate", DBMATE) == [
        "10_legacy.sql", "20230101000000_create_users.sql", "20230102000000_add_email.sql",
        "9_legacy.sql"]
    (problem,) = check_names("dbmate", [parse_name("dbmate", f)
                                        for f in ("001_a.sql", "001_b.sql", "1_c.sql")])
    assert "2 files have the version 001" in problem and "only the first" in problem


def test_goose_names():
    found = names("goose", GOOSE + ["0_zero.sql", "abc.sql", "-1_neg.sql", "00005.sql"])
    assert found["00001_create_users.sql"][2:5] == (1, "00001", "create_users")
    assert found["20240101120000_backfill.sql"].key == 20240101120000
    assert found["helpers.go"] is None and found["00004_seed_test.go"] is None
    go = found["00003_seed.go"]
    assert go.kind == "unsupported" and "ferryman cannot run Go code" in go
    assert "00003_seed.sql" in go.hint
    assert "below 1" in found["0_zero.sql"] and "below 1" in found["-1_neg.sql"]
    huge = "9" * 5000
    assert "above" in parse_name("goose", f"{huge}_x.sql")
    assert "below 1" in parse_name("goose", f"-{huge}_x.sql")
    assert "ParseUint" in parse_name("golang-migrate", f"{huge}_x.up.sql")
    assert parse_name("dbmate", f"{huge}_x.sql").key == huge
    assert "no _ after the version" in found["abc.sql"]
    assert "no _ after the version" in found["00005.sql"]
    (problem,) = check_names("goose", [parse_name("goose", f)
                                       for f in ("1_a.sql", "00001_b.sql")])
    assert "version 1 has 2 up files" in problem and "goose refuses" in problem


# -- detection ------------------------------------------------------------------------------
class Reader:
    """A read() that serves given heads and counts its calls."""

    def __init__(self, heads):
        self.heads, self.calls = heads, []

    def __call__(self, filename):
        self.calls.append(filename)
        if filename not in self.heads:
            raise OSError(2, "No such file")
        return self.heads[filename]


@pytest.mark.parametrize(("files", "expected"), [
    (GOLANG_MIGRATE, "golang-migrate"),
    (NAME_ORDERED, "name"),
    (FLYWAY, "flyway"),
    (FERRYMAN, "ferryman"),
    (GOOSE, "goose"),
    (["20230101000000-create_users.sql", "20230102000000_add_email.sql"], "dbmate"),
    ([], "ferryman"),
    (["README.md", "_notes.sql"], "ferryman"),
    (["1_a.py", "R__views.sql"], "ferryman"),
    (["afterMigrate.sql", "V1__init.sql"], "flyway"),
])
def test_detect_by_names_alone(files, expected):
    reader = Reader({})
    format, reasons = detect(files, reader)
    assert format == expected
    assert reasons and all(isinstance(r, str) for r in reasons)
    assert reader.calls == []


def test_detect_gives_its_reasons():
    assert detect([]) == ("ferryman", [
        "no migration files: ferryman's own format, the default for new projects"])
    format, reasons = detect(NAME_ORDERED)
    assert reasons == [
        "2 files named {name}_up.sql / {name}_down.sql: 0000_init_down.sql, 0000_init_up.sql",
        "2 names without {version}_{title} before .up/.down: 0157.down.sql, 0157.up.sql",
        "2 files share version 0002: 0002_a.up.sql, 0002_b.up.sql",
        "2 files share version 0158: 0158_Settings.up.sql, 0158_audit.up.sql",
        "so the folder is ordered by file name, not by a unique version",
    ]
    format, reasons = detect(
        ["1_a.up.sql", "2_b.up.sql", "2_c.up.sql", "2_d.up.sql", "2_e.up.sql"])
    assert (format, reasons[0]) == (
        "name", "4 files share version 2: 2_b.up.sql, 2_c.up.sql, 2_d.up.sql, ...")


def test_detect_reads_contents_only_when_names_cannot_tell():
    files = ["00001_users.sql", "00002_email.sql", "00003_index.sql", "00004_more.sql"]
    dbmate = Reader({f: "-- migrate:up\nCREATE TABLE x (a int);\n-- migrate:down\n"
                     for f in files})
    assert detect(files, dbmate)[0] == "dbmate"
    assert dbmate.calls == files[:3]
    goose = Reader({"00002_email.sql": "-- +goose up\nSELECT 1;\n"})  # the others unreadable
    format, reasons = detect(files, goose)
    assert (format, reasons[0]) == ("goose", "00002_email.sql holds -- +goose Up")
    plain = Reader({f: "CREATE TABLE x (a int);\n" for f in files})
    format, reasons = detect(files, plain)
    assert format == "ferryman" and "holds dbmate's -- migrate:up or goose's" in reasons[0]
    format, reasons = detect(files)
    assert format == "ferryman" and "their contents tell which" in reasons[0]


def test_detect_notes_dbmates_file_name_order():
    reader = Reader({f: "-- migrate:up\n-- migrate:down\n" for f in DBMATE})
    format, reasons = detect(DBMATE, reader)
    assert format == "dbmate"
    assert reasons[-1] == ("dbmate runs files in name order, so 10_legacy.sql runs before "
                           "9_legacy.sql; ferryman keeps that order")


def test_detect_in_a_mixed_folder_the_largest_group_decides():
    format, reasons = detect(["1_a.up.sql", "2_b.up.sql", "V1__stray.sql"])
    assert format == "golang-migrate"
    assert reasons[-1] == ("also 1 file that Flyway takes and format 'golang-migrate' "
                           "refuses: V1__stray.sql")


def test_explain_refusal():
    assert explain_refusal(FLYWAY, "flyway") == []
    texts = explain_refusal(FLYWAY, "ferryman")
    assert texts[0] == (
        "9 of the files format 'ferryman' refuses are Flyway's names (B2__baseline_at_2.sql, "
        'U1.1__users.sql, V001_5__padded.sql, ...): set format = "flyway"')
    texts = explain_refusal(NAME_ORDERED, "golang-migrate")
    assert texts[0].startswith("4 of the files format 'golang-migrate' refuses are names "
                               "of a folder run in file-name order")
    assert texts[0].endswith('set format = "name"')
    assert explain_refusal(["1_a.up.sql", "2_b.up.sql", "V1__x.sql"], "golang-migrate") == [
        'V1__x.sql: Flyway\'s names (format = "flyway")']


# -- dbmate sections ------------------------------------------------------------------------
DBMATE_FILE = """\
-- A header comment is allowed before the first marker.

-- migrate:up
CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT);
CREATE INDEX users_name ON users (name);

-- migrate:down
DROP TABLE users;
"""


def test_dbmate_sections():
    up, down, problems = dbmate_sections(DBMATE_FILE, "1_users.sql")
    assert problems == []
    assert up[0].text == (
        "-- migrate:up\nCREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT);"
        "\nCREATE INDEX users_name ON users (name);\n\n")
    assert (up[0].line, up[0].transaction) == (3, True)
    assert down == (dbmate_sections(DBMATE_FILE, "x").down[0],)
    assert (down[0].text, down[0].line) == ("-- migrate:down\nDROP TABLE users;\n", 7)
    lines = [s.line for s in split(up[0].padded, "postgresql")]
    assert lines == [4, 5]  # the file's own lines
    assert [s.line for s in split(down[0].padded, "postgresql")] == [8]


def test_dbmate_transaction_option_and_markers():
    text = ("--migrate:up   transaction:false  other:x\nALTER TYPE c ADD VALUE 'x';\n"
            "-- migrate:down transaction:False\nSELECT 1;\n")
    up, down, problems = dbmate_sections(text, "1_x.sql")
    assert problems == [] and up[0].transaction is False
    assert down[0].transaction is True  # dbmate compares with "false" exactly
    _up, _down, problems = dbmate_sections("-- migrate:upgrade\n-- migrate:down\n", "1_x.sql")
    assert problems[0].message.startswith("no '-- migrate:up' line")


def test_dbmate_several_pairs_undo_last_first():
    text = ("-- migrate:up transaction:false\nALTER TYPE colors ADD VALUE 'orange';\n"
            "-- migrate:down\nSELECT 1;\n"
            "-- migrate:up\nALTER TABLE users ADD COLUMN email TEXT;\n"
            "-- migrate:down\nALTER TABLE users DROP COLUMN email;\n")
    up, down, problems = dbmate_sections(text, "1_x.sql")
    assert problems == []
    assert [(s.line, s.transaction) for s in up] == [(1, False), (5, True)]
    assert [s.line for s in down] == [7, 3]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("", 1, "no '-- migrate:up' line"),
    ("-- migrate:down\nDROP TABLE a;\n", 1, "no '-- migrate:up' line"),
    ("-- migrate:up\nCREATE TABLE a (id INT);\n", 1, "has no '-- migrate:down'"),
    ("CREATE TYPE s AS ENUM ('a');\n-- migrate:up\n-- migrate:down\n", 1,
     "a statement before '-- migrate:up'"),
    ("-- c\n\n  \nx\n-- migrate:up\n-- migrate:down\n", 4, "a statement before"),
    ("-- migrate:up\nA;\n-- migrate:down\nB;\n-- migrate:down\nC;\n", 5,
     "a second '-- migrate:down' after the '-- migrate:up' at line 1"),
    ("-- migrate:down\n-- migrate:up\nA;\n", 2, "has no '-- migrate:down'"),
])
def test_dbmate_problems(text, line, words):
    up, down, problems = dbmate_sections(text, "1_x.sql")
    assert (up, down) == ((), ())
    assert problems[0].line == line and words in problems[0]
    assert problems[0].startswith(f"1_x.sql:{line}: ") and problems[0].hint


def test_dbmate_crlf_and_bom():
    text = ("\ufeff-- migrate:up\r\nCREATE TABLE a (id INT);\r\n"
            "-- migrate:down\r\nDROP TABLE a;\r\n")
    up, down, problems = dbmate_sections(text, "1_x.sql")
    assert problems == []
    assert (up[0].line, down[0].line) == (1, 3)
    assert up[0].text == "-- migrate:up\r\nCREATE TABLE a (id INT);\r\n"


# -- goose sections -------------------------------------------------------------------------
GOOSE_FILE = """\
-- Users and their function.
-- +goose Up
CREATE TABLE users (
    id SERIAL PRIMARY KEY,  -- the key
    name TEXT
);
INSERT INTO users (name) VALUES ('a; b'); -- trailing comment

-- +goose StatementBegin
CREATE FUNCTION touch() RETURNS trigger AS $$
BEGIN
    NEW.name := NEW.name || ';';
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION touch();
DROP TABLE users;
"""


def test_goose_sections():
    up, down, transaction, problems = goose_sections(GOOSE_FILE, "00001_users.sql")
    assert problems == [] and transaction is True
    assert [(s.line, s.words[:2]) for s in up] == [
        (3, ("CREATE", "TABLE")), (7, ("INSERT", "INTO")), (10, ("CREATE", "FUNCTION"))]
    assert up[0].text == ("CREATE TABLE users (\n    id SERIAL PRIMARY KEY,  -- the key\n"
                          "    name TEXT\n);")
    assert up[1].text == "INSERT INTO users (name) VALUES ('a; b'); -- trailing comment"
    assert up[2].text == ("CREATE FUNCTION touch() RETURNS trigger AS $$\nBEGIN\n"
                          "    NEW.name := NEW.name || ';';\n    RETURN NEW;\nEND;\n"
                          "$$ LANGUAGE plpgsql;")
    assert [(s.text, s.line) for s in down] == [
        ("DROP FUNCTION touch();", 19), ("DROP TABLE users;", 20)]


def test_goose_no_transaction_crlf_bom_and_case():
    text = ("\ufeff-- +goose NO TRANSACTION\r\n-- +goose up\r\n"
            "CREATE INDEX CONCURRENTLY i ON users (name);\r\n-- +GOOSE DOWN\r\n"
            "-- +goose dOwN\r\nDROP INDEX CONCURRENTLY i;\r\n")
    up, down, transaction, problems = goose_sections(text, "00002_index.sql")
    assert problems == [] and transaction is False
    assert up[0] == ("CREATE INDEX CONCURRENTLY i ON users (name);", 3,
                     ("CREATE", "INDEX", "CONCURRENTLY", "I", "ON", "USERS"))
    assert down[0][:2] == ("DROP INDEX CONCURRENTLY i;", 6)  # "+GOOSE" is no annotation
    up = goose_sections("-- +goose Up\r\nCREATE TABLE a (\r\n  id INT\r\n);\r\n", "f.sql").up
    assert up[0].text == "CREATE TABLE a (\n  id INT\n);"  # a CR before the LF is dropped


def test_goose_folds_case_as_go_does():
    text = "-- +goose NO TRAN\u017fACTION\n-- +goose Up\nSELECT 1;\n"  # long s folds to s
    assert goose_sections(text, "1_x.sql").transaction is False
    problems = goose_sections("-- +goose \u0131p\nSELECT 1;\n", "1_x.sql").problems
    assert "is not one of goose's annotations" in problems[0]  # dotless i does not


def test_goose_statement_ends():
    text = ("-- +goose Up\nSELECT 1;-- no space\nSELECT 2; -- now\nSELECT 3\n;\n"
            "SELECT ';'\n  -- inside\n, 4;\n")
    up = goose_sections(text, "1_x.sql").up
    assert [(s.text, s.line) for s in up] == [
        ("SELECT 1;-- no space\nSELECT 2; -- now", 2), ("SELECT 3\n;", 4),
        ("SELECT ';'\n  -- inside\n, 4;", 6)]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("", 1, "no '-- +goose Up' annotation"),
    ("-- just a comment\n", 1, "no '-- +goose Up' annotation"),
    ("SELECT 1;\n-- +goose Up\n", 1, "SQL before '-- +goose Up'"),
    ("-- +goose Up\n-- +goose Up\n", 2, "a second '-- +goose Up'"),
    ("-- +goose Down\n", 1, "'-- +goose Down' before '-- +goose Up'"),
    ("-- +goose Up\n-- +goose Down\n-- +goose Down\n", 3, "'-- +goose Down' a second time"),
    ("-- +goose Up\n  -- +goose Down\n", 2, "whitespace before '--'"),
    ("-- +goose Up\n-- +goose Upp\n", 2, "'Upp' is not one of goose's annotations"),
    ("-- +goose Up\n-- see +goose docs\n", 2, "is not one of goose's annotations"),
    ("-- +goose Up\n-- +goose +goose Up\n", 2, "more than one '+goose'"),
    ("-- +goose Up\n-- +goose\n", 2, "no annotation after '+goose'"),
    ("-- +goose Up\nCREATE TABLE a (id INT)\n-- +goose Down\n", 2,
     "does not end with ';' before '-- +goose Down' (line 3)"),
    ("-- +goose Up\nCREATE TABLE a (id INT)\n", 2, "does not end with ';' at the end"),
    ("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n", 2,
     "has no '-- +goose StatementEnd'"),
    ("-- +goose Up\n-- +goose StatementEnd\n", 2, "without a '-- +goose StatementBegin'"),
    ("-- +goose StatementBegin\n", 1, "StatementBegin' before '-- +goose Up'"),
    ("-- +goose Up\n-- +goose StatementBegin\n-- +goose StatementBegin\n", 3,
     "inside the block opened at line 2"),
    ("-- +goose Up\n-- +goose StatementBegin\n-- +goose Down\n", 3,
     "inside the StatementBegin block opened at line 2"),
    ("-- +goose Up\n-- +goose StatementBegin\n\n-- +goose StatementEnd\n\nSELECT 1;\n", 6,
     "goose would skip this line: it follows an empty StatementBegin/StatementEnd block "
     "(lines 2-4)"),
    ("-- +goose Up\n-- +goose ENVSUB ON\nSELECT '${HOME}';\n", 3,
     "(-- +goose ENVSUB ON at line 2)"),
])
def test_goose_problems(text, line, words):
    up, down, _transaction, problems = goose_sections(text, "00001_x.sql")
    assert (up, down) == ([], [])
    assert words in problems[0] and problems[0].line == line
    assert problems[0].startswith(f"00001_x.sql:{line}: ") and problems[0].hint


def test_goose_envsub_without_a_dollar_changes_nothing():
    text = ("-- +goose Up\n-- +goose ENVSUB ON\nSELECT 1;\n-- +goose ENVSUB OFF\n"
            "SELECT '$1';\n")
    up, _down, _transaction, problems = goose_sections(text, "1_x.sql")
    assert problems == [] and [s.text for s in up] == ["SELECT 1;", "SELECT '$1';"]


def test_goose_words_follow_the_dialect():
    text = "-- +goose Up\nCREATE TABLE [order] (x INT);\n"
    words = goose_sections(text, "1_x.sql", "sqlite").up[0].words
    assert words == ("CREATE", "TABLE", "X", "INT")
    assert goose_sections("-- +goose Up\nSELECT 'open;\n", "1_x.sql").up[0].words == ()


# -- properties -------------------------------------------------------------------------------
NAME_PIECES = ["0", "00", "1", "9", "18446744073709551616", "_", "__", ".", "-", "V", "U",
               "B", "R", "up", "down", ".up", ".down", "_up", "_down", ".sql", ".SQL",
               ".py", ".go", "_test.go", ".sqlite", "afterMigrate", "x", "é", "\U0001f600",
               "\u017f", " ", "\n", "current", "1" * 4400]  # int() takes 4300 digits at most
file_names = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(NAME_PIECES), max_size=8).map("".join),
)
TEXT_PIECES = ["-- migrate:up", "-- migrate:down", " transaction:false", "--migrate:up",
               "-- +goose Up", "-- +goose Down", "-- +goose StatementBegin",
               "-- +goose StatementEnd", "-- +goose NO TRANSACTION", "-- +goose ENVSUB ON",
               "-- +goose ENVSUB OFF", "-- +goose", "+goose", "--", "\n", "\r\n", "\r", " ",
               "\t", "\ufeff", "\x85", "\u2028", ";", "SELECT 1", "$", "${X}", "'", "x",
               "\u212a", "\udc80"]
texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(TEXT_PIECES), max_size=40).map("".join),
)


def files_of(first, lines):
    """Files made of whole lines (most of them parse), with LF or CRLF line ends."""
    return st.tuples(st.lists(st.sampled_from(lines), max_size=14),
                     st.sampled_from(["\n", "\r\n"]), st.booleans()).map(
        lambda p: p[1].join([first] + p[0]) + (p[1] if p[2] else ""))


goose_texts = files_of("-- +goose Up", [
    "-- +goose Down", "-- +goose StatementBegin", "-- +goose StatementEnd",
    "-- +goose NO TRANSACTION", "SELECT 1;", "SELECT 2", "x; -- c", "y;--tight", "  ", "",
    "-- comment", "  -- indented", "$$;$$;", "END;", "\tz;", "\u3000w;\u3000"])
_dbmate_body = st.lists(st.sampled_from(["SELECT 1;", "", "  ", "-- c", "x",
                                         "-- migrate:upgrade", "  -- migrate:up"]), max_size=3)
_dbmate_pair = st.tuples(
    st.sampled_from(["-- migrate:up", "--migrate:up transaction:false", "-- migrate:up  "]),
    _dbmate_body, st.sampled_from(["-- migrate:down", "--\tmigrate:down x:y"]), _dbmate_body,
).map(lambda p: [p[0], *p[1], p[2], *p[3]])
dbmate_texts = st.one_of(
    st.tuples(st.lists(st.sampled_from(["", "-- header", "  "]), max_size=2),
              st.lists(_dbmate_pair, min_size=1, max_size=3),
              st.sampled_from(["\n", "\r\n"])).map(
        lambda p: p[2].join(p[0] + [line for pair in p[1] for line in pair]) + p[2]),
    files_of("-- header", ["-- migrate:up", "-- migrate:down", "SELECT 1;", "", "-- c"]),
)


@BOUNDED
@given(st.sampled_from(FORMATS), file_names)
def test_no_name_makes_a_parser_raise(format, filename):
    found = parse_name(format, filename)
    assert found is None or isinstance(found, (Name, Problem))
    if isinstance(found, Problem):
        assert found.startswith(filename + ": ") and found.line is None
    if isinstance(found, Name):
        assert found.format == format and found.file == filename
        assert found.direction in ("up", "down", "both")
        assert len(check_names(format, [found, found])) == 1  # a file twice clashes


@BOUNDED
@given(st.lists(file_names, max_size=12), st.sampled_from(FORMATS), texts)
def test_no_folder_makes_detection_raise(filenames, format, head):
    detected, reasons = detect(filenames, lambda f: head)
    assert detected in FORMATS and reasons
    assert all(isinstance(t, str) for t in explain_refusal(filenames, format))


@BOUNDED
@given(st.one_of(texts, goose_texts, dbmate_texts))
def test_no_text_makes_the_section_parsers_raise(text):
    lines = text.count("\n") + 1
    dbmate, goose = dbmate_sections(text, "f.sql"), goose_sections(text, "f.sql")
    for up, down, problems in ((dbmate.up, dbmate.down, dbmate.problems),
                               (goose.up, goose.down, goose.problems)):
        assert all(isinstance(p, Problem) and 1 <= p.line <= lines for p in problems)
        assert not (problems and (up or down))
    flyway_checksum(text)
    flyway_placeholders(text, "f.sql")


@BOUNDED
@given(texts)
def test_flyway_checksum_ignores_line_ends(text):
    flat = re.sub("\r\n|\r|\n", "", text)
    assert flyway_checksum(text) == flyway_checksum(text.replace("\n", "\r\n"))
    if not text.startswith("\ufeff") and not flat.startswith("\ufeff"):
        assert flyway_checksum(text) == flyway_checksum(flat)
    assert -2**31 <= flyway_checksum(text) < 2**31


versions = st.lists(
    st.tuples(st.sampled_from(["", "0", "00"]), st.integers(0, 12)), min_size=1, max_size=5,
).flatmap(lambda parts: st.tuples(
    st.just(parts), st.lists(st.sampled_from([".", "_"]), min_size=len(parts) - 1,
                             max_size=len(parts) - 1))).map(
    lambda p: "".join(z + str(n) + (p[1][i] if i < len(p[1]) else "")
                      for i, (z, n) in enumerate(p[0])))


def flyway_compare(a, b):
    """MigrationVersion.compareTo, written out: parts as integers, missing ones 0."""
    pa = [int(x) for x in re.split(r"\.(?=[0-9])", a.replace("_", "."))]
    pb = [int(x) for x in re.split(r"\.(?=[0-9])", b.replace("_", "."))]
    width = max(len(pa), len(pb))
    pa, pb = pa + [0] * (width - len(pa)), pb + [0] * (width - len(pb))
    return (pa > pb) - (pa < pb)


@BOUNDED
@given(versions, versions, versions)
def test_flyway_versions_are_totally_ordered_consistently_with_equality(a, b, c):
    x, y, z = FlywayVersion(a), FlywayVersion(b), FlywayVersion(c)
    assert [x < y, x == y, x > y].count(True) == 1
    assert (x <= y) == (x < y or x == y) and (x >= y) == (x > y or x == y)
    assert (x == y) == (hash(x) == hash(y) and x.parts == y.parts)
    assert (x > y) - (x < y) == flyway_compare(a, b)
    if x <= y <= z:
        assert x <= z
    assert str(x) == a.replace("_", ".")


GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
            "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def code_lines(text):
    """(number, line) of every line goose would have to run: not blank, no comment."""
    lines = text.removeprefix("\ufeff").split("\n")
    return [(n, line) for n, line in enumerate(lines, 1)
            if line.strip() and not line.strip().startswith("--")]


@BOUNDED
@given(st.one_of(goose_texts, texts))
def test_goose_statements_cover_every_line_of_code(text):
    up, down, _transaction, problems = goose_sections(text, "f.sql")
    if problems:
        return
    statements = up + down
    for number, line in code_lines(text):
        line = line.removesuffix("\r").strip(GO_SPACE)
        assert any(s.line <= number <= s.line + s.text.count("\n") and line in s.text
                   for s in statements), (number, line)


# Lines that end no statement (their last word before a "--" word does not end in ';'),
# and a last line that does.
statement_lines = st.lists(
    st.sampled_from(["SELECT 1", "INSERT INTO t VALUES ('a;b')", "  x", "y -- note;",
                     "z;--tight", "$$;$$", "-- inside"]), max_size=3,
).map(lambda lines: "\n".join(["SELECT 0"] + lines + ["SELECT 2; -- end"]))
between = st.sampled_from(["", "-- a comment", "", "--"])


@BOUNDED
@given(st.lists(st.tuples(between, statement_lines), max_size=5),
       st.lists(st.tuples(between, statement_lines), max_size=5))
def test_goose_gives_back_the_statements_a_file_was_written_from(ups, downs):
    def section(pairs):
        return "".join(f"{gap}\n{statement}\n" for gap, statement in pairs)

    text = "-- +goose Up\n" + section(ups) + "-- +goose Down\n" + section(downs)
    up, down, _transaction, problems = goose_sections(text, "f.sql")
    assert problems == []
    for found, pairs in ((up, ups), (down, downs)):
        assert [s.text for s in found] == [statement for _gap, statement in pairs]


@BOUNDED
@given(st.one_of(dbmate_texts, texts))
def test_dbmate_sections_cover_the_file_from_the_first_marker(text):
    up, down, problems = dbmate_sections(text, "f.sql")
    if problems:
        return
    body = text.removeprefix("\ufeff")
    pieces = sorted(up + down, key=lambda s: s.line)
    sections = "".join(s.text for s in pieces)
    assert body.endswith(sections)
    head = body[:len(body) - len(sections)]
    assert all(re.fullmatch("[\t\n\f\r ]*(--.*)?", line, re.S) for line in head.split("\n"))
    assert all(s.padded.count("\n") - s.text.count("\n") == s.line - 1 for s in pieces)
