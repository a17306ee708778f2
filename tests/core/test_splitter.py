"""The statement splitter: golden files, words, errors, and a round-trip property.

Each golden case is ``golden/splitter/<name>.<dialect>.sql`` with the expected
statements, written by hand, in ``<name>.<dialect>.json`` ("words" optional).
"""

import json
import random
import sqlite3
from pathlib import Path

import pytest

from ferryman.core.splitter import SplitError, Statement, split

GOLDEN = Path(__file__).parent / "golden" / "splitter"
CASES = sorted(GOLDEN.glob("*.sql"))
DIALECTS = ("postgresql", "sqlite", "mysql")


def dialect_of(path):
    return path.name.split(".")[-2]


def load(path):
    # Bytes, not read_text(): universal newlines would turn the CRLF cases into LF.
    sql = path.read_bytes().decode("utf-8")
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return sql, expected


def golden_texts(dialect):
    return [e["text"] for path in CASES if dialect_of(path) == dialect for e in load(path)[1]]


def test_the_golden_set_is_there_and_paired():
    assert len(CASES) >= 25
    assert {dialect_of(p) for p in CASES} == set(DIALECTS)
    assert sorted(p.with_suffix(".json") for p in CASES) == sorted(GOLDEN.glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_golden(path):
    sql, expected = load(path)
    got = split(sql, dialect_of(path))
    assert [{"text": s.text, "line": s.line} for s in got] == [
        {"text": e["text"], "line": e["line"]} for e in expected]
    assert [list(s.words) for s, e in zip(got, expected) if "words" in e] == [
        e["words"] for e in expected if "words" in e]


@pytest.mark.parametrize("path", [p for p in CASES if dialect_of(p) == "sqlite"],
                         ids=lambda p: p.name)
def test_sqlite_goldens_are_single_valid_statements(path):
    """An oracle for the golden files themselves: sqlite3 runs exactly one statement
    per execute() and refuses a second one, so each expected text must be one whole
    statement, and the file's statements must run in order."""
    _, expected = load(path)
    connection = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for entry in expected:
            assert sqlite3.complete_statement(entry["text"] + ";")
            connection.execute(entry["text"])
    finally:
        connection.close()


def cut_like_sqlite3_complete(sql):
    """Where SQLite itself ends statements: at each ';' that completes one."""
    pieces, start = [], 0
    for i, char in enumerate(sql):
        if char == ";" and sqlite3.complete_statement(sql[start:i + 1]):
            pieces.append(sql[start:i])
            start = i + 1
    return pieces + [sql[start:]] if sql[start:].strip() else pieces


@pytest.mark.parametrize("sql, texts", [
    ("CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET end = 1; END; SELECT 1",
     ["CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET end = 1; END", "SELECT 1"]),
    ("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT CASE WHEN 1 THEN 2 END; END;",
     ["CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT CASE WHEN 1 THEN 2 END; END"]),
    # An END that a word follows is not the trigger's END.
    ("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END x; SELECT 2; END; SELECT 3;",
     ["CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END x; SELECT 2; END", "SELECT 3"]),
    ("create temporary trigger if not exists t after insert on a begin\n"
     "  select 1; /* ; */ end -- done;\n; select 2;",
     ["create temporary trigger if not exists t after insert on a begin\n"
      "  select 1; /* ; */ end", "select 2"]),
    ("BEGIN; SELECT 'end;'; END; COMMIT;", ["BEGIN", "SELECT 'end;'", "END", "COMMIT"]),
])
def test_sqlite_statements_end_where_sqlite3_complete_says(sql, texts):
    assert [s.text for s in split(sql, "sqlite")] == texts
    theirs = cut_like_sqlite3_complete(sql)
    assert len(theirs) == len(texts)
    assert all(text in piece for text, piece in zip(texts, theirs))


def test_statement_is_the_documented_named_tuple():
    statement = split("SELECT 1;", "sqlite")[0]
    assert Statement._fields == ("text", "line", "words")
    assert statement == ("SELECT 1", 1, ("SELECT",))


@pytest.mark.parametrize("sql, dialect, words", [
    ("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx ON t (a)", "postgresql",
     ("CREATE", "UNIQUE", "INDEX", "CONCURRENTLY", "IF", "NOT")),
    ("/* lead; */ -- more\n begin;", "postgresql", ("BEGIN",)),
    ("START /* c */ TRANSACTION -- c\n ISOLATION LEVEL READ COMMITTED", "postgresql",
     ("START", "TRANSACTION", "ISOLATION", "LEVEL", "READ", "COMMITTED")),
    ("select \"Quoted\", 'str', E'x\\'y', U&'z', x'1f', b'01', n'n', 42, 1e10, 0x1F, col from t",
     "postgresql", ("SELECT", "COL", "FROM", "T")),
    ("DO $$ BEGIN PERFORM 1; END $$", "postgresql", ("DO",)),
    ("SELECT a$b, $1, _x FROM t", "postgresql", ("SELECT", "A$B", "_X", "FROM", "T")),
    ("SELECT /* a /* nested */ b */ x, $q$ y $q$, z FROM t", "postgresql",
     ("SELECT", "X", "Z", "FROM", "T")),
    ("update begin_date set ended = 1", "postgresql", ("UPDATE", "BEGIN_DATE", "SET", "ENDED")),
    ("select [br;acket], `bq`, x'00', y from t", "sqlite", ("SELECT", "Y", "FROM", "T")),
    ("END TRANSACTION", "sqlite", ("END", "TRANSACTION")),
    ("select `col`, x # c\n from t", "mysql", ("SELECT", "X", "FROM", "T")),
    ("VALUES (1)", "sqlite", ("VALUES",)),
    ("('x')", "sqlite", ()),
])
def test_words(sql, dialect, words):
    [statement] = split(sql, dialect)
    assert statement.words == words


@pytest.mark.parametrize("sql, dialect, construct, line", [
    ("SELECT 1;\nSELECT 'abc;\n", "postgresql", "string", 2),
    # Plain 'it\' would be closed; as an escape string it is not.
    ("SELECT 1;\n\nSELECT E'it\\'s;", "postgresql", "escape string", 3),
    ('SELECT "abc;', "postgresql", "quoted identifier", 1),
    ("SELECT 1;\n/* a /* b */\n", "postgresql", "block comment", 2),
    ("\nCREATE FUNCTION f() AS $fn$\nBEGIN; END;\n$$;\n", "postgresql",
     "dollar-quoted string $fn$", 2),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\n", "postgresql",
     "BEGIN ATOMIC ... END block", 2),
    ("CREATE RULE r AS ON INSERT TO t DO (\nINSERT INTO u VALUES (1);\n", "postgresql",
     "parenthesis", 1),
    ("SELECT 'x", "sqlite", "string", 1),
    ("SELECT 1;\nSELECT [x;", "sqlite", "bracketed identifier", 2),
    ("SELECT `x;", "sqlite", "backquoted identifier", 1),
    ('SELECT "x;', "sqlite", "quoted identifier", 1),
    ("SELECT 1; /* x;\n", "sqlite", "block comment", 1),
    ("CREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n  SELECT CASE WHEN 1 THEN 2 END;\n", "sqlite",
     "BEGIN ... END block", 2),
    ("SELECT 'it\\'s", "mysql", "string", 1),
    ('SELECT "x', "mysql", "double quoted string", 1),
    ("SELECT `x", "mysql", "backquoted identifier", 1),
    ("SELECT 1 /* x", "mysql", "block comment", 1),
])
def test_unterminated_constructs_raise_with_their_line(sql, dialect, construct, line):
    with pytest.raises(SplitError) as caught:
        split(sql, dialect)
    assert str(caught.value) == f"unterminated {construct} opened at line {line}"


