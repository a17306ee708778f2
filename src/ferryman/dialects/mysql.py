"""MySQL and MariaDB through PyMySQL (the ``[mysql]`` extra).

- Autocommit connection; the core sends BEGIN/COMMIT. DDL is NOT transactional:
  every CREATE, ALTER, DROP, RENAME and TRUNCATE commits by itself (an implicit
  commit before and after it), so ``transactional_ddl`` is False and the runner runs
  each migration statement by statement, recording in ferryman's tables the statement
  it is at (core/runner.py). Statements that commit nothing by themselves (INSERT,
  UPDATE, DELETE, REPLACE) run in a transaction with that record: see
  ``implicit_commit``.
- The migration lock is ``GET_LOCK`` (a session-level named lock: the server
  releases it when the holder's connection ends, kill -9 included), polled by the
  core without waiting on the server. Lock names are server-wide, so the name holds
  a digest of the database's and the history table's names.
- The password is a keyword argument of the driver, never part of a text that could
  be echoed; ``cancel()`` opens a second connection with it to send ``KILL QUERY``.
- Flavour and version come from ``VERSION()``: MariaDB says so in it. MariaDB bounds a
  statement with ``max_statement_time`` (every statement), MySQL with
  ``max_execution_time`` (SELECT only); both bound a wait for a table's metadata lock
  with ``lock_wait_timeout`` and for a row lock with ``innodb_lock_wait_timeout``.
- Errors carry the server's error number as their ``sqlstate`` (``1146``): it is what
  MySQL's manual and its users name errors by, and PyMySQL does not keep the SQLSTATE.
"""

import getpass
import hashlib
import math
import os

from ..errors import ConfigError, ConnectError, DriverError, redact
from .base import Dialect
from .mysql_admin import MySQLAdmin

DEFAULT_PORT = 3306

# Error numbers (https://mariadb.com/kb/en/mariadb-error-codes/, the MySQL manual's
# "Server Error Message Reference").
LOCK_WAIT_TIMEOUT = 1205
DEADLOCK = 1213
LOCK_TABLE_FULL = 1206
NO_SUCH_TABLE = 1146
QUERY_INTERRUPTED = 1317
# Worth a retry: lock wait timeout, deadlock, too many connections, server shutdown,
# the connection lost or killed (client errors 2003 to 2055; MariaDB 1927).
TRANSIENT = {LOCK_WAIT_TIMEOUT, DEADLOCK, 1040, 1053, 1927, 2003, 2006, 2013, 2055, 4031}
CONNECTION_LOST = {2006, 2013, 2055, 1927, 4031, 1053}
# A statement about an object that is not there: unknown table, can't DROP (column or
# key), unknown column, no such table, routine, trigger, event, key, database.
MISSING_OBJECT = {1051, 1091, 1054, 1146, 1305, 1360, 1539, 1176, 1008}
# One that makes an object that is there: table, column, key, foreign key, routine,
# trigger, event, database exists; a second primary key.
DUPLICATE_OBJECT = {1050, 1060, 1061, 1022, 1826, 1304, 1359, 1537, 1007, 1068}
# Refused connections that another try will not fix: access denied, unknown database.
PERMANENT_CONNECT = {1044, 1045, 1049, 1698, 2059, 2026}

# Statements that commit nothing by themselves: they may share a transaction with
# ferryman's record of the statement a migration is at. Everything else (DDL, LOCK
# TABLES, CALL of a procedure that may run DDL, SET autocommit, ...) runs alone.
_DATA_ONLY = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})

# URL parameters: ours, and those of the Go driver that golang-migrate and dbmate users
# have in their URLs, which mean nothing here (multiStatements: ferryman splits the
# file itself; parseTime, loc: how Go reads DATETIME).
_SSL_KEYS = {"ssl_ca": "ca", "ssl-ca": "ca", "sslrootcert": "ca", "ssl_cert": "cert",
             "ssl-cert": "cert", "sslcert": "cert", "ssl_key": "key", "ssl-key": "key",
             "sslkey": "key"}
_IGNORED = {"multiStatements", "parseTime", "loc", "x-migrations-table", "x-no-lock",
            "interpolateParams", "allowNativePasswords", "collation", "timeout",
            "readTimeout", "writeTimeout", "x-tls-insecure-skip-verify",
            "x-statement-timeout"}
_SSL_MODES = ("disabled", "preferred", "required", "verify_ca", "verify_identity")


