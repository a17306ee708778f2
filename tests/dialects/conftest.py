"""The dialect conformance suite: what every database engine must do for ferryman.

Like golang-migrate's ``database/testing`` package, one set of tests runs against every
dialect through its public members only: connecting (autocommit, read-only, errors
translated, secrets kept out), transactions (and whether DDL really rolls back, as
``transactional_ddl`` claims), the migration lock, ferryman's own tables through
``core.history.History``, splitting files into statements, backup and restore through
``safety.backups.Backups``, and the catalog, maintenance and monitoring queries.

Fixtures
--------
``engine``
    parametrised over ``ENGINES``: one fresh database per test, unique and dropped
    afterwards (a SQLite file in the test's tmp_path, as ``sqlite_url``; a PostgreSQL
    database named as ``pg_database`` names them, dropped in the background so that
    the next test does not wait for the server's disk). It carries the
    URL (``engine.url``, text; ``engine.parsed``), the dialect class
    (``engine.dialect``), ``engine.open(**options)`` for any number of independent
    connections (closed at the end of the test), ``engine.another_url()`` for a second
    fresh database, and ``engine.profile``: the engine's own facts the tests need.
``db`` / ``other``
    two independent connections to the test's database.

How a new engine joins (MySQL/MariaDB next)
-------------------------------------------
1. Register its dialect in ``ferryman.dialects.DIALECTS`` (and its backup provider).
2. Write a ``Profile`` for it below and add it to ``ENGINES``: its URL factory
   (``make_url(request)`` returns the URL of a fresh database that is dropped after the
   test, ``another_url`` a second one), URLs its server refuses, and its samples:
   SQLSTATEs, statements that cannot run in a transaction, a slow statement, files to
   split, and so on (each attribute of ``Profile`` says what it is).
3. Run ``pytest tests/dialects``: every test runs on it. Nothing else is edited; a test
   that fails names a member of the contract (dialects/base.py) the engine breaks.
"""

import os
import queue
import threading
import uuid

import pytest
from helpers import PG_DSN, PG_OFF, my_url_of, new_my_database, pg_dsn_params

from ferryman.dialects import connect, dialect_class
from ferryman.url import parse_url


class Profile:
    """One engine's facts for the conformance suite. Subclasses fill in every
    attribute; no test branches on ``engine.name``."""

    name = None
    # SQLSTATE (or the engine's error name) of: a missing table, a unique violation,
    # a syntax error.
    sqlstates = {}
    # What server_version() must be a prefix of: a query answering the engine's version.
    version_query = None
    # Statements that cannot run inside a transaction: (setup statements, statement,
    # probe). With probe None the engine refuses the statement inside a transaction;
    # with probe (query, value) it accepts it there but ignores it, and alone the query
    # answers value. The cases run one after another on one database, so setups say
    # IF NOT EXISTS and each case names its own objects.
    autocommit_only = []
    # Statements that may run inside a transaction: (setup statements, statement).
    transaction_ok = []
    # A statement that runs for a second or more unless stopped (statement timeout,
    # cancel): 20 times the tests' statement timeout of 0.05 s at the very least.
    slow_query = None
    # Engine-specific files to split: (text, [(line, first words, text end)], the
    # oldest server version that runs them or None, (query, expected rows) after
    # running them).
    split_samples = []
    # Texts the splitter must refuse (they end inside a string, comment or body).
    unterminated = []
    # Whether the engine indexes a foreign key's columns itself (InnoDB does), so that
    # no foreign key can be without an index.
    foreign_keys_indexed = False
    # Statements that make a materialized view (or none) for the refresh task.
    materialized_views = []
    # Statements that leave a row of table child whose parent_id matches no row of
    # table parent, under a foreign key the engine knows of (it refuses to make one).
    orphan_rows = []

    def make_url(self, request):
        """The URL of a fresh database for this test, dropped after it."""
        raise NotImplementedError

    def another_url(self, request, label):
        """The URL of a second fresh database, dropped after the test."""
        raise NotImplementedError

    def refused_urls(self, request, password):
        """URLs (text, with ``password`` in them) whose connection is refused."""
        raise NotImplementedError

    def session_pids(self, db):
        """The pids lock_holder() may name for the holder ``db`` (a process, a backend)."""
        raise NotImplementedError

    def holder_marks(self, db):
        """What lock_holder() says of the holder ``db``: one of these texts."""
        return {f"pid {pid}" for pid in self.session_pids(db)}

    def terminate(self, victim, killer):
        """End ``victim``'s session from ``killer`` as a server would (an administrator,
        a restart); False when the engine has no server to do it."""
        return False

    def with_password(self, request, url, secret):
        """``url`` with the password ``secret``, which the server accepts (PostgreSQL's
        trust authentication ignores it; SQLite takes it as a parameter)."""
        from ferryman.url import parse_url

        parsed = parse_url(url)
        if parsed.host:
            return url.replace(f"{parsed.user}@", f"{parsed.user}:{secret}@", 1)
        return url + f"?password={secret}"


