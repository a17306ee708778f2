"""MySQL and MariaDB backups with the real ``mariadb-dump`` / ``mysqldump`` and the
``mariadb`` / ``mysql`` client.

- The dump: one consistent snapshot of the InnoDB tables (``--single-transaction``),
  routines, triggers and events, binary columns in hex, the history of MariaDB's
  system-versioned tables; of the one database, with no CREATE DATABASE or USE, so
  that it loads into any database. DEFINER clauses are kept: a view, routine, trigger
  or event goes on running as the account it ran as. Loading them back needs that
  account (the one that made them, usually ferryman's), or SUPER / SET USER.
- The tools read the connection from an option file of mode 0600 in a private
  folder, named by ``--defaults-file`` and removed when the tool ends (by the tool's
  supervisor too, so also when ferryman is killed): the password is never on a
  command line, which ``ps`` shows to every user, nor in the environment.
  ``--defaults-file``, not ``--defaults-extra-file``: the tools then read no other
  option file, as PyMySQL reads none. A ~/.my.cnf, read after an extra file, would
  override the URL's user, password or host, and a [mysqldump] group in it could add
  --compact, which drops the trailer verify looks for. MySQL's login-path file (read
  even with --defaults-file) is pointed elsewhere, and MYSQL_PWD, MYSQL_HOST and the
  like are not passed on.
- The tools end with ferryman, kill -9 included (safety/tools.run_tied).
- The dump tool of the server's flavour is used (mariadb-dump for MariaDB, mysqldump
  for MySQL), the other when only it is installed; one older than the server (of the
  same flavour) is refused.
- Restore loads the dump into a scratch database first, the live one untouched; the
  client's exit code says whether every statement ran (the dump is its standard
  input: errors in a file run by SOURCE leave the exit code 0). Then, where the dump
  and the live database hold only tables (and sequences), one atomic ``RENAME TABLE``
  moves the live tables out and the restored ones in. Views, routines, triggers and
  events cannot move between databases (nor can a table with triggers), and a
  foreign key from another database would follow the live table out, so where there
  are any the live database is emptied and the dump loaded into it, after the
  caller's safety backup (``before_swap``). Where ferryman may not create a database,
  the dump is loaded that way, without the trial load.
"""

import os
import re
import secrets
import shutil
import tempfile
from contextlib import contextmanager

from ..dialects.mysql import MySQLDialect, connect_arguments
from ..errors import BlockedError, RestoreError, register_secret
from .tools import run_checked, tool_version

_quote = MySQLDialect.quote
TRAILER = b"-- Dump completed"
LOCK_WAIT = 5  # seconds a RENAME or DROP waits for a table's lock, per attempt
ATTEMPTS = 12  # then the restore gives up, with the live database as it was
VERIFY_CHUNK = 8 << 20  # the splitter reads the dump this much at a time
VERIFY_SPLIT_LIMIT = 1 << 30  # larger dumps: header, trailer and hash only

# Server errors: lock wait timeout (a table's metadata lock, innodb's row lock);
# access denied to a database, or to an account (DEFINER) without SUPER / SET USER.
_LOCK_WAIT_TIMEOUT = 1205
_NOT_ALLOWED = {1044, 1142, 1227}
# The URL's certificate files, as the dialect's connect_arguments reads them (it hands
# them to PyMySQL inside an SSLContext, where only a CA file makes no context).
_CERT_KEYS = {"ssl_cert": "ssl-cert", "ssl-cert": "ssl-cert", "sslcert": "ssl-cert",
              "ssl_key": "ssl-key", "ssl-key": "ssl-key", "sslkey": "ssl-key"}


