"""Helpers for tests: plain-driver queries, and the real command in a subprocess."""

import os
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_DSN = os.environ.get("FERRYMAN_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres")
PG_OFF = os.environ.get("FERRYMAN_TEST_PG", "").lower() in ("off", "0", "no")
# The MySQL or MariaDB server of the tests: root with an empty password by default.
MY_URL = os.environ.get("FERRYMAN_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
MY_OFF = os.environ.get("FERRYMAN_TEST_MYSQL", "").lower() in ("off", "0", "no")


def my_admin():
    """A PyMySQL connection to the tests' MySQL server (no database), in autocommit.
    A server that cannot be reached fails the test (skips it only with
    FERRYMAN_TEST_MYSQL=off; never under CI)."""
    import pytest

    try:
        import pymysql
    except ImportError:
        pytest.fail("PyMySQL is not installed: pip install -e '.[mysql,test]'")
    from ferryman.url import parse_url

    url = parse_url(MY_URL)
    try:
        return pymysql.connect(host=url.host, port=url.port or 3306, user=url.user or "root",
                               password=url.password or "", autocommit=True,
                               connect_timeout=5)
    except pymysql.err.OperationalError as exc:
        if MY_OFF and not os.environ.get("CI"):
            pytest.skip("MySQL is off for this run (FERRYMAN_TEST_MYSQL=off)")
        pytest.fail(f"MySQL/MariaDB is required and unreachable at {MY_URL!r}: {exc}")


def new_my_database():
    """Create a uniquely named MySQL database; yield its name; drop it."""
    import uuid

    name = f"ferryman_t_{uuid.uuid4().hex[:12]}"
    my_admin_execute(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        my_admin_execute(f"DROP DATABASE IF EXISTS `{name}`")


def my_admin_execute(sql, params=None):
    """Run one statement as the tests' MySQL administrator."""
    admin = my_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        admin.close()


def my_user_with_password(request, url, password):
    """A MySQL user whose password is ``password``, with every right on the database of
    ``url`` (root has no password here), dropped after the test: ``url`` as that user,
    without the password."""
    import uuid

    user = f"ft_{uuid.uuid4().hex[:10]}"
    database = url.rsplit("/", 1)[1]
    my_admin_execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
    my_admin_execute(f"GRANT ALL ON `{database}`.* TO '{user}'@'%'")
    request.addfinalizer(lambda: my_admin_execute(f"DROP USER IF EXISTS '{user}'@'%'"))
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}@{rest.split('@', 1)[1]}"


def my_url_of(name):
    return MY_URL.rstrip("/") + "/" + name


def pg_dsn_params():
    import shlex

    return dict(item.split("=", 1) for item in shlex.split(PG_DSN))


def ferryman_process(*args, env=None, **kwargs):
    """Start the real console command in a subprocess (for kill -9 and concurrency)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "ferryman", *map(str, args)],
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def wait_until(predicate, what, proc, timeout=60.0):
    """Poll ``predicate()`` until it is truthy and return its value; fail if the process
    ``proc`` ends first or ``timeout`` seconds pass (a limit against a hang, not a timing
    assertion)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"ferryman ended (exit {proc.returncode}) before {what}\n"
                        f"stdout: {out}\nstderr: {err}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(0.05)
    return value


def sleeping_pids(url):
    """The backends on the PostgreSQL database of ``url`` running a pg_sleep."""
    database = url.rsplit("/", 1)[1]
    return [row[0] for row in query(
        url, "SELECT pid FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
             "AND query LIKE 'SELECT pg_sleep%%'", (database,))]


# Version 1 of the fault tests: one table, base.
BASE = {"1_base.up.sql": "CREATE TABLE base (id INTEGER PRIMARY KEY);\n",
        "1_base.down.sql": "DROP TABLE base;\n"}


def at_version_1(url, migrations, cli, monkeypatch):
    """BASE applied to ``url`` by ``cli("up")``, configured by environment variables set
    for the test: the database, the migrations folder (``migrations``' default) and no
    backups. Returns those variables, for ferryman_process(env=...)."""
    env = {"FERRYMAN_DATABASE_URL": url, "FERRYMAN_MIGRATIONS": migrations(BASE),
           "FERRYMAN_BACKUP": "false"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    first = cli("up")
    assert first.code == 0, first
    return env


def bound_cli(cli, url, folder, backups):
    """``cli`` on one database: ``invoke(*args)`` runs ``ferryman ARGS`` with its
    --database-url, --migrations and --backup-dir; they are its url, folder and backups."""

    def invoke(*args):
        return cli(*args, "--database-url", url, "--migrations", folder,
                   "--backup-dir", str(backups))

    invoke.url, invoke.folder, invoke.backups = url, folder, backups
    return invoke


def query(url, sql, params=None):
    """Rows of ``sql`` on ``url``, through the plain drivers (not ferryman)."""
    if url.startswith("sqlite"):
        import sqlite3

        path = url.split("sqlite:///", 1)[1]
        with sqlite3.connect(path) as conn:
            return conn.execute(sql, params or ()).fetchall()
    if url.startswith("mysql"):
        return _my_query(url, sql, params)
    import psycopg

    with psycopg.connect(_pg_conninfo(url), autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _my_query(url, sql, params=None):
    from ferryman.url import parse_url

    database = parse_url(url).database
    admin = my_admin()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"USE `{database}`")
            cursor.execute(sql, params)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    finally:
        admin.close()


def _pg_conninfo(url):
    from ferryman.url import parse_url

    u = parse_url(url)
    return f"host={u.host} port={u.port or 5432} user={u.user} dbname={u.database}"


def tables(url):
    """The user's tables (ferryman's own excluded), sorted."""
    if url.startswith("sqlite"):
        rows = query(url, "SELECT name FROM sqlite_master WHERE type = 'table' "
                          "AND name NOT LIKE 'ferryman%' AND name NOT LIKE 'sqlite_%'")
    elif url.startswith("mysql"):
        rows = query(url, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
                          "TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' "
                          "AND TABLE_NAME NOT LIKE 'ferryman%%'")
    else:
        rows = query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                          "AND tablename NOT LIKE 'ferryman%'")
    return sorted(r[0] for r in rows)


def sqlite_path(url):
    return url.split("sqlite:///", 1)[1]


def ferryman_tables(url):
    """ferryman's own tables in a database (none means it was never touched)."""
    if url.startswith("sqlite"):
        rows = query(url, "SELECT name FROM sqlite_master WHERE name LIKE 'ferryman%'")
    elif url.startswith("mysql"):
        rows = query(url, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
                          "TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'ferryman%%'")
    else:
        rows = query(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'ferryman%'")
    return sorted(r[0] for r in rows)


# -- a real headless browser, for the HTML reports ----------------------------------------
# --headless=new   Chromium's current headless mode (the old one is a separate binary now)
# --no-sandbox     Chromium will not start its sandbox as root, which CI and this
#                  sandbox run as; the page is our own file, so nothing hostile loads
# --disable-gpu    no GPU here; saves the probe
# the rest         the machine has no network: no update checks, sync or QUIC probes
# On stderr, "Failed to connect to the bus" (no D-Bus here) and, from Debian's launcher
# script, "/usr/bin/chromium: 9: [: ...: unexpected operator" are noise: both harmless.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium():
    """Debian's Chromium; CI installs it, a test never does."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is required: apt-get install -y chromium")
    return path


def run_chromium(workdir, name, *args):
    # A profile per run: two Chromiums never share one (its lock would make one fail).
    command = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={workdir / (name + '-profile')}",
               *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        # --dump-dom waits for the page: a script that opens a dialog (an injected
        # alert()) blocks it, so a hang here may be the very failure under test.
        pytest.fail(f"chromium did not finish within 60 s: {command}")
    assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    return done.stdout


def run_with_client(url, text):
    """Run SQL ``text`` the way another tool's driver or a person would: through the
    database's own client (``sqlite3 -bail``, ``psql -v ON_ERROR_STOP=1``), as written."""
    import subprocess

    if url.startswith("sqlite"):
        command = ["sqlite3", "-bail", sqlite_path(url)]
    elif url.startswith("mysql"):
        from ferryman.url import parse_url

        u = parse_url(url)  # the tests' server: root, no password (helpers.MY_URL)
        command = ["mariadb", "-h", u.host, "-P", str(u.port or 3306), "-u", u.user or "root",
                   u.database]
    else:
        command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]
    subprocess.run(command, input=text, text=True, check=True, capture_output=True)


def columns(url, table):
    """The names of ``table``'s columns, in order."""
    if url.startswith("sqlite"):
        return [r[1] for r in query(url, f"PRAGMA table_info({table})")]
    schema = "DATABASE()" if url.startswith("mysql") else "current_schema()"
    return [r[0] for r in query(url, "SELECT column_name FROM information_schema.columns "
                                     f"WHERE table_schema = {schema} AND table_name = %s "
                                     "ORDER BY ordinal_position", (table,))]
