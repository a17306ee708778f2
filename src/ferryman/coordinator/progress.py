"""Progress of runs in this process, shared by the worker threads, the terminal display
and the HTTP app: the overall percentage of migrations done, and each service's phase
and migration."""

import threading

from ..events import PhaseStarted, RunStarted, StepFailed, StepFinished, StepStarted
from ..text import now_iso

_lock = threading.Lock()
_current = None


def current():
    """The latest run started in this process (running or finished), or None."""
    return _current


def set_current(progress):
    global _current
    with _lock:
        _current = progress


class ServiceProgress:
    __slots__ = ("name", "status", "phase", "migration", "done", "total", "started_at",
                 "finished_at", "error", "run_id")

    def __init__(self, name, total):
        self.name = name
        self.status = "pending"
        self.phase = None
        self.migration = None
        self.done = 0
        self.total = total
        self.started_at = self.finished_at = None
        self.error = None
        self.run_id = None

    def to_dict(self):
        data = {k: getattr(self, k) for k in self.__slots__}
        data["percent"] = _percent(self.done, self.total, self.status)
        return data


class RunProgress:
    """One run (coordinated, or of one database) as it goes."""

    def __init__(self, run_id, strategy, totals):
        self.run_id = run_id
        self.strategy = strategy
        self.started_at = now_iso()
        self.finished_at = None
        self.services = {name: ServiceProgress(name, total) for name, total in totals.items()}
        self._lock = threading.Lock()

    @property
    def running(self):
        return self.finished_at is None

    def consumer(self, name):
        """An event consumer that keeps ``name``'s entry up to date."""
        entry = self.services[name]

        def observe(event):
            with self._lock:
                if isinstance(event, RunStarted):
                    entry.run_id = event.run_id
                    entry.total = max(entry.total, len(event.steps))
                elif isinstance(event, PhaseStarted):
                    entry.phase = event.name
                elif isinstance(event, StepStarted):
                    label = event.version if event.version is not None else "R"
                    entry.migration = f"{label} {event.name}"
                elif isinstance(event, StepFinished):
                    entry.done += 1
                elif isinstance(event, StepFailed):
                    entry.error = event.message

        return observe

    def mark(self, name, status, error=None):
        with self._lock:
            entry = self.services[name]
            entry.status = status
            if status == "running":
                entry.started_at = now_iso()
            elif status in ("ok", "failed", "skipped", "rolled_back"):
                entry.finished_at = now_iso()
                entry.migration = None
            if error:
                entry.error = error

    def finish(self):
        with self._lock:
            self.finished_at = now_iso()

    def snapshot(self):
        with self._lock:
            services = [entry.to_dict() for entry in self.services.values()]
            done = sum(s["done"] for s in services)
            total = sum(s["total"] for s in services)
            return {"run_id": self.run_id, "strategy": self.strategy, "running": self.running,
                    "started_at": self.started_at, "finished_at": self.finished_at,
                    "done": done, "total": total,
                    "percent": _percent(done, total, "running" if self.running else "ok"),
                    "services": services}


def _percent(done, total, status):
    if total:
        return round(100.0 * min(done, total) / total, 1)
    return 100.0 if status in ("ok", "skipped") else 0.0
