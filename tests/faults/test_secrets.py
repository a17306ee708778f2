"""A password never appears anywhere: output, ferryman's tables, files.

Every command runs as the real ``ferryman`` in a fresh process (tests/helpers.py's
``ferryman_process``), so that nothing registered as a secret by an earlier test in
this process can hide a leak. The server trusts local connections, so any password
is accepted and the commands do real work.
"""

import json
import os

import pytest
from helpers import ferryman_process, query

PASSWORD = "S3cret-pw-123"

FILES = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
    "1_users.down.sql": "DROP TABLE users;\n",
    "2_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY, body TEXT);\n",
    "2_letters.down.sql": "DROP TABLE letters;\n",
}
BROKEN = {
    "3_broken.up.sql": "CREATE TABLE museum (id INTEGER PRIMARY KEY);\n"
                       "INSERT INTO no_such_table VALUES (1);\n",
    "3_broken.down.sql": "DROP TABLE museum;\n",
}


class Transcript:
    """Runs ``ferryman`` in subprocesses and keeps every byte they printed."""

    def __init__(self, env):
        self.env = env
        self.seen = []

    def __call__(self, *args, code=0, env=None):
        proc = ferryman_process(*args, env={**self.env, **(env or {})})
        out, err = proc.communicate(timeout=120)
        self.seen.append((args, out, err))
        assert proc.returncode == code, (f"ferryman {' '.join(map(str, args))}: exit "
                                         f"{proc.returncode}, expected {code}\n"
                                         f"stdout: {out}\nstderr: {err}")
        return out, err

    def assert_clean(self):
        assert self.seen
        for args, out, err in self.seen:
            assert PASSWORD not in out, (args, out)
            assert PASSWORD not in err, (args, err)


def with_password(url):
    scheme, rest = url.split("://", 1)
    user, _, host = rest.partition("@")
    return f"{scheme}://{user}:{PASSWORD}@{host}"


def ferryman_tables_as_text(url):
    """Every row of every ferryman_* table, as text."""
    if url.startswith("sqlite"):
        names = [n for (n,) in query(url, "SELECT name FROM sqlite_master WHERE type = "
                                          "'table' AND name LIKE 'ferryman%'")]
        rows = [repr(row) for name in names for row in query(url, f"SELECT * FROM {name}")]
    else:
        plain = url.replace(f":{PASSWORD}@", "@")
        names = [n for (n,) in query(plain, "SELECT tablename FROM pg_tables WHERE "
                                            "schemaname = 'public' AND tablename LIKE "
                                            "'ferryman%'")]
        rows = [r for name in names for (r,) in query(plain, f"SELECT t::text FROM {name} t")]
    assert {"ferryman_history", "ferryman_runs", "ferryman_meta"} <= set(names), names
    return "\n".join(rows)


def assert_no_file_shows_it(root, exclude=()):
    """No file or folder under ``root`` has the password in its name or its bytes."""
    count = 0
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            assert PASSWORD not in name, os.path.join(folder, name)
        for name in files:
            path = os.path.join(folder, name)
            if path in exclude:
                continue
            with open(path, "rb") as handle:
                assert PASSWORD.encode() not in handle.read(), path
            count += 1
    assert count


def exercise(run, migrations):
    """Every kind of command, the failing one included; returns what status said."""
    out, _ = run("status")
    assert "current version  none" in out
    status = json.loads(run("status", "--json")[0])
    assert status["current_version"] is None and status["pending_count"] == 2
    run("validate")
    out, _ = run("up", "--dry-run")
    assert "CREATE TABLE users" in out
    out, _ = run("up", "--verbose")
    assert "ran 2 migrations" in out
    run("--verbose", "status")
    history = json.loads(run("history", "--json")[0])
    assert [h["version"] for h in history] == [2, 1]
    run("history")
    run("down", "--dry-run")
    migrations(BROKEN)
    _, err = run("up", "--verbose", code=1)
    assert "no_such_table" in err
    out, err = run("up", "--json", code=1)
    assert json.loads(out)["version"] == 3
    after = json.loads(run("status", "--json")[0])
    assert after["current_version"] == 2 and after["dirty"] is False
    return status


