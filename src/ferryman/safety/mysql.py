"""MySQL and MariaDB backups with the real ``mariadb-dump`` / ``mysqldump`` and the
``mariadb`` / ``mysql`` client.

- The dump is one consistent snapshot of InnoDB tables (``--single-transaction``), with
  routines, triggers and events, binary columns in hex, of the one database and
  without CREATE DATABASE or USE, so it can be loaded into any database.
- The password reaches the tools through an option file of mode 0600 in a private
  folder, named by ``--defaults-extra-file`` and deleted afterwards: never on a command
  line (``ps`` shows those to every user) nor in the environment.
- The tools end with ferryman, kill -9 included (safety/tools.run_tied).
- The dump tool of the server's own flavour is used (mariadb-dump for MariaDB, mysqldump
  for MySQL), the other when only it is installed; one older than the server is refused.
- Restore loads the dump into a scratch database first, the live one untouched. Where
  both hold only tables, one atomic ``RENAME TABLE`` moves the live tables out and the
  restored ones in; views, routines, triggers and events cannot move between databases,
  so where there are any the live database is emptied and the dump loaded into it,
  after the caller's safety backup (``before_swap``).
"""

import os
import re
import secrets
import shutil
import tempfile
from contextlib import contextmanager

from ..dialects.mysql import MySQLDialect, connect_arguments
from ..errors import BlockedError, RestoreError
from .tools import run_checked, tool_version

_quote = MySQLDialect.quote
TRAILER = "-- Dump completed"


