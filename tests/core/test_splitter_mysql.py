"""The MySQL splitter: compound statements (procedures, functions, triggers, events)
without DELIMITER, as the server reads a file sent whole, and the mysql client's
DELIMITER command, as dumps and many migration folders write them. Checked against the
real MariaDB server and its own client."""

import subprocess

import pytest
from helpers import my_url_of, new_my_database, query

from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.core.splitter import SplitError, split

BODIES = """CREATE PROCEDURE count_to(IN n INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  IF n > 0 THEN SET i = IF(n > 5, 5, n); ELSE SET i = 0; END IF;
  lbl: WHILE i > 0 DO
    INSERT INTO seen VALUES (i);
    SET i = i - 1;
  END WHILE lbl;
  SELECT CASE WHEN i = 0 THEN 'done' ELSE 'not yet' END, REPEAT('a;', 2);
END;
CREATE FUNCTION plus(x INT) RETURNS INT DETERMINISTIC RETURN IF(x > 1, x + 1, 0);
CREATE DEFINER=`root`@`localhost` TRIGGER seen_t BEFORE INSERT ON seen FOR EACH ROW
BEGIN
  IF NEW.n > 100 THEN SET NEW.n = 100; END IF;
END;
CREATE TABLE IF NOT EXISTS other (a INT);
"""

DUMP = """-- MariaDB dump 10.19
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
DROP TABLE IF EXISTS `notes`;
CREATE TABLE `notes` (`id` int(11) NOT NULL, `body` text, PRIMARY KEY (`id`));
INSERT INTO `notes` VALUES (1,'it\\'s; fine'),(2,'DELIMITER ;; is text');
# a hash comment; with a semicolon
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER notes_t BEFORE INSERT ON notes FOR EACH ROW BEGIN
  SET NEW.body = CONCAT(NEW.body, ';');
END */;;
DELIMITER ;
DELIMITER $$
CREATE PROCEDURE note_count(OUT n INT)
BEGIN
  SELECT COUNT(*) INTO n FROM notes;
END$$
DELIMITER ;
-- Dump completed
"""


def test_compound_bodies_keep_their_inner_semicolons():
    statements = split(BODIES, "mysql")
    assert [s.line for s in statements] == [1, 11, 12, 16]
    assert [s.words[:2] for s in statements] == [
        ("CREATE", "PROCEDURE"), ("CREATE", "FUNCTION"), ("CREATE", "DEFINER"),
        ("CREATE", "TABLE")]
    assert statements[0].text.endswith("REPEAT('a;', 2);\nEND")
    assert statements[1].text.endswith("RETURN IF(x > 1, x + 1, 0)")
    assert statements[2].text.endswith("END IF;\nEND")


def test_delimiter_changes_the_terminator_and_is_no_statement():
    statements = split(DUMP, "mysql")
    texts = [s.text for s in statements]
    assert len(texts) == 7, texts
    assert texts[4].startswith("INSERT INTO `notes`") and "DELIMITER ;; is text" in texts[4]
    assert texts[5].startswith("/*!50003 CREATE*/") and texts[5].endswith("END */")
    assert texts[6].startswith("CREATE PROCEDURE note_count") and texts[6].endswith("END")
    assert [s.line for s in statements][-2:] == [9, 14]
    assert not any(t.upper().startswith("DELIMITER") for t in texts)


@pytest.mark.parametrize("text", [
    "CREATE PROCEDURE p() BEGIN SELECT 1;",            # BEGIN never ended
    "DELIMITER $$\nSELECT 'no end$$",                   # a string never closed
    "DELIMITER //\nSELECT 1 /* no end //",              # a comment never closed
])
def test_unterminated_text_is_refused_with_its_line(text):
    with pytest.raises(SplitError) as caught:
        split(text, "mysql")
    assert "line" in str(caught.value)


