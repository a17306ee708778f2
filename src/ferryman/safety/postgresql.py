"""PostgreSQL backups with the real ``pg_dump --format=custom`` and ``pg_restore``.

- pg_dump takes one consistent snapshot (a repeatable-read transaction). Its major
  version must be at least the server's, or it refuses; ferryman checks first and
  says which client to install.
- The password reaches pg_dump and pg_restore through the PGPASSWORD environment of
  the child process, never through its command line (which every user can read).
- pg_dump and pg_restore end with ferryman, kill -9 included (see _run_tied): an
  orphaned pg_dump would go on reading the whole database into a partial file.
- Restore is "restore into a fresh database, then swap names": the archive is
  restored into a new database while the live one is untouched; only when that has
  fully succeeded are other sessions ended and the two renamed. The result is the
  database exactly as it was, objects created after the backup included gone, and a
  runner that connects during the restore never sees a half-restored database. It
  needs a role that may create databases and end other sessions (the owner with
  CREATEDB, or a superuser).
"""

import os
import re
import secrets
import shutil

from ..dialects.postgresql import PostgreSQLDialect
from ..errors import BlockedError, RestoreError  # RestoreError: importable here too
from .tools import last_line as _last_line
from .tools import run_checked
from .tools import run_tied as _run_tied
from .tools import tool_version as _tool_version

MAINTENANCE_DB = "postgres"


