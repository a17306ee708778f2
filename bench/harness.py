"""Running commands with a stopwatch, and the throwaway databases they run against."""

import os
import resource
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = VENV_BIN / "python"


class BenchError(Exception):
    pass


@dataclass
class Command:
    argv: list
    env: dict = field(default_factory=dict)  # added to a clean copy of os.environ
    cwd: Path | None = None
    stdin: Path | None = None  # a file fed on standard input


@dataclass
class Sample:
    wall: float  # seconds, parent's perf_counter around the child's whole life
    cpu: float  # the child's user + system CPU seconds (its own children included)
    stdout: str = ""
    quiet: bool = True  # did the machine go quiet before the run (see Quiet)?


# Variables that would change what a tool connects to or reads, taken from the caller;
# and those that decide whether Python caches bytecode, which set_bytecode_cache sets.
_SCRUB = ("FERRYMAN_", "DATABASE_URL", "DBMATE_", "YOYO", "ALEMBIC",
          "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
_PYTHON_ENV = {}


def set_bytecode_cache(folder, enabled=True):
    """Where every Python child keeps its .pyc files: ``folder`` (PYTHONPYCACHEPREFIX),
    so nothing is written beside the sources (src/ferryman stays untouched), and the
    cache starts empty on every run of the benchmark. ``enabled=False``: no cache at
    all, every module compiled from source in every process (a first run)."""
    _PYTHON_ENV.clear()
    _PYTHON_ENV["PYTHONPYCACHEPREFIX"] = str(folder)
    if not enabled:
        _PYTHON_ENV["PYTHONDONTWRITEBYTECODE"] = "1"


def _environment(extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env.update(_PYTHON_ENV)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd: Command) -> Sample:
    """Run ``cmd`` to completion and time it; raise BenchError if it fails."""
    env = _environment(cmd.env)
    stdin = open(cmd.stdin, "rb") if cmd.stdin else subprocess.DEVNULL
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run([str(a) for a in cmd.argv], env=env, cwd=cmd.cwd, stdin=stdin,
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        if cmd.stdin:
            stdin.close()
    if proc.returncode != 0:
        shown = " ".join(str(a) for a in cmd.argv)
        raise BenchError(f"`{shown}` exited with {proc.returncode}:\n"
                         f"{_tail(proc.stderr or proc.stdout)}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu, proc.stdout)


def _tail(text, lines=25):
    return "\n".join(text.strip().splitlines()[-lines:])


class Quiet:
    """Waits, before a timed run, for the machine to be quiet: the CPUs mostly idle
    and no disk waits (other processes: a test suite, a build), and no other session
    busy on the PostgreSQL server. Gives up after ``timeout`` seconds, and counts it:
    on a shared machine the report says how many runs started in company."""

    def __init__(self, timeout=30.0, max_busy=0.25):
        self.timeout = timeout
        self.max_busy = max_busy  # fraction of all CPUs busy (iowait included)
        self.waited = 0.0
        self.waits = 0
        self.gave_up = 0

    def wait(self, server_busy=None):
        """True when the machine was quiet for half a second, False on timeout."""
        if self.timeout <= 0:
            return True
        start = time.monotonic()
        quiet_since = None
        previous = _cpu_times()
        while True:
            time.sleep(0.1)
            current = _cpu_times()
            busy = _busy_fraction(previous, current)
            previous = current
            if busy > self.max_busy or (server_busy is not None and server_busy()):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 0.5:
                quiet = True
                break
            if time.monotonic() - start >= self.timeout:
                quiet = False
                self.gave_up += 1
                break
        self.waited += time.monotonic() - start
        self.waits += 1
        return quiet

    def summary(self):
        return {"waits": self.waits, "waited_s": round(self.waited, 1),
                "gave_up": self.gave_up, "timeout_s": self.timeout,
                "max_busy": self.max_busy}


def _cpu_times():
    """(busy, total) jiffies of all CPUs; iowait counts as busy (someone's disk I/O)."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:9]]
    except OSError:
        return None
    idle = fields[3]
    return sum(fields) - idle, sum(fields)


def _busy_fraction(before, after):
    if before is None or after is None or after[1] == before[1]:
        return 0.0
    return (after[0] - before[0]) / (after[1] - before[1])


# -- databases ------------------------------------------------------------------------------
@dataclass
class Database:
    """One throwaway database: a PostgreSQL or MySQL database, or a SQLite file."""

    dialect: str
    name: str
    path: Path | None = None  # SQLite
    host: str | None = None  # PostgreSQL, MySQL
    port: int | None = None
    user: str | None = None
    password: str | None = None

    def pg_url(self, scheme="postgresql", query=""):
        return self.server_url(scheme, query)

    def server_url(self, scheme, query="", password=True):
        """``scheme://user[:password]@host:port/name[?query]``; ``password=False`` leaves
        the password out (for a command line: pass it in the environment instead)."""
        auth = quote(self.user or "", safe="")
        if self.password and password:
            auth += f":{quote(self.password, safe='')}"
        return (f"{scheme}://{auth}{'@' if auth else ''}{self.host}:{self.port}/{self.name}"
                + (f"?{query}" if query else ""))

    def mysql_url(self, password=True):
        return self.server_url("mysql", password=password)

    def sqlalchemy_url(self, pg_driver="psycopg"):
        """postgresql+psycopg://... or sqlite:////abs/path (Alembic, yoyo)."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        return self.pg_url(f"postgresql+{pg_driver}")


class SQLiteServer:
    dialect = "sqlite"
    label = "SQLite"

    def __init__(self, root, quiet):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.quiet = quiet

    def create(self, tag):
        """A path where no database exists yet: every tool creates the file itself."""
        name = f"{tag}-{uuid.uuid4().hex[:8]}"
        return Database("sqlite", name, path=self.root / f"{name}.db")

    def drop(self, db):
        for path in self.root.glob(f"{db.name}.db*"):  # -journal, -wal, ferryman's lock
            path.unlink()

    def settle(self):
        """Flush the writes of earlier runs, then wait for a quiet machine; True if it
        was quiet."""
        os.sync()
        return self.quiet.wait()

    def wait_quiet(self):
        return self.quiet.wait()

    def count_objects(self, db):
        conn = sqlite3.connect(f"file:{db.path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
        finally:
            conn.close()
        return _count(rows, "table", "index")

    def version(self):
        return sqlite3.sqlite_version

    def close(self):
        pass


class PostgresServer:
    dialect = "postgresql"
    label = "PostgreSQL"

    def __init__(self, url, quiet):
        import psycopg

        self.quiet = quiet
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 5432
        self.user = unquote(parts.username) if parts.username else "postgres"
        self.password = unquote(parts.password) if parts.password else None
        self.prefix = "ferrybench_"
        try:
            self.admin = psycopg.connect(**self._params("postgres"), autocommit=True,
                                         connect_timeout=5)
        except psycopg.Error as exc:
            raise BenchError(f"cannot connect to PostgreSQL at {self.host}:{self.port} as "
                             f"{self.user}: {exc}\n(start it, or pass --databases sqlite)")

    def _params(self, dbname):
        params = {"host": self.host, "port": self.port, "user": self.user, "dbname": dbname}
        if self.password:
            params["password"] = self.password
        return params

    def _admin(self, sql, params=None, patience=600.0):
        """Run ``sql`` on the admin connection. The server may be shared with a test
        suite that fills the shared lock table on purpose ("out of shared memory"):
        then every statement fails for a while, so wait and try again."""
        import psycopg

        deadline = time.monotonic() + patience
        while True:
            try:
                return self.admin.execute(sql, params).fetchall() if params is not None \
                    else self.admin.execute(sql)
            except psycopg.errors.OutOfMemory:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def create(self, tag):
        name = f"{self.prefix}{tag.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return Database("postgresql", name, host=self.host, port=self.port, user=self.user,
                        password=self.password)

    def drop(self, db):
        self._admin(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')

    def drop_leftovers(self):
        """Databases of an earlier run that was interrupted."""
        for (name,) in self._admin("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                   (self.prefix + "%",)):
            self.drop(Database("postgresql", name))

    def settle(self):
        """Write out the WAL and dirty buffers of earlier runs, then wait for a quiet
        machine and server; True if they were quiet."""
        self._admin("CHECKPOINT")
        os.sync()
        return self.quiet.wait(self.busy)

    def wait_quiet(self):
        return self.quiet.wait(self.busy)

    def busy(self):
        """Other sessions in the middle of something (a test suite sharing the server)."""
        return self._admin(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid() AND state <> 'idle'", ())[0][0]

    def count_objects(self, db, patience=600.0):
        import psycopg

        deadline = time.monotonic() + patience
        while True:
            try:
                with psycopg.connect(**self._params(db.name)) as conn:
                    rows = conn.execute(
                        "SELECT CASE relkind WHEN 'r' THEN 'table' ELSE 'index' END, relname "
                        "FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace "
                        "WHERE n.nspname = 'public' AND relkind IN ('r', 'i')").fetchall()
                return _count(rows, "table", "index")
            except psycopg.errors.OutOfMemory:  # see _admin
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def version(self):
        return self._admin("SHOW server_version", ())[0][0]

    def close(self):
        self.admin.close()


class MySQLServer:
    """A MySQL or MariaDB server: one database per measurement (``ferrybench_<tool>_<hex>``),
    dropped afterwards; those of an interrupted run are dropped at the start."""

    dialect = "mysql"

    def __init__(self, url, quiet, password=None):
        import pymysql

        self.quiet = quiet
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 3306
        self.user = unquote(parts.username) if parts.username else "root"
        self.password = unquote(parts.password) if parts.password else password
        self.prefix = "ferrybench_"
        try:
            self.admin = pymysql.connect(**self.params(), autocommit=True, connect_timeout=5)
        except pymysql.Error as exc:
            raise BenchError(f"cannot connect to MySQL at {self.host}:{self.port} as "
                             f"{self.user}: {exc}\n(start it, or leave mysql out of "
                             "--databases)")
        self.server_version = self._admin("SELECT VERSION()")[0][0]
        self.label = "MariaDB" if "mariadb" in self.server_version.lower() else "MySQL"

    def params(self, database=None):
        """PyMySQL's connect() arguments; the driver's defaults otherwise, as a minimal
        tool (and ferryman, for a URL without TLS parameters) leaves them."""
        params = {"host": self.host, "port": self.port, "user": self.user,
                  "password": self.password or ""}
        if database:
            params["database"] = database
        return params

    def _admin(self, sql, params=None):
        with self.admin.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def create(self, tag):
        name = f"{self.prefix}{tag.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        self._admin(f"CREATE DATABASE `{name}`")
        return Database("mysql", name, host=self.host, port=self.port, user=self.user,
                        password=self.password)

    def drop(self, db):
        self._admin(f"DROP DATABASE IF EXISTS `{db.name}`")

    def drop_leftovers(self):
        """Databases of an earlier run that was interrupted."""
        for (name,) in self._admin("SELECT schema_name FROM information_schema.SCHEMATA "
                                   "WHERE schema_name LIKE %s", (self.prefix + "%",)):
            self.drop(Database("mysql", name))

    def settle(self):
        """Flush the files of earlier runs (a DROP DATABASE deletes a thousand of them),
        then wait for a quiet machine and server; True if they were quiet."""
        os.sync()
        return self.quiet.wait(self.busy)

    def wait_quiet(self):
        return self.quiet.wait(self.busy)

    def busy(self):
        """Other sessions in the middle of a statement (a test suite, another benchmark
        sharing the server); the server's own threads left out."""
        return self._admin(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() "
            "AND COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump') "
            "AND USER NOT IN ('system user', 'event_scheduler')")[0][0]

    def count_objects(self, db):
        tables = self._admin("SELECT 'table', table_name FROM information_schema.TABLES "
                             "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                             (db.name,))
        indexes = self._admin("SELECT DISTINCT 'index', index_name FROM "
                              "information_schema.STATISTICS WHERE table_schema = %s "
                              "AND index_name <> 'PRIMARY'", (db.name,))
        return _count(list(tables) + list(indexes), "table", "index")

    def version(self):
        return self.server_version

    def close(self):
        self.admin.close()


def _count(rows, table, index):
    """(tables t<n>, indexes t<n>_name) among ``rows`` of (type, name)."""
    tables = sum(1 for kind, name in rows
                 if kind == table and name.startswith("t") and name[1:].isdigit())
    indexes = sum(1 for kind, name in rows
                  if kind == index and name.startswith("t") and name.endswith("_name"))
    return tables, indexes


# -- the start and end of a benchmark program ---------------------------------------------
def reexec_in_venv(script):
    """Run ``script`` again under the project's .venv Python when another one started it
    (ferryman, psycopg and uvicorn are installed there)."""
    import sys

    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve() and PYTHON.exists():
        os.execv(PYTHON, [str(PYTHON), script, *sys.argv[1:]])


class Scratch:
    """A benchmark program's workspace, as a context manager: ``path``, a new temporary
    folder (``prefix``, in ``dir``) that also holds the bytecode cache of every Python
    child (set_bytecode_cache), and the PostgreSQL server, made by ``connect()`` on first
    use (postgres()). At the end the server's databases are dropped and it is closed, and
    the folder is removed."""

    def __init__(self, prefix, env, connect, dir=None):
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=dir))
        set_bytecode_cache(self.path / "pycache")
        self.env = env
        self._connect = connect
        self.server = None

    def postgres(self):
        """The server; on first use its leftovers (databases of an interrupted run) are
        dropped and its version goes into the report's facts (env["postgresql"])."""
        if self.server is None:
            self.server = self._connect()
            self.server.drop_leftovers()
            self.env["postgresql"] = self.server.version()
        return self.server

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.server is not None:
            self.server.drop_leftovers()
            self.server.close()
        shutil.rmtree(self.path, ignore_errors=True)


def wait_ready(base, poll=0.05):
    """Wait up to 30 s for the HTTP server at ``base`` to answer /healthz with 200, asking
    every ``poll`` seconds."""
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(poll)
    raise BenchError(f"{base} never answered /healthz")


def environment(**extra):
    """The facts of the machine a report states, taken at the start."""
    import platform

    return {"cpus": os.cpu_count(), "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, **extra}


def not_quiet(results):
    """How many timed runs of ``results`` (engine -> {"summary": {what: {...}}}) started
    without a quiet machine."""
    return sum(v["not_quiet"] for r in results.values() for v in r["summary"].values())


def machine_line(env, not_quiet, extra=""):
    """The report's last line: the machine, its load, the versions, and how many timed
    runs had to start without a quiet machine."""
    return (f"Machine: {env['cpus']} CPUs, load average at start {env['load_start']}, at end "
            f"{env['load_end']}; Python {env['python']}, SQLite {env['sqlite']}, PostgreSQL "
            f"{env.get('postgresql', 'n/a')}{extra}. Runs that started without a quiet "
            f"machine: {not_quiet}.")


# -- the end of a benchmark program ------------------------------------------------------
def finish(kind, results, args, env, text, log):
    """Print the markdown report; write it and every sample to bench/results (or
    --json-out) as JSON, named ``<kind>-<time>.json``."""
    import json
    import sys

    print(text)
    out = Path(args.json_out) if args.json_out else (
        BENCH / "results" / f"{kind}-{time.strftime('%Y%m%dT%H%M%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as handle:
        json.dump({"environment": env, "args": vars(args), "results": results,
                   "markdown": text}, handle, indent=1, default=str)
    log(f"JSON: {out}")
    sys.stdout.flush()
    return 0


def conclude(kind, results, args, env, report, log):
    """The load average at the end into ``env``, then ``report(results, args, env)``
    printed and written out (finish)."""
    env["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return finish(kind, results, args, env, report(results, args, env), log)


def main_guard(name, main):
    """Run ``main()``; a BenchError ends the program with its message and exit code 1."""
    import sys

    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(1)
