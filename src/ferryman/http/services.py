"""The services the HTTP app answers for, and what it reads about each. No HTTP here.

A configuration with ``[services.NAME]`` tables serves those, in the file's order; one
without serves one service named after its database. A status read lists the
migration folders (names only) and asks the database a few small queries, through a
read-only connection kept by the service's own thread (reads.py): the state, and
whether a runner holds the migration lock, asked without taking it. Concurrent
requests share one read; a request waits at most the read deadline, then answers the
last known state, marked ``stale`` with its age, so a page can poll
every second while a migration runs and holds the database's lock.
"""

import asyncio
import threading
from datetime import datetime

from ..coordinator.graph import Graph
from ..coordinator.progress import current
from ..errors import FerrymanError, UnknownService
from ..safety.backups import database_stem
from .reads import DEFAULT_DEADLINE, ServiceReads


class Services:
    """Names, settings, the dependency graph and one kept Migrator per service."""

    def __init__(self, settings, deadline=DEFAULT_DEADLINE):
        self.settings = settings
        self.deadline = deadline
        if settings.service:  # one service's settings (`serve --service NAME`): it alone
            self._settings = {settings.service: settings}
        elif settings.services:
            self._settings = {name: settings.for_service(name) for name in settings.services}
        else:
            self._settings = {database_stem(settings.url): settings}
        self.names = list(self._settings)
        # Checked now (unknown names, cycles), so a bad file stops `serve` at start-up.
        self.graph = Graph({name: [d for d in s.depends_on if d in self._settings]
                            if settings.service else s.depends_on
                            for name, s in self._settings.items()})
        self._migrators = {}
        self._reads = {name: ServiceReads(name, s, deadline)
                       for name, s in self._settings.items()}
        self._lock = threading.Lock()

    def settings_for(self, name):
        try:
            return self._settings[name]
        except KeyError:
            raise UnknownService(f"no service {name!r}; the services are "
                                 + ", ".join(self.names)) from None

    def migrator(self, name):
        """The service's Migrator, built on first use and kept."""
        settings = self.settings_for(name)
        with self._lock:
            if name not in self._migrators:
                from ..api import Migrator

                self._migrators[name] = Migrator(settings=settings)
            return self._migrators[name]

    # -- reading ----------------------------------------------------------------------
    def reads(self, name):
        self.settings_for(name)  # UnknownService
        return self._reads[name]

    def status(self, name):
        """One service's status: ``ferryman status --json``'s facts, trimmed, plus
        whether a migration runs and how fresh the facts are. Waits at most the read
        deadline (blocking: for a worker thread). Raises a FerrymanError when it cannot
        be read and nothing was read before."""
        return self._entry(name, self.reads(name).read())

    async def status_async(self, name):
        """The same, for the event loop: it never blocks it, nor takes a pool thread."""
        return self._entry(name, await self.reads(name).read_async())

    def _entry(self, name, answer):
        full = answer.status
        progress = service_progress(name)
        running_here = progress is not None and progress["status"] == "running"
        return {
            "name": name, "reachable": True, "error": None,
            "depends_on": self.graph.depends_on[name],
            "database": full["database"],
            "current_version": full["current_version"],
            "head_version": full["head_version"],
            "dirty": full["dirty"], "dirty_details": full["dirty_details"],
            "pending_count": full["pending_count"], "pending": full["pending"],
            "applied_count": len(full["applied"]),
            "last_backup": full["last_backup"],
            "last_backup_at": _backup_time(full["last_backup_details"]),
            "lock_held": answer.lock_held, "running": answer.lock_held or running_here,
            "progress": progress, "problems": full["problems"], "hint": full["hint"],
            # How fresh: "stale" when the database was busy past the deadline and this is
            # the last known state, read at "as_of", "age_seconds" ago.
            "stale": answer.stale, "stale_reason": answer.stale_reason,
            "as_of": answer.as_of, "age_seconds": answer.age_seconds,
        }

    async def statuses(self):
        """Every service's status, read side by side (each service has its own thread);
        one that cannot be read carries ``error`` instead. For the event loop."""
        async def one(name):
            try:
                return await self.status_async(name)
            except FerrymanError as exc:
                return self.unreachable(name, exc)

        return list(await asyncio.gather(*(one(name) for name in self.names)))

    def prefetch(self):
        """Start every service's status read, waiting for none."""
        for reads in self._reads.values():
            reads.start()

    def close(self):
        """Close every kept status connection, each in its own thread."""
        for reads in self._reads.values():
            reads.close()

    def unreachable(self, name, exc):
        return {"name": name, "reachable": False, "error": error_body(exc),
                "depends_on": self.graph.depends_on[name],
                "database": _redacted_url(self.settings_for(name)), "running": False,
                "progress": service_progress(name)}

    def lock_held(self, name):
        """Whether a runner of any process holds the service's migration lock now
        (asked on a connection of its own, closed at once)."""
        return self.migrator(name).engine.lock_held(keep=False)

    def latest_run(self, name):
        """The newest row of the service's runs table, or None when ferryman never ran."""
        return self.migrator(name).engine.latest_run()

    def readiness(self, statuses):
        """(ready, reasons) of ``statuses`` (from statuses()): every service reachable
        and read now, none dirty, no migration running."""
        reasons = []
        for s in statuses:
            if not s["reachable"]:
                reasons.append(f"{s['name']}: unreachable: {s['error']['message']}")
                continue
            if s["stale"]:
                reasons.append(f"{s['name']}: {s['stale_reason']}; the last known state is "
                               f"{s['age_seconds']:g}s old")
            if s["dirty"]:
                reasons.append(f"{s['name']}: dirty (a migration neither finished nor rolled "
                               "back; see its dirty_details)")
            if s["running"]:
                reasons.append(f"{s['name']}: a migration is running")
        progress = current()
        if progress is not None and progress.running:
            reasons.append(f"run {progress.run_id} is running in this process")
        return not reasons, reasons


def service_progress(name):
    """``name``'s entry in the latest run of this process, or None."""
    progress = current()
    if progress is None:
        return None
    for entry in progress.snapshot()["services"]:
        if entry["name"] == name:
            return entry
    return None


def progress_snapshot():
    progress = current()
    return None if progress is None else progress.snapshot()


def graph_status(entry):
    """The colour a service's box takes in the dependency graph."""
    if not entry.get("reachable") or entry.get("dirty"):
        return "failed"
    if entry.get("running"):
        return "running"
    return "pending" if entry.get("pending_count") else "ok"


def error_body(exc):
    """What a FerrymanError may show over HTTP: its (redacted) words, nothing more."""
    return {"error": type(exc).__name__, "message": exc.message, "hint": exc.hint,
            "exit_code": exc.exit_code}


def _redacted_url(settings):
    try:
        return settings.url.redacted()
    except FerrymanError:
        return None


def _backup_time(last_backup):
    """When the last backup was taken (ISO 8601), when the database knows it."""
    if isinstance(last_backup, dict) and isinstance(last_backup.get("created_at"), str):
        return last_backup["created_at"]
    return None


def timestamp(text):
    """Unix seconds of an ISO 8601 time, or None."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, TypeError, ValueError):
        return None