class PostgreSQLBackup:
    extension = ".dump"
    restores_in_place = False  # the restored database is swapped in; sessions are ended

    @classmethod
    def stem(cls, url):
        """The database's name, in the backup files' names."""
        return url.database or "postgres"

    def __init__(self, url, password=None):
        self.url = url
        self.password = url.password or password
        self._server = None

    # -- connection details for the tools and the admin connection ---------------------
    def _conninfo(self, database=None):
        parts = {"host": self.url.host, "port": self.url.port, "user": self.url.user,
                 "dbname": database or self.url.database}
        parts.update({k: v for k, v in self.url.query.items() if k != "password"})
        return " ".join(f"{k}={_quote(str(v))}" for k, v in parts.items() if v is not None)

    def _env(self):
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def _connect(self, database=None):
        import psycopg

        try:
            return psycopg.connect(self._conninfo(database), password=self.password,
                                   autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise BlockedError(f"cannot connect to {self.url.redacted()} for the backup: "
                               f"{str(exc).strip().splitlines()[-1]}") from exc

    # -- facts --------------------------------------------------------------------------
    def server_version_num(self):
        if self._server is None:
            with self._connect() as conn:
                self._server = conn.info.server_version
        return self._server

    def server_version(self):
        number = self.server_version_num()
        return f"{number // 10000}.{number % 10000}"

    def estimate_size(self):
        with self._connect() as conn:
            return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    def tool(self):
        return _tool_version("pg_dump")

    def check(self):
        """pg_dump and pg_restore exist and are new enough for the server."""
        for program in ("pg_dump", "pg_restore"):
            if shutil.which(program) is None:
                raise BlockedError(
                    f"{program} is not installed (not on PATH); ferryman needs it to back up "
                    "PostgreSQL", hint="install the PostgreSQL client tools "
                    "(Debian: apt install postgresql-client), or pass --no-backup")
        client = _major(_tool_version("pg_dump"))
        server = self.server_version_num() // 10000
        if client is None or client < server:
            raise BlockedError(
                f"pg_dump {client} cannot dump a PostgreSQL {server} server (pg_dump refuses "
                "servers newer than itself)",
                hint=f"install postgresql-client-{server} or newer, or pass --no-backup")

    # -- create, verify, restore --------------------------------------------------------
    def create(self, destination):
        self._run(["pg_dump", "--format=custom", "--no-password", "--file", destination,
                   "--dbname", self._conninfo()], "pg_dump")

    def verify(self, path):
        result = _run_tied(["pg_restore", "--list", path], self._env())
        if result.returncode != 0:
            return [f"pg_restore --list: {_last_line(result.stderr) or 'failed'}"]
        return []

    def restore(self, path, release=None, before_swap=None):
        """Restore ``path`` into a fresh database, then swap it in for the live one.

        ``before_swap()`` runs once the fresh database is complete and before the live
        one is touched (a safety backup taken meanwhile finishes there; raising stops
        the restore with the live database untouched). ``release()`` is called just
        before the swap, to close connections the caller holds on the live database
        (the migration lock among them).
        """
        target = self.url.database
        temporary = scratch_name("restore", target)
        retired = scratch_name("replaced", target)
        with self._connect(MAINTENANCE_DB) as admin:
            props = _database_properties(admin, target)
            _create_like(admin, temporary, props)
            try:
                self._run(["pg_restore", "--exit-on-error", "--no-password", "--dbname",
                           self._conninfo(temporary), path], "pg_restore",
                          error=RestoreError)
                _copy_settings(admin, temporary, props)
                if before_swap is not None:
                    before_swap()
            except BaseException:
                _drop(admin, temporary)
                raise
            if release is not None:
                release()
            try:
                _rename_when_free(admin, target, retired)
            except BaseException:
                _drop(admin, temporary)
                raise
            try:
                admin.execute(f'ALTER DATABASE {_ident(temporary)} RENAME TO {_ident(target)}')
            except Exception:
                admin.execute(f'ALTER DATABASE {_ident(retired)} RENAME TO {_ident(target)}')
                _drop(admin, temporary)
                raise
            _drop(admin, retired)

    def _run(self, argv, name, error=BlockedError):
        run_checked(argv, name, self._env(), error)


def scratch_name(kind, target):
    """A unique name for a database that stands in for ``target`` during a restore.

    The target's name is part of it, so a database left behind by a killed restore
    says whose it was; PostgreSQL identifiers hold 63 bytes, so a long target is cut
    (on a character boundary) after the unique part.
    """
    name = f"ferryman_{kind}_{secrets.token_hex(4)}_{target}"
    encoded = name.encode()[:63]
    return encoded.decode("utf-8", errors="ignore")


def _database_properties(admin, name):
    row = admin.execute(
        "SELECT d.oid, pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
        "pg_get_userbyid(d.datdba), d.datacl::text[], "
        "shobj_description(d.oid, 'pg_database') "
        "FROM pg_database d WHERE d.datname = %s", (name,)).fetchone()
    if row is None:
        raise RestoreError(f"database {name} does not exist")
    oid, encoding, collate, ctype, owner, acl, comment = row
    settings = admin.execute(
        "SELECT unnest(setconfig) FROM pg_db_role_setting WHERE setdatabase = %s "
        "AND setrole = 0", (oid,)).fetchall()
    return {"encoding": encoding, "collate": collate, "ctype": ctype, "owner": owner,
            "acl": acl, "comment": comment, "settings": [s[0] for s in settings]}


def _create_like(admin, name, props):
    import psycopg

    base = (f"CREATE DATABASE {_ident(name)} TEMPLATE template0 ENCODING "
            f"{_literal(props['encoding'])} LC_COLLATE {_literal(props['collate'])} "
            f"LC_CTYPE {_literal(props['ctype'])}")
    try:
        admin.execute(base + f" OWNER {_ident(props['owner'])}")
    except psycopg.errors.InsufficientPrivilege:
        admin.execute(base)  # not allowed to give it away: we own it, as we owned the old
    except psycopg.Error as exc:
        raise RestoreError(f"cannot create a database to restore into: "
                           f"{str(exc).strip()}",
                           hint="restore needs a role with CREATEDB (or a superuser)") from exc


def _copy_settings(admin, name, props):
    for setting in props["settings"]:
        key, _, value = setting.partition("=")
        admin.execute(f"ALTER DATABASE {_ident(name)} SET {_ident(key)} = {_literal(value)}")
    if props["comment"]:
        admin.execute(f"COMMENT ON DATABASE {_ident(name)} IS {_literal(props['comment'])}")
    if props["acl"] is not None:
        admin.execute(f"REVOKE ALL ON DATABASE {_ident(name)} FROM PUBLIC")
        for item in props["acl"]:
            grantee, _, rest = item.partition("=")
            privileges = rest.split("/", 1)[0]
            words = [_PRIVILEGES[c] for c in privileges if c in _PRIVILEGES]
            if words:
                admin.execute(f"GRANT {', '.join(words)} ON DATABASE {_ident(name)} TO "
                              f"{_ident(grantee) if grantee else 'PUBLIC'}")


_PRIVILEGES = {"C": "CREATE", "T": "TEMPORARY", "c": "CONNECT"}


def _rename_when_free(admin, name, new_name, attempts=20):
    """Rename ``name``; end the other sessions on it first (renaming needs none)."""
    import time

    import psycopg

    for attempt in range(attempts):
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        try:
            admin.execute(f"ALTER DATABASE {_ident(name)} RENAME TO {_ident(new_name)}")
            return
        except psycopg.errors.ObjectInUse:
            time.sleep(0.05 * (attempt + 1))
    raise RestoreError(f"database {name} kept getting new sessions; could not swap it",
                       hint="stop the application, then run `ferryman backup restore` again")


def _drop(admin, name):
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    admin.execute(f"DROP DATABASE IF EXISTS {_ident(name)}")


_ident = PostgreSQLDialect.quote  # the dialect's identifier quoting


def _literal(value):
    return "'" + str(value).replace("'", "''") + "'"


def _quote(value):
    """A libpq conninfo value: quoted, with quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _major(version_text):
    match = re.search(r"(\d+)(?:\.\d+)?", version_text or "")
    return int(match.group(1)) if match else None