def test_split_error_is_a_value_error():
    with pytest.raises(ValueError):
        split("SELECT 'x", "postgresql")


@pytest.mark.parametrize("dialect", ["oracle", "PostgreSQL", ""])
def test_unknown_dialect(dialect):
    with pytest.raises(ValueError, match="unknown SQL dialect") as caught:
        split("SELECT 1", dialect)
    assert not isinstance(caught.value, SplitError)


def test_a_lone_carriage_return_ends_a_line_comment_in_postgresql_only():
    # PostgreSQL's scanner ends "--" comments at CR or LF; SQLite's only at LF, so
    # there the ';' is inside the comment (sqlite3.complete_statement agrees).
    sql = "SELECT 1 -- note\rSELECT 2;"
    assert [s.text for s in split(sql, "postgresql")] == ["SELECT 1 -- note\rSELECT 2"]
    assert [s.text for s in split(sql, "sqlite")] == ["SELECT 1"]
    assert not sqlite3.complete_statement(sql)


def test_a_byte_order_mark_is_not_part_of_the_first_statement():
    assert split("\ufeffSELECT 1;\nSELECT 2;", "postgresql") == [
        Statement("SELECT 1", 1, ("SELECT",)), Statement("SELECT 2", 2, ("SELECT",))]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_joined_golden_statements_split_back(dialect):
    """Any sequence of golden statements, joined with ';\\n', splits back into itself."""
    pool = golden_texts(dialect)
    assert len(pool) >= 6
    rng = random.Random(f"splitter/{dialect}")
    for _ in range(300):
        chosen = rng.choices(pool, k=rng.randint(1, 8))
        sql = ";\n".join(chosen) + rng.choice(["", ";", ";\n", "\n"])
        lines, line = [], 1
        for text in chosen:
            lines.append(line)
            line += text.count("\n") + 1
        got = split(sql, dialect)
        assert [(s.text, s.line) for s in got] == list(zip(chosen, lines)), sql


@pytest.mark.parametrize("dialect", DIALECTS)
def test_arbitrary_input_gives_statements_or_split_error(dialect):
    """Random text over the characters that matter: split never fails any other way,
    and every statement is non-empty, stripped, and found in the input on its line."""
    alphabet = ["'", '"', "`", "[", "]", ";", "-", "/", "*", "$", "#", "\\", "E", "e", "x",
                "a", "1", "(", ")", " ", "\n", "\r\n", "BEGIN", "END", "CASE", "ATOMIC",
                "CREATE TRIGGER t ", "CREATE FUNCTION f ", "$q$", "é"]
    rng = random.Random(f"fuzz/{dialect}")
    outcomes = set()
    for _ in range(3000):
        sql = "".join(rng.choices(alphabet, k=rng.randint(0, 30)))
        try:
            statements = split(sql, dialect)
        except SplitError as exc:
            assert "unterminated" in str(exc)
            outcomes.add("error")
            continue
        outcomes.add("ok")
        lines = sql.split("\n")
        for s in statements:
            assert s.text and s.text == s.text.strip(" \t\r\n")
            assert s.text.split("\n")[0] in lines[s.line - 1], (sql, s)
        assert [s.line for s in statements] == sorted(s.line for s in statements)
    assert outcomes == {"ok", "error"}
