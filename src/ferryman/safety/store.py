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

A backup is a full copy of the database: the folder is created 0700 and every file
in it 0600, whatever the umask. A partial file's name says who
writes it (a tag of this machine and pid namespace, and the pid), so that a later
backup of the same database removes the partial files of writers that died
(kill -9, a power cut) and never those of a writer still at work:

      app-20261121T101500Z-3fa9c2.sqlite.5d41402a-4242-9e107d.partial
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
_BACKUP_ID = r"-\d{8}T\d{6}Z-[0-9a-f]{6}"
_MANIFEST_NAME = _BACKUP_ID + r"\.json"
# ``{final name}.{machine}-{pid}-{random}.partial``, and SQLite's files beside one
_PARTIAL_TAIL = r"\.([0-9a-f]{8})-(\d+)-[0-9a-f]{6}\.partial(?:-journal|-wal|-shm)?"

PRIVATE_FILE = 0o600    # a backup holds every row of the database
PRIVATE_FOLDER = 0o700


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
        """Create the (empty, 0600) partial file a backup or manifest is written to;
        return its path. Its name says which process writes it (see sweep_partials)."""
        path = f"{final_path}.{machine_tag()}-{os.getpid()}-{_hex(3)}.partial"
        create_private(path)
        return path

    def ensure_folder(self):
        """Create the folder (0700) if it is missing; prove it is writable. A folder
        that exists keeps its mode: a person may have shared it on purpose."""
        if not os.path.isdir(self.folder):
            parent = os.path.dirname(os.path.abspath(self.folder))
            os.makedirs(parent, exist_ok=True)
            try:
                os.mkdir(self.folder, PRIVATE_FOLDER)
            except FileExistsError:
                pass  # another process made it meanwhile
            else:
                os.chmod(self.folder, PRIVATE_FOLDER)  # mkdir's mode is masked by the umask
        probe = os.path.join(self.folder, f".ferryman-probe-{_hex(4)}")
        create_private(probe)
        os.unlink(probe)

    def sweep_partials(self, extension):
        """Remove the partial files of this database's backups (``extension``) and
        manifests whose writer is dead: it ran on this machine, in this pid namespace,
        and its pid is gone. Runs under the migration lock, which every writer of this
        database's backups holds. A partial of another database (another stem), of
        another machine, or of a process still alive is left alone. Returns the names
        removed."""
        pattern = re.compile(re.escape(self.stem) + _BACKUP_ID + "(?:" + re.escape(extension)
                             + r"|\.json)" + _PARTIAL_TAIL)
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        removed = []
        for name in names:
            match = pattern.fullmatch(name)
            if match and match.group(1) == machine_tag() and not _alive(int(match.group(2))):
                remove_quietly(os.path.join(self.folder, name))
                removed.append(name)
        return removed

    def free_bytes(self):
        stats = os.statvfs(self.folder)
        return stats.f_bavail * stats.f_frsize

    # -- manifests --------------------------------------------------------------------
    def write_manifest(self, path, manifest):
        tmp = None
        try:
            tmp = self.temporary(path)
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(manifest, handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            fsync_dir(self.folder)
        except BaseException:
            if tmp is not None:
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


def create_private(path):
    """Create the file ``path`` (it must not exist), readable and writable by its
    owner only, whatever the umask (which can only take bits away from os.open's
    mode; fchmod sets them exactly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                 PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


_machine = None


def machine_tag():
    """8 hex digits naming this boot of this machine and this pid namespace: where a
    pid in a partial file's name means a process. A folder shared between hosts or
    containers holds names whose pids mean nothing here, and they are left alone."""
    global _machine
    if _machine is None:
        import socket

        parts = [socket.gethostname()]
        for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
            try:
                if path.endswith("boot_id"):
                    with open(path, encoding="ascii") as handle:
                        parts.append(handle.read().strip())
                else:
                    parts.append(os.readlink(path))  # "pid:[4026531836]"
            except OSError:
                pass
        _machine = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]
    return _machine


def _alive(pid):
    """Whether the process ``pid`` of this machine may still write: it exists and is
    not a zombie (killed, not yet reaped by its parent)."""
    if pid <= 1 or pid == os.getpid():
        return True  # this process; or no pid a writer could have: leave the file alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's process, alive
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


def remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
