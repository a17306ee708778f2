"""A password never appears anywhere: output, ferryman's tables, files.

Every command runs as the real ``ferryman`` in a fresh process (tests/helpers.py's
``ferryman_process``), so that nothing registered as a secret by an earlier test in
this process can hide a leak. The server trusts local connections, so any password
is accepted and the commands do real work.
"""

import json
import os

import pytest
from helpers import ferryman_process, ferryman_tables, my_user_with_password, query

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
    elif url.startswith("mysql"):  # read as root (helpers.query), the tables' every row
        names = ferryman_tables(url)
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


def test_password_in_the_url_is_never_shown_on_mysql(my_url, migrations, tmp_path, request):
    user_url = my_user_with_password(request, my_url, PASSWORD)
    scheme, _, rest = user_url.partition("://")
    user, _, tail = rest.partition("@")
    url = f"{scheme}://{user}:{PASSWORD}@{tail}"
    run = Transcript({"FERRYMAN_DATABASE_URL": url, "FERRYMAN_MIGRATIONS": migrations(FILES)})
    status = exercise(run, migrations)
    assert status["database"] == url.replace(PASSWORD, "***")
    run.assert_clean()
    assert PASSWORD not in ferryman_tables_as_text(url)
    assert_no_file_shows_it(tmp_path)


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
def test_password_from_the_environment_is_never_shown(db_url, migrations, tmp_path, how,
                                                       request):
    if db_url.startswith("mysql"):  # MySQL checks the password: a user that has it
        db_url = my_user_with_password(request, db_url, PASSWORD)
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


# -- issue 8, item 9: a password written raw, reserved characters and all ---------------
# Each case: (URL, its password, the exit code). Nothing between "://" and the last "@"
# may be printed, whatever the URL's shape; the password is written raw, as people
# paste it. 2: the URL is refused; 4: it parses and the server is unreachable.
RAW = "Zq7-raw-pw"
NASTY = [
    (f"postgresql://u:p@ss:w/rd%^!é{RAW}@127.0.0.1/x", f"p@ss:w/rd%^!é{RAW}", 2),
    (f"postgresql://u:ab/{RAW}@127.0.0.1/x", f"ab/{RAW}", 2),
    (f"postgresql://u:ab?{RAW}@127.0.0.1/x", f"ab?{RAW}", 2),
    (f"postgresql://u:ab#{RAW}@127.0.0.1/x", f"ab#{RAW}", 2),
    (f"postgresql://u:{RAW}/x?y=1@127.0.0.1:5432/x?sslmode=disable", f"{RAW}/x?y=1", 2),
    (f"postgresql://u:{RAW}@127.0.0.1/x/@elsewhere", RAW, 2),        # an @ in the path
    (f"postgresql://u:{RAW}@[::1/x", RAW, 2),                         # unclosed [
    (f"postgresql://u:{RAW}@127.0.0.1:5o32/x", RAW, 2),               # bad port
    (f"postgresql://u:{RAW}", RAW, 2),                                # no host: "port"
    (f"postgresql:u:{RAW}@127.0.0.1/x", RAW, 2),                      # no //
    (f"postgres ql://u:{RAW}@127.0.0.1/x", RAW, 2),                   # bad scheme
    (f"mysql://u:ab/{RAW}@127.0.0.1/x", f"ab/{RAW}", 2),
    (RAW, RAW, 2),                                                    # the password alone
    (f"postgresql://u:p@ss:{RAW}@127.0.0.1:1/x", f"p@ss:{RAW}", 4),   # valid: @ and :
    (f"postgresql://u:%zz{RAW}%@127.0.0.1:1/x", f"%zz{RAW}%", 4),     # bad % escapes
    (f"postgresql://u@127.0.0.1:1/x?password={RAW}", RAW, 4),
]


def secret_pieces(password):
    """The password, and every run of 4+ characters of it between reserved characters:
    a leak of any part of it fails the test."""
    import re

    return {password} | {p for p in re.split(r"[@:/?#%]", password) if len(p) >= 4}


def assert_hidden(text, password, where):
    for piece in secret_pieces(password):
        assert piece not in text, (where, piece, text)


@pytest.mark.parametrize("url, password, code", NASTY)
def test_raw_password_in_a_nasty_url_is_never_shown(migrations, tmp_path, url, password,
                                                    code):
    folder = migrations(FILES)
    log = str(tmp_path / "ferryman.log")
    run = Transcript({"FERRYMAN_MIGRATIONS": folder, "FERRYMAN_RETRY_BACKOFF": "50ms",
                      "FERRYMAN_RETRIES": "0", "FERRYMAN_LOG_FILE": log})
    seen = []
    for command in (("status",), ("status", "--json"), ("up", "--json"), ("up", "--verbose")):
        out, err = run(*command, env={"FERRYMAN_DATABASE_URL": url}, code=code)
        seen.append(out + err)
        if "--json" in command:
            document = json.loads(out)
            assert document["exit_code"] == code, document
            assert_hidden(json.dumps(document, ensure_ascii=False), password, command)
    out, err = run("up", "--database-url", url, code=code)
    seen.append(out + err)
    for text in seen:
        assert_hidden(text, password, url)
        assert "Traceback" not in text
    if code == 2:
        assert all("database URL" in text for text in seen), seen
    else:  # it parsed: the redacted URL is shown, with its user
        assert all("cannot connect to postgresql://u" in text and "***" in text
                   for text in seen), seen
    for folder_name, _dirs, names in os.walk(tmp_path):
        for name in names:
            with open(os.path.join(folder_name, name), "rb") as handle:
                assert_hidden(handle.read().decode("utf-8", "replace"), password, name)


@pytest.mark.parametrize("url, password, code", NASTY)
def test_raw_password_in_a_nasty_url_is_never_in_an_api_error(migrations, url, password,
                                                              code):
    """In-process: the error's message, details, dict and repr; and the URL objects.
    Each case its own password, so that no secret an earlier test registered for
    redaction in this process can hide a leak."""
    import uuid

    from ferryman import Migrator
    from ferryman.errors import FerrymanError
    from ferryman.url import parse_url

    marker = f"pw{uuid.uuid4().hex[:10]}"
    url, password = url.replace(RAW, marker), password.replace(RAW, marker)
    folder = migrations(FILES)
    with pytest.raises(FerrymanError) as caught:
        Migrator(url, folder, retries=0, connect_timeout=2).status()
    error = caught.value
    assert error.exit_code == code, error.details()
    for text in (str(error), repr(error), error.details(),
                 json.dumps(error.to_dict(), ensure_ascii=False)):
        assert_hidden(text, password, text)
    if code == 4:
        parsed = parse_url(url)
        assert parsed.password == password or parsed.query.get("password") == password
        for text in (str(parsed), repr(parsed), parsed.redacted()):
            assert_hidden(text, password, text)
