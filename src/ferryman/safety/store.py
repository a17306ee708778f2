"""Where backups live on disk: one file per backup and a JSON manifest beside it.

    backups/
      app-20261121T101500Z-3fa9c2.sqlite        the backup (SQLite database file)
      app-20261121T101500Z-3fa9c2.json          its manifest
      shop-20261121T101502Z-77b0e1.dump         pg_dump --format=custom
      shop-20261121T101502Z-77b0e1.json

A backup is written under a temporary name (``.partial``), every exit code checked,
fsynced, hashed, and only then renamed to its final name; the manifest follows the
same way. So a file under a final name is always complete, and a failure leaves
none. File names carry the database's name, never a host, user or password.
"""

import hashlib
import json
import os
import re

from ..errors import InputError

MANIFEST_FIELDS = ("id", "path", "file", "created_at", "size", "sha256", "database",
                   "dialect", "server_version", "migration_version", "dirty", "reason",
                   "ferryman_version", "tool", "run_id", "host")


def new_backup_id():
    """A backup's id: its UTC time and 6 random hex digits, as a run's id."""
    from ..core.runner import new_run_id

    return new_run_id()


# ``{stem}-{id}.json``: the id's exact shape, so that the stem "shop" never claims the
# manifests of "shop-eu" (whose names also start with "shop-").
_MANIFEST_NAME = r"-\d{8}T\d{6}Z-[0-9a-f]{6}\.json"


def _hex(count):
    # os.urandom, not secrets: the same randomness, without importing random and base64
    return os.urandom(count).hex()


def safe_name(text):
    """A database name made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text or "db").strip("._") or "db"


class Store:
    """The backup folder of one database: identified by ``stem``, its safe name, and
    its ``dialect`` (a SQLite penpal.db and a PostgreSQL database penpal may share a
    folder; neither lists, restores or prunes the other's backups)."""

    def __init__(self, folder, stem, dialect):
        self.folder = folder
        self.stem = safe_name(stem)
        self.dialect = dialect
        self._name = re.compile(re.escape(self.stem) + _MANIFEST_NAME)

    def paths(self, backup_id, extension):
        base = os.path.join(self.folder, f"{self.stem}-{backup_id}")
        return base + extension, base + ".json"

    def temporary(self, final_path):
        return f"{final_path}.{_hex(4)}.partial"

    def ensure_folder(self):
        """Create the folder if its parent exists; prove it is writable."""
        os.makedirs(self.folder, exist_ok=True)
        probe = os.path.join(self.folder, f".ferryman-probe-{_hex(4)}")
        with open(probe, "wb") as handle:
            handle.write(b"ok")
        os.unlink(probe)

    def free_bytes(self):
        stats = os.statvfs(self.folder)
        return stats.f_bavail * stats.f_frsize

    # -- manifests --------------------------------------------------------------------
    def write_manifest(self, path, manifest):
        tmp = self.temporary(path)
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(manifest, handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            fsync_dir(self.folder)
        except BaseException:
            remove_quietly(tmp)
            raise

    def manifests(self):
        """Every manifest of this database in the folder, newest first."""
        if not os.path.isdir(self.folder):
            return []
        found = []
        for name in os.listdir(self.folder):
            if self._name.fullmatch(name):
                try:
                    with open(os.path.join(self.folder, name), encoding="utf-8") as handle:
                        manifest = json.load(handle)
                except (OSError, ValueError):
                    continue  # not ours, or unreadable: list only what can be trusted
                if isinstance(manifest, dict) and manifest.get("id") and \
                        manifest.get("dialect") == self.dialect:
                    manifest["path"] = os.path.join(self.folder, manifest.get("file", ""))
                    found.append(manifest)
        found.sort(key=lambda m: (m.get("created_at", ""), m["id"]), reverse=True)
        return found

    def find(self, backup_id):
        for manifest in self.manifests():
            if manifest["id"] == backup_id or manifest["id"].startswith(backup_id) and \
                    len(backup_id) >= 6:
                return manifest
        raise InputError(f"no backup {backup_id!r} in {self.folder}",
                         hint="`ferryman backup list` shows the backups")

    def delete(self, manifest):
        remove_quietly(manifest["path"])
        remove_quietly(self.paths(manifest["id"], "")[1])


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder):
    """Make a rename durable (POSIX: fsync the directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
