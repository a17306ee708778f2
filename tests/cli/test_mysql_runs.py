"""Runs on MySQL/MariaDB, where every DDL statement commits by itself: a migration
runs statement by statement, the dirty mark says which statement it is at, runs of
INSERT/UPDATE/DELETE share a transaction with that mark, what ran of a failed
migration is undone through its down migration, and ``--resume`` goes on from the
statement it stopped at once a person fixed the file. On the MariaDB server of this
machine (tests/helpers.MY_URL)."""

import json
import signal

import pytest
from helpers import ferryman_process, my_admin, wait_until

USERS = {
    "1_users.up.sql": "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50));\n"
                      "INSERT INTO users VALUES (1, 'ann');\n",
    "1_users.down.sql": "DROP TABLE users;\n",
}
POSTS = (
    "CREATE TABLE posts (id INT PRIMARY KEY);\n"          # 1
    "INSERT INTO posts VALUES (1);\n"                     # 2
    "INSERT INTO posts VALUES (2);\n"                     # 3
    "ALTER TABLE posts ADD COLUMN title VARCHAR(10);\n"   # 4
    "ALTER TABLE nope ADD COLUMN x INT;\n"                # 5: fails
    "CREATE TABLE after_posts (id INT);\n"                # 6
)
POSTS_DOWN = "DROP TABLE after_posts;\nDROP TABLE posts;\n"


def rows(my_url, sql):
    database = my_url.rsplit("/", 1)[1]
    admin = my_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"USE `{database}`")
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()]
    finally:
        admin.close()


def tables(my_url):
    return {r[0] for r in rows(my_url, "SHOW TABLES") if not r[0].startswith("ferryman_")}


def status(cli, folder, url):
    result = cli("--migrations", folder, "--database-url", url, "status", "--json")
    assert result.code == 0, result
    return result.json()


def test_a_failure_part_way_is_undone_through_the_down_migration(cli, migrations, my_url):
    folder = migrations({**USERS, "2_posts.up.sql": POSTS, "2_posts.down.sql": POSTS_DOWN})
    result = cli("--migrations", folder, "--database-url", my_url, "up", "--no-backup")
    assert result.code == 1, result
    assert "undone through" in result.err and "where it started" in result.err
    # the down's DROP of a table the up never made is skipped, and says so
    assert "after_posts" in result.out and "never did, skipped" in result.out
    assert "ERROR 1146" in result.err  # the database's own words
    assert tables(my_url) == set()  # 2's part and the whole of 1 undone
    state = status(cli, folder, my_url)
    assert state["dirty"] is False and state["current_version"] is None


def test_without_a_down_the_mark_names_the_statement_and_resume_finishes(cli, migrations,
                                                                        my_url):
    folder = migrations({**USERS, "2_posts.up.sql": POSTS})
    result = cli("--migrations", folder, "--database-url", my_url, "up", "--no-backup")
    assert result.code == 3, result
    assert "up --resume" in result.err
    state = status(cli, folder, my_url)
    dirty = state["dirty_details"]
    assert state["dirty"] is True and dirty["version"] == 2
    assert dirty["statement_index"] == 4 and dirty["statements"] == 6
    assert dirty["statement"] == "ALTER TABLE nope ADD COLUMN x INT"
    assert "1146" in dirty["error"]
    assert state["current_version"] == 1
    assert tables(my_url) == {"users", "posts"}
    # what ran stands: rows and the added column
    assert rows(my_url, "SELECT id, title FROM posts ORDER BY id") == [(1, None), (2, None)]
    human = cli("--migrations", folder, "--database-url", my_url, "status")
    assert "stopped at statement 5 of 6" in human.out and "--resume" in human.out

    # a plain up refuses, and says how to go on
    again = cli("--migrations", folder, "--database-url", my_url, "up", "--no-backup")
    assert again.code == 3 and "up --resume" in again.err

    # fix the statement it stopped at, then resume: statements 5 and 6 run, not 1-4
    (tmp := __import__("pathlib").Path(folder) / "2_posts.up.sql").write_text(
        POSTS.replace("ALTER TABLE nope", "ALTER TABLE users"))
    resumed = cli("--migrations", folder, "--database-url", my_url, "up", "--resume",
                  "--no-backup")
    assert resumed.code == 0, resumed
    assert tables(my_url) == {"users", "posts", "after_posts"}
    assert rows(my_url, "SELECT count(*) FROM posts") == [(2,)]  # not inserted twice
    assert "x" in {r[0] for r in rows(my_url, "SHOW COLUMNS FROM users")}
    final = status(cli, folder, my_url)
    assert final["dirty"] is False and final["current_version"] == 2
    assert tmp.exists()


