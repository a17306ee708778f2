"""Backups of one database: create, list, verify, restore, retention, and the hooks the
runner calls (a backup before every run; a restore when nothing else brings a failed
run back).

A backup that cannot be made stops the run before anything changes (exit code 4):
a missing or read-only folder, not enough free disk, a file-size limit, a missing or
too old pg_dump, an unreachable database. No file is ever left under a final name.
"""

import os
import socket
import time

from .._version import __version__
from ..errors import BackupError, FerrymanError, VerifyError
from ..text import ms_since, now_iso
from ..text import size as byte_size
from .store import (Store, fsync_dir, fsync_file, new_backup_id, remove_quietly,
                    sha256_file)

FREE_SPACE_MARGIN = 1.1  # want 10% more free space than the database's size


# The backup provider of each dialect (the name in ferryman.dialects.DIALECTS): its
# module and class, imported on first use. An engine's backups are one line here.
# A provider is made with (url, password) and has: extension, tool(), check(),
# estimate_size(), server_version(), create(path), verify(path) -> problems,
# restore(path, release, before_swap); stem(url), a classmethod naming the backup
# files; restores_in_place, whether connections opened before a restore see the
# restored database (else they are closed, and the caller opens a new one).
PROVIDERS = {
    "sqlite": ("ferryman.safety.sqlite", "SQLiteBackup"),
    "postgresql": ("ferryman.safety.postgresql", "PostgreSQLBackup"),
    "mysql": ("ferryman.safety.mysql", "MySQLBackup"),
}


def provider_class(dialect):
    """The backup provider class registered for ``dialect``; BackupError if none is."""
    from ..dialects import registered

    return registered(PROVIDERS, dialect, lambda: BackupError(
        f"ferryman cannot back up {dialect} databases yet"))


def provider_for(url, password=None):
    return provider_class(url.dialect)(url, password)


def database_stem(url):
    """The database's name in its backups' file names (and a service's default name)."""
    if url.dialect not in PROVIDERS:
        return url.database or url.dialect
    return provider_class(url.dialect).stem(url)


