"""The contract between ferryman's core and one database engine.

Dumb drivers, smart core: a dialect opens a connection, runs one statement, begins
and ends transactions, takes and releases the migration lock, and knows its own
SQL: ferryman's tables, the catalog queries of the pipeline's checks, maintenance
and monitoring. Planning, ordering, history, dirty handling and rollback live in the
core. Adding an engine means adding its module here and a line to ``DIALECTS``
(dialects/__init__.py), and its backup provider to ``PROVIDERS`` (safety/backups.py).

``Dialect`` below declares every member the core and the layers above use; each says
what it means, and raises NotImplementedError where an engine must answer. The shared
conformance suite in tests/dialects/ runs every dialect through them. The checklist:

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
   when the engine can tell; ``lock_held()`` whether anyone does, without taking it.
   ``unlock()`` is idempotent.
4. ``transactional_ddl``: True when DDL runs inside a transaction and rolls back with
   it (PostgreSQL, SQLite); False where a DDL statement commits by itself (MySQL), so
   a failed migration cannot be undone by a rollback. ``needs_autocommit(words)``:
   whether a statement cannot run inside a transaction block.
5. ``split(text)`` turns a file into statements (see core/splitter.py).
6. ferryman's own tables: ``TYPES`` maps the column kinds of ferryman's tables to the
   engine's types; ``quote(name)`` quotes an identifier; ``create_table``,
   ``create_index`` and ``upsert`` write ferryman's DDL and its one upsert;
   ``timestamp(dt)`` is the parameter for a timestamp column; ``placeholder`` the
   driver's paramstyle marker.
7. The pipeline's checks (``ferryman migrate``) ask ``catalog(prefix)``, a
   ``Catalog`` (below): tables, row counts, foreign keys, integrity, extensions,
   privileges, the schema snapshot and suggestions.
8. Maintenance and monitoring (``ferryman maintain`` / ``ferryman inspect``, and the
   optimize phase of ``ferryman migrate``): ``maintenance_statements(task, tables)``
   for analyze, vacuum, reindex and refresh, each statement run alone in autocommit;
   ``purge_target(table, column)`` checks the names against the catalog (InputError
   otherwise), then ``purge_cutoff(days)``, ``purge_count(...)`` and
   ``purge_batch(...)`` (one batch, inside the core's transaction). Read-only views:
   ``slow_queries(limit)``, ``table_sizes()``, ``connections()``, ``locks()``. Each
   returns (result, note): rows as dicts, or None where the engine has no such thing,
   and a line for a person or None.
"""


from ..errors import DriverError


