"""Going back: ``ferryman rollback`` (and ``migrate --rollback``) undoes the last
run, and ``ferryman backup restore`` replaces the database with a backup.

Rollback prefers the down migrations, which keep every row written since; only when
one is missing does it fall back to the backup taken before the run, which loses
what was written after it, and so asks first.
"""

import time

from ..core.plan import Step
from ..core.runner import Run, now
from ..errors import InputError, StateError
from ..events import BackupRestored, emit
from ..results import RunResult
from ..text import ms_since
from .backups import Backups

CHANGES = ("up", "down")


def last_run(engine):
    """(run_id, entries in order, the run's row) of the last run that changed migrations."""
    state, entries, runs = engine.read_history()
    if state.schema_version is None:
        raise InputError("nothing to roll back: ferryman has not run on this database")
    # force and baseline are changes too (their own rows: 'forced', 'baselined').
    latest = next((e for e in entries if e["outcome"] in ("ok", "forced", "baselined")), None)
    if latest is None or latest["direction"] not in CHANGES:
        what = f"`{latest['direction']}`" if latest else "nothing"
        raise InputError(f"nothing to roll back: the last change recorded was {what}",
                         hint="use `ferryman goto VERSION` or `ferryman backup restore ID`")
    run_id = latest["run_id"]
    mine = [e for e in reversed(entries) if e["run_id"] == run_id and e["outcome"] == "ok"
            and e["direction"] in CHANGES]
    return run_id, mine, runs.get(run_id, {})


def rollback(engine, *, dry_run=False, yes=False, confirm=None):
    """Undo the last run (``ferryman rollback``, ``migrate --rollback``): through its
    down migrations, else by restoring the backup taken before it, which loses what
    was written since and so needs ``yes`` or ``confirm(question)`` answering True."""
    listing = engine.listing()
    run_id, entries, run = last_run(engine)
    steps, missing = [], []
    for entry in reversed(entries):
        migration = listing.by_version.get(entry["version"])
        step = Step(migration, entry["direction"]).inverse() if migration else None
        if step is None or (step.direction == "down" and not migration.has_down):
            missing.append(entry["version"])
        else:
            steps.append(step)
    if not missing:
        def planner(_listing, state):
            for entry in entries:
                applied = entry["version"] in state.by_version
                if applied != (entry["direction"] == "up"):
                    raise StateError(f"the database changed since run {run_id}; look at "
                                     "`ferryman history` and run rollback again")
            return steps

        if dry_run:
            return engine.plan("rollback", planner, listing)
        return engine.run("rollback", planner, listing)
    backup_id = run.get("backup_id")
    if backup_id in (None, "disabled"):
        raise StateError(
            f"cannot roll back run {run_id}: no down migration for "
            f"{', '.join(map(str, missing))}, and the run took no backup",
            hint="write the down migrations, or restore an older backup")
    if dry_run:
        return RunResult("rollback", None, None, run.get("from_version"), (), dry_run=True,
                         outcome=f"would restore backup {backup_id}")
    restore_backup(engine, backup_id, yes=yes, confirm=confirm,
                   reason=f"roll back run {run_id}")
    return RunResult("rollback", run_id, run.get("to_version"), run.get("from_version"),
                     (), outcome=f"restored backup {backup_id}")


def restore_backup(engine, backup_id, *, yes=False, confirm=None, reason=None):
    """Verify, ask, take a safety backup, restore, record: the restored backup's
    manifest. See Migrator.restore."""
    backups = Backups.for_settings(engine.settings)
    manifest = backups.require_verified(backup_id)
    question = (f"Replace {engine.url.redacted()} with backup {manifest['id']} of "
                f"{manifest['created_at']} (version {manifest.get('migration_version')})? "
                "Everything written since is lost; a safety backup is taken first.")
    if not yes and not (confirm is not None and confirm(question)):
        raise InputError("restore not confirmed; nothing was changed",
                         hint="pass --yes (API: yes=True) to restore without asking")
    # Lenient: restoring a backup is how damaged ferryman tables are repaired.
    with engine.session(strict=False) as session:
        db, state = session.db, session.state
        # The safety backup reads the live database while a PostgreSQL restore fills a
        # fresh one (restore_backup's slowest steps, side by side); it must be complete
        # before the live database is touched, which is when the provider asks.
        safety = _Background(lambda: backups.create(
            f"safety backup before restoring {manifest['id']}",
            migration_version=state.current_version, dirty=bool(state.dirty),
            protect={manifest["id"]}))

        def record_safety():
            taken = safety.result()
            session.history.write(state, lambda h: h.record_backup(taken))

        started = time.monotonic()
        try:
            backups.restore(manifest["id"], release=db.close, before_swap=record_safety,
                            verified=manifest)
        except BaseException:
            safety.wait()  # the live database is untouched; let the safety backup finish
            raise
        emit(engine.consumers, BackupRestored(manifest["id"],
                                              ms_since(started, 1)))
        run = Run("restore", state.current_version, backup_id=safety.result()["id"])
        _record_restore(engine, backups, db, run, manifest, safety.result(), reason)
    return manifest


class _Background:
    """Work in a thread; ``result()`` waits for it and raises what it raised."""

    def __init__(self, work):
        import threading

        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(work,),
                                        name="ferryman-safety-backup")
        self._thread.start()

    def _run(self, work):
        try:
            self._value = work()
        except BaseException as exc:  # handed to whoever waits
            self._error = exc

    def wait(self):
        self._thread.join()

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _record_restore(engine, backups, db, run, manifest, safety, reason):
    """The restored database predates the restore: tell its history what happened, on
    ``db`` where the restore was in place (SQLite), else on a new connection to the
    database swapped in (PostgreSQL)."""
    def write(history, state):
        known = {b["id"] for b in history.backups()} if state.schema_version else set()
        run.finished_at = now()
        run.to_version = state.current_version
        history.finish_run(run, "ok", reason or f"restored backup {manifest['id']}",
                           exists=False)
        for backup in (manifest, safety):
            if backup["id"] not in known:
                history.record_backup(backup)

    engine.write_history(write, db if backups.provider.restores_in_place else None)
