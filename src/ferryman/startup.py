"""Start-up migrations: back up and migrate while the application starts.

    import ferryman

    ferryman.migrate_on_startup(database_url=DATABASE_URL, migrations="migrations")
    app.run()    # only reached when the database is at head

It reads the status first, which costs milliseconds; with nothing pending it returns
at once. Otherwise it takes the migration lock, backs up, migrates, and checks that
the database is at head. When N replicas start together, one migrates while the
others wait for the lock and then find nothing left to do. On any failure it raises
``ferryman.MigrationError`` (a ``FerrymanError``) after the run was rolled back or
restored, so the application does not start: fail fast.
"""

import logging

from .errors import FerrymanError, MigrationError, StartupError

__all__ = ["migrate_on_startup", "StartupError"]  # StartupError lives in errors.py

log = logging.getLogger("ferryman")


def migrate_on_startup(database_url=None, migrations=None, *, config=None, logger=None,
                       **options):
    """Bring the database to head before the application serves; return its status.

    Keyword options are ferryman's settings (``backup``, ``lock_timeout``, ``timeout``,
    ``restore_on_failure``, ``retries``, ...). Raises MigrationError on any failure.
    """
    from .api import Migrator

    logger = logger or log
    try:
        migrator = Migrator(database_url, migrations, config=config,
                            on_event=_LogEvents(logger), **options)
        before = migrator.status()
        if before.dirty:
            from .core.plan import dirty_error

            raise dirty_error(before.dirty_details)
        # A problem (ferryman's tables damaged, an applied file edited or gone) is
        # what `up` refuses: let it refuse, so the application does not start on a
        # database nobody can vouch for.
        if (not before.problems and before.pending_count == 0
                and before.current_version == before.head_version):
            logger.info("database %s is at version %s; nothing to migrate", before.database,
                        before.current_version)
            return before
        logger.info("database %s is at version %s; %d migration(s) pending", before.database,
                    before.current_version, before.pending_count)
        result = migrator.up()
        after = migrator.status()
    except MigrationError:
        raise
    except FerrymanError as exc:
        raise StartupError(f"migrations at start-up failed: {exc.message}", exc) from exc
    if after.dirty or after.pending_count:
        raise MigrationError(
            f"after migrating, {after.database} is not at head (version "
            f"{after.current_version}, {after.pending_count} pending, dirty={after.dirty})",
            hint="run `ferryman status` to see why")
    if result.steps:
        logger.info("migrated %s from %s to %s in run %s", after.database, result.from_version,
                    result.to_version, result.run_id)
    return after


class _LogEvents:
    """Events of the run, as log records of the ``ferryman`` logger."""

    def __init__(self, logger):
        self.logger = logger

    def __call__(self, event):
        name = type(event).__name__
        if name == "StepFinished":
            self.logger.info("%s %s %s (%.1f ms)", event.direction, event.version, event.name,
                             event.duration_ms)
        elif name == "LockWaiting":
            self.logger.info("waiting for the migration lock (held by %s)",
                             event.holder or "another runner")
        elif name == "BackupCreated":
            self.logger.info("backup %s written to %s", event.id, event.path)
        elif name in ("StepFailed", "RollbackStarted", "BackupRestored"):
            self.logger.warning("%s: %s", name, event)
        elif name == "Message":
            (self.logger.warning if event.level == "warning" else self.logger.info)(event.text)