def test_resume_refuses_when_the_part_that_ran_was_edited(cli, migrations, my_url):
    folder = migrations({**USERS, "2_posts.up.sql": POSTS})
    assert cli("--migrations", folder, "--database-url", my_url, "up",
               "--no-backup").code == 3
    path = __import__("pathlib").Path(folder) / "2_posts.up.sql"
    path.write_text(POSTS.replace("VALUES (2)", "VALUES (3)").replace("ALTER TABLE nope",
                                                                      "ALTER TABLE users"))
    result = cli("--migrations", folder, "--database-url", my_url, "up", "--resume",
                 "--no-backup")
    assert result.code == 3, result
    assert "was edited after it ran" in result.err and "lines 1 to 4" in result.err
    assert status(cli, folder, my_url)["dirty"] is True  # nothing changed
    assert rows(my_url, "SELECT id FROM posts ORDER BY id") == [(1,), (2,)]


def test_resume_with_nothing_dirty_is_refused(cli, migrations, my_url):
    folder = migrations(USERS)
    result = cli("--migrations", folder, "--database-url", my_url, "up", "--resume")
    assert result.code == 2 and "nothing to resume" in result.err


def test_a_failed_first_statement_leaves_nothing_dirty(cli, migrations, my_url):
    folder = migrations({"1_bad.up.sql": "ALTER TABLE nope ADD COLUMN x INT;\n"
                                         "CREATE TABLE never (id INT);\n"})
    result = cli("--migrations", folder, "--database-url", my_url, "up", "--no-backup")
    assert result.code == 1, result
    state = status(cli, folder, my_url)
    assert state["dirty"] is False and state["current_version"] is None
    assert tables(my_url) == set()


def test_data_statements_commit_together_with_the_mark(cli, migrations, my_url):
    """Statements 2-4 (INSERTs) share one transaction: the third fails, so none of
    them stands, and the mark says the run goes on at statement 2."""
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INT PRIMARY KEY);\n"
                                       "INSERT INTO a VALUES (1);\n"
                                       "INSERT INTO a VALUES (2);\n"
                                       "INSERT INTO a VALUES (1);\n"
                                       "CREATE TABLE b (id INT);\n"})
    result = cli("--migrations", folder, "--database-url", my_url, "up", "--no-backup")
    assert result.code == 3, result
    dirty = status(cli, folder, my_url)["dirty_details"]
    assert dirty["statement_index"] == 1, dirty  # back at the first INSERT
    assert "1062" in dirty["error"] and dirty["statement"] == "INSERT INTO a VALUES (1)"
    assert "one transaction" in dirty["reason"]
    assert rows(my_url, "SELECT count(*) FROM a") == [(0,)]
    path = __import__("pathlib").Path(folder) / "1_a.up.sql"
    path.write_text(path.read_text().replace("VALUES (1);\nCREATE", "VALUES (3);\nCREATE"))
    assert cli("--migrations", folder, "--database-url", my_url, "up", "--resume",
               "--no-backup").code == 0
    assert rows(my_url, "SELECT id FROM a ORDER BY id") == [(1,), (2,), (3,)]
    assert tables(my_url) == {"a", "b"}


def test_a_dry_run_of_resume_shows_what_is_left(cli, migrations, my_url):
    folder = migrations({**USERS, "2_posts.up.sql": POSTS})
    assert cli("--migrations", folder, "--database-url", my_url, "up",
               "--no-backup").code == 3
    result = cli("--migrations", folder, "--database-url", my_url, "up", "--resume",
                 "--dry-run", "--json")
    assert result.code == 0, result
    (step,) = result.json()["steps"]
    assert step["version"] == 2 and step["sql"][0].startswith("ALTER TABLE nope")
    assert "resumed at statement 5" in step["note"]


def _processes(my_url, like):
    database = my_url.rsplit("/", 1)[1]
    return rows(my_url, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = "
                f"'{database}' AND INFO LIKE '{like}'")


