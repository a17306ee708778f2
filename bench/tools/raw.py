"""The limits: the same SQL with no migration tool at all."""

from harness import BENCH, PYTHON, Command

from .base import Tool

RAW_APPLY = BENCH / "scripts" / "raw_apply.py"


class _RawPython(Tool):
    mode = ""

    def apply(self, db):
        if db.dialect not in self.dialects:
            return None
        target = db.path if db.dialect == "sqlite" else db.pg_url("postgresql")
        return Command([PYTHON, RAW_APPLY, self.mode, db.dialect, target, self.ws.sql_dir],
                       cwd=self.ws.root)


class RawPythonStatements(_RawPython):
    key = "raw-python-statements"
    label = "raw Python, one execute per statement"
    mode = "statements"


class RawPythonFiles(_RawPython):
    key = "raw-python-files"
    label = "raw Python, one execute per file"
    mode = "files"
    dialects = ("postgresql",)


class RawCLI(Tool):
    key = "raw-cli"
    label = "psql -1 / sqlite3 CLI"

    def apply(self, db):
        if db.dialect == "sqlite":
            return Command(["sqlite3", db.path], cwd=self.ws.root, stdin=self.ws.all_sql_tx)
        argv = ["psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", self.ws.all_sql,
                "-h", db.host, "-p", db.port, "-U", db.user, "-d", db.name]
        env = {"PGPASSWORD": db.password} if db.password else {}
        return Command(argv, env, cwd=self.ws.root)
