"""The Python API: the same verbs as the CLI, on one object.

    from ferryman import Migrator

    migrator = Migrator("sqlite:///app.db", "migrations")
    print(migrator.status().current_version)
    result = migrator.up()            # RunResult; raises a FerrymanError on failure

Every method returns a dataclass (ferryman.results) and raises only ``FerrymanError``
subclasses. The CLI is a thin face over this module.
"""

from __future__ import annotations

import os

from .config import Settings, load_settings
from .core.history import Entry
from .core.plan import NOTHING, check_state, plan_down, plan_goto, plan_up, resolve
from .core.runner import Run, now
from .engine import Engine
from .errors import InputError, SourceError
from .results import (BackupInfo, HistoryEntry, MigrationInfo, MigrationStatus, RunResult,
                      StepInfo, Validation)


class Migrator:
    """Migrations of one database: a thin face over its Engine (ferryman.engine).

    ``database_url`` and ``migrations`` (a folder, or a {phase: folder} dict) override
    the configuration; ``config`` names a ferryman.toml; other keyword arguments are
    settings (``lock_timeout``, ``transaction``, ``backup``, ``timeout``, ...).
    ``on_event`` receives every event of a run (see ferryman.events).
    """

    def __init__(self, database_url=None, migrations=None, *, config=None, settings=None,
                 on_event=None, **options):
        phases = migrations if isinstance(migrations, dict) else None
        if migrations is not None and phases is None:
            options["migrations"] = os.fspath(migrations)
        if database_url is not None:
            options["database_url"] = database_url
        settings = settings or load_settings(config, overrides=options)
        if phases is not None:
            settings.phases = {p: os.path.abspath(f) for p, f in phases.items()}
        consumers = [on_event] if callable(on_event) else list(on_event or ())
        if settings.log_file:
            from .logfile import LogFile

            consumers.append(LogFile(settings.log_file))
        self.engine = Engine(settings, consumers, safety=_run_safety)

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @property
    def consumers(self):
        return self.engine.consumers

    @property
    def url(self):
        return self.settings.url

    @property
    def prefix(self):
        return self.settings.table_prefix

    # -- reading ----------------------------------------------------------------------
    def status(self) -> MigrationStatus:
        """Where the database stands. Read-only; reads no pending migration file. The
        read-only connection is kept for the next call (``close()`` closes it)."""
        return self.engine.status()

    def status_dict(self):
        """The same, as the plain dict of ``ferryman status --json``."""
        return self.engine.status(raw=True)

    def lock_held(self):
        """Whether a runner, in any process on any host, holds the migration lock now.
        Asked without taking the lock."""
        return self.engine.lock_held()

    def close(self):
        """Close the connection kept for status(); the Migrator stays usable."""
        self.engine.close()

    def history(self, limit=None, version=None) -> list[HistoryEntry]:
        """History rows, newest first; ``version``: only that migration's (a number, or
        a name or Flyway version where the folder has those)."""
        if version is not None and not isinstance(version, int):
            version = self._version_of(str(version).strip())
        return [HistoryEntry(**row) for row in self.engine.entries(limit, version)]

    def _version_of(self, text):
        """The version ``text`` names, whether or not its file is still there."""
        listing = self.engine.listing(check=False)
        if listing.key_kind is not None:
            from .core.versions import parse

            try:
                return parse(text, listing.key_kind)
            except ValueError as exc:
                raise InputError(f"--version {text}: {exc}") from None
        if not text.isdigit() or int(text) > 2**63 - 1:
            raise InputError(f"--version {text}: must be a whole number, 0 or more, up to "
                             f"{2**63 - 1}")
        return int(text)

    def validate(self) -> Validation:
        """Check every file, then the applied migrations' checksums. Read-only.
        Raises SourceError (2) or a StateError (3) listing what is wrong; both say how
        the folder was read (``format``, ``format_reasons``)."""
        try:
            listing = self.engine.listing()
        except SourceError as error:
            error.format, error.format_reasons = read_as(self.engine.listing(check=False))
            raise
        format, reasons = read_as(listing)
        state = self.engine.read_state()
        check_state(listing, state)
        return Validation(len(listing.migrations), len(state.applied), self.url.redacted(),
                          format=format, format_reasons=reasons)

    # -- changing ---------------------------------------------------------------------
    def up(self, target=None, *, dry_run=False, allow_out_of_order=None,
           resume=False) -> RunResult:
        """Apply pending migrations, up to ``target`` if given. ``resume``: first go on
        with the migration a stopped run left dirty, from the statement where it
        stopped (after a person fixed that statement in its file); the statements
        before it ran and are committed, and their part of the file must be unchanged."""
        allow = self._allow(allow_out_of_order)
        return self._change("up", lambda l, s: plan_up(l, s, target, allow), dry_run,
                            resume)

    def down(self, steps=None, *, to=None, dry_run=False, resume=False) -> RunResult:
        """Undo the ``steps`` newest migrations (default 1), or every one above ``to``;
        ``resume`` as for ``up``, for a down migration that stopped part way."""
        if steps is not None and to is not None:
            raise InputError("give either steps or to, not both")
        return self._change("down", lambda l, s: plan_down(l, s, steps, to), dry_run,
                            resume)

    def goto(self, version, *, dry_run=False, allow_out_of_order=None) -> RunResult:
        """Apply or undo migrations until exactly those up to ``version`` are applied."""
        allow = self._allow(allow_out_of_order)
        return self._change("goto", lambda l, s: plan_goto(l, s, version, allow), dry_run)

    def rollback(self, *, dry_run=False, yes=False, confirm=None) -> RunResult:
        """Undo the last run: through its down migrations, or, where one is missing,
        by restoring the backup taken before it (which needs ``yes``, or ``confirm``
        answering True)."""
        from .safety.rollback import rollback

        return rollback(self.engine, dry_run=dry_run, yes=yes, confirm=confirm)

    def force(self, version) -> RunResult:
        """Record the database as being at ``version`` without running anything: the
        migrations up to it applied, none above; clear the dirty flag. For after a
        person repaired a failed migration, and the repair of damaged ferryman tables:
        it recreates a missing table, rewrites what ferryman_meta holds, and makes the
        migrations table and the history agree. ``message`` of the result says what it
        did; the history has a row for it (outcome 'forced')."""
        return self._record("force", version)

    def baseline(self, version) -> RunResult:
        """Adopt an existing database: mark every migration up to ``version`` applied
        without running it. Only for a database with no ferryman history. The history
        has a row for it (outcome 'baselined')."""
        return self._record("baseline", version)

    def adopt(self, *, dry_run=False) -> RunResult:
        """Adopt the state table another tool (golang-migrate, dbmate, goose) left in
        a database ferryman never ran on: record its applied migrations as applied,
        running nothing, and keep its table up to date where keep_foreign_state says
        so. ``up`` does this by itself on its first run; this does it alone, or with
        ``dry_run`` says what it would record. ``message`` says what was adopted."""
        adoption, state = self.engine.adopt(dry_run=dry_run)
        if adoption is None:
            if state.tables:
                kept = state.foreign or {}
                since = (f", adopted from {kept.get('tool')} {kept.get('table')}"
                         if kept.get("tool") else "")
                message = f"nothing to adopt: ferryman already keeps this database{since}"
            else:
                message = ("nothing to adopt: no golang-migrate, dbmate, goose or Flyway "
                           "table here")
            return RunResult("adopt", None, state.current_version, state.current_version,
                             dry_run=bool(dry_run), message=message)
        steps = tuple(StepInfo(m.version, m.name, m.phase, "baseline")
                      for m in adoption.migrations)
        message = adoption.message()
        return RunResult("adopt", None, None, steps[-1].version if steps else None, steps,
                         dry_run=bool(dry_run), message=("would be " if dry_run else "") + message)

    def _allow(self, value):
        return self.settings.allow_out_of_order if value is None else value

    def _change(self, command, planner, dry_run, resume=False):
        if dry_run:
            return self.engine.plan(command, planner, resume=command if resume else None)
        return self.engine.run(command, planner, resume=command if resume else None)

    def _record(self, command, version):
        """force and baseline: change the history, run nothing."""
        listing = self.engine.listing(check=False)
        version = resolve(listing, version, f"{command} VERSION")
        # Lenient: force is how damaged tables are repaired (core/history.py, _repair).
        with self.engine.session(strict=False) as session:
            return _record(session, listing, command, version)

    # -- the pipeline -----------------------------------------------------------------
    def migrate(self, strategy=None, *, dry_run=False, rollback_mode=False,
                skip_optimizations=None, concurrent_indexes=None, timeout=None,
                failure_strategy=None, backup_before_migrate=None, options=None,
                services=None, parallel=None, failure_policy=None, confirm=None):
        """Run the ten-phase pipeline: ``strategy`` is safe, extended, unified (the
        default) or coordinated; the keyword options are MigrationOptions (None: as
        configured). Returns a RunResult with the phases and where the reports are.

        ``coordinated`` with [services] configured migrates every service (or those in
        ``services``) in dependency order, ``parallel`` at once, and returns a
        RunResult whose ``services`` says how each went (see ferryman.coordinator)."""
        from .pipeline.run import MigrationOptions, Pipeline

        options = options or MigrationOptions(
            dry_run=dry_run, rollback_mode=rollback_mode,
            skip_optimizations=skip_optimizations, concurrent_indexes=concurrent_indexes,
            timeout=timeout, failure_strategy=failure_strategy,
            backup_before_migrate=backup_before_migrate)
        s = self.settings
        if (strategy or s.strategy) == "coordinated" and s.services and not s.service:
            from .coordinator import coordinate

            from .safety.backups import engine_for

            return coordinate(s, services=services, parallel=parallel or s.parallel,
                              failure_policy=failure_policy or s.failure_policy,
                              options=options, consumers=self.consumers,
                              engine_factory=engine_for)
        return Pipeline(self.engine, strategy, options, confirm=confirm).run()

    # -- backups ----------------------------------------------------------------------
    def backup(self, reason="manual") -> BackupInfo:
        """Take a backup now (under the migration lock) and record it in the database."""
        from .safety.backups import take_backup

        return BackupInfo.from_manifest(take_backup(self.engine, reason))

    def backups(self) -> list[BackupInfo]:
        """The backups of this database in the backup folder, newest first."""
        from .safety.backups import Backups

        return [BackupInfo.from_manifest(m) for m in Backups.for_settings(self.settings).list()]

    def verify_backup(self, backup_id) -> tuple[BackupInfo, list[str]]:
        """(the backup, its problems): the hash, then the database's own tool."""
        from .safety.backups import Backups

        manifest, problems = Backups.for_settings(self.settings).verify(backup_id)
        return BackupInfo.from_manifest(manifest), problems

    def restore(self, backup_id, *, yes=False, confirm=None) -> BackupInfo:
        """Replace the database with a verified backup, after a safety backup.

        Refuses a backup that fails verification (VerifyError, exit code 3) before
        touching anything. ``confirm(text) -> bool`` is asked unless ``yes``.
        """
        from .safety.rollback import restore_backup

        return BackupInfo.from_manifest(
            restore_backup(self.engine, backup_id, yes=yes, confirm=confirm))

    # -- maintenance and monitoring -----------------------------------------------------
    def maintain(self, task, *, tables=None, column=None, days=None, batch_size=None,
                 dry_run=False):
        """Run a maintenance task (analyze, vacuum, reindex, refresh, purge) under the
        migration lock, so never during a migration. ``tables`` limits it (a list, or
        a comma list); a purge's table, column and days default to the configuration.
        ``dry_run`` changes nothing: a read-only look, the SQL, and purge's count."""
        from .maintenance import check_request, maintain

        task, tables, purge = check_request(task, self.settings, tables=tables,
                                            column=column, days=days, batch_size=batch_size)
        if dry_run:
            db = self.engine.connect(readonly=True)
            try:
                return maintain(db, task, tables=tables, purge=purge, dry_run=True)
            finally:
                db.close()
        with self.engine.session() as session:
            return maintain(session.db, task, tables=tables, purge=purge)

    def inspect(self, limit=10):
        """The monitoring views: slow queries, table sizes, connections, locks.
        Read-only; an Inspection (ferryman.maintenance)."""
        from .maintenance import check_limit, inspect

        check_limit(limit)
        db = self.engine.connect(readonly=True)
        try:
            return inspect(db, limit)
        finally:
            db.close()