class MySQLDialect(MySQLAdmin, Dialect):
    name = "mysql"
    placeholder = "%s"
    transactional_ddl = False  # DDL commits implicitly: see the module's docstring
    min_server_version = "5.7"  # MySQL 5.7, or any MariaDB (10.x and later)
    TYPES = {"bigint": "BIGINT", "text": "LONGTEXT", "varchar": "VARCHAR",
             "timestamp": "DATETIME(6)", "real": "DOUBLE",
             "id": "BIGINT AUTO_INCREMENT PRIMARY KEY"}

    def __init__(self, url, connection, password=None):
        super().__init__(url, connection)
        self._password = password  # for cancel()'s second connection; never shown
        self._holding = None
        self._version = None
        self._folds = None

    # -- connecting -------------------------------------------------------------------
    @classmethod
    def open(cls, url, *, readonly=False, timeout=10.0, password=None, statement_timeout=None,
             table_lock_timeout=None):
        pymysql = _driver()
        args = connect_arguments(url, password, timeout)
        try:
            conn = pymysql.connect(**args)
        except pymysql.err.MySQLError as exc:
            code, message = _code_message(exc)
            error = ConnectError(f"cannot connect to {url.redacted()}: {message}",
                                 db_message=message, sqlstate=str(code) if code else None,
                                 hint="check that the server is up and the URL, user and "
                                      "password are right")
            error.transient = code not in PERMANENT_CONNECT
            raise error from exc
        except (OSError, ValueError, TypeError) as exc:  # a bad socket path, TLS files
            raise ConnectError(f"cannot connect to {url.redacted()}: {redact(str(exc))}",
                               hint="check the URL's socket and TLS options") from exc
        db = cls(url, conn, args["password"] or None)
        settings = []
        if readonly:
            settings.append("SET SESSION TRANSACTION READ ONLY")
        if statement_timeout:
            if db._is_mariadb():
                settings.append(f"SET SESSION max_statement_time = {float(statement_timeout)}")
            else:
                settings.append("SET SESSION max_execution_time = "
                                f"{max(1, int(statement_timeout * 1000))}")
        if table_lock_timeout:
            seconds = max(1, math.ceil(table_lock_timeout))
            settings.append(f"SET SESSION lock_wait_timeout = {seconds}")
            settings.append(f"SET SESSION innodb_lock_wait_timeout = {seconds}")
        try:
            for sql in settings:
                db.execute(sql)
        except DriverError:
            db.close()
            raise
        return db

    # -- statements -------------------------------------------------------------------
    def execute(self, sql, params=None):
        pymysql = _driver()
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
        except pymysql.err.Error as exc:
            raise _translate(exc) from exc

    def query(self, sql, params=None):
        pymysql = _driver()
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        except pymysql.err.Error as exc:
            raise _translate(exc) from exc

    def executemany(self, sql, rows):
        pymysql = _driver()
        try:
            with self.connection.cursor() as cursor:
                cursor.executemany(sql, rows)
        except pymysql.err.Error as exc:
            raise _translate(exc) from exc

    def translate(self, exc):
        pymysql = _driver()
        return _translate(exc) if isinstance(exc, pymysql.err.Error) else None

    def close(self):
        try:
            self.connection.close()
        except Exception:  # closing a broken connection must not hide the real error
            pass

    def _connection_id(self):
        # the server's thread id, sent in its handshake: CONNECTION_ID()
        return self.connection.thread_id()

    def cancel(self):
        """KILL QUERY from a second connection: the statement running on this one
        ends with error 1317, the connection stays."""
        pymysql = _driver()
        try:
            args = connect_arguments(self.url, self._password, 5)
            args["program_name"] = "ferryman cancel"
            other = pymysql.connect(**args)
        except Exception:  # the server is gone: nothing runs there any more
            return
        try:
            with other.cursor() as cursor:
                cursor.execute(f"KILL QUERY {int(self._connection_id())}")
        except Exception:  # the statement ended meanwhile
            pass
        finally:
            other.close()

    def transaction_open(self):
        # The server's status flag SERVER_STATUS_IN_TRANS, sent with every reply.
        return bool(getattr(self.connection, "server_status", 0) & 1)

    def connection_lost(self):
        return not self.connection.open

    # -- the lock ---------------------------------------------------------------------
    def _lock_name(self, name):
        """GET_LOCK's names are the server's, not the database's; at most 64 chars."""
        digest = hashlib.sha256(f"{self.url.database}\0{name}".encode()).hexdigest()
        return f"ferryman:{digest[:40]}"

    def try_lock(self, name):
        if self._holding == name:
            return True
        taken = self.query("SELECT GET_LOCK(%s, 0)", (self._lock_name(name),))[0][0]
        if taken == 1:
            self._holding = name
            return True
        return False

    def lock_holder(self, name):
        (holder,) = self.query("SELECT IS_USED_LOCK(%s)", (self._lock_name(name),))[0]
        if holder is None:
            return None
        rows = self.query("SELECT USER, HOST, TIME FROM information_schema.PROCESSLIST "
                          "WHERE ID = %s", (holder,))
        program = self._program_of(holder)
        if not rows:
            return f"connection {holder}" + (f" ({program})" if program else "")
        user, host, seconds = rows[0]
        return (f"connection {holder} ({program or 'unknown'}), user {user} from {host}, "
                f"connected {seconds}s ago")

    def _program_of(self, connection):
        """The program_name the holder sent when it connected, where the server keeps
        connection attributes (performance_schema on)."""
        try:
            rows = self.query("SELECT ATTR_VALUE FROM performance_schema.session_connect_attrs "
                              "WHERE PROCESSLIST_ID = %s AND ATTR_NAME = 'program_name'",
                              (connection,))
        except DriverError:
            return None
        return rows[0][0] if rows else None

    def lock_held(self, name):
        return self.query("SELECT IS_USED_LOCK(%s)", (self._lock_name(name),))[0][0] is not None

    def unlock(self, name):
        if self._holding != name:
            return
        self._holding = None
        try:
            self.execute("DO RELEASE_LOCK(%s)", (self._lock_name(name),))
        except DriverError:
            pass  # a lost connection has released it already

    # -- facts ------------------------------------------------------------------------
    def server_version(self):
        """"10.11.19" (``product()`` says MariaDB or MySQL)."""
        return ".".join(map(str, _numbers(self._version_text())))

    def _version_text(self):
        """The server's own VERSION(): "10.11.19-MariaDB-0+deb12u1", "8.0.36"."""
        if self._version is None:
            self._version = self.query("SELECT VERSION()")[0][0]
        return self._version

    def _is_mariadb(self):
        return "mariadb" in self._version_text().lower()

    def product(self):
        return "MariaDB" if self._is_mariadb() else "MySQL"

    def describe(self):
        return self.url.redacted()

    @staticmethod
    def needs_autocommit(words):
        # SET TRANSACTION (the next transaction's characteristics) and XA START are
        # refused while a transaction is open (errors 1568, 1400).
        return tuple(words[:2]) in (("SET", "TRANSACTION"), ("XA", "START"),
                                    ("XA", "BEGIN"))

    @staticmethod
    def implicit_commit(words):
        """Whether a statement starting with ``words`` commits by itself (or may):
        all but the data-only statements."""
        return not words or words[0] not in _DATA_ONLY

    def timestamp(self, moment):
        # DATETIME holds no zone: ferryman writes UTC, and text.iso reads a naive
        # datetime as UTC.
        from datetime import timezone

        return moment.astimezone(timezone.utc).replace(tzinfo=None)

    def tables_present(self, names):
        names = list(names)
        if not names:
            return set()
        marks = ", ".join(["%s"] * len(names))
        rows = self.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
                          f"TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({marks})", names)
        found = {row[0] for row in rows}
        if self._folds_names():
            found = {name.lower() for name in found}
            return {name for name in names if name.lower() in found}
        return {name for name in names if name in found}

    def _folds_names(self):
        """Whether table names are case-insensitive here (lower_case_table_names 1
        or 2: Windows, macOS); on Linux they are not, by default."""
        if self._folds is None:
            self._folds = self.query("SELECT @@lower_case_table_names")[0][0] != 0
        return self._folds

    def columns(self, table):
        schema, _, name = table.rpartition(".")
        rows = self.query(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
            "TABLE_SCHEMA = COALESCE(NULLIF(%s, ''), DATABASE()) AND TABLE_NAME = %s",
            (schema.strip("`"), name.strip("`")))
        return {column.lower(): (kind or "").lower() for column, kind in rows}

    def has_other_tables(self, prefix):
        return bool(self.query(
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_TYPE = 'BASE TABLE' AND LEFT(TABLE_NAME, CHAR_LENGTH(%s)) <> %s "
            "LIMIT 1", (prefix, prefix)))

    def lock_budget(self):
        return None  # InnoDB's lock table grows with the buffer pool: no chunking

    # -- ferryman's own tables ----------------------------------------------------------
    @classmethod
    def quote(cls, name):
        return "`" + name.replace("`", "``") + "`"

    def create_table(self, table, columns):
        return super().create_table(table, columns) + (
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")

    def create_index(self, index, table, columns):
        # MySQL has no CREATE INDEX IF NOT EXISTS (MariaDB has): ask the catalog.
        present = self.query("SELECT 1 FROM information_schema.STATISTICS WHERE "
                             "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND "
                             "INDEX_NAME = %s LIMIT 1", (table, index))
        if present:
            return "DO 0"
        return f"CREATE INDEX {index} ON {table} ({', '.join(map(self.quote, columns))})"

    def upsert(self, table, key_columns, columns):
        names = ", ".join(map(self.quote, columns))
        marks = ", ".join([self.placeholder] * len(columns))
        updates = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})"
                            for c in columns if c not in key_columns)
        return (f"INSERT INTO {table} ({names}) VALUES ({marks}) "
                f"ON DUPLICATE KEY UPDATE {updates}")