class SQLiteProfile(Profile):
    name = "sqlite"
    sqlstates = {"missing_table": "SQLITE_ERROR", "unique": "SQLITE_CONSTRAINT_UNIQUE",
                 "syntax": "SQLITE_ERROR"}
    version_query = "SELECT sqlite_version()"
    autocommit_only = [
        ([], "VACUUM", None),
        ([], "PRAGMA journal_mode = WAL", None),
        ([], "PRAGMA foreign_keys = ON", ("PRAGMA foreign_keys", [(1,)])),
    ]
    transaction_ok = [
        (["CREATE TABLE IF NOT EXISTS ok_t (a INTEGER)"], "CREATE INDEX ok_a ON ok_t (a)"),
        (["CREATE TABLE IF NOT EXISTS ok_t (a INTEGER)"], "ANALYZE"),
        ([], "PRAGMA user_version = 7"),
    ]
    # a second or more of work (twenty times the statement timeout the tests set)
    slow_query = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                  "WHERE x < 10000000) SELECT count(*) FROM c")
    split_samples = [(
        "CREATE TABLE audit (n INTEGER);\n"                                # 1
        'CREATE TABLE "odd;name" (x TEXT);\n'                              # 2
        'CREATE TRIGGER odd_audit AFTER INSERT ON "odd;name" BEGIN\n'      # 3
        "  INSERT INTO audit (n) VALUES (1);\n"
        "  INSERT INTO audit (n) SELECT CASE WHEN new.x = 'x;y' THEN 2 ELSE 0 END;\n"
        "END;\n"
        "/* a comment; between */\n"
        "INSERT INTO \"odd;name\" VALUES ('x;y');\n",                      # 8
        [(1, ("CREATE", "TABLE", "AUDIT"), "(n INTEGER)"),
         (2, ("CREATE", "TABLE"), "(x TEXT)"),
         (3, ("CREATE", "TRIGGER", "ODD_AUDIT", "AFTER", "INSERT", "ON"), "ELSE 0 END;\nEND"),
         (8, ("INSERT", "INTO", "VALUES"), "VALUES ('x;y')")],
        None, ("SELECT n FROM audit ORDER BY n", [(1,), (2,)]))]
    unterminated = ["CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1);",
                    "SELECT 'no end", "SELECT 1 /* no end"]
    materialized_views = []
    orphan_rows = [  # foreign keys are not enforced unless PRAGMA foreign_keys is on
        "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
        "CREATE TABLE child (id INTEGER PRIMARY KEY, "
        "parent_id INTEGER REFERENCES parent (id))",
        "INSERT INTO parent (id) VALUES (1)",
        "INSERT INTO child (id, parent_id) VALUES (1, 1), (2, 42)",
    ]

    def make_url(self, request):
        return request.getfixturevalue("sqlite_url")

    def another_url(self, request, label):
        return f"sqlite:///{request.getfixturevalue('tmp_path') / (label + '.db')}"

    def refused_urls(self, request, password):
        folder = request.getfixturevalue("tmp_path") / "no" / "such" / "folder"
        return [f"sqlite:///{folder / 'app.db'}?password={password}"]

    def session_pids(self, db):
        return {os.getpid()}