def _run_safety(engine, backup=None):
    """The configuration's safety hooks of a run (safety.backups.RunSafety), imported
    when a run needs them: a status check never pays for the backup machinery."""
    from .safety.backups import RunSafety

    return RunSafety.for_engine(engine, backup)


def _record(session, listing, command, version):
    """force and baseline, under the lock: one transaction of the history writer."""
    state = session.state
    if state.newer is not None:
        raise state.error()  # never write the tables of a newer ferryman
    if command == "baseline" and (state.applied or state.dirty or state.history_applied):
        raise InputError(
            f"the database already has ferryman history (at version "
            f"{state.current_version}); baseline is for adopting a database",
            hint=f"use `ferryman force {version}` to move the recorded version")
    change = _Recording(listing, state, version, command)
    run = Run(command, state.current_version)
    moment = now()

    def write(history):
        history.start_run(run)
        history.record(change.history_rows(run.id, moment), apply=False)
        history.remove_applied([a.version for a in change.removes])
        history.add_applied([Entry(run.id, m, change.up, moment, moment,
                                   checksum=m.checksum) for m in change.adds])
        history.set_dirty(None)
        for key in state.unreadable:  # rewritten by ferryman when it next has one
            history.set_meta(key, None)
        run.finished_at = now()
        run.to_version = change.to_version
        history.finish_run(run, "ok", change.message())

    session.history.write(state, write)
    steps = tuple(StepInfo(v, getattr(m, "name", None), getattr(m, "phase", None), d)
                  for v, m, d in change.version_rows)
    return RunResult(command, run.id, state.current_version, run.to_version, steps,
                     message=change.message())


