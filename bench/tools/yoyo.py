"""yoyo-migrations: one SQL file per migration (and its .rollback.sql).

PostgreSQL goes through yoyo's psycopg 3 backend (``postgresql+psycopg://``), the
driver ferryman uses too. ``--no-config-file`` keeps a stray yoyo.ini out of it.
"""

from harness import VENV_BIN, Command

from .base import Tool, dist_version


class Yoyo(Tool):
    key = "yoyo"
    label = "yoyo"
    status_label = "`yoyo list`"

    def prepare(self):
        self.folder = self.ws.dir("yoyo")
        for m in self.ws.migrations:
            (self.folder / f"{m.version}_{m.name}.sql").write_text(m.up_sql)
            (self.folder / f"{m.version}_{m.name}.rollback.sql").write_text(m.down_sql)

    def _command(self, db, verb):
        return Command([VENV_BIN / "yoyo", verb, "--batch", "--no-config-file",
                        "--database", db.sqlalchemy_url("psycopg"), self.folder],
                       cwd=self.ws.root)

    # Not on MySQL: its files are written in the standard spelling only.
    def apply(self, db):
        return self._command(db, "apply") if db.dialect in self.dialects else None

    def status(self, db):
        return self._command(db, "list") if db.dialect in self.dialects else None

    def check_status(self, output):
        applied = sum(1 for line in output.splitlines() if line.startswith("A "))
        if applied != self.ws.count or "\nU " in output:
            return f"{applied} of {self.ws.count} listed as applied:\n{output[-2000:]}"

    def versions(self):
        return {"yoyo-migrations": dist_version("yoyo-migrations")}
