"""The contract between ferryman's core and one database engine.

Dumb drivers, smart core: a dialect opens a connection, runs one statement, begins
and ends transactions, takes and releases the migration lock, and knows its own
SQL quirks. Planning, ordering, history, dirty handling and rollback live in the
core. Adding an engine means adding one module here and a line to ``DIALECTS``.

Checklist for whoever adds a dialect (the shared suite in tests/dialects checks it):

1. ``open()`` connects in autocommit; the core sends BEGIN/COMMIT/ROLLBACK itself.
   A refused connection raises ``ConnectError`` naming the redacted URL and the
   driver's message, never the password. ``readonly=True`` must make writing
   impossible (status and --dry-run never write, not even ferryman's tables).
2. ``execute``/``query``/``executemany`` translate every driver exception into
   ``DriverError`` (``raise ... from exc``) with ``db_message`` and ``sqlstate``,
   setting ``transient`` (worth a retry), ``lock_exhausted`` (the transaction took
   more locks than the server allows) and ``missing_table``.
3. ``try_lock()`` never blocks: True if this connection now holds the migration lock
   for this database and history table, across processes and hosts. A crashed holder
   must not keep it (session-level locks, flock). ``lock_holder()`` says who holds it
   when the engine can tell. ``unlock()`` is idempotent.
4. ``transactional_ddl``: whether DDL commits implicitly. ``needs_autocommit(words)``:
   whether a statement cannot run inside a transaction block.
5. ``split(text)`` turns a file into statements (see core/splitter.py).
6. ``TYPES`` gives the column types of ferryman's own tables; ``timestamp(dt)`` the
   parameter for a timestamp column; ``placeholder`` the driver's paramstyle marker.
7. Maintenance and monitoring (``ferryman maintain`` / ``ferryman inspect``; the SQL
   of each engine lives in its dialect): ``maintenance_statements(task, tables)`` for
   analyze, vacuum, reindex and refresh, each statement run alone in autocommit;
   ``purge_target(table, column)`` checks the names against the catalog (InputError
   otherwise), then ``purge_cutoff(days)``, ``purge_count(...)`` and
   ``purge_batch(...)`` (one batch, inside the core's transaction). Read-only views:
   ``slow_queries(limit)``, ``table_sizes()``, ``connections()``, ``locks()``. Each
   returns (result, note): rows as dicts, or None where the engine has no such thing,
   and a line for a person or None.
"""


from ..errors import DriverError


class Dialect:
    name = "?"
    placeholder = "?"
    transactional_ddl = True
    TYPES = {"bigint": "BIGINT", "text": "TEXT", "timestamp": "TEXT", "real": "REAL",
             "id": "INTEGER PRIMARY KEY"}

    def __init__(self, url, connection):
        self.url = url
        self.connection = connection
        self.in_transaction = False

    # -- statements -------------------------------------------------------------------
    def execute(self, sql, params=None):
        raise NotImplementedError

    def query(self, sql, params=None):
        raise NotImplementedError

    def executemany(self, sql, rows):
        for row in rows:
            self.execute(sql, row)

    def begin(self):
        self.execute("BEGIN")
        self.in_transaction = True

    def commit(self):
        try:
            self.execute("COMMIT")
        finally:
            self.in_transaction = False

    def rollback(self):
        """Roll back the open transaction; never raises (the connection may be gone)."""
        self.in_transaction = False
        try:
            self.execute("ROLLBACK")
        except DriverError:
            pass

    def close(self):
        raise NotImplementedError

    def cancel(self):
        """Stop the statement running on this connection; safe from another thread."""

    def transaction_open(self):
        """Whether the driver says a transaction is open on the connection, whoever
        began it: a Python migration that sent COMMIT as SQL ended the core's (issue 8,
        item 4). Default: the core's own bookkeeping."""
        return self.in_transaction

    def connection_lost(self):
        """Whether the connection is gone (the server ended it, the network dropped):
        the core then opens a new one to record the failure (issue 8, item 18)."""
        return False

    # -- the lock ---------------------------------------------------------------------
    def try_lock(self, name):
        raise NotImplementedError

    def lock_holder(self, name):
        return None

    def unlock(self, name):
        raise NotImplementedError

    # -- before a run writes (issue 8, items 15 and 17) --------------------------------
    def lock_wait(self, seconds, action, stop=None):
        """``action()``, whose statements wait at most ``seconds`` for another
        connection's lock on the database, then raise LockTimeout naming the holder;
        ``stop()``, if given, is called while waiting and may raise to end the wait.
        For engines whose only such wait is the database's own lock (SQLite's busy
        lock); the default just calls ``action`` (PostgreSQL's waits for a table are
        the statements' lock_timeout, --table-lock-timeout)."""
        return action()

    def ready_to_write(self, timeout, hold=False, stop=None):
        """Raise BlockedError before the backup, before anything changes, when this
        connection cannot write now: LockTimeout after waiting ``timeout`` seconds for
        another connection's write lock, ReadOnlyDatabase for a read-only file. With
        ``hold``, the engine may keep the write lock it took for the next ``begin()``.
        The default checks nothing: a server reports these at the first write."""

    # -- facts ------------------------------------------------------------------------
    def server_version(self):
        raise NotImplementedError

    @staticmethod
    def needs_autocommit(words):
        return False

    @classmethod
    def adapt(cls, statements, phase, options):
        """Statements rewritten for a phase of the pipeline, and notes saying how.
        The default changes nothing."""
        return statements, []

    def translate(self, exc):
        """A driver exception (raised in a Python migration) as a DriverError, or None
        when it is not the driver's."""
        return None

    def recover(self, statement, error):
        """After ``statement`` failed outside a transaction, clean up what it left (an
        invalid index) and return True when it is worth running it once more."""
        return False

    @classmethod
    def split(cls, text):
        from ..core.splitter import split

        return split(text, cls.name)

    def timestamp(self, moment):
        """The parameter for a timestamp column: ISO 8601 UTC text unless overridden."""
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # -- ferryman's own tables (core/history.py checks them against each other) --------
    def tables_present(self, names):
        """The subset of ``names`` (unquoted, as ferryman's statements write them) that
        resolve to a table for this connection. Default: try each one; an engine
        overrides it with one catalog query."""
        present = set()
        for name in names:
            try:
                self.query(f"SELECT 1 FROM {name} WHERE 1 = 0")
            except DriverError as exc:
                if not exc.missing_table:
                    raise
            else:
                present.add(name)
        return present

    def has_other_tables(self, prefix):
        """Whether the database holds tables that are not ferryman's (named ``prefix``...):
        a database made by hand or by another tool, which `ferryman baseline` adopts."""
        return False

    def lock_budget(self):
        """How many locks one transaction may hold before the core commits a chunk;
        None when the engine has no such limit."""
        return None

    def locks_held(self):
        return 0

    def describe(self):
        return self.url.redacted()

    def __repr__(self):
        return f"<{type(self).__name__} {self.describe()}>"


def words_start(words, *prefix):
    return tuple(words[: len(prefix)]) == prefix


def quote_identifier(name):
    """``name`` as a double-quoted SQL identifier (SQL standard; PostgreSQL and
    SQLite alike). Only for names read back from the catalog: user input is checked
    against the catalog first, never quoted and trusted."""
    return '"' + name.replace('"', '""') + '"'