def connect_arguments(url, password=None, timeout=10.0):
    """PyMySQL's keyword arguments for ``url``: host or unix socket, user, database,
    TLS. ConfigError for a parameter ferryman does not know."""
    query = dict(url.query)
    args = {"host": url.host or "localhost", "port": url.port or DEFAULT_PORT,
            "user": url.user or _login(), "database": url.database,
            "password": url.password or query.pop("password", None) or password or "",
            "charset": query.pop("charset", "utf8mb4"), "autocommit": True,
            "connect_timeout": max(1, int(timeout)) if timeout else 10,
            "local_infile": False, "program_name": _program_name()}
    socket = query.pop("unix_socket", None) or query.pop("socket", None)
    if socket:
        args["unix_socket"] = socket
    files, mode = {}, None
    for key in list(query):
        if key in _SSL_KEYS:
            files[f"ssl_{_SSL_KEYS[key]}"] = query.pop(key)
    for key in ("ssl_mode", "ssl-mode", "sslmode", "tls"):
        if key in query:
            mode = query.pop(key).lower().replace("-", "_")
    if query.pop("ssl", "").lower() in ("1", "true", "on", "yes"):
        mode = mode or "required"
    # the Go driver's tls=true|false|skip-verify|preferred, as golang-migrate's URLs
    # and libpq's sslmode names, as PostgreSQL users write them
    mode = {"true": "verify_identity", "false": "disabled", "skip_verify": "required",
            "disable": "disabled", "prefer": "preferred", "require": "required",
            "verify_full": "verify_identity"}.get(mode, mode)
    if mode is not None and mode not in _SSL_MODES:
        raise ConfigError(f"database URL {url.redacted()}: unknown TLS mode {mode!r}",
                          hint="ssl_mode is one of " + ", ".join(_SSL_MODES))
    args.update(_tls(mode, files))
    unknown = sorted(k for k in query if k not in _IGNORED)
    if unknown:
        raise ConfigError(
            f"database URL {url.redacted()}: unknown parameter"
            f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
            hint="MySQL URLs take unix_socket, charset, ssl_mode, ssl_ca, ssl_cert and "
                 "ssl_key")
    return args