class MySQLBackup:
    extension = ".sql"
    restores_in_place = True  # the database keeps its name: connections see the restore

    @classmethod
    def stem(cls, url):
        return url.database or "mysql"

    def __init__(self, url, password=None):
        self.url = url
        self.password = url.password or url.query.get("password") or password
        self._server = None

    # -- connections --------------------------------------------------------------------
    def _connect(self, database=None):
        import pymysql

        args = connect_arguments(self.url, self.password, 10)
        if database is not None:
            args["database"] = database or None
        try:
            return pymysql.connect(**args)
        except pymysql.err.MySQLError as exc:
            raise BlockedError(f"cannot connect to {self.url.redacted()} for the backup: "
                               f"{exc.args[-1] if exc.args else exc}") from exc

    def _query(self, sql, params=None, database=None):
        conn = self._connect(database)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            conn.close()

    @contextmanager
    def _options(self):
        """The [client] option file the tools read: made 0600 in a 0700 folder of its
        own, removed when the block ends."""
        args = connect_arguments(self.url, self.password, 10)
        lines = ["[client]", f"user={args['user']}", f"host={args['host']}",
                 f"port={args['port']}"]
        if args.get("unix_socket"):
            lines.append(f"socket={args['unix_socket']}")
        if args.get("password"):
            lines.append(f"password={_option_value(args['password'])}")
        for key, option in (("ssl_ca", "ssl-ca"), ("ssl_cert", "ssl-cert"),
                            ("ssl_key", "ssl-key")):
            if args.get(key):
                lines.append(f"{option}={args[key]}")
        if args.get("ssl_verify_cert") or args.get("ssl_verify_identity"):
            lines.append("ssl-verify-server-cert")
        folder = tempfile.mkdtemp(prefix="ferryman-")
        path = os.path.join(folder, "client.cnf")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # -- facts --------------------------------------------------------------------------
    def _version_text(self):
        if self._server is None:
            self._server = self._query("SELECT VERSION()")[0][0]
        return self._server

    def server_version(self):
        return ".".join(map(str, _numbers(self._version_text())))

    def _mariadb(self):
        return "mariadb" in self._version_text().lower()

    def estimate_size(self):
        rows = self._query("SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM "
                           "information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        return int(rows[0][0])

    def _programs(self):
        """(dump tool, client) for this server: its own flavour's, else the other's."""
        mine, other = (("mariadb-dump", "mariadb"), ("mysqldump", "mysql"))
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
        server (of the same flavour: mysqldump refuses newer servers' tables)."""
        dump, client = self._programs()
        for program, what in ((dump, "mariadb-dump or mysqldump"), (client, "mariadb or mysql")):
            if program is None:
                raise BlockedError(
                    f"{what} is not installed (not on PATH); ferryman needs it to back up "
                    "MySQL and MariaDB", hint="install the client tools (Debian: apt install "
                    "mariadb-client, or mysql-client for MySQL), or pass --no-backup")
        text = tool_version(dump) or ""
        tool_is_mariadb = "mariadb" in text.lower()
        distrib = re.search(r"Distrib (\d+)\.(\d+)", text) or re.search(
            r"Ver (\d+)\.(\d+)", text)
        server = _numbers(self._version_text())[:2]
        if distrib and tool_is_mariadb == self._mariadb():
            client = (int(distrib.group(1)), int(distrib.group(2)))
            if client < server:
                raise BlockedError(
                    f"{dump} {client[0]}.{client[1]} is older than the {self.product()} "
                    f"{server[0]}.{server[1]} server it would dump",
                    hint="install the client tools of the server's version or newer, or "
                         "pass --no-backup")

    def product(self):
        return "MariaDB" if self._mariadb() else "MySQL"

    # -- create, verify ------------------------------------------------------------------
    def create(self, destination):
        dump, _client = self._programs()
        extra = []
        if dump == "mysqldump" and self._mariadb():
            extra.append("--column-statistics=0")  # MySQL 8's tool asks tables MariaDB lacks
        with self._options() as options:
            self._run([dump, f"--defaults-extra-file={options}", "--single-transaction",
                       "--routines", "--triggers", "--events", "--hex-blob",
                       "--no-tablespaces", "--default-character-set=utf8mb4", *extra,
                       f"--result-file={destination}", "--", self.url.database], dump)

    def verify(self, path):
        """The dump is whole: the tool's header, and its trailer, which a dump cut
        short (killed, a full disk) lacks."""
        try:
            with open(path, "rb") as handle:
                head = handle.read(200).decode("utf-8", "replace")
                handle.seek(max(0, os.path.getsize(path) - 400))
                tail = handle.read().decode("utf-8", "replace")
        except OSError as exc:
            return [f"cannot read {path}: {exc.strerror}"]
        problems = []
        if not re.match(r"\s*(/\*[^\n]*\*/\s*)?-- (MariaDB|MySQL) dump", head):
            problems.append("it does not start as a mariadb-dump or mysqldump file")
        if TRAILER not in tail:
            problems.append("it has no '-- Dump completed' line at its end: the dump was "
                            "cut short")
        return problems

    # -- restore ---------------------------------------------------------------------------
    def restore(self, path, release=None, before_swap=None):
        """Restore ``path`` over the live database (see the module's docstring).
        ``before_swap()`` runs once the restored copy is complete, before the live
        database is touched. ``release`` is not called: the database keeps its name,
        so the caller's connections stay valid (``restores_in_place``), and the one
        holding the migration lock (GET_LOCK, the server's) keeps it throughout."""
        target = self.url.database
        scratch = scratch_name("restore", target)
        charset = self._query("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
                              "information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (target,),
                              database="")
        if not charset:
            raise RestoreError(f"database {target} does not exist")
        create = (f"CREATE DATABASE {_quote('{}')} CHARACTER SET {charset[0][0]} "
                  f"COLLATE {charset[0][1]}")
        self._query(create.replace("`{}`", _quote(scratch)), database="")
        try:
            self._load(path, scratch)
            tables_only = not self._others(scratch) and not self._others(target)
            if before_swap is not None:
                before_swap()
            if tables_only:
                self._swap(target, scratch, create)
                return
        finally:
            self._query(f"DROP DATABASE IF EXISTS {_quote(scratch)}", database="")
        self._empty(target)
        self._load(path, target)

    def _load(self, path, database):
        _dump, client = self._programs()
        with self._options() as options:
            self._run([client, f"--defaults-extra-file={options}", "--batch",
                       "--default-character-set=utf8mb4", f"--database={database}",
                       f"--execute=SOURCE {path}"], client, error=RestoreError)

    def _others(self, database):
        """Views, routines, triggers and events in ``database``: what RENAME TABLE
        cannot move."""
        rows = self._query(
            "SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s) "
            "+ (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s) "
            "+ (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s) "
            "+ (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s)",
            (database,) * 4, database="")
        return int(rows[0][0])

    def _tables(self, database):
        return [r[0] for r in self._query(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
            "AND TABLE_TYPE = 'BASE TABLE'", (database,), database="")]

    def _swap(self, target, scratch, create):
        """One RENAME TABLE, atomic: the live tables to a retired database, the restored
        ones into the live one; then the retired database is dropped."""
        retired = scratch_name("replaced", target)
        self._query(create.replace("`{}`", _quote(retired)), database="")
        moves = [f"{_quote(target)}.{_quote(t)} TO {_quote(retired)}.{_quote(t)}"
                 for t in self._tables(target)]
        moves += [f"{_quote(scratch)}.{_quote(t)} TO {_quote(target)}.{_quote(t)}"
                  for t in self._tables(scratch)]
        try:
            if moves:
                self._query("RENAME TABLE " + ", ".join(moves), database="")
        except Exception as exc:
            self._query(f"DROP DATABASE IF EXISTS {_quote(retired)}", database="")
            raise RestoreError(f"the restored tables could not be swapped in (the live "
                               f"database is as it was): {exc}") from exc
        self._query(f"DROP DATABASE IF EXISTS {_quote(retired)}", database="")

    def _empty(self, database):
        """Drop everything in ``database`` (for a dump that will be loaded into it)."""
        conn = self._connect(database)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
                cursor.execute("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                               "WHERE TABLE_SCHEMA = %s", (database,))
                for name, kind in cursor.fetchall():
                    what = "VIEW" if kind == "VIEW" else "TABLE"
                    cursor.execute(f"DROP {what} IF EXISTS {_quote(name)}")
                cursor.execute("SELECT ROUTINE_NAME, ROUTINE_TYPE FROM "
                               "information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s",
                               (database,))
                for name, kind in cursor.fetchall():
                    cursor.execute(f"DROP {kind} IF EXISTS {_quote(name)}")
                cursor.execute("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE "
                               "EVENT_SCHEMA = %s", (database,))
                for (name,) in cursor.fetchall():
                    cursor.execute(f"DROP EVENT IF EXISTS {_quote(name)}")
        finally:
            conn.close()

    def _run(self, argv, name, error=BlockedError):
        run_checked(argv, name, dict(os.environ), error)


def scratch_name(kind, target):
    """A unique database name standing in for ``target`` during a restore: 64
    characters at most, the target's name in it, so one left behind by a killed
    restore says whose it was."""
    return f"ferryman_{kind}_{secrets.token_hex(4)}_{target}"[:64]


def _option_value(text):
    """A value for an option file: quoted, with its quotes and backslashes escaped
    (the client reads \\\\ and \\" inside double quotes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _numbers(text):
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])
