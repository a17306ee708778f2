"""Running the pipeline: the phases of a strategy, in order, with one report.

How a run goes:

1. precheck, on a read-only connection: the files, the history, the connection, the
   server version, extensions, disk for the backup, privileges; the "before" metrics.
2. Under the migration lock, through the core runner: backup (its safety hook), then
   the migration phases' pending migrations phase by phase, with the integrity phase
   at its place among them, inside the run's transaction, so that a failed check rolls
   the run back like a failed migration does.
3. After the run: optimize and validate, which change no data.

Failure strategy ``stop`` (the default) ends the run at a failed phase; a failed
migration or integrity phase rolls the run back to where it started. ``continue``
reports failures of integrity, optimize and validate and goes on; precheck, backup
and the migration phases always stop the run.
"""

import functools
import os
import re
import time
from dataclasses import asdict, dataclass

from .._version import __version__
from ..core.plan import Checkpoint, check_state, plan_up
from ..errors import FerrymanError, InputError, after_commit
from ..events import (PhaseFinished, PhaseStarted, StepFailed, StepFinished, StepStarted,
                      emit)
from ..results import RunResult, StepInfo
from ..text import ms, now_iso
from . import MIGRATION_PHASES, STRATEGIES, checks


@dataclass
class MigrationOptions:
    """The options of a pipeline run. None means: as configured. ``yes``: with
    ``rollback_mode``, restore a backup without asking (when a down is missing)."""

    dry_run: bool = False
    rollback_mode: bool = False
    yes: bool = False
    skip_optimizations: bool | None = None
    concurrent_indexes: bool | None = None
    timeout: float | None = None
    failure_strategy: str | None = None
    backup_before_migrate: bool | None = None


# What ``ferryman migrate`` returns is the RunResult of every command that runs
# migrations, with the pipeline's fields filled; the old name stays importable.
PipelineResult = RunResult


class Phase:
    __slots__ = ("name", "status", "started", "finished", "started_at", "finished_at",
                 "details", "messages")

    def __init__(self, name):
        self.name = name
        self.status = "skipped"
        self.started = self.finished = None
        self.started_at = self.finished_at = None
        self.details = {}
        self.messages = []


