"""What the API returns: frozen dataclasses, each with ``to_dict()`` for JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class MigrationInfo:
    version: int
    name: str
    phase: str
    applied_at: str | None = None
    missing: bool = False
    out_of_order: bool = False


@dataclass(frozen=True)
class MigrationStatus:
    """The status record (current version, dirty flag, pending count, last backup),
    and what else a person asks first."""

    current_version: int | None
    dirty: bool
    pending_count: int
    last_backup: str | None
    database: str = ""
    head_version: int | None = None
    applied: tuple = ()
    pending: tuple = ()
    dirty_details: dict | None = None
    problems: tuple = ()
    last_backup_details: dict | None = None  # id, path, created_at, size, host
    hint: str | None = None  # what a person should run next, when something needs one

    @property
    def up_to_date(self):
        return not self.dirty and self.pending_count == 0

    @classmethod
    def from_dict(cls, data):
        return cls(
            current_version=data["current_version"], dirty=data["dirty"],
            pending_count=data["pending_count"], last_backup=data["last_backup"],
            database=data["database"], head_version=data["head_version"],
            applied=tuple(MigrationInfo(**a) for a in data["applied"]),
            pending=tuple(MigrationInfo(**p) for p in data["pending"]),
            dirty_details=data["dirty_details"], problems=tuple(data["problems"]),
            last_backup_details=data.get("last_backup_details"), hint=data.get("hint"))

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class StepInfo:
    version: int
    name: str
    phase: str
    direction: str
    duration_ms: float | None = None
    file: str | None = None
    transactional: bool = True
    note: str | None = None
    sql: tuple = ()

    @classmethod
    def planned(cls, step, dialect, options=()):
        """What ``step`` (a planned Step) would run, compiled for ``dialect``: a dry run's
        line. Nothing is executed."""
        migration = step.migration
        compiled, _ = migration.compiled(step.direction, dialect, options)
        note = "; ".join(filter(None, [compiled.reason, *compiled.notes])) or None
        if migration.kind == "python":
            note = f"Python: {step.direction}(ctx)" + (f"; {note}" if note else "")
        if step.start:
            note = (f"resumed at statement {step.start + 1}: the {step.start} before it ran"
                    + (f"; {note}" if note else ""))
        return cls(step.version, migration.name, migration.phase, step.direction, None,
                   migration.script(step.direction).path, compiled.transactional, note,
                   tuple(s.text for s in compiled.statements[step.start:]))


@dataclass(frozen=True)
class RunResult:
    """What a command that runs migrations did (or, with ``dry_run``, would do): up,
    down, goto, rollback, force, baseline, and migrate.

    ``migrate`` fills the pipeline's fields too: ``strategy``, ``status`` (ok, failed,
    rolled_back, dry_run), ``phases``, ``migrations``, ``warnings``, ``plan`` (a dry
    run's steps by phase), ``report_paths`` and ``report`` (the whole report, not in
    ``to_dict``). A coordinated run of many services fills ``services`` (one dict per
    service), ``failure_policy``, ``parallel`` and ``exit_code`` (the worst service's).
    """

    command: str
    run_id: str | None
    from_version: int | None
    to_version: int | None
    steps: tuple = ()
    dry_run: bool = False
    outcome: str = "ok"
    message: str | None = None  # force and baseline: what they did, in words
    strategy: str | None = None
    status: str | None = None
    phases: tuple = ()
    migrations: tuple = ()
    warnings: tuple = ()
    plan: tuple = ()
    report_paths: dict = field(default_factory=dict)
    services: tuple = ()
    failure_policy: str | None = None
    parallel: int | None = None
    exit_code: int = 0
    report: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def nothing_to_do(self):
        return not self.steps and self.message is None and not self.services

    def to_dict(self):
        data = asdict(self)
        data.pop("report")
        if self.services:
            data["services"] = list(self.services)
        return data


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    run_id: str
    version: int | None
    name: str | None
    phase: str | None
    kind: str | None
    checksum: str | None
    direction: str
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    applied_by: str
    ferryman_version: str
    outcome: str
    error: str | None

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class Validation:
    """What ``validate`` found valid, and how the folder was read: ``format`` (its
    first folder's: ferryman, golang-migrate, name, flyway, dbmate, goose) and
    ``format_reasons``, why (the names that say so, or the configuration)."""

    migrations: int
    applied_checked: int
    database: str | None = None
    problems: tuple = field(default=())
    format: str | None = None
    format_reasons: tuple = ()

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class BackupInfo:
    """A backup and its manifest."""

    id: str
    path: str
    created_at: str
    size: int
    sha256: str
    reason: str | None = None
    database: str | None = None
    migration_version: int | None = None
    dirty: bool = False
    server_version: str | None = None
    tool: str | None = None
    ferryman_version: str | None = None
    run_id: str | None = None
    host: str | None = None

    @classmethod
    def from_manifest(cls, manifest):
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in manifest.items() if k in names})

    def to_dict(self):
        return asdict(self)
