"""The limits: the same SQL with no migration tool at all."""

import shutil

from harness import BENCH, PYTHON, Command

from .base import Tool

RAW_APPLY = BENCH / "scripts" / "raw_apply.py"


def password_env(db):
    """A MySQL password goes to the child in the environment, never on its command line."""
    return {"BENCH_MYSQL_PASSWORD": db.password} if db.password else {}


class _RawPython(Tool):
    mode = ""
    dialects = ("postgresql", "sqlite", "mysql")

    def apply(self, db):
        if db.dialect not in self.dialects:
            return None
        env = {}
        if db.dialect == "sqlite":
            target = db.path
        elif db.dialect == "mysql":
            target, env = db.mysql_url(password=False), password_env(db)
        else:
            target = db.pg_url("postgresql")
        return Command([PYTHON, RAW_APPLY, self.mode, db.dialect, target,
                        self.ws.sql_dir_for(db.dialect)], env, cwd=self.ws.root)


class RawPythonStatements(_RawPython):
    key = "raw-python-statements"
    label = "raw Python, one execute per statement"
    mode = "statements"


class RawPythonFiles(_RawPython):
    key = "raw-python-files"
    label = "raw Python, one execute per file"
    mode = "files"
    dialects = ("postgresql",)


class RawPythonHistory(_RawPython):
    """The limit plus the least bookkeeping a tool needs (a history table, a row per
    migration). Not a candidate for the limit: a reference for the price of recording.
    MySQL only: there each row is a commit (and an fsync) of its own, a real share of the
    run; on PostgreSQL and SQLite the raw run is one transaction and the rows cost next
    to nothing."""

    key = "raw-python-history"
    label = "raw Python, per statement + a history row per migration"
    mode = "history"
    dialects = ("mysql",)


class RawCLI(Tool):
    key = "raw-cli"
    label = "psql -1 / sqlite3 / mariadb CLI"

    def apply(self, db):
        if db.dialect == "sqlite":
            return Command(["sqlite3", db.path], cwd=self.ws.root, stdin=self.ws.all_sql_tx)
        if db.dialect == "mysql":
            client = shutil.which("mariadb") or shutil.which("mysql")
            if client is None:
                return None
            # --no-defaults: no ~/.my.cnf; the password (if any) in MYSQL_PWD
            argv = [client, "--no-defaults", "--protocol=TCP", "--batch", "-h", db.host,
                    "-P", db.port, "-u", db.user, db.name]
            env = {"MYSQL_PWD": db.password} if db.password else {}
            return Command(argv, env, cwd=self.ws.root, stdin=self.ws.all_sql_for("mysql"))
        argv = ["psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", self.ws.all_sql,
                "-h", db.host, "-p", db.port, "-U", db.user, "-d", db.name]
        env = {"PGPASSWORD": db.password} if db.password else {}
        return Command(argv, env, cwd=self.ws.root)