class Pipeline:
    """One run of a strategy against the database of ``engine`` (ferryman.engine).
    ``confirm(question) -> bool`` is asked before ``--rollback`` restores a backup."""

    def __init__(self, engine, strategy=None, options=None, confirm=None):
        settings = engine.settings
        self.engine = engine
        self.confirm = confirm
        self.settings = settings
        self.strategy = strategy or settings.strategy
        if self.strategy not in STRATEGIES:
            raise InputError(f"no strategy {self.strategy!r}; the strategies are "
                             + ", ".join(STRATEGIES))
        options = options or MigrationOptions()
        self.dry_run = options.dry_run
        self.rollback_mode = options.rollback_mode
        self.yes = options.yes
        self.skip_optimization = _pick(options.skip_optimizations, settings.skip_optimization)
        self.concurrent_indexes = _pick(options.concurrent_indexes, settings.concurrent_indexes)
        self.timeout = _pick(options.timeout, settings.timeout)
        self.failure_strategy = _pick(options.failure_strategy, settings.failure_strategy)
        if self.failure_strategy not in ("stop", "continue"):
            raise InputError(f"failure strategy {self.failure_strategy!r}: stop or continue")
        self.backup = _pick(options.backup_before_migrate, settings.backup)
        self.names = STRATEGIES[self.strategy]
        self.phases = {name: Phase(name) for name in self.names}
        self.current = None
        self.migrations = []
        self.warnings = []
        self.before_counts = None
        self.touched = self.written = None
        self.metrics = {"before": None, "after": None}
        self.suggestions = []
        self.snapshot = None
        self.plan = []
        self.steps = ()
        self.run_id = None
        self.from_version = self.to_version = None
        self.error = None
        self.consumers = engine.consumers
        engine.consumers.append(self._observe)

    # -- the whole run ----------------------------------------------------------------
    def run(self):
        self.t0 = time.monotonic()
        self.started_at = now_iso()
        status = "ok"
        try:
            if self.rollback_mode:
                return self._rollback()
            listing = self._precheck()
            if self.dry_run:
                self._plan_only(listing)
                status = "dry_run"
            else:
                self._migrate(listing)
                self._after_run()
                if any(p.status == "failed" for p in self.phases.values()):
                    status = "failed"
        except FerrymanError as exc:
            self.error = exc
            status = "rolled_back" if exc.exit_code == 1 else "failed"
            self._close_current("failed", str(exc.message).splitlines()[0])
            raise
        except Exception as exc:  # a bug of ferryman's: the report must not say ok
            status = "failed"
            self._close_current("failed", f"internal error: {type(exc).__name__}")
            raise
        finally:
            self.engine.consumers.remove(self._observe)
            self.result = self._finish(status)
        if status == "failed":  # under `continue`: everything ran; some checks failed
            failed = [p.name for p in self.phases.values() if p.status == "failed"]
            error = checks.CheckFailed(", ".join(failed), [
                m for p in self.phases.values() if p.status == "failed" for m in p.messages],
                after_commit=True, committed_version=self.to_version)
            error.result = self.result
            raise error
        return self.result

    # -- phases -----------------------------------------------------------------------
    def _start(self, name):
        phase = self.phases[name]
        phase.status = "running"
        phase.started = time.monotonic()
        phase.started_at = now_iso()
        self.current = phase
        emit(self.consumers, PhaseStarted(name, self.names.index(name) + 1, len(self.names)))
        return phase

    def _finish_phase(self, name, status, details=None, messages=()):
        phase = self.phases[name]
        if phase.started is None:
            phase.started, phase.started_at = time.monotonic(), now_iso()
        phase.status = status
        phase.finished = time.monotonic()
        phase.finished_at = now_iso()
        phase.details.update(details or {})
        phase.messages.extend(messages)
        if self.current is phase:
            self.current = None
        summary = "; ".join(phase.messages[:2]) or _summary(phase.details)
        emit(self.consumers, PhaseFinished(name, status, ms(phase.finished - phase.started),
                                           summary))

    def _close_current(self, status, message=None):
        if self.current is not None:
            self._finish_phase(self.current.name, status, messages=[message] if message else [])

    def _enter(self, name, _db):
        """A checkpoint between two migration phases."""
        self._close_current("ok")
        self._start(name)

    def _leave(self, _db):
        self._close_current("ok")

    # -- 1. precheck ------------------------------------------------------------------
    def _precheck(self):
        self._start("precheck")
        listing = self.engine.listing()
        db = self.engine.connect(readonly=True)
        try:
            catalog = db.catalog(self.engine.prefix)
            state = self.engine.read_state(db=db)
            check_state(listing, state)
            details = checks.precheck(db, catalog, self.settings,
                                      backup=self.backup and not self.dry_run)
            details["migrations"] = len(listing.migrations)
            details["history"] = ("consistent; at version "
                                  f"{state.current_version if state.applied else 'none'}")
            self.from_version = self.to_version = state.current_version
            self.metrics["before"] = {"tables": catalog.table_metrics()}
        finally:
            db.close()
        self._finish_phase("precheck", "ok", details)
        return listing

    # -- 2. backup and the migration phases, under the lock ----------------------------
    def _migrate(self, listing):
        options = (("concurrent_indexes", self.concurrent_indexes),)
        safety = PipelineSafety(self, self.engine.safety(self.backup))
        result = self.engine.run("migrate", self._planner, listing, safety=safety,
                                 options=options, timeout=self.timeout)
        self.steps = result.steps
        self.run_id = result.run_id
        self.to_version = result.to_version
        if result.run_id is None:  # nothing pending in this strategy's phases
            self._nothing_to_migrate()

    def _planner(self, listing, state):
        """The run's items: the steps of each migration phase, the phase boundaries and
        the integrity check as checkpoints, in the strategy's order."""
        wanted = [n for n in self.names if n in MIGRATION_PHASES]
        steps = plan_up(listing, state, phases=wanted,
                        allow_out_of_order=self.settings.allow_out_of_order)
        self.touched = _tables_named(steps, self.engine.dialect, _NAMES_ANY)
        self.written = _tables_named(steps, self.engine.dialect, _NAMES_WRITTEN)
        items = [Checkpoint("count", self._count_before)]
        for name in self.names:
            if name in MIGRATION_PHASES:
                items.append(Checkpoint(name, functools.partial(self._enter, name)))
                items += [s for s in steps if s.migration.phase == name]
            elif name == "integrity":
                items.append(Checkpoint("integrity", self._integrity))
        items.append(Checkpoint("end", self._leave))
        return items

    def _count_before(self, db):
        catalog = db.catalog(self.engine.prefix)
        self.before_counts = {t: catalog.row_count(t) for t in catalog.tables()}

    def _integrity(self, db):
        self._close_current("ok")
        self._start("integrity")
        try:
            details = checks.integrity(db, db.catalog(self.engine.prefix),
                                       self.settings, self.before_counts, self.written)
        except checks.CheckFailed as failed:
            self._finish_phase("integrity", "failed", messages=failed.problems)
            if self.failure_strategy == "stop":
                raise
            return
        self.warnings += details.get("warnings", [])
        self._finish_phase("integrity", "ok", details, details.get("warnings", []))

    def _nothing_to_migrate(self):
        for name in self.names:
            if name == "backup":
                self._finish_phase("backup", "skipped", messages=["nothing to migrate"])
            elif name in MIGRATION_PHASES:
                self._finish_phase(name, "ok", {"migrations": 0}, ["nothing pending"])
            elif name == "integrity":
                db = self.engine.connect(readonly=True)
                try:
                    self._integrity(db)
                finally:
                    db.close()

    # -- 3. after the run ---------------------------------------------------------------
    def _after_run(self):
        """optimize, validate, the metrics, suggestions and schema snapshot: after the
        run's commit, so whatever fails here (a check, the database, the connection)
        exits 3 naming the version the migrations committed at, never 4."""
        try:
            self._after_run_phases()
        except FerrymanError as exc:
            phase = self.current.name if self.current is not None else "report"
            raise after_commit(exc, phase, self.to_version) from exc

    def _after_run_phases(self):
        db = self.engine.connect()
        try:
            catalog = db.catalog(self.engine.prefix)
            if "optimize" in self.phases:
                self._optimize(db, catalog)
            if "validate" in self.phases:
                self._validate(db, catalog)
            self.metrics["after"] = {"tables": catalog.table_metrics()}
            self.suggestions = catalog.suggestions()
            if self.snapshot is None:
                self.snapshot = catalog.schema_snapshot()
        finally:
            db.close()

    def _optimize(self, db, catalog):
        if self.skip_optimization:
            self._finish_phase("optimize", "skipped", messages=["--skip-optimization"])
            return
        self._start("optimize")
        self._check(lambda: checks.optimize(db, catalog, self.settings, self.touched),
                    "optimize")

    def _validate(self, db, catalog):
        self._start("validate")
        status = self.engine.status(raw=True)
        final = {k: status[k] for k in ("current_version", "dirty", "pending_count",
                                        "last_backup")}
        self.snapshot = catalog.schema_snapshot()
        self._check(lambda: checks.validate(db, catalog, self.settings, final), "validate")

    def _check(self, work, name):
        try:
            details = work()
        except checks.CheckFailed as failed:
            self._finish_phase(name, "failed", messages=failed.problems)
            if self.failure_strategy == "stop":
                raise  # _after_commit: the migrations are in; the database needs a look
            return
        self._finish_phase(name, "ok", details)

    # -- dry run and rollback -----------------------------------------------------------
    def _plan_only(self, listing):
        state = self.engine.read_state()
        dialect = self.engine.dialect
        options = (("concurrent_indexes", self.concurrent_indexes),)
        items = self._planner(listing, state)
        for name in self.names:
            steps = [i for i in items if not isinstance(i, Checkpoint)
                     and i.migration.phase == name] if name in MIGRATION_PHASES else []
            planned = [StepInfo.planned(step, dialect, options) for step in steps]
            self.plan.append({"phase": name, "steps": planned,
                              "check": name not in MIGRATION_PHASES,
                              "note": _DRY_NOTES.get(name, "")})
            if name != "precheck":  # recorded for the report; no event: nothing ran
                phase = self.phases[name]
                phase.status = "skipped"
                phase.details = {"planned": len(planned)}
                phase.messages = ["dry run: nothing was changed"]

    def _rollback(self):
        from ..safety.rollback import rollback

        # Asks before restoring a backup, as `ferryman rollback` does: MigrationOptions'
        # yes, else the confirm callback (the CLI's prompt).
        result = rollback(self.engine, dry_run=self.dry_run, yes=self.yes,
                          confirm=self.confirm)
        self.steps = result.steps
        self.run_id = result.run_id
        self.from_version, self.to_version = result.from_version, result.to_version
        self.result = self._finish("dry_run" if self.dry_run else "rolled_back")
        return self.result

    # -- events and the report ----------------------------------------------------------
    def _observe(self, event):
        if isinstance(event, StepStarted):
            self.migrations.append({"version": event.version, "name": event.name,
                                    "phase": event.phase, "direction": event.direction,
                                    "offset_ms": ms(time.monotonic() - self.t0),
                                    "duration_ms": None, "status": "running"})
        elif isinstance(event, (StepFinished, StepFailed)) and self.migrations:
            record = self.migrations[-1]
            if isinstance(event, StepFinished):
                record.update(duration_ms=event.duration_ms, status="ok")
            else:
                record.update(status="failed",
                              duration_ms=ms(time.monotonic() - self.t0) - record["offset_ms"])

    def _finish(self, status):
        from ..safety.backups import database_stem
        from . import report as reports

        if status == "rolled_back":
            for record in self.migrations:
                if record["status"] == "ok":
                    record["status"] = "rolled_back"
        report = self._report(status)
        name = self.settings.service or database_stem(self.engine.url)
        stem = f"{name}-{self.run_id or _stamp()}"
        if status == "dry_run":
            stem = f"{name}-dry-run-{_stamp()}"
        folder = self.settings.reports_dir
        paths = {}
        try:
            if self.snapshot:
                os.makedirs(folder, exist_ok=True)
                name = f"{stem}.schema.sql"
                with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
                    handle.write(self.snapshot)
                report["schema_snapshot"] = name
                paths["schema"] = os.path.join(folder, name)
            paths.update(reports.write_reports(report, folder, stem))
        except OSError as exc:
            self.warnings.append(f"the report could not be written to {folder}: {exc}")
        return RunResult(
            "migrate", self.run_id, self.from_version, self.to_version, tuple(self.steps),
            dry_run=self.dry_run, outcome=status, strategy=self.strategy, status=status,
            phases=tuple(report["phases"]), migrations=tuple(report["migrations"]),
            warnings=tuple(self.warnings), plan=tuple(self.plan), report_paths=paths,
            report=report)

    def _report(self, status):
        finished = time.monotonic()
        phases = []
        for phase in self.phases.values():
            offset = ms(phase.started - self.t0) if phase.started else None
            duration = (ms(phase.finished - phase.started)
                        if phase.started and phase.finished else None)
            phases.append({"name": phase.name,
                           "status": phase.status if phase.status != "running" else "failed",
                           "started_at": phase.started_at, "finished_at": phase.finished_at,
                           "duration_ms": duration, "offset_ms": offset,
                           "details": phase.details, "messages": phase.messages})
        error = None
        if self.error is not None:
            error = {k: getattr(self.error, k, None) for k in
                     ("message", "file", "version", "statement", "db_message", "hint")}
        return {
            "ferryman_version": __version__, "run_id": self.run_id, "strategy": self.strategy,
            "status": status, "database": self.engine.url.redacted(),
            "dialect": self.engine.url.dialect, "started_at": self.started_at,
            "finished_at": now_iso(), "duration_ms": ms(finished - self.t0),
            "from_version": self.from_version, "to_version": self.to_version,
            "options": {"dry_run": self.dry_run, "skip_optimizations": self.skip_optimization,
                        "concurrent_indexes": self.concurrent_indexes, "timeout": self.timeout,
                        "failure_strategy": self.failure_strategy,
                        "backup_before_migrate": self.backup},
            "phases": phases, "migrations": self.migrations,
            "metrics": {k: v or {"tables": []} for k, v in self.metrics.items()},
            "warnings": self.warnings, "suggestions": self.suggestions,
            "maintenance_plan": maintenance_plan(self.settings), "error": error,
            "schema_snapshot": None,
            "plan": [{**p, "steps": [asdict(x) for x in p["steps"]]} for p in self.plan],
        }