class _Recording:
    """What force or baseline changes: the migrations table becomes exactly the
    migrations up to ``version`` (those applied and kept, those of the folder added),
    and the history gets a row for each version whose recorded state changes, counted
    from what the history itself says (so that a history that disagreed with the
    migrations table agrees again), after one row for the command itself."""

    def __init__(self, listing, state, version, command):
        self.listing, self.state, self.version, self.command = listing, state, version, command
        self.up = "baseline" if command == "baseline" else "force-up"
        self.kept = [a for a in state.applied if a.version <= version]
        self.adds = [m for m in listing.migrations
                     if m.version <= version and m.version not in state.by_version]
        self.removes = [a for a in state.applied if a.version > version]
        desired = {a.version: a for a in self.kept}
        desired.update({m.version: m for m in self.adds})
        # Without a history table (recreated empty), it says nothing was applied.
        recorded = state.history_applied or set()
        self.version_rows = [(v, desired[v], self.up) for v in sorted(set(desired) - recorded)]
        self.version_rows += [(v, self._known(v), "force-down")
                              for v in sorted(recorded - set(desired), reverse=True)]
        self.to_version = max(desired) if desired else None

    def _known(self, version):
        if version in self.state.by_version:
            return self.state.by_version[version]
        return self.listing.by_version.get(version) or _Named(version, None)

    def history_rows(self, run_id, moment):
        target = self.listing.by_version.get(self.version)
        version = None if self.version is NOTHING else self.version
        rows = [Entry(run_id, _Named(version, target.name if target else None),
                      self.command, moment, moment,
                      outcome="forced" if self.command == "force" else "baselined")]
        for version, migration, direction in self.version_rows:
            rows.append(Entry(run_id, migration, direction, moment, moment,
                              checksum=getattr(migration, "checksum", None)))
        return rows

    def message(self):
        """What it did, in words: the CLI prints it, the runs table keeps it."""
        state, parts = self.state, []
        if state.problems:
            count = len(state.problems)
            parts.append(f"repaired ferryman's own tables ({count} problem"
                         f"{'s' if count != 1 else ''}: {state.problems[0]}"
                         f"{'; ...' if count > 1 else ''})")
        if state.dirty:
            dirty, which = state.dirty, ""
            if dirty.get("version") is not None:
                which = f"version {dirty['version']}: "
            parts.append(f"cleared the dirty flag ({which}"
                         f"{dirty.get('reason', 'a migration did not finish')})")
        added = [m.version for m in self.adds]
        if added:
            verb = "marked applied" if self.command == "baseline" else "recorded as applied"
            parts.append(f"{verb} {_count(added)} ({_list(added)}) without running "
                         f"{'them' if len(added) > 1 else 'it'}")
        removed = [a.version for a in self.removes]
        if removed:
            parts.append(f"recorded {_count(removed)} ({_list(removed)}) as not applied, "
                         f"without running {'their' if len(removed) > 1 else 'its'} down "
                         "migration")
        if not parts:
            parts.append("changed nothing: the database was already recorded there, clean")
        where = "none (nothing applied)" if self.to_version is None else self.to_version
        return "; ".join(parts) + f"; the database is recorded at version {where}"