class PostgreSQLProfile(Profile):
    name = "postgresql"
    sqlstates = {"missing_table": "42P01", "unique": "23505", "syntax": "42601"}
    version_query = "SHOW server_version"
    autocommit_only = [
        ([], "VACUUM", None),
        (["CREATE TABLE IF NOT EXISTS ac (a INTEGER)"], "VACUUM (ANALYZE) ac", None),
        (["CREATE TABLE IF NOT EXISTS ac (a INTEGER)"],
         "CREATE INDEX CONCURRENTLY ac_built ON ac (a)", None),
        (["CREATE TABLE IF NOT EXISTS ac (a INTEGER)",
          "CREATE INDEX IF NOT EXISTS ac_dropped ON ac (a)"],
         "DROP INDEX CONCURRENTLY ac_dropped", None),
        (["CREATE TABLE IF NOT EXISTS ac (a INTEGER)",
          "CREATE INDEX IF NOT EXISTS ac_rebuilt ON ac (a)"],
         "REINDEX TABLE CONCURRENTLY ac", None),
    ]
    transaction_ok = [
        (["CREATE TABLE IF NOT EXISTS ok_t (a INTEGER)"], "CREATE INDEX ok_a ON ok_t (a)"),
        (["CREATE TABLE IF NOT EXISTS ok_t (a INTEGER)"], "ANALYZE ok_t"),
        (["CREATE TABLE IF NOT EXISTS ok_t (a INTEGER)",
          "CREATE MATERIALIZED VIEW IF NOT EXISTS ok_mv AS SELECT a FROM ok_t",
          "CREATE UNIQUE INDEX IF NOT EXISTS ok_mv_a ON ok_mv (a)"],
         "REFRESH MATERIALIZED VIEW CONCURRENTLY ok_mv"),
    ]
    slow_query = "SELECT pg_sleep(60)"
    split_samples = [(
        "CREATE FUNCTION add_one(n integer) RETURNS integer AS $$\n"       # 1
        "BEGIN\n"
        "  -- a comment; inside the body\n"
        "  RETURN n + 1;\n"
        "END;\n"
        "$$ LANGUAGE plpgsql;\n"
        "DO $body$ BEGIN PERFORM 1; END $body$;\n"                          # 7
        'CREATE TABLE "odd;name" (x text);\n'                               # 8
        "INSERT INTO \"odd;name\" VALUES (E'back\\'slash;'), ($q$dollar;$q$);\n",  # 9
        [(1, ("CREATE", "FUNCTION", "ADD_ONE", "N", "INTEGER", "RETURNS"),
          "$$ LANGUAGE plpgsql"),
         (7, ("DO",), "END $body$"),
         (8, ("CREATE", "TABLE"), "(x text)"),
         (9, ("INSERT", "INTO", "VALUES"), "($q$dollar;$q$)")],
        None, ("SELECT add_one(41), (SELECT string_agg(x, '|' ORDER BY x) "
               'FROM "odd;name")', [(42, "back'slash;|dollar;")])), (
        "CREATE FUNCTION two() RETURNS integer LANGUAGE sql\n"              # 1
        "BEGIN ATOMIC SELECT 1; SELECT 2; END;\n"
        "SELECT two();\n",                                                 # 3
        [(1, ("CREATE", "FUNCTION", "TWO", "RETURNS", "INTEGER", "LANGUAGE"),
          "SELECT 2; END"),
         (3, ("SELECT", "TWO"), "two()")],
        "14", ("SELECT two()", [(2,)]))]  # SQL-standard bodies: PostgreSQL 14+
    unterminated = ["SELECT $$ no end", "SELECT 'no end", "SELECT 1 /* no /* nested */ end"]
    materialized_views = [
        "CREATE TABLE mv_src (a INTEGER, b TEXT)",
        "INSERT INTO mv_src VALUES (1, 'x'), (2, 'y')",
        "CREATE MATERIALIZED VIEW mv_plain AS SELECT a, b FROM mv_src",
        "CREATE UNIQUE INDEX mv_plain_a ON mv_plain (a)",
        "CREATE MATERIALIZED VIEW mv_expr AS SELECT a, b FROM mv_src",
        "CREATE UNIQUE INDEX mv_expr_b ON mv_expr (lower(b))",
        "CREATE MATERIALIZED VIEW mv_empty AS SELECT a FROM mv_src WITH NO DATA",
    ]
    orphan_rows = [  # a key added NOT VALID does not check the rows already there
        "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER)",
        "INSERT INTO parent (id) VALUES (1)",
        "INSERT INTO child (id, parent_id) VALUES (1, 1), (2, 42)",
        "ALTER TABLE child ADD CONSTRAINT child_parent FOREIGN KEY (parent_id) "
        "REFERENCES parent (id) NOT VALID",
    ]

    def make_url(self, request):
        return self.another_url(request, "main")

    def another_url(self, request, label):
        """A database named as the suite's ``pg_database`` names them, created now and
        dropped after the test by the session's dropper (see _Dropper)."""
        dropper = request.getfixturevalue("_pg_dropper")
        name = f"ferryman_t_{uuid.uuid4().hex[:12]}"
        _pg_admin_execute(f'CREATE DATABASE "{name}"')
        request.addfinalizer(lambda: dropper.drop(name))
        return self._url(name)

    def refused_urls(self, request, password):
        params = pg_dsn_params()
        user = params.get("user", "postgres")
        host = params.get("host", "127.0.0.1")
        port = params.get("port", "5432")
        absent = f"ferryman_absent_{uuid.uuid4().hex[:8]}"
        return [f"postgresql://{user}:{password}@{host}:{port}/{absent}",  # the server says no
                f"postgresql://{user}:{password}@{host}:1/{absent}"]  # nothing listens

    def session_pids(self, db):
        return {db.query("SELECT pg_backend_pid()")[0][0]}

    def terminate(self, victim, killer):
        (pid,) = self.session_pids(victim)
        killer.query("SELECT pg_terminate_backend(%s, 30000)", (pid,))
        return True

    @staticmethod
    def _url(name):
        params = pg_dsn_params()
        return (f"postgresql://{params.get('user', 'postgres')}@"
                f"{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}")