class Dialect:
    """One connection to one database, and what ferryman must know of its engine.

    The class attributes describe the engine; an instance comes from ``open()``."""

    name = "?"                 # the URL's dialect name: the key in DIALECTS
    placeholder = "?"          # the driver's parameter marker (its paramstyle)
    transactional_ddl = True   # DDL runs inside a transaction and rolls back with it
    min_server_version = None  # the oldest server version ferryman supports, or None
    # Types of the columns of ferryman's own tables, by kind (create_table).
    TYPES = {"bigint": "BIGINT", "text": "TEXT", "varchar": "VARCHAR", "timestamp": "TEXT",
             "real": "REAL", "id": "INTEGER PRIMARY KEY"}

    def __init__(self, url, connection):
        self.url = url                # the DatabaseURL the connection was opened with
        self.connection = connection  # the driver's own (a Python migration's ctx.connection)
        self.in_transaction = False   # the core's bookkeeping: begin() until commit/rollback

    @classmethod
    def open(cls, url, *, readonly=False, timeout=10.0, password=None, statement_timeout=None,
             table_lock_timeout=None):
        """A new connection to ``url`` in autocommit. ``readonly`` makes writing
        impossible; ``timeout`` bounds connecting, ``statement_timeout`` each statement
        and ``table_lock_timeout`` each wait for a table lock (seconds; None: no bound);
        ``password`` serves when the URL has none. ConnectError when refused."""
        raise NotImplementedError

    @classmethod
    def exists(cls, url):
        """Whether the database at ``url`` exists, asked without creating it or
        connecting: False for a SQLite file not made yet, which the core then reads as
        an empty database (a status or a no-op run creates nothing). Default True: a
        server's database is created by its owner, not by ferryman."""
        return True

    # -- statements -------------------------------------------------------------------
    def execute(self, sql, params=None):
        """Run one statement, with ``params`` in the driver's paramstyle; DriverError
        when it fails."""
        raise NotImplementedError

    def query(self, sql, params=None):
        """The rows (tuples) of one statement; DriverError when it fails."""
        raise NotImplementedError

    def executemany(self, sql, rows):
        """Run one statement once per row of parameters."""
        for row in rows:
            self.execute(sql, row)

    def begin(self):
        """Open the transaction the core's writes go into."""
        self.execute("BEGIN")
        self.in_transaction = True

    def commit(self):
        """Commit the open transaction."""
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
        """Close the connection, which releases the migration lock; never raises for a
        connection that is already broken."""
        raise NotImplementedError

    def cancel(self):
        """Stop the statement running on this connection; safe from another thread."""

    def transaction_open(self):
        """Whether the driver says a transaction is open on the connection, whoever
        began it: a Python migration that sent COMMIT as SQL ended the core's.
        Default: the core's own bookkeeping."""
        return self.in_transaction

    def connection_lost(self):
        """Whether the connection is gone (the server ended it, the network dropped):
        the core then opens a new one to record the failure."""
        return False

    # -- the lock ---------------------------------------------------------------------
    def try_lock(self, name):
        """Take the migration lock ``name`` (the history table's name) without
        waiting: True when this connection holds it now."""
        raise NotImplementedError

    def lock_holder(self, name):
        """Who holds the migration lock (a line for a person), or None when the engine
        cannot tell."""
        return None

    def lock_held(self, name):
        """Whether any connection holds the migration lock now, without taking it nor
        queueing for it (the HTTP app's status asks while a migration runs)."""
        raise NotImplementedError

    def unlock(self, name):
        """Release the migration lock; idempotent."""
        raise NotImplementedError

    # -- before a run writes ------------------------------------------------------------
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
        """The server's version as text ("16.2"; SQLite's library version)."""
        raise NotImplementedError

    def product(self):
        """The server's product as a person names it ("PostgreSQL", "SQLite", "MariaDB",
        "MySQL"): one dialect may serve several."""
        return {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(self.name, self.name)

    @staticmethod
    def implicit_commit(words):
        """Whether a statement starting with ``words`` commits the open transaction by
        itself. Never where DDL is transactional; where it is not (MySQL), every
        statement but the data-only ones (INSERT, UPDATE, DELETE): the runner groups
        those in a transaction with its record of the statement a migration is at."""
        return False

    @staticmethod
    def needs_autocommit(words):
        """Whether a statement starting with ``words`` (upper-case keywords) cannot run
        inside a transaction block."""
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
        invalid index) and return True when it is worth running it once more, or the
        text to run instead (the statement without the online clause ``adapt`` added,
        which the server refused), or False."""
        return False

    @classmethod
    def split(cls, text):
        """The statements of a SQL file, as this engine reads them."""
        from ..core.splitter import split

        return split(text, cls.name)

    def timestamp(self, moment):
        """The parameter for a timestamp column: ISO 8601 UTC text unless overridden."""
        from ..text import iso

        return iso(moment)

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

    def columns(self, table):
        """{column name (lower case): declared type (lower case)} of ``table`` (as
        ferryman's statements name it; on PostgreSQL ``schema.table`` too); {} when
        there is no such table. A catalog read: never an error in an open transaction."""
        raise NotImplementedError

    def has_other_tables(self, prefix):
        """Whether the database holds tables that are not ferryman's (named ``prefix``...):
        a database made by hand or by another tool, which `ferryman baseline` adopts."""
        return False

    def lock_budget(self):
        """How many locks one transaction may hold before the core commits a chunk;
        None when the engine has no such limit."""
        return None

    def locks_held(self):
        """How many locks this connection holds now (compared with lock_budget)."""
        return 0

    def data_version(self):
        """A value that changes whenever another connection commits a write to the
        database, or None where the engine cannot tell. The safety layer compares it
        before and after a run: restoring a backup is harmless only if it is unchanged."""
        return None

    def describe(self):
        """The database as a person may see it: the redacted URL."""
        return self.url.redacted()

    def __repr__(self):
        return f"<{type(self).__name__} {self.describe()}>"

    # -- ferryman's own tables (core/history.py) ---------------------------------------
    @classmethod
    def quote(cls, name):
        """``name`` as a quoted SQL identifier: ferryman's one quoting function (double
        quotes, the SQL standard: PostgreSQL and SQLite alike). Only for names read back
        from the catalog or written by ferryman: user input is checked against the
        catalog first, never quoted and trusted."""
        return '"' + name.replace('"', '""') + '"'

    def column_type(self, kind):
        """The engine's type for a column kind of ferryman's tables: a key of TYPES,
        or ``varchar(N)``."""
        base, _, size = kind.partition("(")
        return self.TYPES[base] + (f"({size}" if size else "")

    def create_table(self, table, columns):
        """The statement creating one of ferryman's tables unless it exists.
        ``table`` is written as given (ferryman's names are unquoted everywhere);
        ``columns`` are (name, kind, constraint) triples."""
        body = ", ".join(" ".join(filter(None, (self.quote(name), self.column_type(kind),
                                                constraint)))
                         for name, kind, constraint in columns)
        return f"CREATE TABLE IF NOT EXISTS {table} ({body})"

    def create_index(self, index, table, columns):
        """The statement creating an index of ferryman's tables unless it exists."""
        return (f"CREATE INDEX IF NOT EXISTS {index} ON {table} "
                f"({', '.join(map(self.quote, columns))})")

    def upsert(self, table, key_columns, columns):
        """An INSERT of one row of ``columns`` (parameters in that order) that updates
        the other columns of the row with the same ``key_columns`` when there is one;
        a single statement, atomic outside a transaction too."""
        names = ", ".join(map(self.quote, columns))
        marks = ", ".join([self.placeholder] * len(columns))
        keys = ", ".join(map(self.quote, key_columns))
        updates = ", ".join(f"{self.quote(c)} = excluded.{self.quote(c)}"
                            for c in columns if c not in key_columns)
        return (f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({keys}) "
                f"DO UPDATE SET {updates}")

    # -- the pipeline's checks ----------------------------------------------------------
    def catalog(self, prefix="ferryman_"):
        """A Catalog (below) of this connection: what the check phases of
        ``ferryman migrate`` ask; ``prefix`` names ferryman's tables, left out of it."""
        raise NotImplementedError

    # -- maintenance and monitoring (checklist, item 8) ----------------------------------
    def maintenance_statements(self, task, tables=None):
        """(statements, note) of a maintenance task: analyze, vacuum, reindex or
        refresh (materialized views), for ``tables`` (names checked against the
        catalog, InputError otherwise) or for the whole database when None. The
        caller runs each statement alone in autocommit."""
        raise NotImplementedError

    def purge_target(self, table, column):
        """The purge of rows whose ``column`` (a date or timestamp) is older than a
        cutoff: {"table", "column" (as the catalog spells them), "count", "delete"
        (SQL with named parameters cutoff and size)}; InputError for an unknown table
        or column, or one that is not a time."""
        raise NotImplementedError

    def purge_cutoff(self, days):
        """The moment ``days`` days ago, as the database's clock and types say it."""
        raise NotImplementedError

    def purge_count(self, target, cutoff):
        """How many rows the purge ``target`` would delete."""
        return self.query(target["count"], {"cutoff": cutoff})[0][0]

    def purge_batch(self, target, cutoff, size):
        """Delete at most ``size`` rows of the purge ``target`` (inside the caller's
        transaction); return how many were deleted."""
        raise NotImplementedError

    def slow_queries(self, limit):
        """(the ``limit`` slowest statements by mean time, note), or (None, note) where
        the engine keeps no statistics of its queries."""
        return None, f"slow queries: not available on {self.name}"

    def table_sizes(self):
        """(one dict per user table: table, rows, rows_estimated, total_bytes,
        table_bytes, indexes_bytes; note)."""
        raise NotImplementedError

    def connections(self):
        """(the sessions on this database, grouped, note), or (None, note) where the
        engine has no sessions to show."""
        return None, f"connections: not available on {self.name}"

    def locks(self):
        """(the locks a session waits for, with who blocks it, note), or (None, note)
        where the engine cannot tell."""
        return None, f"locks: not available on {self.name}"


class Catalog:
    """What the check phases of ``ferryman migrate`` (precheck, integrity, optimize,
    validate) ask a database, through one dialect connection ``db``; ``prefix``
    names ferryman's own tables, which it leaves out. Only ``enable_extension``
    changes anything."""

    def __init__(self, db, prefix):
        self.db = db
        self.prefix = prefix

    def tables(self):
        """The user's tables in the schema ferryman migrates, sorted, ferryman's left
        out."""
        raise NotImplementedError

    def row_count(self, table):
        """The exact number of rows of ``table`` (a name from ``tables()``)."""
        return self.db.query(f"SELECT count(*) FROM {self.db.quote(table)}")[0][0]

    def table_metrics(self):
        """One dict per table of ``tables()``: name, rows, size_bytes (None where the
        engine cannot tell), indexes (how many)."""
        raise NotImplementedError

    def foreign_key_problems(self):
        """A line per foreign key with rows that refer to a missing row."""
        raise NotImplementedError

    def integrity_problems(self):
        """A line per problem the engine's own checks find (a corrupt page, a
        constraint never validated, an invalid index)."""
        raise NotImplementedError

    def available_extensions(self):
        """The names of the extensions the server can enable; empty where the engine
        has none."""
        return set()

    def enable_extension(self, name):
        """Enable extension ``name`` if it is not; a line saying why it could not be,
        or None."""
        return f"{self.db.name} has no extension {name!r} to enable"

    def can_create(self):
        """(whether this connection may create and alter tables, a line saying so)."""
        raise NotImplementedError

    def database_size(self):
        """The database's size in bytes (what a backup needs room for)."""
        raise NotImplementedError

    def materialized_views(self):
        """The materialized views of the schema ferryman migrates, as
        ``Dialect.maintenance_statements("refresh", names)`` takes them; empty where
        the engine has none."""
        return []

    def schema_snapshot(self):
        """The schema as text, for the run's report."""
        raise NotImplementedError

    def suggestions(self):
        """Advice for a person: dicts of kind, table (or None) and detail (a foreign
        key without an index, a table never analyzed, an index never used)."""
        return []