class Backups:
    """The backups of the database at ``url``, kept in ``folder``."""

    @classmethod
    def for_settings(cls, settings):
        """The backups of the configured database, in the configured folder."""
        s = settings
        return cls(s.url, s.backup_dir, password=s.password, keep=s.backup_keep,
                   stem=s.service)

    def __init__(self, url, folder, *, password=None, keep=10, stem=None):
        self.url = url
        self.folder = folder
        self.keep = keep
        self.provider = provider_for(url, password)
        # a service's name, when it has one: two services may share a database name
        self.store = Store(folder, stem or database_stem(url), url.dialect)

    # -- create -----------------------------------------------------------------------
    def create(self, reason, *, migration_version=None, dirty=False, run_id=None,
               protect=()):
        """Take a backup and write its manifest; return the manifest (a dict)."""
        self._prepare()
        # Partial files of this database whose writer died (kill -9 mid-backup); the
        # caller holds the migration lock, as every writer of its backups does.
        self.store.sweep_partials(self.provider.extension)
        backup_id = new_backup_id()
        final, manifest_path = self.store.paths(backup_id, self.provider.extension)
        size, digest = self._write_backup(final)
        manifest = {
            "id": backup_id, "file": os.path.basename(final), "path": final,
            "created_at": now_iso(),
            "size": size, "sha256": digest, "database": self.url.redacted(),
            "dialect": self.url.dialect, "server_version": self.provider.server_version(),
            "migration_version": migration_version, "dirty": bool(dirty), "reason": reason,
            "ferryman_version": __version__, "tool": self.provider.tool(), "run_id": run_id,
            "host": socket.gethostname(),
        }
        self._write_manifest(manifest_path, manifest, final)
        self.prune(protect=set(protect) | {backup_id})
        return manifest

    def _write_backup(self, final):
        """Dump the database into a temporary file, flush it to disk and move it to
        ``final``; return (size, sha256). A BackupError (exit 4) when that fails, with
        no partial file left behind."""
        try:
            temporary = self.store.temporary(final)
        except OSError as exc:
            raise BackupError(f"the backup file cannot be created: {_describe(exc)}",
                              hint=_BACKUP_HINT) from exc
        try:
            self.provider.create(temporary)
            fsync_file(temporary)
            digest = sha256_file(temporary)
            size = os.path.getsize(temporary)
            os.replace(temporary, final)
            fsync_dir(self.folder)
        except FerrymanError as exc:
            _remove_partial(temporary)
            raise BackupError(f"the backup failed: {exc.message}", db_message=exc.db_message,
                              hint=_BACKUP_HINT) from exc
        except Exception as exc:  # OSError (EFBIG, ENOSPC), sqlite3.Error, ...
            cause = self._diagnose(temporary)
            _remove_partial(temporary)
            raise BackupError(f"the backup failed: {_describe(exc)}"
                              + (f" ({cause})" if cause else ""), hint=_BACKUP_HINT) from exc
        return size, digest

    def _write_manifest(self, manifest_path, manifest, final):
        """Write the backup's manifest; without it the backup file is removed."""
        try:
            self.store.write_manifest(manifest_path, manifest)
        except OSError as exc:
            remove_quietly(final)
            raise BackupError(f"the backup's manifest could not be written: {_describe(exc)}",
                              hint=_BACKUP_HINT) from exc

    def _diagnose(self, partial):
        """Why a write failed, when the driver only says "disk I/O error"."""
        import resource

        try:
            written = os.path.getsize(partial)
        except OSError:
            written = 0
        soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY and written >= soft - 65536:
            return f"the file size limit of this process (ulimit -f) of {byte_size(soft)} was reached"
        if self.store.free_bytes() < 1 << 20:
            return f"no space left on the disk of {self.folder}"
        return None

    def _prepare(self):
        """Everything that can be checked before writing a byte."""
        self.provider.check()
        try:
            self.store.ensure_folder()
        except OSError as exc:
            raise BackupError(f"the backup folder {self.folder} is not usable: "
                              f"{_describe(exc)}", hint=_BACKUP_HINT) from exc
        try:
            needed = int(self.provider.estimate_size() * FREE_SPACE_MARGIN)
        except FerrymanError as exc:
            raise BackupError(f"the backup cannot start: {exc.message}",
                              hint=_BACKUP_HINT) from exc
        free = self.store.free_bytes()
        if free < needed:
            raise BackupError(
                f"not enough free disk for the backup in {self.folder}: {byte_size(free)} free, "
                f"about {byte_size(needed)} needed", hint="free some space, point backup_dir "
                "elsewhere, or pass --no-backup")

    # -- list, verify -------------------------------------------------------------------
    def list(self):
        return self.store.manifests()

    def find(self, backup_id):
        return self.store.find(backup_id)

    def verify(self, backup_id):
        """Check the hash, then that the database's own tool reads the file.
        Returns (manifest, problems)."""
        manifest = self.find(backup_id)
        path = manifest["path"]
        if not os.path.exists(path):
            return manifest, [f"the file {path} is missing"]
        size = os.path.getsize(path)
        if size != manifest.get("size"):
            return manifest, [f"size {size} differs from the manifest's {manifest.get('size')}"]
        digest = sha256_file(path)
        if digest != manifest.get("sha256"):
            return manifest, [f"sha256 {digest} differs from the manifest's "
                              f"{manifest.get('sha256')}"]
        return manifest, self.provider.verify(path)

    def require_verified(self, backup_id):
        manifest, problems = self.verify(backup_id)
        if problems:
            raise VerifyError(
                f"backup {manifest['id']} failed verification; the database was not touched:\n  "
                + "\n  ".join(problems), file=manifest["path"],
                hint="pick another backup: `ferryman backup list`")
        return manifest

    # -- restore --------------------------------------------------------------------------
    def restore(self, backup_id, *, release=None, before_swap=None, verified=None):
        """Restore a backup over the live database. ``verified``: its manifest, when the
        caller has just verified it (verifying a large SQLite backup copies it whole)."""
        manifest = verified or self.require_verified(backup_id)
        self.provider.restore(manifest["path"], release=release, before_swap=before_swap)
        return manifest

    # -- retention ------------------------------------------------------------------------
    def prune(self, protect=()):
        """Keep the newest ``keep`` backups, and every one in ``protect``."""
        if not self.keep or self.keep < 1:
            return []
        removed = []
        for manifest in self.list()[self.keep:]:
            if manifest["id"] not in protect:
                self.store.delete(manifest)
                removed.append(manifest["id"])
        return removed


_BACKUP_HINT = "nothing was changed; fix the cause, or pass --no-backup to run without one"


def _remove_partial(path):
    # SQLite may leave its rollback journal or WAL beside a failed partial file.
    for suffix in ("", "-journal", "-wal", "-shm"):
        remove_quietly(path + suffix)


def _describe(exc):
    if isinstance(exc, OSError) and exc.strerror:
        name = {27: "file too large (a file size limit?)", 28: "no space left on device"}.get(
            exc.errno)
        return f"{name or exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return str(exc) or type(exc).__name__