@pytest.mark.slow
def test_kill_9_in_the_middle_is_named_and_resume_finishes(migrations, my_url, cli):
    """kill -9 while statement 3 of 4 runs: the server finishes the statement (it
    commits by itself); status names statement 3 as the one the run stopped at, with
    no error; --resume runs it again, sees from the server's "already exists" that it
    had finished, and goes on."""
    folder = migrations({"1_slow.up.sql": "CREATE TABLE one (id INT);\n"
                                          "INSERT INTO one VALUES (1);\n"
                                          "CREATE TABLE slow AS SELECT SLEEP(2) AS s;\n"
                                          "CREATE TABLE two (id INT);\n"})
    proc = ferryman_process("--migrations", folder, "--database-url", my_url, "up",
                            "--no-backup")
    wait_until(lambda: _processes(my_url, "CREATE TABLE slow%"), "the slow statement",
               proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    state = status(cli, folder, my_url)
    dirty = state["dirty_details"]
    assert state["dirty"] is True and dirty["statement_index"] == 2, dirty
    assert "error" not in dirty  # it was running, not failed
    human = cli("--migrations", folder, "--database-url", my_url, "status")
    assert "stopped at statement 3 of 4" in human.out
    # the server goes on with the statement of the dead client, then drops it
    import time

    deadline = time.monotonic() + 60
    while _processes(my_url, "CREATE TABLE slow%") and time.monotonic() < deadline:
        time.sleep(0.1)
    resumed = cli("--migrations", folder, "--database-url", my_url, "up", "--resume",
                  "--no-backup", "--lock-timeout", "30s")
    assert resumed.code == 0, resumed
    assert "had finished then" in resumed.out
    assert tables(my_url) == {"one", "slow", "two"}
    assert rows(my_url, "SELECT count(*) FROM one") == [(1,)]
    assert status(cli, folder, my_url)["dirty"] is False


def test_the_history_rows_say_what_ran(cli, migrations, my_url):
    folder = migrations({**USERS, "2_posts.up.sql": POSTS})
    cli("--migrations", folder, "--database-url", my_url, "up", "--no-backup")
    history = cli("--migrations", folder, "--database-url", my_url, "history", "--json")
    assert history.code == 0, history
    outcomes = [(e["version"], e["outcome"]) for e in history.json()]
    assert (2, "failed") in outcomes and (1, "ok") in outcomes
    raw = rows(my_url, "SELECT value FROM ferryman_meta WHERE `key` = 'dirty'")
    mark = json.loads(raw[0][0])
    assert mark["done_lines"] == 4 and len(mark["done_sha256"]) == 64


def test_a_python_migration_that_fails_part_way_is_dirty_and_says_so(cli, migrations,
                                                                      my_url):
    """A Python migration runs in autocommit here: what it did before it raised is
    committed; the mark names it, and --resume cannot go on inside Python code."""
    folder = migrations({"1_py.py": "def up(ctx):\n"
                                    "    ctx.execute('CREATE TABLE made (id INTEGER)')\n"
                                    "    raise KeyboardInterrupt\n"})
    result = cli("--migrations", folder, "--database-url", my_url, "up", "--no-backup")
    assert result.code == 3, result
    assert "up() raised KeyboardInterrupt" in result.err
    state = status(cli, folder, my_url)
    assert state["dirty"] is True and state["dirty_details"]["version"] == 1
    assert tables(my_url) == {"made"}
    resumed = cli("--migrations", folder, "--database-url", my_url, "up", "--resume")
    assert resumed.code == 3 and "force" in resumed.err, resumed


@pytest.mark.slow
def test_sigterm_part_way_is_undone_through_the_down_and_exits_143(migrations, my_url, cli):
    """SIGTERM while statement 2 of 3 runs: the statement is stopped (KILL QUERY), the
    run stops before statement 3, and what ran is undone through the down migration."""
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INT);\nDO SLEEP(30);\n"
                                       "CREATE TABLE b (id INT);\n",
                         "1_a.down.sql": "DROP TABLE b;\nDROP TABLE a;\n"})
    proc = ferryman_process("--migrations", folder, "--database-url", my_url, "up",
                            "--no-backup")
    wait_until(lambda: _processes(my_url, "DO SLEEP%"), "the sleeping statement", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (out, err)
    assert "interrupted by SIGTERM" in err
    assert tables(my_url) == set()
    state = status(cli, folder, my_url)
    assert state["dirty"] is False and state["current_version"] is None
