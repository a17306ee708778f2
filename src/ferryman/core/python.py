"""Python migrations: ``{version}_{title}.py`` with ``up(ctx)`` and optionally ``down(ctx)``.

The functions run inside the migration's transaction (unless the module starts with
``# ferryman:no-transaction``). ``ctx`` offers what a data migration needs::

    def up(ctx):
        ctx.execute("ALTER TABLE users ADD COLUMN email_lower TEXT")
        for user_id, email in ctx.query("SELECT id, email FROM users"):
            ctx.execute("UPDATE users SET email_lower = ? WHERE id = ?",
                        (email.lower(), user_id))   # ? on SQLite, %s on PostgreSQL

A migration must not commit or roll back: ferryman does, together with its history.
"""

import importlib.util
import sys
import traceback

from ..errors import MigrationError


class Context:
    """What a Python migration receives."""

    def __init__(self, db, migration, direction):
        self.connection = db.connection  # the DB-API connection, inside the transaction
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


def run_python(db, migration, direction, script):
    """Import the module fresh and call ``up(ctx)`` or ``down(ctx)``."""
    module = _load(migration, script)
    function = getattr(module, direction, None)
    if function is None:
        raise MigrationError(f"{script.path} has no {direction}(ctx) function",
                             file=script.path, version=migration.version)
    ctx = Context(db, migration, direction)
    try:
        function(ctx)
    except Exception as exc:  # user code: anything may come out of it
        driver = db.translate(exc)
        error = MigrationError(
            f"{script.path}: {direction}() raised {type(exc).__name__}: {exc}",
            file=script.path, version=migration.version, statement=ctx.last_statement,
            line=_user_line(exc, script.path), db_message=_db_message(exc),
            sqlstate=driver.sqlstate if driver else None)
        # What the runner reads: a full lock table splits the chunk; transient retries.
        error.lock_exhausted = bool(driver and driver.lock_exhausted)
        error.transient = bool(driver and driver.transient)
        raise error from exc


def _load(migration, script):
    name = f"ferryman_migration_{migration.phase}_{migration.version}"
    spec = importlib.util.spec_from_file_location(name, script.path)
    module = importlib.util.module_from_spec(spec)
    try:
        exec(compile(script.text, script.path, "exec"), module.__dict__)
    except Exception as exc:
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