class MySQLBackup:
    extension = ".sql"
    # Both restore paths keep the database's name, and its tables' names: connections
    # opened before a restore see the restored database. ``release`` is never called:
    # the caller's connection holds the migration lock (GET_LOCK, the server's), which
    # is kept throughout, and it holds no table (it is between transactions).
    restores_in_place = True

    @classmethod
    def stem(cls, url):
        return url.database or "mysql"

    def __init__(self, url, password=None):
        self.url = url
        self.password = url.password or url.query.get("password") or password
        register_secret(self.password)
        self._server = None
        self._step = ""  # what a restore is doing, for its errors

    # -- connections --------------------------------------------------------------------
    def _connect(self, in_database=True):
        import pymysql

        args = connect_arguments(self.url, self.password, 10)
        if not in_database:
            args["database"] = None
        try:
            return pymysql.connect(**args)
        except pymysql.err.MySQLError as exc:
            raise BlockedError(f"cannot connect to {self.url.redacted()} for the backup: "
                               f"{_message(exc)}") from exc
        except (OSError, ValueError) as exc:  # a bad socket path, TLS files
            raise BlockedError(f"cannot connect to {self.url.redacted()} for the backup: "
                               f"{exc}") from exc

    def _query(self, sql, params=None, in_database=True):
        conn = self._connect(in_database)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            conn.close()

    def _fact(self, sql):
        """The rows of a question asked before a backup; BlockedError if refused."""
        import pymysql

        try:
            return self._query(sql)
        except pymysql.err.MySQLError as exc:
            raise BlockedError(f"{self.url.redacted()} did not answer {sql!r}: "
                               f"{_message(exc)}") from exc

    @contextmanager
    def _tool_files(self, program):
        """(option file path, environment, private folder) for running ``program``:
        the option file is made 0600 in a 0700 folder of its own, which is removed
        when the block ends (and by the tool's supervisor: see tools.run_tied)."""
        folder = tempfile.mkdtemp(prefix="ferryman-mysql-")
        path = os.path.join(folder, "client.cnf")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self._option_text(program))
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("MYSQL_", "MARIADB_"))}
            env["MYSQL_TEST_LOGIN_FILE"] = os.path.join(folder, "no-login-paths")
            yield path, env, folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _option_text(self, program):
        """The [client] group: the connection PyMySQL makes for the URL, in the
        spelling of ``program``'s flavour (MySQL's tools take ssl-mode, MariaDB's
        ssl and ssl-verify-server-cert)."""
        args = connect_arguments(self.url, self.password, 10)
        options = {"user": args["user"], "password": args["password"]}
        if args.get("unix_socket"):
            options.update(protocol="socket", socket=args["unix_socket"])
        else:  # PyMySQL talks TCP even to localhost, where the tools would take a socket
            options.update(protocol="tcp", host=args["host"], port=str(args["port"]))
        files = {option: args[key] for key, option in (
            ("ssl_ca", "ssl-ca"), ("ssl_cert", "ssl-cert"), ("ssl_key", "ssl-key"))
            if args.get(key)}
        if "ssl" in args:
            files.update({option: self.url.query[key] for key, option in _CERT_KEYS.items()
                          if self.url.query.get(key)})
        options.update(files)
        mode = ("disabled" if args.get("ssl_disabled") else "required" if "ssl" in args
                else "verify_identity" if args.get("ssl_verify_identity")
                else "verify_ca" if args.get("ssl_verify_cert") else None)
        lines = ["[client]"] + [f"{k}={_option_value(v)}" for k, v in options.items()]
        if not _is_mariadb(tool_version(program)):
            if mode:
                lines.append(f"ssl-mode={mode.upper()}")
        elif mode == "disabled":
            lines.append("skip-ssl")
        elif mode:
            lines.append("ssl")
            if mode != "required":  # MariaDB's tools check the host name too: stricter
                lines.append("ssl-verify-server-cert")
        return "\n".join(lines) + "\n"

    def _run(self, argv, error=BlockedError, stdin=None):
        """Run a tool with the option file as its first argument (the tools read
        --defaults-file only there)."""
        program = argv[0]
        with self._tool_files(program) as (options, env, folder):
            run_checked([program, f"--defaults-file={options}", *argv[1:]], program, env,
                        error, stdin=stdin, cleanup=folder)

    # -- facts --------------------------------------------------------------------------
    def _version_text(self):
        if self._server is None:
            self._server = self._fact("SELECT VERSION()")[0][0]
        return self._server

    def server_version(self):
        return ".".join(map(str, _numbers(self._version_text())))

    def _mariadb(self):
        return _is_mariadb(self._version_text())

    def product(self):
        return "MariaDB" if self._mariadb() else "MySQL"

    def estimate_size(self):
        rows = self._fact("SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM "
                          "information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        return int(rows[0][0])

    def _programs(self):
        """(dump tool, client) for this server: its own flavour's, else the other's."""
        mine, other = ("mariadb-dump", "mariadb"), ("mysqldump", "mysql")
        if not self._mariadb():
            mine, other = other, mine
        dump = next((p for p in (mine[0], other[0]) if shutil.which(p)), None)
        client = next((p for p in (mine[1], other[1]) if shutil.which(p)), None)
        return dump, client

    def tool(self):
        dump, _client = self._programs()
        return tool_version(dump) if dump else None

    def check(self):
        """The dump tool and the client exist, and the dump tool is not older than the
        server (of the same flavour: an older one misses what newer servers have)."""
        dump, _client = self._require_programs()
        text = tool_version(dump) or ""
        client = _release(text)
        server = _numbers(self._version_text())[:2]
        if client and _is_mariadb(text) == self._mariadb() and client < server:
            raise BlockedError(
                f"{dump} {client[0]}.{client[1]} is older than the {self.product()} "
                f"{server[0]}.{server[1]} server it would dump",
                hint=f"install the {self.product()} client tools {server[0]}.{server[1]} "
                     "or newer, or pass --no-backup")

    def _require_programs(self):
        dump, client = self._programs()
        for program, what in ((dump, "mariadb-dump or mysqldump"),
                              (client, "the mariadb or mysql client")):
            if program is None:
                raise BlockedError(
                    f"{what} is not installed (not on PATH); ferryman needs it to back up "
                    "and restore MySQL and MariaDB", hint="install the client tools "
                    "(Debian: apt install mariadb-client, or mysql-client for MySQL), or "
                    "pass --no-backup")
        return dump, client

    # -- create, verify ------------------------------------------------------------------
    def create(self, destination):
        dump, _client = self._programs()
        self._run([dump, "--single-transaction", "--quick", "--routines", "--triggers",
                   "--events", "--hex-blob", "--no-tablespaces", "--skip-add-locks",
                   "--comments", "--default-character-set=utf8mb4",
                   "--max-allowed-packet=1G", *self._flavour_options(dump),
                   f"--result-file={destination}", "--", self.url.database])

    def _flavour_options(self, dump):
        """--no-tablespaces spares MySQL 8 the PROCESS privilege; --skip-add-locks the
        loader LOCK TABLES. What depends on the tool and the server: MySQL's mysqldump
        would write the server's GTID set (a restore into a server with GTIDs fails on
        it) and asks MariaDB for column statistics it lacks; MariaDB's keeps the
        history of system-versioned tables where it can (tool and server 10.11 or
        later: the dump sets system_versioning_insert_history)."""
        text = tool_version(dump) or ""
        release = _release(text) or (0, 0)
        if not _is_mariadb(text):
            extra = ["--set-gtid-purged=OFF"]
            if self._mariadb() and release >= (8, 0):
                extra.append("--column-statistics=0")
            return extra
        server = _numbers(self._version_text())[:2]
        if (self._mariadb() and min(release, server) >= (10, 11)
                and self._history_dumpable()):
            return ["--dump-history"]
        return []

    def _history_dumpable(self):
        """Whether the database has system-versioned tables, none of them with
        transaction-precise history (which mariadb-dump refuses to dump with
        --dump-history; only their current rows are kept)."""
        names = [r[0] for r in self._fact(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
            "DATABASE() AND TABLE_TYPE = 'SYSTEM VERSIONED'")]
        for name in names:
            (_name, create), = self._fact(f"SHOW CREATE TABLE {_quote(name)}")
            if re.search(r"bigint\b[^\n]*\bAS ROW START", create, re.I):
                return False
        return bool(names)

    def verify(self, path):
        """The dump is whole: the tool's header; its trailer, which a dump cut short
        (killed, a full disk) lacks; and ferryman's splitter reads it to its end
        without an unterminated string, name or comment (up to VERIFY_SPLIT_LIMIT)."""
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as handle:
                head = handle.read(300).decode("utf-8", "replace")
                handle.seek(max(0, size - 400))
                tail = handle.read()
        except OSError as exc:
            return [f"cannot read {path}: {exc.strerror}"]
        problems = []
        if not re.match(r"\s*(/\*[^\n]*\*/\s*)?-- (MariaDB|MySQL) dump", head):
            problems.append("it does not start as a mariadb-dump or mysqldump file")
        if TRAILER not in tail:
            problems.append("it has no '-- Dump completed' line at its end: the dump was "
                            "cut short")
        elif size <= VERIFY_SPLIT_LIMIT:
            problems.extend(_split_problems(path))
        return problems

    # -- restore ---------------------------------------------------------------------------
    def restore(self, path, release=None, before_swap=None):
        """Restore ``path`` over the live database (see the module's docstring).
        ``before_swap()`` runs just before the live database is touched: once the
        dump has loaded into the scratch database (first, where none may be made);
        raising there stops the restore with the live database untouched. ``release``
        is not called (see ``restores_in_place``)."""
        import pymysql

        self._require_programs()
        self._step = "preparing the restore; the live database was not touched"
        try:
            self._restore(path, before_swap)
        except pymysql.err.MySQLError as exc:
            raise RestoreError(f"the restore failed, {self._step}: {_message(exc)}") from exc

    def _restore(self, path, before_swap):
        target = self.url.database
        charset = self._query("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
                              "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                              (target,), in_database=False)
        if not charset:
            raise RestoreError(f"database {target} does not exist",
                               hint="create it (empty), then restore again")
        create = f"CHARACTER SET {charset[0][0]} COLLATE {charset[0][1]}"
        scratch = scratch_name("restore", target)
        if not self._create_database(scratch, create):
            self._restore_in_place(path, before_swap, "this account may not create a "
                                   "scratch database to load it into first")
            return
        try:
            self._step = (f"loading it into the scratch database {scratch}; the live "
                          "database was not touched")
            self._load(path, scratch)
            why_not = self._why_not_swap(scratch, target)
            if why_not is None:
                if before_swap is not None:
                    before_swap()
                self._swap(target, scratch, create)
                return
        finally:
            # Dropped before the safety backup (``before_swap``) of an in-place restore,
            # which may take a while: the backup's events are live in it.
            self._drop_database(scratch)
        self._restore_in_place(path, before_swap, f"{why_not}, which cannot move between "
                               "databases; the backup loaded into a scratch database first")

    def _create_database(self, name, create):
        """Create the database ``name``; False where this account may not."""
        import pymysql

        try:
            self._query(f"CREATE DATABASE {_quote(name)} {create}", in_database=False)
        except pymysql.err.MySQLError as exc:
            if _code(exc) in _NOT_ALLOWED:
                return False
            raise RestoreError(f"cannot create the scratch database {name} to restore "
                               f"into: {_message(exc)}; the live database was not "
                               "touched") from exc
        return True

    def _drop_database(self, name):
        """Drop a scratch database: at the end of a restore, or of one that failed
        (whose error is what the caller needs to see). Its name says whose it was."""
        import pymysql

        try:
            self._query(f"DROP DATABASE IF EXISTS {_quote(name)}", in_database=False)
        except (pymysql.err.MySQLError, BlockedError):
            pass

    def _load(self, path, database):
        """Run the dump in ``database`` with the client, the dump as its standard input:
        the client stops at the first error, with exit code 1. (A file run by SOURCE
        would go on past errors, and end with 0.)"""
        _dump, client = self._programs()
        try:
            dump = open(path, "rb")
        except OSError as exc:
            raise RestoreError(f"cannot read the backup {path}: {exc.strerror}") from exc
        try:
            with dump:
                self._run([client, "--batch", "--default-character-set=utf8mb4",
                           "--max-allowed-packet=1G", f"--database={database}"],
                          RestoreError, stdin=dump)
        except RestoreError as exc:
            definer = re.search(r"\b(SUPER|SET USER|SET_USER_ID)\b", exc.db_message or "")
            raise RestoreError(
                f"the restore failed, {self._step}: {exc.message}",
                db_message=exc.db_message,
                hint=("its views, routines, triggers or events name another account as "
                      "DEFINER: restore as that account, or as one with SUPER or SET USER "
                      "(MySQL: SET_USER_ID)") if definer else None) from exc

    def _why_not_swap(self, scratch, target):
        """None where RENAME TABLE can swap the restored tables in; else why not."""
        kinds = ("views", "routines", "triggers", "events")
        sql = ("SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s), "
               "(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s), "
               "(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s), "
               "(SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s)")
        for database, whose in ((scratch, "the backup"), (target, "the live database")):
            counts = self._query(sql, (database,) * 4, in_database=False)[0]
            found = [kind for kind, count in zip(kinds, counts) if count]
            if found:
                return f"{whose} holds {', '.join(found)}"
        foreign = self._query(
            "SELECT CONSTRAINT_SCHEMA, TABLE_NAME FROM information_schema."
            "REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA = %s AND "
            "CONSTRAINT_SCHEMA <> %s LIMIT 1", (target, target), in_database=False)
        if foreign:
            return (f"a foreign key of {foreign[0][0]}.{foreign[0][1]} (in another database) "
                    "refers to the live tables")
        return None

    def _tables(self, cursor, database, views=False):
        """The tables (sequences and system-versioned ones included), or the views."""
        cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA "
                       f"= %s AND TABLE_TYPE {'=' if views else '<>'} 'VIEW'", (database,))
        return [row[0] for row in cursor.fetchall()]

    def _swap(self, target, scratch, create):
        """One RENAME TABLE, atomic: the live tables to a retired database, the restored
        ones into the live one; then the retired database is dropped. Tables renamed
        together keep their foreign keys to one another."""
        retired = scratch_name("replaced", target)
        self._step = (f"swapping the restored tables in (RENAME TABLE through {retired}); "
                      "the live database was not touched")
        if not self._create_database(retired, create):
            raise RestoreError(f"the restore failed, {self._step}: this account may not "
                               f"create the database {retired}")
        try:
            conn = self._connect(in_database=False)
            try:
                with conn.cursor() as cursor:
                    moves = [f"{_quote(target)}.{_quote(t)} TO {_quote(retired)}.{_quote(t)}"
                             for t in self._tables(cursor, target)]
                    moves += [f"{_quote(scratch)}.{_quote(t)} TO {_quote(target)}.{_quote(t)}"
                              for t in self._tables(cursor, scratch)]
                    if moves:
                        self._waiting(cursor, "RENAME TABLE " + ", ".join(moves), target)
                    self._step = (f"dropping {retired}, which holds the replaced tables; "
                                  "the backup was restored")
            finally:
                conn.close()
        finally:
            self._drop_database(retired)

    def _restore_in_place(self, path, before_swap, why):
        """Empty the live database, then load the dump into it."""
        target = self.url.database
        if before_swap is not None:
            before_swap()
        self._empty(target, f"restoring in place ({why})")
        self._step = (f"restoring in place ({why}), loading it into {target}, which was "
                      "emptied first: it is incomplete now; restore the safety backup taken "
                      "just before (`ferryman backup list`)")
        self._load(path, target)

    def _empty(self, database, how):
        """Drop everything in ``database``: its views, then its tables in one statement
        (which takes every table's lock before dropping any), routines and events."""
        conn = self._connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET SESSION FOREIGN_KEY_CHECKS = 0")
                views = self._tables(cursor, database, views=True)
                tables = self._tables(cursor, database)
                self._step = f"{how}, dropping its views; the live database was not touched"
                if views:
                    self._waiting(cursor, "DROP VIEW IF EXISTS " + ", ".join(map(_quote, views)),
                                  database)
                self._step = (f"{how}, dropping its tables; "
                              + ("its views were dropped: restore the safety backup taken "
                                 "just before (`ferryman backup list`)" if views else
                                 "the live database was not touched"))
                if tables:
                    self._waiting(cursor, "DROP TABLE IF EXISTS "
                                  + ", ".join(map(_quote, tables)), database)
                self._step = (f"{how}, dropping its routines and events; its tables were "
                              "dropped: restore the safety backup taken just before "
                              "(`ferryman backup list`)")
                cursor.execute("SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema."
                               "ROUTINES WHERE ROUTINE_SCHEMA = %s UNION ALL SELECT 'EVENT', "
                               "EVENT_NAME FROM information_schema.EVENTS WHERE "
                               "EVENT_SCHEMA = %s", (database, database))
                for kind, name in cursor.fetchall():
                    self._waiting(cursor, f"DROP {kind} IF EXISTS {_quote(name)}", database)
        finally:
            conn.close()

    def _waiting(self, cursor, sql, database):
        """Run a RENAME or DROP that waits for other sessions' table locks at most
        LOCK_WAIT seconds at a time (while it waits, their new queries on the tables
        wait behind it), ATTEMPTS times."""
        import pymysql

        cursor.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT}")
        for _attempt in range(ATTEMPTS):
            try:
                cursor.execute(sql)
                return
            except pymysql.err.MySQLError as exc:
                if _code(exc) != _LOCK_WAIT_TIMEOUT:
                    raise
        raise RestoreError(
            f"the restore failed, {self._step}: other sessions kept tables of {database} "
            f"in use for {LOCK_WAIT * ATTEMPTS} s{_holders(cursor)}",
            hint="end the long transactions (or stop the application), then run "
                 "`ferryman backup restore` again")


