"""The engine: one database's migrations, for every layer above.

Connection, lock, state, plan, run and history of one database, behind public
methods. The API's ``Migrator``, the pipeline, the safety layer (rollback, restore),
the coordinator, the status reader and the HTTP app all go through it; none of them
opens a connection, takes the lock or writes ferryman's tables its own way.

    engine = Engine(settings)
    result = engine.run("up", lambda listing, state: plan_up(listing, state))

A run reads the state once, under the lock, and plans from it (core/runner.py). A
command with nothing to do returns without a writable connection: a SQLite file
that does not exist is not created, and no lock file either.

Above the core and the dialects; below safety, pipeline, coordinator and the faces.
"""

import time
from contextlib import contextmanager

from .core.compile import check_files
from .core.history import Applied, Entry, History, State
from .core.plan import check_state, resume_point
from .core.runner import Run, Runner, acquire_lock, now
from .core.source import scan
from .dialects import connect, dialect_class
from .errors import ConnectError, MigrationError, ReadOnlyDatabase, SourceError
from .events import Message, emit
from .results import MigrationStatus, RunResult, StepInfo


class Session:
    """A read-write connection holding the migration lock, with the state read once
    under it and the history writer of that connection."""

    __slots__ = ("db", "history", "state")

    def __init__(self, db, history, state):
        self.db, self.history, self.state = db, history, state


