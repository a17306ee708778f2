"""Python migrations: ``{version}_{title}.py`` with ``up(ctx)`` and optionally ``down(ctx)``.

The functions run inside the migration's transaction (unless the module starts with
``# ferryman:no-transaction``). ``ctx`` offers what a data migration needs::

    def up(ctx):
        ctx.execute("ALTER TABLE users ADD COLUMN email_lower TEXT")
        for user_id, email in ctx.query("SELECT id, email FROM users"):
            ctx.execute("UPDATE users SET email_lower = ? WHERE id = ?",
                        (email.lower(), user_id))   # ? on SQLite, %s on PostgreSQL

A migration must not commit or roll back: ferryman does, together with its history.
``ctx.connection`` refuses it (see Guard).
"""

import importlib.util
import re
import sys
import traceback

from ..errors import MigrationError
from .compile import begins_transaction, ends_transaction


class Context:
    """What a Python migration receives."""

    def __init__(self, db, migration, direction, guard=None):
        # The DB-API connection inside ferryman's transaction, behind a guard that
        # refuses ending or changing that transaction (GuardedConnection).
        self.connection = db.connection if guard is None else GuardedConnection(
            db.connection, guard)
        self.dialect = db.name           # "postgresql" or "sqlite"
        self.paramstyle = db.placeholder  # "%s" or "?"
        self.version = migration.version
        self.name = migration.name
        self.direction = direction
        self.last_statement = None

    def execute(self, sql, params=None):
        """Run one statement; returns the DB-API cursor (fetch from it if you like)."""
        self.last_statement = sql
        cursor = self.connection.cursor()
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, params)
        return cursor

    def query(self, sql, params=None):
        """Run a query and return all its rows."""
        return self.execute(sql, params).fetchall()


def run_python(db, migration, direction, script, call=None):
    """Import the module fresh and call ``up(ctx)`` or ``down(ctx)``.

    Whatever comes out of the migration fails it, ``BaseException`` included: a
    ``sys.exit(0)`` in ``up()`` must not end ferryman with exit 0 and the migration
    pending. A real SIGINT or SIGTERM is not a KeyboardInterrupt
    of the migration's: the CLI's handler tells the runner, which reports it.
    ``call(function, ctx)`` runs the function (the runner marks the time it spends
    in the migration's own code); the default calls it.
    """
    module = _load(migration, script)
    function = getattr(module, direction, None)
    if function is None:
        raise MigrationError(f"{script.path} has no {direction}(ctx) function",
                             file=script.path, version=migration.version)
    guard = Guard(db, script)
    ctx = Context(db, migration, direction, guard)
    try:
        (call or _call)(function, ctx)
    except BaseException as exc:  # user code: anything may come out of it
        guard.after(exc)  # a transaction it ended or left open outranks what it raised
        if guard.refused:
            raise guard.error(migration, direction, ctx) from exc
        driver = db.translate(exc) if isinstance(exc, Exception) else None
        error = MigrationError(
            f"{script.path}: {direction}() raised {type(exc).__name__}"
            + (f": {exc}" if str(exc) else "") + _exit_note(exc),
            file=script.path, version=migration.version, statement=ctx.last_statement,
            line=_user_line(exc, script.path), db_message=_db_message(exc),
            sqlstate=driver.sqlstate if driver else None)
        # What the runner reads: a full lock table splits the chunk; transient retries.
        error.lock_exhausted = bool(driver and driver.lock_exhausted)
        error.transient = bool(driver and driver.transient)
        raise error from exc
    guard.after()
    if guard.refused:  # refused, and the migration caught the error and went on
        raise guard.error(migration, direction, ctx)


def _call(function, ctx):
    function(ctx)


def _exit_note(exc):
    if isinstance(exc, SystemExit):
        return " (a migration fails by raising an exception; it never ends ferryman)"
    return ""


# -- the guard around ctx.connection ------------------------------------------------------
# The driver's connection would let a migration commit ferryman's transaction half way:
# its tables would stay while the run reports being rolled back. So the migration gets a
# proxy that refuses what ends or changes the transaction, checks the SQL it sends, and,
# for whatever reaches the driver anyway, the runner asks the driver afterwards whether
# the transaction is still open (Guard.after).

# Methods that end the transaction or the connection, or change how it commits:
# sqlite3.Connection and psycopg.Connection (two-phase commit included).
_REFUSED_METHODS = frozenset((
    "commit", "rollback", "close", "executescript", "set_autocommit",
    "set_isolation_level", "set_read_only", "set_deferrable", "tpc_begin", "tpc_prepare",
    "tpc_commit", "tpc_rollback"))