def _holders(cursor):
    """The sessions in an open transaction (the likely holders), where this account
    may see them."""
    try:
        cursor.execute("SELECT p.ID, p.USER, p.HOST, p.TIME FROM information_schema."
                       "INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = "
                       "t.trx_mysql_thread_id WHERE p.ID <> CONNECTION_ID() LIMIT 5")
        rows = cursor.fetchall()
    except Exception:  # no PROCESS privilege: nothing to name
        return ""
    return ("; sessions in a transaction: " + ", ".join(
        f"{i} ({u} from {h}, {t} s)" for i, u, h, t in rows)) if rows else ""


def _split_problems(path):
    """Run ferryman's splitter over the dump, VERIFY_CHUNK at a time: a chunk ends
    after a line of data (mysqldump writes each INSERT on one line, newlines in its
    values escaped), outside DELIMITER blocks."""
    from ..core.splitter import SplitError, split

    chunk, size, plain = [], 0, True
    try:
        with open(path, "rb") as handle:
            for line in handle:
                chunk.append(line)
                size += len(line)
                if line.startswith(b"DELIMITER "):
                    plain = line.strip() == b"DELIMITER ;"
                if (size >= VERIFY_CHUNK and plain and line.startswith(b"INSERT INTO `")
                        and line.rstrip().endswith(b";")):
                    split(b"".join(chunk).decode("utf-8", "surrogateescape"), "mysql")
                    chunk, size = [], 0
            split(b"".join(chunk).decode("utf-8", "surrogateescape"), "mysql")
    except SplitError as exc:
        return [f"ferryman's splitter cannot read it: {exc}"]
    except OSError as exc:
        return [f"cannot read {path}: {exc.strerror}"]
    return []


def scratch_name(kind, target):
    """A unique database name standing in for ``target`` during a restore: 64
    characters at most, the target's name in it, so one left behind by a killed
    restore says whose it was."""
    return f"ferryman_{kind}_{secrets.token_hex(4)}_{target}"[:64]


def _option_value(text):
    """A value for an option file, double-quoted: the client reads \\\\, \\", \\n,
    \\r, \\t inside, and a # there is no comment."""
    escapes = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return '"' + "".join(escapes.get(c, c) for c in str(text)) + '"'


def _is_mariadb(version_text):
    return "mariadb" in (version_text or "").lower()


def _release(text):
    """(major, minor) of a tool's --version: "Ver 10.19 Distrib 10.11.19-MariaDB",
    "from 11.4.2-MariaDB, client 10.19" (MariaDB 11), "Ver 8.0.36 for Linux" (MySQL)."""
    match = (re.search(r"Distrib (\d+)\.(\d+)", text or "")
             or re.search(r"\bfrom (\d+)\.(\d+)", text or "")
             or re.search(r"\bVer (\d+)\.(\d+)", text or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _numbers(text):
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def _code(exc):
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _message(exc):
    args = getattr(exc, "args", ())
    return str(args[-1]) if args else str(exc)