class Engine:
    """The migrations of the database that ``settings`` (config.Settings) names.

    ``consumers`` receive every event (ferryman.events); the list is the engine's
    own, so a layer above may add and remove observers on it. ``safety`` makes the
    default safety hooks of a run (see ``safety()``).
    """

    def __init__(self, settings, consumers=None, *, safety=None):
        self.settings = settings
        self.consumers = consumers if consumers is not None else []
        # (engine, backup=None) -> the run's safety hooks (backup before, restore after
        # a failure that cannot be rolled back): registered by the layer above
        # (safety.backups.RunSafety.for_engine), so the engine imports nothing above it.
        self.make_safety = safety
        self._reader = None  # a StatusReader, once status() was asked

    @property
    def url(self):
        return self.settings.url

    @property
    def prefix(self):
        return self.settings.table_prefix

    @property
    def dialect(self):
        """The dialect class of the database's engine."""
        return dialect_class(self.url.dialect)

    # -- connections ------------------------------------------------------------------
    def connect(self, readonly=False):
        """A new connection: read-only (never writes, never creates a SQLite file), or
        read-write with the configured statement and table-lock timeouts."""
        s = self.settings
        if readonly:
            return connect(s.url, readonly=True, timeout=s.connect_timeout,
                           password=s.password)
        return connect(s.url, timeout=s.connect_timeout, password=s.password,
                       statement_timeout=s.statement_timeout,
                       table_lock_timeout=s.table_lock_timeout)

    @contextmanager
    def session(self, strict=True):
        """A Session: read-write, the migration lock held, ready to write (a read-only
        SQLite file, or another writer's lock past the lock timeout, stop it here with
        exit code 4), the state read under the lock. ``strict=False`` reads a damaged
        state without raising (force, baseline and restore repair it)."""
        db = self.connect()
        try:
            acquire_lock(db, self.prefix, self.settings.lock_timeout, self.consumers)
            try:
                db.ready_to_write(self.settings.lock_timeout)
                history = self.history(db)
                yield Session(db, history, history.read_state(strict=strict))
            finally:
                db.unlock(self.prefix)
        finally:
            db.close()

    # -- reading ----------------------------------------------------------------------
    def listing(self, check=True):
        """The migrations of the configured folders; with ``check``, every file
        checked first (SourceError, exit code 2, lists every problem at once)."""
        listing = scan(self.settings.require_phases(), self.url.dialect, self.settings.format)
        for migration in listing.migrations:
            migration.refresh()
        if check:
            problems = check_files(listing, self.dialect)
            if problems:
                advice = format_advice(listing)
                error = SourceError(problems, hint="; ".join(
                    advice[:1] + ["fix the files; nothing was changed"]))
                error.format = _first_format(listing)
                error.advice = advice
                raise error
        return listing

    def history(self, db):
        """The reader and writer of ferryman's tables on connection ``db``."""
        return History(db, self.prefix)

    def read_state(self, strict=True, db=None):
        """The state, without the lock: a look, not a run's plan. On ``db``, else on a
        read-only connection of its own."""
        if db is not None:
            return self.history(db).read_state(strict=strict)
        db = self.connect(readonly=True)
        try:
            return self.history(db).read_state(strict=strict)
        finally:
            db.close()

    def write_history(self, work, db=None):
        """``work(history, state)`` in one transaction of the history writer, with the
        state read just before, on ``db`` or else on a new read-write connection: what
        a restored database is told about the restore (it predates it)."""
        own = db is None
        db = self.connect() if own else db
        try:
            history = self.history(db)
            state = history.read_state()
            return history.write(state, lambda h: work(h, state))
        finally:
            if own:
                db.close()

    def latest_run(self):
        """The newest row of the runs table, or None where ferryman never ran."""
        db = self.connect(readonly=True)
        try:
            history = self.history(db)
            if "runs" not in history.present():
                return None
            rows = history.runs(limit=1)
        finally:
            db.close()
        return rows[0] if rows else None

    def entries(self, limit=None, version=None):
        """History rows, newest first; [] where ferryman never ran. Lenient: the
        history is what a person reads to repair damaged tables."""
        db = self.connect(readonly=True)
        try:
            history = self.history(db)
            state = history.read_state(strict=False)
            if not state.tables:
                return []
            if "history" not in state.tables:
                raise state.error()
            return history.entries(limit, version)
        finally:
            db.close()

    def read_history(self, runs=1000):
        """(state, history entries newest first, {id: run} of the last ``runs`` runs),
        read-only: what rollback reads to find the last run that changed migrations."""
        db = self.connect(readonly=True)
        try:
            history = self.history(db)
            state = history.read_state()
            if state.schema_version is None:
                return state, [], {}
            return state, history.entries(), {r["id"]: r for r in history.runs(limit=runs)}
        finally:
            db.close()

    def status(self, raw=False):
        """Where the database stands (readonly.StatusReader): a MigrationStatus, or with
        ``raw`` the plain dict of ``status --json``. Read-only; the connection is kept
        for the next call (``close()`` closes it)."""
        return self._status_reader().read(raw=raw)

    def lock_held(self, keep=True):
        """Whether a runner, in any process on any host, holds the migration lock;
        asked without taking it. ``keep``: through the status reader's kept
        connection, else through one opened and closed for this question."""
        if keep:
            return self._status_reader().lock_held()
        db = self.connect(readonly=True)
        try:
            return db.lock_held(self.prefix)
        finally:
            db.close()

    def _status_reader(self):
        if self._reader is None:
            from .readonly import StatusReader

            s = self.settings
            self._reader = StatusReader(s.url, s.require_phases(), format=s.format,
                                        prefix=s.table_prefix,
                                        timeout=s.connect_timeout, password=s.password,
                                        convert=MigrationStatus.from_dict)
        return self._reader

    def close(self):
        """Close the connection kept for status(); the engine stays usable."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- running ----------------------------------------------------------------------
    def plan(self, command, planner, listing=None, options=(), resume=None):
        """A dry run: what ``command`` would run, SQL included; changes nothing.
        ``resume`` ("up" or "down"): as Runner's, the resumed migration first."""
        listing = listing or self.listing()
        db = self.connect(readonly=True) if self.dialect.exists(self.url) else None
        try:
            state = self.read_state(db=db) if db is not None else State()
            if db is not None and not state.tables:
                adoption = self.adoption(db, listing)
                if adoption is not None:
                    state = adopted_state(adoption)
                    emit(self.consumers, Message("info", "would be " + adoption.message()))
        finally:
            if db is not None:
                db.close()
        resumed = None
        if resume:
            import copy

            resumed = resume_point(listing, state, self.dialect, options, resume)
            state = copy.copy(state)
            state.dirty = None
        check_state(listing, state)
        steps = planner(listing, state)
        for step in steps if resumed else ():
            if getattr(step, "version", None) == resumed[0] and step.direction == resume:
                step.start = resumed[1]
        planned = tuple(StepInfo.planned(step, self.dialect, options) for step in steps)
        return RunResult(command, None, state.current_version, _target(state, steps),
                         planned, dry_run=True)

    def run(self, command, planner, listing=None, *, safety=None, options=(), timeout=None,
            resume=None):
        """Lock, read the state, plan with ``planner(listing, state)``, back up, apply:
        a RunResult. A run that failed on a transient error and was brought back is
        tried again, up to the configured retries, with exponential backoff."""
        listing = listing or self.listing()
        attempt, s = 0, self.settings
        while True:
            try:
                return self._run_once(command, planner, listing, safety, options, timeout,
                                      resume)
            except (MigrationError, ConnectError) as exc:
                if attempt >= s.retries or not _retryable(exc):
                    raise
                delay = s.retry_backoff * 2 ** attempt
                attempt += 1
                emit(self.consumers, Message(
                    "warning", f"{exc.message.splitlines()[0]}; a transient error, so retrying "
                    f"in {delay:g}s (retry {attempt} of {s.retries})"))
                time.sleep(delay)

    def _run_once(self, command, planner, listing, safety, options, timeout, resume=None):
        if not self.dialect.exists(self.url):
            # No database yet: nothing is applied. Only a run with something to do
            # creates the file (and its lock file).
            from .core.history import State

            check_state(listing, State())
            if not planner(listing, State()):
                return RunResult(command, None, None, None)
        s = self.settings
        db = self.connect()
        runner = Runner(db, listing, prefix=self.prefix, lock_timeout=s.lock_timeout,
                        transaction=s.transaction, timeout=timeout or s.timeout,
                        safety=safety, make_safety=None if safety is not None else self.safety,
                        consumers=self.consumers, options=options, reconnect=self.connect,
                        adopt=lambda db, history, state: self.adopt_on(
                            db, history, state, listing), resume=resume)
        try:
            return runner.attempt(command, planner)
        except ReadOnlyDatabase:
            # The lock file cannot be made beside a read-only database: with nothing
            # to do that is no failure (a start-up check on a read-only deployment).
            if runner.state is not None:
                raise  # refused to write, with work to do
            state = self.read_state()
            check_state(listing, state)
            if planner(listing, state):
                raise
            return RunResult(command, None, state.current_version, state.current_version)
        except MigrationError as exc:
            _suggest_baseline(exc, runner.state)
            raise
        finally:
            db.close()

    # -- another tool's state --------------------------------------------------------
    def foreign_names(self):
        """{tool: table} of the other tools' tables to look for: each tool's own name,
        or the configured foreign_table for all of them."""
        from .core.foreign import TOOLS

        table = self.settings.foreign_table
        return {tool: table or name for tool, name in TOOLS.items()}

    def adoption(self, db, listing):
        """What adopting the other tool's table found on ``db`` would record (an
        core.adopt.Adoption), None when there is none; a StateError (exit 3) when a
        person must look first."""
        from .core.adopt import choose
        from .core.foreign import detect

        return choose(detect(db, self.foreign_names()), listing,
                      self.settings.keep_foreign_state)

    def adopt_on(self, db, history, state, listing):
        """On a database with none of ferryman's tables, adopt the other tool's table
        found there: record its migrations as applied (running nothing) in one
        transaction, and return the state read again; ``state`` when there is none.
        A configured keep_foreign_state overrides what the adoption recorded."""
        if state.tables:
            # Kept all along (as adopted): the table must still agree with ferryman's.
            # ferryman's own dirty mark comes first (check_state): its run made the
            # kept table say dirty too.
            found = None if state.dirty else self.kept_table(db, state)
            keep = self.settings.keep_foreign_state
            if state.foreign and keep is not None:
                state.foreign = dict(state.foreign, keep=keep)
            if found is not None:
                from .core.adopt import divergence, diverged_error

                extra, missing = divergence(found, listing, state)
                if extra or missing:
                    raise diverged_error(found, extra, missing)
            return state
        adoption = self.adoption(db, listing)
        if adoption is None:
            tool = self.settings.format
            if self.settings.keep_foreign_state and tool in ("golang-migrate", "dbmate",
                                                             "goose"):
                # Asked to keep the tool's table from the first run: it exists from
                # here on (a project's migration may alter it, as golang-migrate
                # makes it before the first step).
                start_keeping(history, state, tool, self.foreign_names()[tool])
                return history.read_state()
            return state
        write_adoption(history, state, adoption)
        emit(self.consumers, Message("info", adoption.message()))
        return history.read_state()

    def adopt(self, dry_run=False):
        """``ferryman adopt``: adopt the other tool's table now (see adopt_on); with
        ``dry_run``, say what it would record and change nothing. (Adoption, state)."""
        listing = self.listing()
        if dry_run:
            db = self.connect(readonly=True)
            try:
                state = self.read_state(db=db)
                return (None if state.tables else self.adoption(db, listing)), state
            finally:
                db.close()
        with self.session() as session:
            if session.state.tables:
                return self._resync(session, listing)
            adoption = self.adoption(session.db, listing)
            if adoption is None:
                return None, session.state
            write_adoption(session.history, session.state, adoption)
            return adoption, session.history.read_state()

    def kept_table(self, db, state):
        """The other tool's table ferryman keeps up to date (a foreign.ForeignState), or
        None: not adopted, not kept, or the table is gone (the next write makes it)."""
        foreign = state.foreign or {}
        if not foreign.get("keep") or not foreign.get("tool"):
            return None
        from .core.adopt import KEPT
        from .core.foreign import find

        if foreign["tool"] not in KEPT:
            return None
        return find(db, foreign["tool"], foreign["table"])

    def _resync(self, session, listing):
        """``ferryman adopt`` where ferryman already keeps the database: when the other
        tool's kept table says something else (it ran in between), take its record as
        the truth, running nothing. (Adoption or None, state)."""
        from .core.adopt import Adoption, divergence

        state = session.state
        found = self.kept_table(session.db, state)
        if found is None:
            return None, state
        extra, missing = divergence(found, listing, state)
        if not extra and not missing:
            return None, state
        adoption = Adoption(found, [listing.by_version[v] for v in extra], True,
                            removed=missing)
        write_adoption(session.history, state, adoption)
        return adoption, session.history.read_state()

    def safety(self, backup=None):
        """The run's safety hooks as configured (the backup before the run, the restore
        of a run that cannot be rolled back), None without them; ``backup`` overrides
        whether a backup is taken."""
        return None if self.make_safety is None else self.make_safety(self, backup)