def test_the_server_and_its_client_agree():
    """The statements run one by one on MariaDB give what the mariadb client gives for
    the same file."""
    names = new_my_database(), new_my_database()
    ours, theirs = (my_url_of(next(n)) for n in names)
    try:
        query(ours, "CREATE TABLE seen (n INT)")
        query(theirs, "CREATE TABLE seen (n INT)")
        for statement in split(BODIES, "mysql") + split(DUMP, "mysql"):
            query(ours, statement.text)
        # the client cuts at ';' unless told otherwise: the same file with DELIMITER
        # around the procedure and the trigger, as a person writes it for the client
        body = (BODIES.replace("CREATE PROCEDURE", "DELIMITER //\nCREATE PROCEDURE", 1)
                .replace("2);\nEND;", "2);\nEND//\nDELIMITER ;", 1)
                .replace("CREATE DEFINER", "DELIMITER //\nCREATE DEFINER", 1)
                .replace("END IF;\nEND;", "END IF;\nEND//\nDELIMITER ;", 1))
        database = theirs.rsplit("/", 1)[1]
        subprocess.run(["mariadb", "-h", "127.0.0.1", "-u", "root", database],
                       input=body + DUMP, text=True, check=True, capture_output=True)
        for url in (ours, theirs):
            query(url, "CALL count_to(3)")
        for sql in ("SELECT n FROM seen ORDER BY n", "SELECT plus(4)",
                    "SELECT body FROM notes ORDER BY id",
                    "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE "
                    "ROUTINE_SCHEMA = DATABASE() ORDER BY 1",
                    "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE "
                    "TRIGGER_SCHEMA = DATABASE() ORDER BY 1"):
            assert query(ours, sql) == query(theirs, sql), sql
        assert query(ours, "SELECT n FROM seen ORDER BY n") == [(1,), (2,), (3,)]
    finally:
        for n in names:
            next(n, None)


