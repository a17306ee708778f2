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
