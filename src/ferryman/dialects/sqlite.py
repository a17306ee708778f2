"""SQLite through the standard library's sqlite3.

- Autocommit (``isolation_level=None``): the core sends BEGIN IMMEDIATE/COMMIT, so the
  sqlite3 module never opens or commits a transaction behind ferryman's back.
  ``executescript`` is never used: it commits first (see the sqlite3 docs).
- DDL is transactional in SQLite, so a run and its history rows commit together.
- The migration lock is an flock(2) on a file beside the database: it works across
  processes, and the kernel releases it when a holder dies, even by kill -9.
- Read-only opens use ``mode=ro``, and a database file that does not exist is
  read as an empty database without creating it.
- Before a run changes anything (before its backup), ``ready_to_write`` takes SQLite's
  own write lock, waiting for another writer no longer than --lock-timeout, and proves
  that a write is possible (a read-only file or folder is found there, not mid-run);
  the run goes on in that transaction.
"""

import fcntl
import os
import sqlite3

from ..errors import ConnectError, DriverError, InputError, LockTimeout, ReadOnlyDatabase
from .base import Catalog, Dialect

BUSY_SLICE = 0.2  # seconds of one busy wait before a run: see SQLite.lock_wait


class SQLiteDialect(Dialect):
    name = "sqlite"
    placeholder = "?"
    transactional_ddl = True  # CREATE, ALTER and DROP roll back with the transaction
    TYPES = {"bigint": "INTEGER", "text": "TEXT", "varchar": "VARCHAR", "timestamp": "TEXT",
             "real": "REAL", "id": "INTEGER PRIMARY KEY"}

    def __init__(self, url, connection, statement_timeout=None):
        super().__init__(url, connection)
        self._lock_file = None
        self._write_held = False  # ready_to_write(hold=True) kept the write lock
        self.statement_timeout = statement_timeout
        self._deadline = None
        if statement_timeout:
            # SQLite has no statement timeout; a progress handler that answers non-zero
            # interrupts the statement (https://sqlite.org/c3ref/progress_handler.html).
            connection.set_progress_handler(self._over_time, 10_000)

    def _over_time(self):
        import time

        return 1 if self._deadline is not None and time.monotonic() > self._deadline else 0

    @classmethod
    def exists(cls, url):
        return url.is_memory or os.path.exists(url.path)

    @classmethod
    def open(cls, url, *, readonly=False, timeout=10.0, password=None, statement_timeout=None,
             table_lock_timeout=None):
        path = url.path
        try:
            # check_same_thread=False throughout: a connection may be kept and used
            # from another thread (readonly.StatusReader in a Migrator that the HTTP app
            # keeps, its migrations running in a background thread); its user
            # serialises the calls.
            if url.is_memory or (readonly and not os.path.exists(path)):
                conn = sqlite3.connect(":memory:", isolation_level=None,
                                       check_same_thread=False)
            elif readonly:
                if os.path.exists(path + "-journal"):
                    _roll_back_hot_journal(path, timeout)
                conn = sqlite3.connect(f"file:{_uri_path(path)}?mode=ro", uri=True,
                                       isolation_level=None, timeout=timeout,
                                       check_same_thread=False)
            else:
                conn = sqlite3.connect(path, isolation_level=None, timeout=timeout,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            if not readonly and not os.path.exists(path):
                _raise_if_folder_read_only(path, "create the database file there", exc)
            raise ConnectError(f"cannot open SQLite database {path}: {exc}",
                               db_message=str(exc)) from exc
        if table_lock_timeout:
            # The busy timeout is how long SQLite waits for another connection's lock.
            conn.execute(f"PRAGMA busy_timeout = {int(table_lock_timeout * 1000)}")
        return cls(url, conn, statement_timeout)

    def execute(self, sql, params=None):
        self._bounded(lambda: self.connection.execute(sql, params or ()))

    def _bounded(self, work):
        """``work()`` under the statement deadline (the progress handler reads it)."""
        if self.statement_timeout:
            import time

            self._deadline = time.monotonic() + self.statement_timeout
        try:
            return work()
        except sqlite3.Error as exc:
            raise _translate(exc, self.statement_timeout) from exc
        finally:
            self._deadline = None

    def cancel(self):
        # sqlite3 allows interrupt() from any thread; with no statement running it does
        # nothing (https://sqlite.org/c3ref/interrupt.html).
        self.connection.interrupt()

    def transaction_open(self):
        return self.connection.in_transaction

    def translate(self, exc):
        """A driver exception raised in a Python migration, as ferryman's DriverError."""
        return _translate(exc) if isinstance(exc, sqlite3.Error) else None

    def query(self, sql, params=None):
        return self._bounded(lambda: self.connection.execute(sql, params or ()).fetchall())

    def executemany(self, sql, rows):
        self._bounded(lambda: self.connection.executemany(sql, rows))

    def begin(self):
        if self._write_held and self.connection.in_transaction:
            # ready_to_write(hold=True) began this transaction and holds the write lock
            # since before the backup: the run goes on in it.
            self._write_held = False
            self.in_transaction = True
            return
        self._write_held = False
        # IMMEDIATE takes the write lock now, so two writers never deadlock upgrading.
        self.execute("BEGIN IMMEDIATE")
        self.in_transaction = True

    def close(self):
        self.unlock(None)
        self.connection.close()

    # -- the lock ---------------------------------------------------------------------
    def _lock_path(self, name):
        return f"{self.url.path}.{name}lock"

    def try_lock(self, name):
        if self.url.is_memory:
            return True
        if self._lock_file is None:
            try:
                self._lock_file = open(self._lock_path(name), "a+", encoding="utf-8")
            except OSError as exc:
                _raise_if_folder_read_only(self._lock_path(name),
                                           "keep its lock file there", exc)
                raise ConnectError(f"cannot create the lock file {self._lock_path(name)}: "
                                   f"{exc.strerror}") from exc
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(_holder_line())
        self._lock_file.flush()
        return True

    def lock_holder(self, name):
        try:
            with open(self._lock_path(name), encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError:
            return None

    def lock_held(self, name):
        """True when a connection of any process holds the migration lock now; for the
        HTTP app's status, so it never keeps the lock and never creates the lock file.
        A shared flock conflicts with a runner's exclusive one but not with another
        probe, so two status requests at once never see each other as the holder; it
        is released at once (a runner polling meanwhile just tries again)."""
        if self.url.is_memory:
            return False
        try:
            handle = open(self._lock_path(name), "rb")
        except OSError:
            return False  # no lock file: no runner ever locked this database
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return False

    def unlock(self, name):
        self._release_write()
        if self._lock_file is not None:
            try:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock_file.close()
                self._lock_file = None

    # -- before a run writes -----------------------------------------------------------
    def lock_wait(self, seconds, action, stop=None):
        """``action()``, waiting up to ``seconds`` for another connection's lock, then
        LockTimeout naming the holder: before a run, SQLite's busy wait is ferryman's
        --lock-timeout in every journal mode, as another ferryman's lock would be.

        The wait is cut in slices of the busy timeout
        (https://sqlite.org/c3ref/busy_timeout.html), with ``action`` tried again after
        each: sqlite3_interrupt() does not end a busy wait, and Python runs a signal's
        handler only between two slices, so SIGTERM must not wait out --lock-timeout.
        ``stop``, called between slices, may raise to end the wait.
        """
        import time

        deadline = time.monotonic() + seconds
        previous = self.connection.execute("PRAGMA busy_timeout").fetchone()[0]
        try:
            while True:
                left = max(deadline - time.monotonic(), 0.0)
                self.connection.execute(
                    f"PRAGMA busy_timeout = {int(min(left, BUSY_SLICE) * 1000)}")
                try:
                    return action()
                except DriverError as exc:
                    if not _is_busy(exc):
                        raise
                    if time.monotonic() >= deadline:
                        raise self._write_locked(seconds, exc) from exc
                if stop is not None:
                    stop()
        finally:
            self.connection.execute(f"PRAGMA busy_timeout = {int(previous)}")

    def ready_to_write(self, timeout, hold=False, stop=None):
        """Take the write lock (BEGIN IMMEDIATE: rollback journal and WAL alike) within
        ``timeout``, then write and undo one header field: that write needs the journal
        or WAL file, so a read-only file or folder fails here, before the backup, and
        not half way through a run. Nothing changes: the undone write never reaches the
        file. With ``hold``, the next ``begin()`` continues this transaction, so no
        other connection writes between the backup and the run. ``stop``: see
        lock_wait."""
        if self.url.is_memory:
            return
        try:
            self.lock_wait(timeout, lambda: self.execute("BEGIN IMMEDIATE"), stop)
            self._write_held = True
            self._undone_write()
        except DriverError as exc:
            self._release_write()
            error = self._not_writable(exc)
            if error is exc:
                raise
            raise error from exc
        if not hold:
            self._release_write()

    def _undone_write(self):
        version = int(self.connection.execute("PRAGMA user_version").fetchone()[0])
        self.execute("SAVEPOINT ferryman_write_check")
        self.execute(f"PRAGMA user_version = {version}")  # the same value: a page write
        self.execute("ROLLBACK TO ferryman_write_check")
        self.execute("RELEASE ferryman_write_check")

    def _release_write(self):
        """End the transaction ready_to_write kept, unless a run took it over."""
        if not self._write_held:
            return
        self._write_held = False
        try:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # closing the connection rolls it back anyway

    def _write_locked(self, seconds, exc):
        path = os.path.abspath(self.url.path)
        holders = ", ".join(_describe_pid(pid) for pid in _write_lock_pids(path))
        return LockTimeout(
            "another connection" + (f" ({holders})" if holders else "")
            + f" holds a write lock on {path}; gave up waiting for it after "
            f"{round(seconds, 1):g}s (--lock-timeout); nothing was changed",
            db_message=exc.db_message, sqlstate=exc.sqlstate,
            hint=f"wait for its transaction to end and run the command again (raise "
                 f"--lock-timeout to wait longer), or find the process holding the file: "
                 f"`fuser -v {_shell_quote(path)}`")

    def _not_writable(self, exc):
        """ReadOnlyDatabase when SQLite refused the write because the file, or the folder
        where it creates its journal, is read-only; otherwise ``exc`` itself."""
        code = exc.sqlstate or ""
        if not code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
            return exc
        path = os.path.abspath(self.url.path)
        folder = os.path.dirname(path)
        who = f"this process (uid {os.geteuid()})"
        if code == "SQLITE_READONLY_DIRECTORY" or (_writable(path) and not _writable(folder)):
            what = (f"the folder {folder} is read-only for {who}, and SQLite must create "
                    f"its journal file there to change {path}")
            fix = f"make {_shell_quote(folder)} writable for uid {os.geteuid()}"
        elif code.startswith("SQLITE_READONLY") or not _writable(path):
            what = f"the SQLite database {path} is read-only for {who}"
            fix = (f"make it writable for uid {os.geteuid()} (chmod u+w, or chown it to "
                   f"that user), or run ferryman as its owner")
        else:
            return exc
        return ReadOnlyDatabase(f"{what}; nothing was changed", db_message=exc.db_message,
                                sqlstate=code, hint=f"{fix}, then run the command again")

    # -- facts ------------------------------------------------------------------------
    def server_version(self):
        return sqlite3.sqlite_version

    def tables_present(self, names):
        # One catalog read; SQLite compares names without regard to (ASCII) case, so
        # every spelling asked of a table that exists is answered.
        rows = self.query("SELECT lower(name) FROM sqlite_master WHERE type = 'table'")
        found = {row[0] for row in rows}
        return {name for name in names if name.lower() in found}

    def columns(self, table):
        rows = self.query("SELECT name, type FROM pragma_table_info(?)", (table,))
        return {name.lower(): (kind or "").lower() for name, kind in rows}

    def has_other_tables(self, prefix):
        # sqlite_* tables are SQLite's own (sqlite_sequence, sqlite_stat1).
        return bool(self.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "AND lower(substr(name, 1, ?)) <> lower(?) LIMIT 1", (len(prefix), prefix)))

    @staticmethod
    def needs_autocommit(words):
        # VACUUM cannot run in a transaction; journal_mode and foreign_keys pragmas are
        # silently ignored inside one (https://sqlite.org/pragma.html#pragma_foreign_keys),
        # so a file that sets them runs the way its author wrote it.
        if not words:
            return False
        if words[0] == "VACUUM":
            return True
        return words[0] == "PRAGMA" and any(w in _OUTSIDE_PRAGMAS for w in words[1:3])

    def data_version(self):
        """PRAGMA data_version: it changes when another connection commits a write
        (https://sqlite.org/pragma.html#pragma_data_version)."""
        return self.query("PRAGMA data_version")[0][0]

    def catalog(self, prefix="ferryman_"):
        return SQLiteCatalog(self, prefix)

    # -- maintenance and monitoring (ferryman maintain / inspect; see base.py, item 8) -----
    def _user_tables(self):
        # sqlite_* tables are SQLite's own (sqlite_sequence, sqlite_stat1).
        return [row[0] for row in self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]

    def _resolve_tables(self, names):
        """The catalog's spelling of each name (SQLite compares names without regard
        to case); InputError naming every one that is not a table here."""
        known = {name.lower(): name for name in self._user_tables()}
        missing = [name for name in names if name.lower() not in known]
        if missing:
            raise InputError(f"no table named {', '.join(map(repr, missing))} in "
                             f"{self.describe()}", hint="`ferryman inspect` lists the tables")
        return [known[name.lower()] for name in names]

    def maintenance_statements(self, task, tables=None):
        if task == "refresh":
            return [], "SQLite has no materialized views: nothing to refresh"
        # main."t" is always a table, never a collation or schema of the same name
        # (https://sqlite.org/lang_reindex.html).
        names = [f"main.{self.quote(t)}" for t in self._resolve_tables(tables or [])]
        if task == "analyze":
            # PRAGMA optimize after a full ANALYZE, as https://sqlite.org/lang_analyze.html
            # recommends; it would re-analyze other tables, so not after a partial one.
            return [f"ANALYZE {n}" for n in names] or ["ANALYZE", "PRAGMA optimize"], None
        if task == "vacuum":
            if names:
                raise InputError("SQLite vacuums the whole file: --table does not apply "
                                 "to vacuum", hint="run `ferryman maintain vacuum`")
            return ["VACUUM"], None
        return [f"REINDEX {n}" for n in names] or ["REINDEX"], None

    def purge_target(self, table, column):
        """The purge's SQL, after checking ``table`` and ``column`` in the catalog.
        A timestamp is text SQLite's date functions read (ISO 8601, with 'Z' or an
        offset) or Unix seconds; anything else reads as NULL, and its row is kept."""
        (table,) = self._resolve_tables([table])
        columns = {row[0].lower(): row[0] for row in
                   self.query("SELECT name FROM pragma_table_info(?)", (table,))}
        if column.lower() not in columns:
            raise InputError(f"table {table} has no column {column!r}",
                             hint="its columns: " + ", ".join(columns.values()))
        column = columns[column.lower()]
        t, c = f"main.{self.quote(table)}", self.quote(column)
        old = (f"(CASE WHEN typeof({c}) IN ('integer', 'real') THEN datetime({c}, 'unixepoch') "
               f"ELSE datetime({c}) END) < :cutoff")
        key = self._row_key(table)
        # The outer condition repeats the inner one: whatever the key matches, only
        # old rows are ever deleted.
        return {"table": table, "column": column,
                "count": f"SELECT count(*) FROM {t} WHERE {old}",
                "delete": f"DELETE FROM {t} WHERE {old} AND ({key}) IN "
                          f"(SELECT {key} FROM {t} WHERE {old} LIMIT :size)"}

    def _row_key(self, table):
        """rowid, or the primary key columns of a WITHOUT ROWID table (which has no
        rowid), for ``(key) IN (SELECT key ...)``."""
        try:
            self.query(f"SELECT rowid FROM main.{self.quote(table)} LIMIT 0")
            return "rowid"
        except DriverError:
            keys = self.query("SELECT name FROM pragma_table_info(?) WHERE pk > 0 "
                              "ORDER BY pk", (table,))
            return ", ".join(self.quote(row[0]) for row in keys)

    def purge_cutoff(self, days):
        # datetime()'s own format, so the comparison with datetime(column) is exact.
        return self.query("SELECT datetime('now', ?)", (f"-{int(days)} days",))[0][0]

    def purge_batch(self, target, cutoff, size):
        self.execute(target["delete"], {"cutoff": cutoff, "size": size})
        return self.query("SELECT changes()")[0][0]

    def slow_queries(self, limit):
        return None, ("slow queries: not available on SQLite, which keeps no statistics "
                      "of the queries it ran")

    def connections(self):
        return None, "connections: not applicable to SQLite (one file, no server; see locks)"

    def table_sizes(self):
        tables = self._user_tables()
        rows = {t: self.query(f"SELECT count(*) FROM main.{self.quote(t)}")[0][0]
                for t in tables}
        page_size = self.query("PRAGMA page_size")[0][0]
        file_bytes = self.query("PRAGMA page_count")[0][0] * page_size
        pages = self._pages_by_table() if self._has_dbstat() else None
        sizes = []
        for t in tables:
            table_pages, index_pages = pages.get(t, (0, 0)) if pages is not None else (None, None)
            sizes.append({
                "table": t, "rows": rows[t], "rows_estimated": False,
                "total_bytes": None if pages is None else (table_pages + index_pages) * page_size,
                "table_bytes": None if pages is None else table_pages * page_size,
                "indexes_bytes": None if pages is None else index_pages * page_size})
        sizes.sort(key=lambda s: (-(s["total_bytes"] or 0), -s["rows"], s["table"]))
        if pages is None:
            return sizes, (f"table sizes: this SQLite lacks the dbstat virtual table "
                           f"(SQLITE_ENABLE_DBSTAT_VTAB), so only row counts per table; the "
                           f"file holds {file_bytes} bytes")
        return sizes, f"table sizes: pages x {page_size} bytes; the file holds {file_bytes} bytes"

    def _has_dbstat(self):
        return bool(self.query("SELECT 1 FROM pragma_compile_options "
                               "WHERE compile_options = 'ENABLE_DBSTAT_VTAB'"))

    def _pages_by_table(self):
        """{table: (its pages, its indexes' pages)}, overflow pages included."""
        pages = {}
        for table, is_index, count in self.query(
                "SELECT m.tbl_name, m.type = 'index', count(*) FROM dbstat AS d "
                "JOIN sqlite_master AS m ON m.name = d.name GROUP BY 1, 2"):
            own, indexes = pages.get(table, (0, 0))
            pages[table] = (own, indexes + count) if is_index else (own + count, indexes)
        return pages

    def locks(self):
        """Whether another connection holds the write lock: BEGIN IMMEDIATE on a
        connection of our own, with no busy wait, then ROLLBACK. Neither writes: the
        journal is opened by the first page written (https://sqlite.org/lockingv3.html)."""
        path = self.url.path
        if self.url.is_memory or not os.path.exists(path):
            return [], "locks: no database file, so nothing holds a lock"
        try:
            probe = sqlite3.connect(f"file:{_uri_path(path)}?mode=rw", uri=True,
                                    isolation_level=None, timeout=0)
        except sqlite3.Error as exc:
            return None, f"locks: cannot check the write lock: {exc}"
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        except sqlite3.Error as exc:
            if not _translate(exc).transient:
                return None, f"locks: cannot check the write lock: {exc}"
            return ([{"lock": "write", "held_by": "another connection", "detail": str(exc)}],
                    "locks: another connection holds the write lock; writers wait for it")
        finally:
            probe.close()
        return [], "locks: no connection holds the write lock"


class SQLiteCatalog(Catalog):
    """What the pipeline's checks ask a SQLite database (see base.Catalog)."""

    def tables(self):
        return [t for t in self.db._user_tables() if not t.startswith(self.prefix)]

    def table_metrics(self):
        """Sizes from the dbstat virtual table when SQLite was built with it
        (https://sqlite.org/dbstat.html), as in ``inspect``; None without it."""
        pages = self.db._pages_by_table() if self.db._has_dbstat() else None
        page_size = self.db.query("PRAGMA page_size")[0][0]
        out = []
        for table in self.tables():
            indexes = self.db.query(f"PRAGMA index_list({self.db.quote(table)})")
            size = None if pages is None else sum(pages.get(table, (0, 0))) * page_size
            out.append({"name": table, "rows": self.row_count(table), "size_bytes": size,
                        "indexes": len(indexes)})
        return out

    def foreign_key_problems(self):
        """Rows whose foreign key points nowhere (https://sqlite.org/pragma.html)."""
        problems = []
        for table, rowid, parent, _fk in self.db.query("PRAGMA foreign_key_check")[:50]:
            problems.append(f"{table} row {rowid} refers to a missing row of {parent}")
        return problems

    def integrity_problems(self):
        result = [r[0] for r in self.db.query("PRAGMA integrity_check")]
        return [] if result == ["ok"] else [f"integrity_check: {line}" for line in result[:20]]

    def can_create(self):
        folder = os.path.dirname(os.path.abspath(self.db.url.path)) or "."
        path = self.db.url.path
        ok = os.access(folder, os.W_OK) and (not os.path.exists(path) or os.access(path, os.W_OK))
        return ok, f"{'can' if ok else 'cannot'} write {path} and its folder (journal files)"

    def database_size(self):
        try:
            return os.path.getsize(self.db.url.path)
        except OSError:
            return 0

    def schema_snapshot(self):
        rows = self.db.query(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 "
            "ELSE 3 END, name")
        return "".join(f"-- {kind} {name}\n{sql};\n\n" for kind, name, sql in rows)

    def suggestions(self):
        out = [self._unindexed(table, column, parent) for table in self.tables()
               for column, parent in self._foreign_keys_unindexed(table)]
        if not self.db.query("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"):
            out.append({"kind": "never_analyzed", "table": None,
                        "detail": "the database was never analyzed: run `ferryman maintain "
                                  "analyze`"})
        return out

    def _foreign_keys_unindexed(self, table):
        """(column, parent table) of each foreign key of ``table`` whose column leads
        no index."""
        q = self.db.quote
        indexed = set()
        for index in self.db.query(f"PRAGMA index_list({q(table)})"):
            first = self.db.query(f"PRAGMA index_info({q(index[1])})")
            if first:
                indexed.add(first[0][2])
        return [(fk[3], fk[2]) for fk in self.db.query(f"PRAGMA foreign_key_list({q(table)})")
                if fk[3] not in indexed]

    @staticmethod
    def _unindexed(table, column, parent):
        return {"kind": "foreign_key_without_index", "table": table,
                "detail": f"{table}.{column} refers to {parent} but has no index; "
                          "joins and deletes of the parent scan the table"}


_OUTSIDE_PRAGMAS = ("FOREIGN_KEYS", "JOURNAL_MODE", "LEGACY_ALTER_TABLE")


def _holder_line():
    from ..core.whoami import user_at_host
    from ..text import now_iso

    return f"pid {os.getpid()} {user_at_host()} since {now_iso('seconds')}\n"


def _is_busy(exc):
    return ((exc.sqlstate or "").startswith("SQLITE_BUSY")
            or "database is locked" in (exc.db_message or ""))


def _writable(path):
    """Whether this process may write ``path`` (its effective ids, where the platform
    lets access() use them)."""
    effective = os.access in os.supports_effective_ids
    return os.access(path, os.W_OK, effective_ids=effective)


def _raise_if_folder_read_only(path, what, exc):
    """ReadOnlyDatabase when the folder of ``path`` (a file ferryman must create) is
    read-only for this process."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder) and not _writable(folder):
        raise ReadOnlyDatabase(
            f"the folder {folder} is read-only for this process (uid {os.geteuid()}), so "
            f"ferryman cannot {what} ({os.path.basename(path)}); nothing was changed",
            db_message=getattr(exc, "strerror", None) or str(exc),
            hint=f"make {_shell_quote(folder)} writable for uid {os.geteuid()}, then run "
                 "the command again") from exc


def _shell_quote(path):
    import shlex

    return shlex.quote(path)


# Where SQLite's unix VFS takes the write lock (https://sqlite.org/lockingv3.html,
# https://sqlite.org/walformat.html#locks): the PENDING and RESERVED bytes of the
# database file in rollback-journal mode, the WAL write-lock byte of the -shm file.
_PENDING_BYTE, _RESERVED_BYTE, _WAL_WRITE_LOCK = 0x40000000, 0x40000001, 120


def _write_lock_pids(path):
    """The processes holding SQLite's write lock on ``path``, as /proc/locks (Linux)
    shows them; empty where it cannot tell (another OS, another pid namespace)."""
    spans = {}
    for name, span in ((path, (_PENDING_BYTE, _RESERVED_BYTE)),
                       (path + "-shm", (_WAL_WRITE_LOCK, _WAL_WRITE_LOCK))):
        try:
            st = os.stat(name)
        except OSError:
            continue
        spans[f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"] = span
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    pids = []
    for line in lines:
        # "1: POSIX  ADVISORY  WRITE 4242 fe:00:2154738 1073741825 1073741825";
        # "1: -> POSIX ..." is a waiter, not a holder.
        fields = line.split()
        if len(fields) != 8 or fields[3] != "WRITE" or fields[5] not in spans:
            continue
        low, high = spans[fields[5]]
        try:
            pid, start = int(fields[4]), int(fields[6])
            end = high if fields[7] == "EOF" else int(fields[7])
        except ValueError:
            continue
        if pid > 0 and start <= high and end >= low and pid not in pids:
            pids.append(pid)
    return pids


def _describe_pid(pid):
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return f"pid {pid}: {handle.read().strip()}"
    except OSError:
        return f"pid {pid}"


def _roll_back_hot_journal(path, timeout):
    """A writer killed in a transaction that had spilled pages into the file leaves a
    hot journal. Only a read-write connection may roll it back; a ``mode=ro`` one fails
    with SQLITE_READONLY_ROLLBACK ("attempt to write a readonly database"), so
    ``status`` after a kill -9 would fail. A read through a read-write connection
    makes SQLite restore the last committed state (it writes nothing of its own);
    when the journal is not hot (a live writer), it is an ordinary read."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=timeout)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # a read-only file or folder: the read-only open reports what it finds


def _uri_path(path):
    return os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def _translate(exc, statement_timeout=None):
    message = str(exc)
    if message == "interrupted" and statement_timeout:
        message = f"interrupted: the statement ran longer than {statement_timeout:g}s"
    name = getattr(exc, "sqlite_errorname", None)
    return DriverError(
        message, db_message=message, sqlstate=name,
        transient=name in ("SQLITE_BUSY", "SQLITE_LOCKED") or "database is locked" in message,
        missing_table=message.startswith("no such table"),
    )