class RunSafety:
    """The runner's safety hooks (core/runner.py calls them under the lock).

    ``before_run`` takes the backup a run depends on and records it in the database;
    ``restore`` brings back that backup when a failed run cannot be rolled back any
    other way, where that loses nothing: by default where the dialect can tell that no
    other connection wrote since the backup (``Dialect.data_version``: SQLite), and
    only if none did; elsewhere (PostgreSQL) only when ``restore_on_failure`` is set,
    because ferryman cannot tell there whether the application wrote meanwhile.
    """

    @classmethod
    def for_engine(cls, engine, backup=None):
        """The hooks of ``engine``'s configuration; ``backup`` overrides whether a
        backup is taken (ferryman.engine registers this as its safety factory)."""
        s = engine.settings
        enabled = s.backup if backup is None else backup
        return cls(engine, Backups.for_settings(s) if enabled else None,
                   restore_on_failure=s.restore_on_failure)

    def __init__(self, engine, backups, *, restore_on_failure=None):
        self.engine = engine
        self.backups = backups
        self.restore_on_failure = restore_on_failure
        self.consumers = engine.consumers
        self.manifest = None
        self.data_version = None

    def before_run(self, db, state, steps, run):
        from ..events import BackupCreated, emit

        if self.backups is None:
            return "disabled"
        history = self.engine.history(db)
        protect = history.last_run_backups(state)
        started = time.monotonic()
        self.manifest = self.backups.create(
            f"before {run.command} (run {run.id})", migration_version=state.current_version,
            dirty=bool(state.dirty), run_id=run.id, protect=protect)
        try:
            history.write(state, lambda h: h.record_backup(self.manifest))
        except FerrymanError as exc:
            raise BackupError(f"the backup {self.manifest['id']} was made but could not be "
                              f"recorded in the database: {exc.message}") from exc
        state.schema_version = state.schema_version or _schema_version()
        self.data_version = db.data_version()
        emit(self.consumers, BackupCreated(self.manifest["id"], self.manifest["path"],
                                           self.manifest["size"],
                                           ms_since(started, 1)))
        return self.manifest["id"]

    def allowed(self, db):
        if self.manifest is None:
            return False, "no backup was taken before the run"
        enabled = self.restore_on_failure
        if enabled is None:  # by default where the engine tells whether others wrote
            enabled = self.data_version is not None
        if not enabled:
            return False, "automatic restore is off (turn it on with --restore-on-failure)"
        if self.data_version is not None and db.data_version() != self.data_version:
            return False, ("another connection wrote to the database during the run; "
                           "restoring would lose its writes")
        return True, None

    def restore(self, db, run, error):
        """Restore the pre-run backup; return what was done, or None when not allowed."""
        from ..events import BackupRestored, Message, emit

        allowed, why = self.allowed(db)
        if not allowed:
            emit(self.consumers, Message("warning", f"not restoring the backup: {why}"))
            return None
        started = time.monotonic()
        self.backups.restore(self.manifest["id"], release=db.close)
        emit(self.consumers, BackupRestored(self.manifest["id"],
                                            ms_since(started, 1)))
        self._record(db, run, error)
        return (f"restored the backup taken before the run ({self.manifest['id']}); the "
                f"database is where it started, at version "
                f"{run.from_version if run.from_version is not None else 'none'}")

    def _record(self, db, run, error):
        """Write the failed run into the restored database (which predates it): on
        ``db`` where the restore was in place, else on a new connection."""
        from ..core.history import Entry
        from ..core.runner import now

        def write(history, state):
            run.finished_at = now()
            run.to_version = state.current_version
            migration = getattr(error, "migration", None)
            if migration is not None:
                history.record([Entry(run.id, migration, "up", run.started_at,
                                      run.finished_at, outcome="failed",
                                      error=error.details())])
            history.finish_run(run, "restored", error.message, exists=False)
            history.record_backup(self.manifest)

        self.engine.write_history(
            write, db if self.backups.provider.restores_in_place else None)


def engine_for(settings, consumers=None):
    """The engine of ``settings``' database with the configuration's safety hooks: a
    backup before each run, the restore of a run that cannot be rolled back. The
    factory the API and the coordinator make their engines with."""
    from ..engine import Engine

    return Engine(settings, consumers, safety=RunSafety.for_engine)


def take_backup(engine, reason="manual"):
    """A backup now, under the migration lock, recorded in the database (``ferryman
    backup create``): its manifest."""
    from ..events import BackupCreated, emit

    backups = Backups.for_settings(engine.settings)
    started = time.monotonic()
    with engine.session() as session:
        state = session.state
        manifest = backups.create(reason, migration_version=state.current_version,
                                  dirty=bool(state.dirty),
                                  protect=session.history.last_run_backups(state))
        session.history.write(state, lambda h: h.record_backup(manifest))
    emit(engine.consumers, BackupCreated(manifest["id"], manifest["path"], manifest["size"],
                                         ms_since(started, 1)))
    return manifest


def _schema_version():
    from ..core.history import SCHEMA_VERSION

    return SCHEMA_VERSION