@pytest.mark.postgresql
def test_password_in_the_url_is_never_shown(pg_url, migrations, tmp_path):
    url = with_password(pg_url)
    folder = migrations(FILES)
    run = Transcript({"FERRYMAN_DATABASE_URL": url, "FERRYMAN_MIGRATIONS": folder})
    status = exercise(run, migrations)
    # The URL is shown, redacted: the redaction ran, rather than the URL being left out.
    assert status["database"] == with_password(pg_url).replace(PASSWORD, "***")
    assert any("postgres:***@" in out + err for _args, out, err in run.seen)
    run.assert_clean()
    assert PASSWORD not in ferryman_tables_as_text(url)
    assert_no_file_shows_it(tmp_path)


@pytest.mark.parametrize("how", ["FERRYMAN_PASSWORD", "FERRYMAN_PASSWORD_FILE"])
def test_password_from_the_environment_is_never_shown(db_url, migrations, tmp_path, how):
    folder = migrations(FILES)
    env = {"FERRYMAN_DATABASE_URL": db_url, "FERRYMAN_MIGRATIONS": folder}
    secret_file = str(tmp_path / "db-password.txt")
    with open(secret_file, "w", encoding="utf-8") as handle:
        handle.write(PASSWORD + "\n")
    env[how] = PASSWORD if how == "FERRYMAN_PASSWORD" else secret_file
    run = Transcript(env)
    exercise(run, migrations)
    run.assert_clean()
    assert PASSWORD not in ferryman_tables_as_text(db_url)
    assert_no_file_shows_it(tmp_path, exclude={secret_file})


@pytest.mark.postgresql
@pytest.mark.parametrize("command", [("status",), ("status", "--json"), ("up",),
                                     ("up", "--dry-run"), ("history", "--json"),
                                     ("validate",), ("--verbose", "up")])
def test_unreachable_server_exit_4_without_the_password(migrations, command, tmp_path):
    folder = migrations(FILES)
    # Refused connections are retried (its warnings are output too); quickly here.
    run = Transcript({"FERRYMAN_MIGRATIONS": folder, "FERRYMAN_RETRY_BACKOFF": "50ms"})
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x"
    _, err = run(*command, env={"FERRYMAN_DATABASE_URL": url}, code=4)
    assert "cannot connect to postgresql://postgres:***@127.0.0.1:1/x" in err, err
    _, err = run(*command, env={"FERRYMAN_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x",
                                "FERRYMAN_PASSWORD": PASSWORD}, code=4)
    assert "cannot connect to postgresql://postgres:***@127.0.0.1:1/x" in err, err
    run.assert_clean()
    assert_no_file_shows_it(tmp_path)


MALFORMED = [
    f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/x",   # bad port
    f"postgresql://postgres:{PASSWORD}@127.0.0.1:54x32/x",      # bad port
    f"postgresql:postgres:{PASSWORD}@127.0.0.1/x",               # no //
    f"postgresql:/postgres:{PASSWORD}@127.0.0.1/x",              # one /
    f"postgresql//postgres:{PASSWORD}@127.0.0.1/x",              # no colon: unknown scheme
    f"postgress://postgres:{PASSWORD}@127.0.0.1/x",              # misspelt scheme
    f"postgres ql://postgres:{PASSWORD}@127.0.0.1/x",            # space in the scheme
]


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_url_is_refused_without_the_password(migrations, url, tmp_path):
    folder = migrations(FILES)
    run = Transcript({"FERRYMAN_MIGRATIONS": folder, "FERRYMAN_DATABASE_URL": url})
    for command in (("status", "--json"), ("up", "--verbose")):
        _, err = run(*command, code=2)
        assert "database URL" in err and "***" in err, err
    run("up", "--database-url", url, code=2)
    run.assert_clean()
    assert_no_file_shows_it(tmp_path)


@pytest.mark.parametrize("args", [("up", "--password", PASSWORD),
                                  ("status", f"--password={PASSWORD}"),
                                  ("--password", PASSWORD, "up", "--verbose")])
def test_password_on_the_command_line_is_refused(sqlite_url, migrations, tmp_path, args):
    folder = migrations(FILES)
    run = Transcript({"FERRYMAN_DATABASE_URL": sqlite_url, "FERRYMAN_MIGRATIONS": folder})
    _, err = run(*args, code=2)
    assert "--password is not accepted" in err, err
    run.assert_clean()
    assert not os.path.exists(sqlite_url.split("sqlite:///", 1)[1])  # nothing ran