# Attributes that change it: sqlite3's isolation_level and autocommit (3.12), psycopg's
# autocommit, isolation_level, read_only, deferrable.
_REFUSED_SETTINGS = frozenset(("autocommit", "isolation_level", "read_only", "deferrable"))
# A cheap look before splitting: only text with one of these words can hold a
# statement that begins or ends a transaction (compile.begins_transaction and
# compile.ends_transaction decide).
_CONTROL_WORD = re.compile(r"\b(?:BEGIN|START|COMMIT|END|ABORT|ROLLBACK)\b", re.I)


class Guard:
    """What a Python migration may do with ferryman's transaction.

    Inside a transactional migration it may neither end the transaction nor change
    it; a ``no-transaction`` migration runs in autocommit and may run transactions of
    its own, but must not leave one open, nor close the connection or change its
    autocommit mode (ferryman goes on using it).
    """

    def __init__(self, db, script):
        self.db = db
        self.path = script.path
        # where DDL commits by itself (MySQL) every migration runs in autocommit
        self.transactional = script.transactional and db.transactional_ddl
        self.refused = None  # (what it did, line, statement) of the first refusal
        self.ended = False   # the transaction was gone when the migration returned
        self.left_open = False

    def refuse(self, what, statement=None):
        """Record the first refusal and raise it into the migration's code. ``what``
        says what the migration did: "called connection.commit()"."""
        if self.refused is None:
            self.refused = (what, self._caller_line(), statement)
        raise MigrationError(f"a migration must not end or change ferryman's transaction, "
                             f"and this one {what}", file=self.path)

    def method(self, name):
        if name in ("commit", "rollback", "tpc_begin", "tpc_prepare", "tpc_commit",
                    "tpc_rollback") and not self.transactional:
            return False  # a no-transaction migration may run transactions of its own
        self.refuse(f"called connection.{name}()")

    def setting(self, name):
        self.refuse(f"set connection.{name}")

    def check(self, sql):
        """Refuse SQL that begins or ends a transaction inside ferryman's."""
        if not self.transactional:
            return
        text = _text(sql)
        if text is None or not _CONTROL_WORD.search(text):
            return
        try:
            statements = type(self.db).split(text)
        except ValueError:  # not splittable: the database will say what is wrong
            return
        for statement in statements:
            if begins_transaction(statement.words) or ends_transaction(statement.words):
                self.refuse(f"sent {' '.join(statement.words[:2])} as SQL", text)

    def after(self, exc=None):
        """Ask the driver whether the migration ended the transaction (a COMMIT that
        reached it some other way) or, without one of ferryman's, left one open.

        A transaction gone after a driver error is the database's rollback, an
        ordinary failure: SQLite rolls back by itself after some errors (SQLITE_FULL,
        SQLITE_IOERR, SQLITE_BUSY, an interrupted write: "Response To Errors Within A
        Transaction", https://sqlite.org/lang_transaction.html), and a lost connection
        takes the transaction with it."""
        is_open = self.db.transaction_open()
        if self.transactional and not is_open and not self._from_driver(exc):
            self.ended = True
            self.refused = self.refused or ("sent a COMMIT or ROLLBACK that reached the "
                                            "database", None, None)
        elif not self.transactional and is_open:
            self.left_open = True
            self.refused = self.refused or ("left a transaction open", None, None)
            self.db.rollback()

    def _from_driver(self, exc):
        """Whether ``exc``, or an exception it was raised in the handling of (a signal's
        StopRequested raised as a cancelled statement failed), is the driver's."""
        for _ in range(5):
            if exc is None:
                return False
            if isinstance(exc, Exception) and self.db.translate(exc) is not None:
                return True
            exc = exc.__cause__ or exc.__context__
        return False

    def error(self, migration, direction, ctx):
        what, line, statement = self.refused
        if self.ended:
            text = (f"{self.path}: {direction}() ended ferryman's transaction itself (it "
                    f"{what}): what the run did before is committed or lost, and ferryman "
                    "cannot roll it back")
        elif self.left_open:
            text = (f"{self.path}: {direction}() left a transaction open; ferryman rolled "
                    "it back (a no-transaction migration commits what it begins)")
        else:
            text = (f"{self.path}: {direction}() {what}; a migration must not end or "
                    "change ferryman's transaction: ferryman commits the migration "
                    "together with its history row, or rolls both back")
        error = MigrationError(text, file=self.path, version=migration.version,
                               statement=statement or ctx.last_statement, line=line)
        error.transaction_ended = self.ended  # the runner reads it: see Runner._apply
        return error

    def _caller_line(self):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.path:
                return frame.f_lineno
            frame = frame.f_back
        return None