class PipelineSafety:
    """The run's safety hooks, reported as the backup phase."""

    def __init__(self, pipeline, inner):
        self.pipeline = pipeline
        self.inner = inner

    def before_run(self, db, state, steps, run):
        pipeline = self.pipeline
        if "backup" not in pipeline.phases:
            return self.inner.before_run(db, state, steps, run)
        pipeline._close_current("ok")
        pipeline._start("backup")
        pipeline.run_id = run.id
        if self.inner.backups is None:
            pipeline._finish_phase("backup", "skipped", messages=["backups are off"])
            return "disabled"
        backup_id = self.inner.before_run(db, state, steps, run)
        manifest = self.inner.manifest
        pipeline._finish_phase("backup", "ok", {
            "id": backup_id, "path": manifest["path"], "size": manifest["size"],
            "sha256": manifest["sha256"]})
        return backup_id

    def restore(self, db, run, error):
        return self.inner.restore(db, run, error)


_DRY_NOTES = {
    "precheck": "done, read-only: files, history, connection, version, disk, privileges",
    "backup": "would back up the database before the first change",
    "integrity": "would check required tables, foreign keys, the check queries and row "
                 "counts, inside the run's transaction",
    "optimize": "would ANALYZE the touched tables and refresh materialized views",
    "validate": "would run the health queries and save a schema snapshot",
}


