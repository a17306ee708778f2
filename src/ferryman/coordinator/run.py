"""Running many services: each one's unified pipeline, in dependency order, in parallel.

A service starts once every service it depends on has succeeded; independent services
run at the same time, ``parallel`` at most. The failure policy says what a failure
means for the others:

- ``stop``: start nothing new, let the running services finish; the failed service's
  own run was rolled back by its pipeline.
- ``continue``: independent branches go on; the dependents of the failed service are
  skipped.
- ``rollback-all``: as stop, then also roll back every service this run migrated, in
  reverse dependency order.

Every service's lines of output carry its name and only its own (redacted) URL.
"""

import functools
import os
import threading
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from ..errors import CoordinatedError, FerrymanError, InputError, redact
from ..events import Message, ServiceEvent, emit
from ..pipeline.run import Pipeline
from ..results import RunResult
from ..text import now_iso
from ..safety.backups import engine_for
from .graph import Graph
from .progress import RunProgress, set_current

POLICIES = ("stop", "continue", "rollback-all")


# A coordinated run returns the RunResult of every command that runs migrations,
# with ``services`` filled; the old name stays importable.
CoordinatedResult = RunResult


def coordinate(settings, *, services=None, parallel=None, failure_policy="stop",
               options=None, consumers=(), engine_factory=None):
    """Migrate every service of ``settings`` (or those named in ``services``)."""
    if failure_policy not in POLICIES:
        raise InputError(f"failure policy {failure_policy!r}: one of {', '.join(POLICIES)}")
    if not settings.services:
        raise InputError("the coordinated strategy needs services: add [services.NAME] tables "
                         "to the configuration")
    graph = Graph({name: table.get("depends_on", [])
                   for name, table in settings.services.items()})
    if services:
        graph = graph.select(list(services))
    return Coordinator(settings, graph, parallel, failure_policy, options, consumers,
                       engine_factory).run()


