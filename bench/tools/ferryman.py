"""ferryman: the console script, configured through the environment."""

import hashlib
import json
import subprocess

from harness import REPO, VENV_BIN, Command

from .base import Tool, dist_version


class Ferryman(Tool):
    key = "ferryman"
    label = "ferryman"
    status_label = "`ferryman status`"

    dialects = ("postgresql", "sqlite", "mysql")

    def url(self, db):
        if db.dialect == "sqlite":
            return f"sqlite:///{db.path}"  # an absolute path: four slashes
        if db.dialect == "mysql":
            return db.mysql_url()  # PyMySQL, ferryman's MySQL driver
        return db.pg_url("postgresql")

    def migrations_dir(self, db):
        return self.ws.sql_dir_for(db.dialect)

    def _command(self, db, *args):
        # The migrations are the shared golang-migrate folder, ferryman's own format
        # (MySQL's spelling for MySQL). The working directory is the workspace: no
        # ferryman.toml or pyproject.toml there, and the backups (on by default) go to
        # its backups/ folder.
        env = {"FERRYMAN_DATABASE_URL": self.url(db),
               "FERRYMAN_MIGRATIONS": self.migrations_dir(db)}
        return Command([VENV_BIN / "ferryman", *args], env, cwd=self.ws.root)

    def apply(self, db):
        return self._command(db, "up", "--quiet")

    def status(self, db):
        return self._command(db, "status")

    def check_command(self, db):
        return self._command(db, "status", "--json")  # the stable contract, not the text

    def check_status(self, output):
        head = int(self.ws.migrations[-1].version)  # the same versions in every variant
        data = json.loads(output)
        if data["current_version"] != head or data["pending_count"] or data["dirty"]:
            return f"expected version {head}, nothing pending, not dirty: {output[:2000]}"

    def versions(self):
        return {"ferryman": dist_version("ferryman"), "ferryman source": source_digest(),
                "psycopg": dist_version("psycopg"), "PyMySQL": dist_version("PyMySQL")}


class FerrymanNoBackup(Ferryman):
    """The same run without the backup ferryman takes by default before `up`: the
    migration engine alone, as the peers (which take none) do it."""

    key = "ferryman-no-backup"
    label = "ferryman, `up --no-backup`"

    def prepare(self):
        help_text = subprocess.run([VENV_BIN / "ferryman", "up", "--help"],
                                   capture_output=True, text=True).stdout
        self.supported = "--no-backup" in help_text

    def apply(self, db):
        return self._command(db, "up", "--quiet", "--no-backup") if self.supported else None

    def status(self, db):
        return None

    def versions(self):
        return {}


def source_digest():
    """Which ferryman was measured: a digest of src/ferryman/**/*.py (the tree moves)."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "src" / "ferryman").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return "sha256:" + digest.hexdigest()[:12]