PIECES = ["DELIMITER $$\n", "DELIMITER ;\n", "delimiter //\n", "$$", "//", ";", "'", '"', "`",
          "\\", "/*", "*/", "/*!", "-- ", "#", "\n", " ", "BEGIN ", "END ", "IF ", "CASE ",
          "CREATE PROCEDURE p() ", "x", "(", ")"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_any_text_splits_or_is_refused_with_a_split_error(text):
    try:
        statements = split(text, "mysql")
    except SplitError:
        return
    for statement in statements:
        assert statement.text == statement.text.strip() and statement.line >= 1


# --- DELIMITER regions, bodies without DELIMITER, lines, words -------------------------


@pytest.mark.parametrize("delimiter", ["$$", "//", ";;"])
def test_custom_delimiters_around_a_procedure_and_a_trigger(delimiter):
    d = delimiter
    text = (f"CREATE TABLE t (a INT);\n"
            f"DELIMITER {d}\n"
            f"CREATE PROCEDURE p()\nBEGIN\n  SELECT 1; SELECT 'a{d}b';\nEND{d}\n"
            f"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n"
            f"  SET NEW.a = 1; -- {d} in a comment\nEND {d}\n"
            f"DELIMITER ;\n"
            f"SELECT 2; SELECT 3;\n")
    got = split(text, "mysql")
    assert [(s.text, s.line) for s in got] == [
        ("CREATE TABLE t (a INT)", 1),
        (f"CREATE PROCEDURE p()\nBEGIN\n  SELECT 1; SELECT 'a{d}b';\nEND", 3),
        ("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n"
         f"  SET NEW.a = 1; -- {d} in a comment\nEND", 7),
        ("SELECT 2", 12), ("SELECT 3", 12)]
    assert [s.words[:5] for s in got][1:3] == [
        ("CREATE", "PROCEDURE", "P", "BEGIN", "SELECT"),
        ("CREATE", "TRIGGER", "TR", "BEFORE", "INSERT")]


def test_a_mysqldump_trigger_block():
    text = ("INSERT INTO `t` VALUES (1);\n"
            "/*!50003 SET @saved_cs_client = @@character_set_client */ ;\n"
            "DELIMITER ;;\n"
            "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr "
            "BEFORE INSERT ON t FOR EACH ROW BEGIN\n  SET NEW.a = NEW.a + 1;\nEND */;;\n"
            "DELIMITER ;\n"
            "/*!50003 SET character_set_client = @saved_cs_client */ ;\n")
    got = split(text, "mysql")
    assert [s.line for s in got] == [1, 2, 4, 8]
    assert got[2].text.startswith("/*!50003 CREATE*/") and got[2].text.endswith("END */")
    assert "SET NEW.a = NEW.a + 1;" in got[2].text
    assert got[3].text == "/*!50003 SET character_set_client = @saved_cs_client */"


def test_delimiter_in_a_string_or_comment_is_no_command():
    text = ("SELECT 'x\nDELIMITER //\n';\n/*\nDELIMITER //\n*/ SELECT 2; SELECT '//';\n"
            "# DELIMITER //\n  delimiter $$  \nSELECT 3; SELECT 4 $$\n")
    got = split(text, "mysql")
    assert [(s.text, s.line) for s in got] == [
        ("SELECT 'x\nDELIMITER //\n'", 1), ("SELECT 2", 6), ("SELECT '//'", 6),
        ("SELECT 3; SELECT 4", 9)]


def test_delimiter_restored_regions_still_keep_compound_bodies():
    text = ("DELIMITER $$\nCREATE PROCEDURE a() BEGIN SELECT 1; END $$\nDELIMITER ;\n"
            "CREATE PROCEDURE b() BEGIN SELECT 2; END;\nSELECT 4;")
    assert [(s.text, s.line) for s in split(text, "mysql")] == [
        ("CREATE PROCEDURE a() BEGIN SELECT 1; END", 2),
        ("CREATE PROCEDURE b() BEGIN SELECT 2; END", 4), ("SELECT 4", 5)]


NESTED = """CREATE OR REPLACE DEFINER = admin@localhost PROCEDURE nest(IN n INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE i < n DO
    IF (i % 2 = 0) THEN
      CASE i WHEN 0 THEN SELECT 'zero;'; ELSE BEGIN SELECT 'even'; END; END CASE;
    ELSEIF i = 3 THEN SELECT CASE WHEN i > 1 THEN IF(i > 2, 'a', 'b') ELSE 'c' END;
    ELSE lbl: LOOP LEAVE lbl; END LOOP lbl;
    END IF;
    REPEAT SET i = i + 1; UNTIL i > 0 END REPEAT;
  END WHILE;
END;
CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC RETURN IF(x > 0, x, 0);
CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW IF NEW.a > 9 THEN SET NEW.a = 9; END IF;
DROP PROCEDURE IF EXISTS x;
"""


def test_bodies_without_delimiter_nest():
    got = split(NESTED, "mysql")
    assert [s.line for s in got] == [1, 13, 14, 15]
    assert got[0].text.endswith("END WHILE;\nEND")
    assert got[0].words == ("CREATE", "OR", "REPLACE", "DEFINER", "ADMIN", "LOCALHOST")
    assert got[1].text.endswith("RETURN IF(x > 0, x, 0)")
    assert got[2].text.endswith("SET NEW.a = 9; END IF")
    assert got[3].text == "DROP PROCEDURE IF EXISTS x"


@pytest.mark.parametrize("text, line", [
    ("SELECT 1;\nCREATE PROCEDURE p()\nBEGIN\n  IF 1 THEN SELECT 1;\nEND;\n", 3),
    ("DELIMITER $$\nSELECT 1$$\nSELECT 'x$$\n", 3),
    ("SELECT 1;\nDELIMITER //\n\nSELECT `a //", 4),
])
def test_unterminated_bodies_and_strings_name_their_line(text, line):
    with pytest.raises(SplitError, match=f"opened at line {line}$"):
        split(text, "mysql")


def test_postgresql_and_sqlite_ignore_delimiter():
    text = "DELIMITER $$\nSELECT 1$$\n"
    for dialect in ("postgresql", "sqlite"):
        assert [s.text for s in split(text, dialect)] == ["DELIMITER $$\nSELECT 1$$"]


def test_the_split_file_runs_on_mariadb(request):
    """The statements of a DELIMITER file with a procedure and a trigger, executed one
    by one with PyMySQL on the real server: the procedure works when CALLed."""
    import uuid

    import pymysql

    name = f"ferryman_t_{uuid.uuid4().hex[:12]}"
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE `{name}`")

    def drop():
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()

    request.addfinalizer(drop)
    text = ("CREATE TABLE seen (n INT);\n"
            "DELIMITER //\n"
            "CREATE PROCEDURE fill(IN n INT)\nBEGIN\n  DECLARE i INT DEFAULT 0;\n"
            "  WHILE i < n DO SET i = i + 1; INSERT INTO seen VALUES (i); END WHILE;\n"
            "END //\n"
            "CREATE TRIGGER cap BEFORE INSERT ON seen FOR EACH ROW\nBEGIN\n"
            "  IF NEW.n > 2 THEN SET NEW.n = NEW.n * 10; END IF;\nEND//\n"
            "DELIMITER ;\n"
            + NESTED.replace("DROP PROCEDURE IF EXISTS x;", "")
            .replace("ON t FOR", "ON seen FOR").replace("NEW.a", "NEW.n")
            .replace("admin@localhost", "CURRENT_USER"))
    statements = split(text, "mysql")
    assert len(statements) == 6
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=name,
                                 autocommit=True)
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement.text)
            cursor.execute("CALL fill(4)")
            cursor.execute("SELECT n FROM seen ORDER BY n")
            assert cursor.fetchall() == ((1,), (2,), (9,), (9,))
            cursor.execute("SELECT f(5)")
            assert cursor.fetchall() == ((5,),)
            cursor.execute("CALL nest(4)")
            while cursor.nextset():
                pass
    finally:
        connection.close()