class GuardedConnection:
    """``ctx.connection``: the driver's connection, minus what would end or change
    ferryman's transaction (see Guard). Everything else passes through."""

    __slots__ = ("_connection", "_guard")

    def __init__(self, connection, guard):
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_guard", guard)

    def __getattr__(self, name):
        value = getattr(self._connection, name)
        if name in _REFUSED_METHODS:
            def refused(*args, **kwargs):
                self._guard.method(name)
                return value(*args, **kwargs)  # allowed in a no-transaction migration
            return refused
        return value

    def __setattr__(self, name, value):
        if name in _REFUSED_SETTINGS:
            self._guard.setting(name)
        setattr(self._connection, name, value)

    def __enter__(self):
        # sqlite3 commits on leaving `with connection:`; psycopg closes the connection.
        self._guard.refuse("used `with connection:`")

    def __exit__(self, *exc_info):
        return False

    def cursor(self, *args, **kwargs):
        return GuardedCursor(self._connection.cursor(*args, **kwargs), self)

    def execute(self, sql, *args, **kwargs):
        self._guard.check(sql)
        return GuardedCursor.wrap(self._connection.execute(sql, *args, **kwargs), self)

    def executemany(self, sql, *args, **kwargs):  # sqlite3's shortcut
        self._guard.check(sql)
        return GuardedCursor.wrap(self._connection.executemany(sql, *args, **kwargs), self)

    def __repr__(self):
        return f"<guarded {self._connection!r}>"


class GuardedCursor:
    """A cursor of ``ctx.connection``: its statements are checked as the connection's."""

    __slots__ = ("_cursor", "_owner")

    def __init__(self, cursor, owner):
        object.__setattr__(self, "_cursor", cursor)
        object.__setattr__(self, "_owner", owner)

    @classmethod
    def wrap(cls, result, owner):
        return cls(result, owner) if hasattr(result, "fetchall") else result

    @property
    def connection(self):
        return self._owner

    def __getattr__(self, name):
        if name == "executescript":  # sqlite3: COMMIT first, then the script
            return self._owner.__getattr__(name)
        return getattr(self._cursor, name)

    def __setattr__(self, name, value):
        setattr(self._cursor, name, value)

    def _run(self, method, sql, args, kwargs):
        self._owner._guard.check(sql)
        result = getattr(self._cursor, method)(sql, *args, **kwargs)
        return self if result is self._cursor else result

    def execute(self, sql, *args, **kwargs):
        return self._run("execute", sql, args, kwargs)

    def executemany(self, sql, *args, **kwargs):
        return self._run("executemany", sql, args, kwargs)

    def stream(self, sql, *args, **kwargs):  # psycopg
        self._owner._guard.check(sql)
        return self._cursor.stream(sql, *args, **kwargs)

    def __iter__(self):
        return iter(self._cursor)

    def __next__(self):
        return next(self._cursor)

    def __enter__(self):
        type(self._cursor).__enter__(self._cursor)  # psycopg; sqlite3 has none (TypeError)
        return self

    def __exit__(self, *exc_info):
        return type(self._cursor).__exit__(self._cursor, *exc_info)

    def __repr__(self):
        return f"<guarded {self._cursor!r}>"


def _text(sql):
    """The text of a query as a driver takes it: str, bytes, or psycopg's composed SQL
    (as_string needs a connection in psycopg < 3.2; the guard only reads it)."""
    if isinstance(sql, str):
        return sql
    if isinstance(sql, (bytes, bytearray)):
        return bytes(sql).decode("utf-8", "replace")
    as_string = getattr(sql, "as_string", None)
    if as_string is not None:
        try:
            return as_string(None)
        except Exception:  # psycopg < 3.2 wants a connection: the after-check remains
            return None
    return None


def _load(migration, script):
    name = f"ferryman_migration_{migration.phase}_{migration.version}"
    spec = importlib.util.spec_from_file_location(name, script.path)
    module = importlib.util.module_from_spec(spec)
    try:
        exec(compile(script.text, script.path, "exec"), module.__dict__)
    except BaseException as exc:  # sys.exit() at import fails the migration too
        raise MigrationError(f"{script.path}: importing it raised {type(exc).__name__}: {exc}",
                             file=script.path, version=migration.version,
                             line=_user_line(exc, script.path)) from exc
    finally:
        sys.modules.pop(name, None)
    return module


def _user_line(exc, path):
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == path:
            return frame.lineno
    return getattr(exc, "lineno", None)


def _db_message(exc):
    """The database's own words, when the exception came from a driver."""
    diag = getattr(exc, "diag", None)
    if diag is not None and getattr(diag, "message_primary", None):
        return diag.message_primary
    if type(exc).__module__.startswith(("sqlite3", "psycopg")):
        return str(exc)
    return None