class MySQLProfile(Profile):
    """MySQL and MariaDB (the tests run on the MariaDB 10.11 of this machine; see
    helpers.MY_URL). Error "SQLSTATEs" are the server's error numbers."""

    name = "mysql"
    sqlstates = {"missing_table": "1146", "unique": "1062", "syntax": "1064"}
    version_query = "SELECT VERSION()"
    autocommit_only = [
        ([], "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", None),
        ([], "SET TRANSACTION READ WRITE", None),
    ]
    transaction_ok = [
        (["CREATE TABLE IF NOT EXISTS ok_t (a INTEGER)"], "INSERT INTO ok_t VALUES (1)"),
        (["CREATE TABLE IF NOT EXISTS ok_t (a INTEGER)"], "SET SESSION sql_mode = 'ANSI'"),
    ]
    # KILL QUERY and the statement timeout end a join with an error (SLEEP and
    # BENCHMARK would just return early)
    slow_query = ("SELECT COUNT(*) FROM information_schema.COLLATIONS a, "
                  "information_schema.COLLATIONS b, information_schema.COLLATIONS c, "
                  "information_schema.COLLATIONS d")
    split_samples = [(
        "CREATE TABLE audit (n INTEGER);  # a comment; with a semicolon\n"      # 1
        "CREATE TABLE `odd;name` (x TEXT);\n"                                 # 2
        "-- a comment; too\n"
        "INSERT INTO `odd;name` VALUES ('it\\'s;'), (\"dq;\");\n"           # 4
        "INSERT INTO audit (n) SELECT COUNT(*) FROM `odd;name`;\n",           # 5
        [(1, ("CREATE", "TABLE", "AUDIT"), "(n INTEGER)"),
         (2, ("CREATE", "TABLE"), "(x TEXT)"),
         (4, ("INSERT", "INTO", "VALUES"), "(\"dq;\")"),
         (5, ("INSERT", "INTO", "AUDIT", "N", "SELECT", "COUNT"), "`odd;name`")],
        None, ("SELECT n FROM audit", [(2,)]))]
    unterminated = ["SELECT `no end", "SELECT 'a\\' no end"]
    materialized_views = []
    foreign_keys_indexed = True
    orphan_rows = [  # foreign key checks off for the session: InnoDB keeps the row
        "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER, "
        "CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id))",
        "INSERT INTO parent (id) VALUES (1)",
        "SET FOREIGN_KEY_CHECKS = 0",
        "INSERT INTO child (id, parent_id) VALUES (1, 1), (2, 42)",
        "SET FOREIGN_KEY_CHECKS = 1",
    ]

    def make_url(self, request):
        return self.another_url(request, "main")

    def another_url(self, request, label):
        names = new_my_database()
        name = next(names)
        request.addfinalizer(lambda: next(names, None))
        return my_url_of(name)

    def refused_urls(self, request, password):
        from ferryman.url import parse_url

        base = parse_url(my_url_of("x"))
        user, host, port = base.user or "root", base.host, base.port or 3306
        absent = f"ferryman_absent_{uuid.uuid4().hex[:8]}"
        return [f"mysql://{user}:{password}@{host}:{port}/{absent}",  # the server says no
                f"mysql://{user}:{password}@{host}:1/{absent}"]  # nothing listens

    def session_pids(self, db):
        return {db.query("SELECT CONNECTION_ID()")[0][0]}

    def holder_marks(self, db):
        return {f"connection {pid} " for pid in self.session_pids(db)}

    def terminate(self, victim, killer):
        (pid,) = self.session_pids(victim)
        killer.execute(f"KILL {int(pid)}")
        return True

    def with_password(self, request, url, secret):
        """A user whose password is ``secret``, on the test's database (root has none)."""
        from helpers import my_user_with_password

        user_url = my_user_with_password(request, url, secret)
        scheme, _, rest = user_url.partition("://")
        user, _, tail = rest.partition("@")
        return f"{scheme}://{user}:{secret}@{tail}"


