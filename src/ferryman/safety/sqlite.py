"""SQLite backups through the online backup API (https://sqlite.org/backup.html).

The API copies a consistent snapshot even while other connections write, WAL mode
included; copying the file would not (a WAL database is two or three files, and a
copy taken mid-write is torn). Restore runs the same API the other way, into the
live database, which readers see change in one step.
"""

import os
import sqlite3

from ..errors import BlockedError


class SQLiteBackup:
    extension = ".sqlite"
    restores_in_place = True  # the live file is rewritten; its connections stay valid

    @classmethod
    def stem(cls, url):
        """The file's name without its extension, in the backup files' names."""
        return os.path.splitext(os.path.basename(url.path))[0]

    def __init__(self, url, password=None):
        self.url = url

    def tool(self):
        return f"sqlite3 online backup API (SQLite {sqlite3.sqlite_version})"

    def check(self):
        """Nothing to install; the database file must exist to be backed up."""
        if self.url.is_memory:
            raise BlockedError("an in-memory SQLite database cannot be backed up",
                               hint="use a file, or pass --no-backup")

    def estimate_size(self):
        path = self.url.path
        size = 0
        for suffix in ("", "-wal"):
            try:
                size += os.path.getsize(path + suffix)
            except OSError:
                pass
        return size

    def server_version(self):
        return sqlite3.sqlite_version

    def create(self, destination):
        """Write a consistent copy of the database to ``destination`` (a new file)."""
        if not os.path.exists(self.url.path):
            # Nothing to back up yet: an empty database is the faithful copy.
            sqlite3.connect(destination).close()
            return
        source = sqlite3.connect(f"file:{_uri(self.url.path)}?mode=ro", uri=True)
        target = sqlite3.connect(destination)
        try:
            source.backup(target)  # all pages in one step: one consistent snapshot
        finally:
            target.close()
            source.close()

    def verify(self, path):
        """Problems found by SQLite's own integrity check, run on a copy."""
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory(prefix="ferryman-verify-") as scratch:
            copy = os.path.join(scratch, "copy.sqlite")
            shutil.copyfile(path, copy)
            try:
                conn = sqlite3.connect(f"file:{_uri(copy)}?mode=ro", uri=True)
                try:
                    rows = conn.execute("PRAGMA integrity_check").fetchall()
                finally:
                    conn.close()
            except sqlite3.DatabaseError as exc:
                return [f"SQLite cannot read it: {exc}"]
        result = [r[0] for r in rows]
        return [] if result == ["ok"] else [f"PRAGMA integrity_check: {line}"
                                            for line in result[:10]]

    def restore(self, path, release=None, before_swap=None):
        """Replace the live database's content with the backup's. ``before_swap()`` runs
        first: the live file is what the restore rewrites."""
        if before_swap is not None:
            before_swap()
        source = sqlite3.connect(f"file:{_uri(path)}?mode=ro", uri=True)
        target = sqlite3.connect(self.url.path, timeout=30)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()


def _uri(path):
    return os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
