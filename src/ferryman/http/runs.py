"""Work started over HTTP: one change at a time, so a second request gets 409 instead
of queueing behind the migration lock for minutes.

A migration runs in a background thread and reports through ``coordinator.progress``,
the same shared progress a coordinated run uses, so the status page, ``/migration/
status`` and ``/migration/runs/latest`` show it as it goes.
"""

import logging
import threading
import traceback

from ..coordinator.progress import RunProgress, current, set_current
from ..errors import Busy, FerrymanError, redact

log = logging.getLogger("ferryman.http")


class Runs:
    def __init__(self, services):
        self.services = services
        self._lock = threading.Lock()
        self._working = None  # a backup or rollback of this app, while it runs

    def refuse_if_busy(self, name):
        """Busy when a change of this process is going, or any process holds the lock."""
        if self._working is not None:
            raise Busy(f"a {self._working} is running in this process",
                       hint="try again when it has finished")
        progress = current()
        if progress is not None and progress.running:
            raise Busy(f"run {progress.run_id} is running in this process",
                       hint="GET /migration/runs/latest shows its progress")
        if self.services.lock_held(name):
            raise Busy(f"another runner holds the migration lock of {name} now",
                       hint="wait for it to finish; GET /migration/status shows when")

    def start_migration(self, name):
        """Start the service's pipeline (Migrator.migrate) in the background; return
        its RunProgress, already current and marked running."""
        from ..core.runner import new_run_id

        migrator = self.services.migrator(name)
        with self._lock:  # two POSTs at once: the second one finds the first running
            self.refuse_if_busy(name)
            total = self.services.status(name)["pending_count"]  # for the percentage
            progress = RunProgress(new_run_id(), migrator.settings.strategy, {name: total})
            progress.mark(name, "running")
            set_current(progress)
        # Not a daemon: stopping the server waits for the migration to end rather than
        # killing it part way (a no-transaction migration would be left dirty).
        thread = threading.Thread(target=_migrate, args=(name, migrator, progress),
                                  name=f"ferryman-http-migrate-{name}")
        thread.start()
        return progress

    def run_exclusive(self, name, what, work):
        """``work()`` (``what``: a backup, a rollback) unless something else is changing
        things; the lock is not held meanwhile, so a request that comes during it gets
        its 409 at once."""
        with self._lock:
            self.refuse_if_busy(name)
            self._working = f"{what} of {name}"
        try:
            return work()
        finally:
            self.services.migrator(name).close()  # no connection left idle
            with self._lock:
                self._working = None


def _migrate(name, migrator, progress):
    observer = progress.consumer(name)
    migrator.consumers.append(observer)
    try:
        migrator.migrate()
    except FerrymanError as exc:
        progress.mark(name, "failed", exc.message.splitlines()[0])
    except Exception:  # a bug of ferryman's: say so in the log, never in a response
        log.error("internal error in the migration of %s:\n%s", name,
                  redact(traceback.format_exc()))
        progress.mark(name, "failed", "internal error")
    else:
        progress.mark(name, "ok")
    finally:
        migrator.consumers.remove(observer)
        migrator.close()  # the status connection the pipeline kept: none left idle
        progress.finish()