ENGINES = {profile.name: profile for profile in (SQLiteProfile(), PostgreSQLProfile(),
                                                 MySQLProfile())}

# Where a dialect breaks the contract today, by test id: the test still runs and must
# fail (strict xfail), so fixing the dialect turns it into an XPASS failure that says to
# delete its line here. An entry in LOOSE may also pass, by the server's timing.
KNOWN_BUGS = {}  # test name: the dialect bug it shows, until it is fixed (xfail strict)
LOOSE = set()  # of KNOWN_BUGS, those whose outcome depends on the server's timing


def _pg_admin_execute(sql):
    """Run ``sql`` on the server's maintenance database, as the suite's pg_database
    fixture does: a server that cannot be reached fails the test (skips it only with
    FERRYMAN_TEST_PG=off)."""
    import psycopg

    try:
        with psycopg.connect(PG_DSN + " dbname=postgres", autocommit=True,
                             connect_timeout=5) as admin:
            admin.execute(sql)
    except psycopg.OperationalError as exc:
        if PG_OFF:
            pytest.skip("PostgreSQL is off for this run (FERRYMAN_TEST_PG=off)")
        pytest.fail(f"PostgreSQL is required and unreachable at {PG_DSN!r}: {exc}")


class _Dropper:
    """Drops the databases of finished tests in the background. DROP DATABASE waits
    for a checkpoint, a second or more on a busy server; drops sent together share one
    (a checkpoint requested while one is running is served by the next), so those
    queued meanwhile go together, each on its own connection. The session waits for
    every drop at its end and fails if one failed."""

    def __init__(self):
        self.queue = queue.Queue()
        self.errors = []
        self.thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
        self.thread.start()

    def drop(self, name):
        self.queue.put(name)

    def _run(self):
        finished = False
        while not finished:
            names = [self.queue.get()]
            while not self.queue.empty():
                names.append(self.queue.get())
            finished = None in names
            workers = [threading.Thread(target=self._drop, args=(name,))
                       for name in names if name is not None]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()

    def _drop(self, name):
        try:
            _pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except BaseException as exc:  # pytest.fail raises an outcome, not an Exception
            self.errors.append(f"{name}: {exc}")

    def close(self):
        self.queue.put(None)
        self.thread.join()
        assert not self.errors, f"databases left behind: {self.errors}"


@pytest.fixture(scope="session")
def _pg_dropper():
    dropper = _Dropper()
    yield dropper
    dropper.close()


class Engine:
    """One engine under test, with a fresh database of its own (see the module's
    docstring)."""

    def __init__(self, request, profile):
        self.request = request
        self.profile = profile
        self.name = profile.name
        self.dialect = dialect_class(profile.name)
        self._url = None
        self._opened = []

    @property
    def url(self):
        """The test's database (text), made on first use: a test of the dialect's
        class alone (splitting) makes none."""
        if self._url is None:
            self._url = self.profile.make_url(self.request)
        return self._url

    @property
    def parsed(self):
        return parse_url(self.url)

    def open(self, url=None, **options):
        """A new dialect connection (to ``url``, by default the test's database),
        through ferryman.dialects.connect; closed when the test ends."""
        db = connect(parse_url(url or self.url), **options)
        self._opened.append(db)
        return db

    def another_url(self, label="other"):
        return self.profile.another_url(self.request, label)

    def refused_urls(self, password):
        return self.profile.refused_urls(self.request, password)

    def close_all(self):
        for db in reversed(self._opened):
            try:
                db.close()
            except Exception:  # a connection a test closed or broke on purpose
                pass

    def __repr__(self):
        where = self.parsed.redacted() if self._url else "(no database yet)"
        return f"<Engine {self.name} {where}>"


@pytest.fixture(params=list(ENGINES))
def engine(request):
    """One engine of ENGINES with a fresh database of its own."""
    reason = KNOWN_BUGS.get(request.node.name)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=request.node.name not in LOOSE,
                                              reason=reason))
    subject = Engine(request, ENGINES[request.param])
    yield subject
    subject.close_all()


@pytest.fixture
def db(engine):
    """A connection to the test's database."""
    return engine.open()


@pytest.fixture
def other(engine):
    """A second, independent connection to the test's database."""
    return engine.open()