def maintenance_plan(settings):
    """The maintenance plan, as ferryman commands."""
    purge = "ferryman maintain purge" + (
        f" --table {settings.purge_table} --column {settings.purge_column} --days "
        f"{settings.purge_days}" if settings.purge_table else " --table T --column deleted_at "
        "--days 30")
    return [
        {"schedule": "hourly", "task": "refresh materialized views",
         "command": "ferryman maintain refresh",
         "why": "materialized views hold a snapshot; refreshing keeps them current"},
        {"schedule": "daily", "task": "purge soft-deleted rows older than 30 days",
         "command": purge, "why": "soft-deleted rows grow tables and indexes forever"},
        {"schedule": "weekly", "task": "update planner statistics",
         "command": "ferryman maintain analyze",
         "why": "the planner chooses plans from statistics; stale ones give slow plans"},
        {"schedule": "monthly", "task": "vacuum and rebuild indexes",
         "command": "ferryman maintain vacuum && ferryman maintain reindex",
         "why": "reclaims space from dead rows and rebuilds bloated indexes"},
    ]


def _tables_named(steps, dialect, pattern):
    """The tables the steps' statements name where ``pattern`` matches; None when a
    Python migration may do anything."""
    names = set()
    for step in steps:
        if step.migration.kind == "python":
            return None
        compiled, _ = step.migration.compiled(step.direction, dialect)
        for statement in compiled.statements if compiled else ():
            names.update(n.strip('"').split(".")[-1].strip('"')
                         for n in pattern.findall(statement.text))
    return names


_NAME = r"(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:ONLY\s+)?(\"[^\"]+\"|[\w$.]+)"
# Every table a statement names: what the optimize phase analyzes.
_NAMES_ANY = re.compile(r"\b(?:TABLE|INTO|UPDATE|FROM|JOIN|ON)\s+" + _NAME, re.I)
# The tables a statement may take rows from: a table that lost rows though none of the
# run's statements names it so is worth a warning.
_NAMES_WRITTEN = re.compile(r"\b(?:DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|DROP\s+TABLE|"
                            r"ALTER\s+TABLE|INSERT\s+INTO|UPDATE|MERGE\s+INTO)\s+" + _NAME, re.I)


def _pick(value, default):
    return default if value is None else value


def _summary(details):
    parts = [f"{k}={v}" for k, v in details.items() if isinstance(v, (int, str)) and k not in
             ("path", "sha256")]
    return ", ".join(parts[:3])


def _stamp():
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