class _Named:
    """A version and its name, for a history row of no migration file (force's own row,
    a version whose file is gone)."""

    __slots__ = ("version", "name", "phase", "kind", "checksum")

    def __init__(self, version, name):
        self.version, self.name = version, name
        self.phase = self.kind = self.checksum = None


def _count(versions):
    return f"{len(versions)} migration{'s' if len(versions) != 1 else ''}"


def _list(versions):
    shown = ", ".join(map(str, versions[:10]))
    return shown + (f" and {len(versions) - 10} more" if len(versions) > 10 else "")


def read_as(listing):
    """(format, reasons): the format the listing's first folder is read in, and why
    each folder is read so (its path first when there are several)."""
    formats = listing.formats
    if not formats:
        return None, ()
    reasons = []
    for folder, (_format, why) in formats.items():
        why = why or ["every migration file is named as ferryman names them"]
        reasons += [f"{folder}: {w}" if len(formats) > 1 else w for w in why]
    return next(iter(formats.values()))[0], tuple(reasons)


def status(database_url=None, migrations=None, **options) -> MigrationStatus:
    """The status record: current_version, dirty, pending_count, last_backup."""
    return Migrator(database_url, migrations, **options).status()


__all__ = ["Migrator", "MigrationStatus", "MigrationInfo", "RunResult", "StepInfo",
           "HistoryEntry", "Validation", "BackupInfo", "status"]
