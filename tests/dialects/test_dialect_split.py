"""Splitting a migration file into statements: comments, strings and quoted names
holding semicolons, and each engine's bodies (dollar quotes, BEGIN ... END), checked
statement by statement and then run on the engine."""

import pytest

from ferryman.core.splitter import SplitError

# Portable SQL: every engine splits it the same way and runs it.
PORTABLE = (
    "-- a comment; with a semicolon\n"                                           # 1
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n"                  # 2
    "/* a block comment;\n   over two lines; */\n"                               # 3-4
    "INSERT INTO notes (id, body) VALUES (1, 'a;b');\n"                          # 5
    "INSERT INTO notes (id, body) VALUES (2, 'it''s; fine'); -- trailing; note\n"  # 6
    "INSERT INTO notes (id, body)\n"                                             # 7
    "  VALUES (3, '-- not a comment /* nor this */')\n"
    ";\n"
    "\n"
    ";;\n"                                                                       # empty
    "SELECT count(*) FROM notes\n"                                               # 12
)
PORTABLE_STATEMENTS = [
    (2, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
     ("CREATE", "TABLE", "NOTES", "ID", "INTEGER", "PRIMARY")),
    (5, "INSERT INTO notes (id, body) VALUES (1, 'a;b')",
     ("INSERT", "INTO", "NOTES", "ID", "BODY", "VALUES")),
    (6, "INSERT INTO notes (id, body) VALUES (2, 'it''s; fine')",
     ("INSERT", "INTO", "NOTES", "ID", "BODY", "VALUES")),
    (7, "INSERT INTO notes (id, body)\n  VALUES (3, '-- not a comment /* nor this */')",
     ("INSERT", "INTO", "NOTES", "ID", "BODY", "VALUES")),
    (12, "SELECT count(*) FROM notes", ("SELECT", "COUNT", "FROM", "NOTES")),
]


def test_portable_sql_splits_at_its_top_level_semicolons(engine):
    statements = engine.dialect.split(PORTABLE)
    assert [(s.line, s.text, s.words) for s in statements] == PORTABLE_STATEMENTS


def test_split_is_the_same_on_the_class_and_a_connection(engine, db):
    assert db.split(PORTABLE) == engine.dialect.split(PORTABLE)


def test_portable_statements_run_as_split(engine, db):
    for statement in engine.dialect.split(PORTABLE)[:-1]:
        db.execute(statement.text)
    assert db.query("SELECT id, body FROM notes ORDER BY id") == [
        (1, "a;b"), (2, "it's; fine"), (3, "-- not a comment /* nor this */")]


def test_the_engine_s_own_bodies_split_and_run(engine, db):
    samples = engine.profile.split_samples
    assert samples, "the profile gives the engine's own bodies to split"
    for text, expected, oldest, (query, rows) in samples:
        statements = engine.dialect.split(text)
        assert len(statements) == len(expected), [s.text for s in statements]
        for statement, (line, words, end) in zip(statements, expected):
            assert statement.line == line, statement
            assert statement.words[:len(words)] == words, statement
            assert statement.text.endswith(end), statement
            assert not statement.text.endswith(";")
        if oldest and _version(db.server_version()) < _version(oldest):
            continue  # split as it must be; this server cannot run it
        db.begin()
        for statement in statements:
            db.execute(statement.text)
        db.commit()
        assert db.query(query) == rows


def test_an_unterminated_text_is_refused(engine):
    for text in ["SELECT 'no end", "SELECT \"no end", "SELECT 1 /* no end"] + list(
            engine.profile.unterminated):
        with pytest.raises(SplitError):
            engine.dialect.split(text)


def test_nothing_to_run_is_no_statement(engine):
    for text in ("", "   \n", "-- only a comment\n", "/* only */ ;\n;"):
        assert engine.dialect.split(text) == [], text


def _version(text):
    return [int(part) for part in text.split(".")]