def _tls(mode, files):
    """PyMySQL's TLS arguments for an ssl_mode (MySQL's client names them) and the
    certificate files given. No mode: TLS when the server offers it (PyMySQL's
    default), verified against the CA file when one is given."""
    if mode == "disabled":
        return {"ssl_disabled": True}
    if mode in (None, "preferred") and not files:
        return {}
    out = dict(files)
    if mode == "verify_identity":
        out["ssl_verify_identity"] = True
    elif mode == "verify_ca" or "ssl_ca" in files:
        out["ssl_verify_cert"] = True
    if not out or set(out) <= {"ssl_cert", "ssl_key"}:
        # required without a CA: encrypted, the certificate not checked (MySQL's
        # REQUIRED); an SSLContext makes PyMySQL insist on TLS
        import ssl

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if "ssl_cert" in files:
            context.load_cert_chain(files["ssl_cert"], files.get("ssl_key"))
        return {"ssl": context}
    return out


def _driver():
    try:
        import pymysql
    except ImportError:
        raise ConfigError("MySQL and MariaDB need the PyMySQL driver, which is not installed",
                          hint="pip install 'ferryman[mysql]'") from None
    return pymysql


def _login():
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"


def _program_name():
    from .._version import __version__
    from ..core.whoami import user_at_host

    return f"ferryman {__version__} {user_at_host()} pid {os.getpid()}"[:64]


def _numbers(text):
    import re

    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def _code_message(exc):
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], redact(str(args[1]))
    return None, redact(str(exc)) or type(exc).__name__


def _translate(exc):
    code, message = _code_message(exc)
    pymysql = _driver()
    lost = code in CONNECTION_LOST or (
        isinstance(exc, pymysql.err.InterfaceError) and code in (None, 0))
    sqlstate = getattr(exc, "sqlstate", None)  # PyMySQL 1.1+ keeps it
    shown = (f"ERROR {code}" + (f" ({sqlstate})" if sqlstate else "") + f": {message}"
             if code else message)
    return DriverError(
        message, db_message=shown, sqlstate=str(code) if code else None,
        transient=code in TRANSIENT or lost,
        lock_exhausted=code == LOCK_TABLE_FULL,
        missing_table=code == NO_SUCH_TABLE,
        missing_object=code in MISSING_OBJECT,
        duplicate_object=code in DUPLICATE_OBJECT,
        connection_lost=lost,
    )