def _retryable(exc):
    if isinstance(exc, ConnectError):
        return getattr(exc, "transient", False)
    return exc.exit_code == 1 and getattr(exc, "transient", False)


def _target(state, steps):
    versions = set(state.by_version)
    for step in steps:
        if step.version is not None:  # a repeatable has no version
            (versions.add if step.direction == "up" else versions.discard)(step.version)
    return max(versions) if versions else None


def _suggest_baseline(error, state):
    """A first run on a database that already had tables failed and was rolled back:
    most likely its schema was made before ferryman (by hand, another tool, or a
    ferryman whose tables were dropped), so the next step is baseline, not an edit of
    the migration. `up` still runs there, as golang-migrate's does: a first migration
    written for an existing schema (IF NOT EXISTS) is a real use."""
    if state is None or error.exit_code != 1 or state.tables or not state.populated:
        return
    fix = f"fix {error.file} and run the command again" if error.file else "fix the migration"
    error.hint = ("this database had tables but no ferryman history: if its schema is "
                  "already at some version of these migrations, record that version with "
                  f"`ferryman baseline VERSION` (it runs nothing), then `ferryman up`; else {fix}")


def adopted_state(adoption):
    """The state a dry run plans from: the adopted migrations applied."""
    moment = now()
    return State([Applied(m.version, m.name, m.phase, m.kind, m.checksum, moment, "adopt")
                  for m in adoption.migrations])


