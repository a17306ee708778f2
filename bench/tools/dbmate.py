"""dbmate: the Go binary from npm's @dbmate/<platform> package, run directly (the
npm package's node wrapper would add node's start-up to every run)."""

import subprocess

from harness import Command
from peers import dbmate_binary

from .base import Tool

TEMPLATE = "-- migrate:up\n{up}\n-- migrate:down\n{down}"


class Dbmate(Tool):
    key = "dbmate"
    label = "dbmate"
    status_label = "`dbmate status`"

    dialects = ("postgresql", "sqlite", "mysql")

    def prepare(self):
        self.binary = dbmate_binary()
        self.folders = {}
        for dialect in ("postgresql", *self.ws.variants):
            folder = self.folders[dialect] = self.ws.dir_for("dbmate", dialect)
            for m in self.ws.migrations_for(dialect):
                (folder / f"{m.version}_{m.name}.sql").write_text(
                    TEMPLATE.format(up=m.up_sql, down=m.down_sql))

    def folder(self, db):
        return self.folders.get(db.dialect, self.folders["postgresql"])

    def url(self, db):
        if db.dialect == "sqlite":
            return f"sqlite:{db.path}"
        if db.dialect == "mysql":
            # dbmate's MySQL driver (go-sql-driver/mysql) turns on multiStatements
            # itself: a file's two statements go in one call, as on PostgreSQL.
            return db.mysql_url()
        return db.pg_url("postgres", "sslmode=disable")

    def _command(self, db, *args):
        return Command([self.binary, "--migrations-dir", self.folder(db), *args],
                       {"DATABASE_URL": self.url(db)}, cwd=self.ws.root)

    def apply(self, db):
        return self._command(db, "--no-dump-schema", "up")

    def status(self, db):
        return self._command(db, "status")

    def check_status(self, output):
        if f"Applied: {self.ws.count}\nPending: 0" not in output:
            return f"expected {self.ws.count} applied, 0 pending:\n{output[-2000:]}"

    def versions(self):
        out = subprocess.run([dbmate_binary(), "--version"], capture_output=True, text=True)
        return {"dbmate": out.stdout.strip().rsplit(" ", 1)[-1]}