class Coordinator:
    def __init__(self, settings, graph, parallel, policy, options, consumers, factory):
        from ..core.runner import new_run_id

        self.settings = settings
        self.graph = graph
        self.names = [n for n in settings.services if n in graph.depends_on]
        # Services run as threads of one process: past about twice the cores, more at
        # once only queue on them (measured: bench/coordinator.py).
        default = min(8, 2 * (os.cpu_count() or 2))
        self.parallel = max(1, parallel or min(default, len(self.names)))
        self.policy = policy
        self.options = options
        self.consumers = list(consumers)
        self.factory = factory or engine_for
        self.run_id = new_run_id()
        self.outcomes = {name: {"name": name, "status": "pending", "started_at": None,
                                "finished_at": None, "depends_on": graph.depends_on[name],
                                "run_id": None, "report": None, "error": None,
                                "exit_code": 0} for name in self.names}
        self.engines = {}
        self.lock = threading.Lock()

    # -- the run ----------------------------------------------------------------------
    def run(self):
        for name in self.names:
            engine = self.factory(self.settings.for_service(name))
            engine.consumers.append(functools.partial(self._forward, name))
            self.engines[name] = engine
        self.progress = RunProgress(self.run_id, "coordinated", self._totals())
        set_current(self.progress)
        try:
            self._schedule()
            if self.policy == "rollback-all" and self._failed():
                self._roll_back_all()
        finally:
            for engine in self.engines.values():
                engine.close()
            self.progress.finish()
        return self._result()

    def _totals(self):
        """Pending migrations per service, for the overall percentage; read-only."""
        totals = {}
        for name, engine in self.engines.items():
            try:
                totals[name] = engine.status(raw=True)["pending_count"]
            except FerrymanError:
                totals[name] = 0  # unreachable now: its precheck will say so
            finally:
                # status() keeps its connection for the next call: with many services,
                # kept connections would crowd the server's max_connections for nothing.
                engine.close()
        return totals

    def _schedule(self):
        running = {}
        with ThreadPoolExecutor(max_workers=self.parallel,
                                thread_name_prefix="ferryman-service") as pool:
            while True:
                stopping = self.policy != "continue" and self._failed()
                if not stopping:
                    for name in self._ready():
                        if len(running) >= self.parallel:
                            break
                        self._set(name, status="running")
                        running[pool.submit(self._migrate, name)] = name
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
        for name, outcome in self.outcomes.items():
            if outcome["status"] == "pending":
                self._set(name, status="skipped", error={"message": self._why_skipped(name)})

    def _ready(self):
        ready = []
        for name in self.names:
            if self.outcomes[name]["status"] != "pending":
                continue
            deps = [self.outcomes[d]["status"] for d in self.graph.depends_on[name]]
            if any(s in ("failed", "skipped") for s in deps):
                self._set(name, status="skipped", error={"message": self._why_skipped(name)})
            elif all(s == "ok" for s in deps):
                ready.append(name)
        return ready

    def _why_skipped(self, name):
        bad = [d for d in self.graph.depends_on[name]
               if self.outcomes[d]["status"] in ("failed", "skipped")]
        if bad:
            return f"skipped: it depends on {', '.join(bad)}, which did not succeed"
        return "skipped: the run stopped after a failure (failure policy stop)"

    def _migrate(self, name):
        engine = self.engines[name]
        self._set(name, started_at=now_iso())
        self.progress.mark(name, "running")
        engine.consumers.append(self.progress.consumer(name))
        try:
            result = Pipeline(engine, "unified", self.options).run()
        except FerrymanError as exc:
            partial = getattr(exc, "result", None)
            self._set(name, status="failed", finished_at=now_iso(),
                      error=_error(exc), exit_code=exc.exit_code,
                      report=partial.report if partial is not None else None)
            self.progress.mark(name, "failed", exc.message.splitlines()[0])
            emit(self.consumers, Message("warning", f"[{name}] failed: "
                                         f"{exc.message.splitlines()[0]}"))
            return
        except Exception as exc:  # a bug of ferryman's must not hang the other services
            self._internal_error(name, engine, exc, now_iso())
            return
        finally:
            engine.close()  # a status connection the run kept: the service is done
        self._set(name, status="ok", finished_at=now_iso(), run_id=result.run_id,
                  report=result.report, report_paths=result.report_paths)
        self.progress.mark(name, "ok")

    def _internal_error(self, name, engine, exc, finished_at):
        """A bug of ferryman's in one service: its text and traceback go to the report
        and, as a warning, to the service's log and the run's output; the other
        services go on."""
        text = redact(f"internal error (please report it): {type(exc).__name__}: {exc}")
        trace = redact("".join(traceback.format_exception(exc)))
        self._set(name, status="failed", finished_at=finished_at, exit_code=70,
                  error={"message": text, "traceback": trace, "exit_code": 70})
        self.progress.mark(name, "failed", text.splitlines()[0])
        emit(engine.consumers, Message("warning", f"{text}\n{trace.rstrip()}"))

    def _roll_back_all(self):
        """Undo every service this run migrated, dependents before what they depend on."""
        from ..safety.rollback import rollback

        order = [n for layer in reversed(self.graph.layers()) for n in layer]
        for name in order:
            outcome = self.outcomes[name]
            if outcome["status"] != "ok" or outcome["run_id"] is None:
                continue
            try:
                # rollback-all is the person's consent to restore where a down is missing
                rollback(self.engines[name], yes=True)
            except FerrymanError as exc:
                self._set(name, error=_error(exc), exit_code=3)
                emit(self.consumers, Message("warning", f"[{name}] could not be rolled back: "
                                             f"{exc.message.splitlines()[0]}"))
                continue
            self._set(name, status="rolled_back")
            self.progress.mark(name, "rolled_back")

    # -- bookkeeping ------------------------------------------------------------------
    def _forward(self, name, event):
        emit(self.consumers, ServiceEvent(name, event))

    def _set(self, name, **values):
        with self.lock:
            self.outcomes[name].update(values)

    def _failed(self):
        with self.lock:
            return any(o["status"] == "failed" for o in self.outcomes.values())

    def _result(self):
        from .report import write_coordinated_report

        outcomes = [self.outcomes[name] for name in self.names]
        failed = [o for o in outcomes if o["status"] == "failed"]
        status = "failed" if failed else "ok"
        code = max((o["exit_code"] for o in outcomes), default=0) if failed else 0
        result = _result(self.run_id, status, self.policy, self.parallel, outcomes, {}, code)
        paths = write_coordinated_report(result, self.graph, self.settings.reports_dir)
        result = _result(self.run_id, status, self.policy, self.parallel, outcomes, paths,
                         code)
        if failed:
            raise CoordinatedError(result)
        return result


def _result(run_id, status, policy, parallel, outcomes, paths, code):
    return RunResult("migrate", run_id, None, None, outcome=status, strategy="coordinated",
                     status=status, report_paths=paths, services=tuple(outcomes),
                     failure_policy=policy, parallel=parallel, exit_code=code)


def _error(exc):
    return {"message": exc.message, "file": exc.file, "version": exc.version,
            "statement": exc.statement, "db_message": exc.db_message, "hint": exc.hint,
            "exit_code": exc.exit_code}