def write_adoption(history, state, adoption):
    """Record an adoption in one transaction: a run ('adopt') and a history row for it
    (outcome 'adopted'); a row per migration it adds (direction 'baseline': applied,
    not run) and, in a resync (``adoption.removed``), 'force-up' and 'force-down'
    rows; the migrations and repeatables tables; and, the first time, which table was
    adopted (meta ``foreign``), so that ferryman keeps it up to date where it should."""
    import json

    resync = adoption.removed is not None
    run = Run("adopt", state.current_version)
    moment = now()
    removed = [state.by_version[v] for v in adoption.removed or ()]

    def work(h):
        h.start_run(run)
        h.record([Entry(run.id, _Found(adoption), "adopt", moment, moment,
                        outcome="adopted")], apply=False)
        added = [Entry(run.id, m, "force-up" if resync else "baseline", moment, moment,
                       checksum=m.checksum) for m in adoption.migrations]
        h.record(added + [Entry(run.id, a, "force-down", moment, moment) for a in removed],
                 apply=False)
        h.remove_applied([a.version for a in removed])
        h.add_applied(added)
        h.add_repeatables([Entry(run.id, r, "baseline", moment, moment, checksum=r.checksum,
                                 body=r.script("up").text) for r in adoption.repeatables])
        if not resync:
            h.set_meta("foreign", json.dumps(adoption.record(), sort_keys=True))
        after = ({a.version for a in state.applied} - {a.version for a in removed}
                 | {m.version for m in adoption.migrations})
        run.finished_at = now()
        run.to_version = max(after) if after else None
        h.finish_run(run, "ok", adoption.message())

    history.write(state, work)


def start_keeping(history, state, tool, table):
    """On a new database, make ``tool``'s table as the tool would and record that
    ferryman keeps it up to date (meta ``foreign``), in one transaction."""
    import json

    from .core.foreign import create

    def work(h):
        create(h.db, tool, table)
        h.set_meta("foreign", json.dumps({"tool": tool, "table": table, "keep": True},
                                         sort_keys=True))

    history.write(state, work)


class _Found:
    """The adoption's own history row: no migration, the tool's current version."""

    __slots__ = ("version", "name", "phase", "kind", "checksum")

    def __init__(self, adoption):
        current = adoption.found.current
        self.version = int(current) if current and current.isdigit() else None
        self.name = f"{adoption.tool} {adoption.table}"
        self.phase = self.kind = self.checksum = None


def format_advice(listing):
    """Which format would take the names a folder's format refuses (``set format =
    "flyway"``), for every folder of the listing that has such names."""
    import os

    from .core.formats import explain_refusal

    advice = []
    for folder, (format, _why) in listing.formats.items():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        advice += explain_refusal(names, format)
    return advice


def _first_format(listing):
    for format, _why in listing.formats.values():
        return format
    return None
