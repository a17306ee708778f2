"""Apply a plan under the lock: each migration and its history row in one transaction,
and a failed run brought back to where it started.

Transactions. By default a whole run is one transaction: the migrations and their
history rows commit together, so a killed process leaves nothing half done (the
server, or SQLite's journal, rolls it back). ``transaction="each"`` commits after
every migration. A ``no-transaction`` migration runs in autocommit and splits the
run there; it marks the database dirty before its first statement and clears the
mark when it finishes, so a failure or a kill part way is visible to everyone.

Lock budget. PostgreSQL keeps every lock a transaction takes until it ends, in a
shared table sized max_locks_per_transaction × (max_connections +
max_prepared_transactions). A run of thousands of migrations would fill it, and the
application's own queries would fail with "out of shared memory" too. So the runner
commits a chunk when the run holds half of that table, and if the table fills anyway
(SQLSTATE 53200) it rolls the chunk back whole and retries it in halves.

Rollback. When a migration fails, its transaction rolls back; migrations of the same
run that had committed (earlier chunks, ``each`` mode, no-transaction splits) are
undone through their inverse steps, newest first. When that is impossible (no down
migration, a down that fails, a half-done no-transaction migration) the runner stops
at a consistent point, marks the database dirty with what happened, and raises
``RollbackError`` (exit code 3).

Stopping. A signal (the CLI's handler, see ``request_stop``) or the run's timeout
cancels the running statement from another thread; the run then rolls back as for a
failure and says why: ``Interrupted`` (exit code 130 or 143) for a signal. A run that
lost its connection opens a new one (``reconnect``) to record the failure and to undo
what it committed, and says that running it again is the fix.
"""

import time
from collections import deque
from datetime import datetime, timezone

from ..errors import (DriverError, FerrymanError, Interrupted, LockTimeout, MigrationError,
                      RollbackError)
from ..events import (ChunkCommitted, ChunkSplit, LockAcquired, LockWaiting, Message,
                      RollbackStarted, RunFinished, RunStarted, StepFailed, StepFinished,
                      StepStarted, emit)
from .history import Entry, History
from ..results import RunResult, StepInfo
from ..text import iso, ms_since
from .compile import begins_transaction, ends_transaction
from .plan import Checkpoint, check_state, resumable, resume_point, text_lines

BUDGET_EVERY = 50  # steps between two looks at the lock table
RECONNECT_LOCK_WAIT = 10.0  # seconds to retake the lock after a lost connection


# -- stopping on a signal --------------------------------------------------------------
# The runs in progress in this process, and the stop request once a signal came. Plain
# containers: add, discard, append and list() are atomic under the GIL, and the CLI's
# signal watcher reads them from its own thread.
_ACTIVE = set()
_STOP = []  # [(signal name, exit code)] once the process was asked to stop
_FINISHED = [0]  # runs that ended since clear_stop (committed or brought back)


class StopRequested(KeyboardInterrupt):
    """What the CLI's signal handler raises in the main thread where no run can be left
    half done: no run is in progress there (so nothing of this run changed yet, or the
    run is over), or the run's migration is in its own Python code, where the runner
    catches it. A KeyboardInterrupt, so a driver treats it as Ctrl-C (psycopg cancels the
    query it waits for)."""

    def __init__(self, signal_name, exit_code):
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code
        self.after_run = _FINISHED[0] > 0

    def error(self):
        """The Interrupted error the CLI prints."""
        if self.after_run:
            what = ("after a run had ended: what it committed stands (`ferryman status` "
                    "shows where the database is)")
        else:
            what = "before any migration ran: nothing was changed"
        return Interrupted(f"interrupted by {self.signal_name} {what}",
                           signal_name=self.signal_name, exit_code=self.exit_code)


def request_stop(signal_name, exit_code):
    """Ask every run of this process to stop; from any thread (the CLI's signal
    watcher). Each run marks itself and cancels its running statement. Returns True
    while a run has yet to notice: ask again shortly, since a cancel that came just
    before a statement began stops nothing."""
    if not _STOP:
        _STOP.append((signal_name, exit_code))
    waiting = False
    for runner in list(_ACTIVE):
        waiting = runner.interrupt(signal_name, exit_code) or waiting
    return waiting


def stop_here(thread_id):
    """For the signal handler in thread ``thread_id``: whether to raise StopRequested
    there now. No: a run is in progress and will stop at its next step, rolled back
    (raising inside ferryman's own bookkeeping could leave it half written). Yes: no
    run is in progress, or this thread's run is in its migration's own Python code."""
    runs = list(_ACTIVE)
    return not runs or any(r.thread == thread_id and r.in_user_code and not r.recovering
                           for r in runs)


def clear_stop():
    """Forget a stop request and the runs that ended (the CLI, around each command)."""
    _STOP.clear()
    _FINISHED[0] = 0


def _stop_requested():
    return _STOP[0] if _STOP else None


def now():
    return datetime.now(timezone.utc)


def new_run_id():
    import os

    return f"{now():%Y%m%dT%H%M%SZ}-{os.urandom(3).hex()}"


class Run:
    """One invocation that changes a database."""

    __slots__ = ("id", "command", "started_at", "finished_at", "from_version", "to_version",
                 "backup_id")

    def __init__(self, command, from_version, backup_id=None):
        self.id = new_run_id()
        self.command = command
        self.started_at = now()
        self.finished_at = None
        self.from_version = from_version
        self.to_version = from_version
        self.backup_id = backup_id


class StepFailure(Exception):
    """A step failed; carries the error a person will read and whether it left the
    database dirty (a no-transaction step stopped part way)."""

    def __init__(self, step, error, dirty=False, at_commit=False):
        super().__init__(error.message)
        self.step = step
        self.error = error
        self.dirty = dirty
        self.at_commit = at_commit
        # Where an autocommit step stopped: the index of the statement it stopped at,
        # and (index, Statement) of the one that began the migration's own transaction
        # still open then (see Runner._run_script), or None.
        self.index = None
        self.block = None
        self.grouped = False  # block is the runner's group of data-only statements


class _Progress:
    """Where a step run statement by statement stands, for its dirty mark: the
    digest of the file's text before a statement (its lines before the statement's
    first line), computed in one pass as the step goes on."""

    def __init__(self, script, compiled):
        self.lines = text_lines(script.text)
        self.statements = compiled.statements
        self.hash, self.fed = None, 0

    def done(self, index):
        """{done_lines, done_sha256}: the lines before statement ``index``."""
        import hashlib

        upto = (self.statements[index].line - 1 if index < len(self.statements)
                else len(self.lines))
        upto = min(upto, len(self.lines))  # a tool's section (goose) may count on
        if self.hash is None or upto < self.fed:  # back to a group's start: again
            self.hash, self.fed = hashlib.sha256(), 0
        while self.fed < upto:
            self.hash.update(self.lines[self.fed].encode("utf-8"))
            self.fed += 1
        return {"done_lines": upto, "done_sha256": self.hash.hexdigest()}


def acquire_lock(db, name, timeout, consumers):
    """Poll the dialect's try-lock until ``timeout``; never queue on the server."""
    start = time.monotonic()
    delay, next_report, attempts = 0.05, 0.0, 0
    while True:
        _raise_if_stopped()
        if db.try_lock(name):
            if attempts:
                emit(consumers, LockAcquired(time.monotonic() - start))
            return
        attempts += 1
        waited = time.monotonic() - start
        if waited >= timeout:
            holder = db.lock_holder(name)
            raise LockTimeout(
                f"another ferryman holds the migration lock on {db.describe()}; gave up "
                f"after {timeout:g}s" + (f"; held by {holder}" if holder else ""),
                hint="wait for it to finish, or raise --lock-timeout")
        if waited >= next_report:
            emit(consumers, LockWaiting(db.lock_holder(name), waited))
            next_report = waited + 5.0
        time.sleep(min(delay, max(0.0, timeout - waited)))
        delay = min(delay * 1.5, 1.0)


def _raise_if_stopped():
    """Before a run changes anything: a stop request ends it here."""
    stop = _stop_requested()
    if stop is not None:
        raise StopRequested(*stop).error()


class Runner:
    """Runs steps against one open database connection (a dialect).

    ``reconnect()`` opens a new connection like the first; with it, a run that lost
    its connection records its failure and undoes what it committed.
    """

    def __init__(self, db, listing, *, prefix="ferryman_", lock_timeout=600.0,
                 transaction="run", timeout=None, safety=None, consumers=(), options=(),
                 reconnect=None, make_safety=None, adopt=None, resume=None):
        self.db = db
        # "up" or "down": go on with the migration a stopped run left dirty in that
        # direction, from the statement where it stopped (``--resume``;
        # plan.resume_point)
        self.resume = resume
        # (db, history, state) -> state: adopts another tool's state table on a
        # database ferryman never ran on (Engine.adopt_on), under the run's lock
        self.adopt = adopt
        self.reconnect = reconnect
        self.dialect = type(db)
        self.listing = listing
        self.history = History(db, prefix)
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.transaction = transaction
        self.timeout = timeout
        self.safety = safety
        # () -> the safety hooks, made only when a run has something to do (a no-op
        # start-up check never loads the backup machinery)
        self.make_safety = make_safety
        self.consumers = list(consumers)
        self.options = tuple(options)  # compile options, e.g. (("concurrent_indexes", True),)
        self.expired = False
        self.lost = False  # the run's first connection was lost (see _ensure_connection)
        self.interrupted = None  # the signal's name once asked to stop (request_stop)
        self.stop_code = None
        self.recovering = False  # rolling back: a stop request cancels nothing now
        self.in_user_code = False  # in a Python migration's own code
        self.thread = None
        self.state = None  # the state read under the lock, once run() read it
        self.mark = None  # the dirty mark of the step running in autocommit
        self.progress = None  # where that step stands (_Progress)
        self.group = None  # where its open run of data-only statements began
        self.undo_failed = None  # why its down could not undo what ran of it
        self.undone_part = None  # (label, statements, down file) once it did

    # -- the whole command ------------------------------------------------------------
    def attempt(self, command, planner):
        """One attempt at a run (the engine retries a transient failure): lock, read
        the state once, plan with ``planner(listing, state)``, run the steps; a
        RunResult.

        Under the lock, just before the first change, ``safety.before_run(db, state,
        steps, run)`` takes the backup and returns its id (see RunSafety). Nothing to
        do is an empty result, not an error. ``state`` is the state read, for the
        caller to explain a failure with (None until it was read).
        """
        first = self.db
        _raise_if_stopped()
        acquire_lock(self.db, self.prefix, self.lock_timeout, self.consumers)
        try:
            # Another connection's lock on the database (SQLite's busy lock) is waited
            # for at most the lock timeout, like another ferryman's.
            state = self.db.lock_wait(self.lock_timeout, self.history.read_state,
                                      stop=_raise_if_stopped)
            if self.adopt is not None:
                state = self.adopt(self.db, self.history, state)
            self.state = state
            planning, resumed = self._resume_point(state)
            check_state(self.listing, planning)
            steps = planner(self.listing, planning)
            if resumed is not None:
                self._attach(steps, *resumed)
            if not any(not isinstance(item, Checkpoint) for item in steps):
                return RunResult(command, None, state.current_version, state.current_version)
            # Before the backup: a read-only database, or another connection's write
            # lock held past the lock timeout, stops the run here with exit 4 and
            # nothing changed. The write lock taken is kept for the run's first
            # transaction.
            self.db.ready_to_write(self.lock_timeout, hold=True, stop=_raise_if_stopped)
            run = Run(command, state.current_version)
            if self.safety is None and self.make_safety is not None:
                self.safety = self.make_safety()
            if self.safety is not None:
                run.backup_id = self.safety.before_run(self.db, state, steps, run)
            return self._apply_plan(run, steps, state)
        finally:
            self.db.unlock(self.prefix)
            if self.db is not first:  # opened by _reconnect; the caller closes its own
                self.db.close()

    def _resume_point(self, state):
        """(the state to plan with, (version, start, mark) or None): with ``resume``,
        the dirty migration's mark is checked (plan.resume_point) and the plan is made
        as though it were not dirty; the mark stays until the migration finishes."""
        if not self.resume:
            return state, None
        import copy

        resumed = resume_point(self.listing, state, self.dialect, self.options,
                               self.resume)
        planning = copy.copy(state)
        planning.dirty = None
        return planning, resumed

    def _attach(self, steps, version, start, mark):
        """Make the plan's step of the resumed migration start at ``start``."""
        for step in steps:
            if not isinstance(step, Checkpoint) and step.version == version and \
                    step.direction == self.resume:
                step.start, step.resumed = start, mark
                return
        raise InputError(f"--resume goes on with version {version}, which this command "
                         "would not run", version=version,
                         hint=f"run `ferryman {self.resume} --resume` without a "
                              "target below it")

    # -- the run ----------------------------------------------------------------------
    def _apply_plan(self, run, steps, state):
        self.state = state
        self.current = run
        self.applied = set(state.by_version)
        self.run_row = False  # is the run's row committed?
        self.done, self.committed, self.batch = [], [], []
        started = time.monotonic()
        real = [s for s in steps if not isinstance(s, Checkpoint)]
        emit(self.consumers, RunStarted(run.id, run.command, self.db.describe(), tuple(
            (s.version, s.migration.name, s.direction) for s in real)))
        import threading

        self.thread = threading.get_ident()
        _ACTIVE.add(self)
        stop = _stop_requested()
        if stop is not None:  # asked before this run began: it stops at its first step
            self.interrupt(*stop)
        watchdog = self._start_watchdog()
        try:
            self._run_steps(deque(steps), len(real))
        except StepFailure as failure:
            self._recover(failure)  # always raises
        except DriverError as exc:  # ferryman's own statements (history, dirty marks)
            what = self._stop_text() or f"ferryman could not write its own tables: {exc.message}"
            error = MigrationError(what, db_message=exc.db_message, sqlstate=exc.sqlstate)
            error.transient = exc.transient and not self._stop_text()
            self._recover(StepFailure(None, error))
        finally:
            _ACTIVE.discard(self)
            _FINISHED[0] += 1
            if watchdog is not None:
                watchdog.cancel()
        run.to_version = max(self.applied) if self.applied else None
        emit(self.consumers, RunFinished(run.id, "ok", run.from_version, run.to_version,
                                         len(real), _ms(started)))
        return RunResult(run.command, run.id, run.from_version, run.to_version,
                         tuple(StepInfo(**step) for step in self.done))

    def _start_watchdog(self):
        """Cancel the running statement when the whole run goes over its timeout."""
        if not self.timeout:
            return None
        import threading

        def expire():
            self.expired = True
            self.db.cancel()

        timer = threading.Timer(self.timeout, expire)
        timer.daemon = True
        timer.start()
        return timer

    def _expired_text(self):
        return f"the run went over its timeout of {self.timeout:g}s" if self.expired else None

    def _stop_text(self):
        """Why the run is stopping though nothing failed: a signal, or its timeout.
        None while it rolls back: the undo steps must run to the end."""
        if self.recovering:
            return None
        if self.interrupted:
            return f"interrupted by {self.interrupted}"
        return self._expired_text()

    def interrupt(self, signal_name, exit_code):
        """Stop the run; from any thread (request_stop). It cancels the running
        statement; the run notices at its next statement or step and rolls back as for
        a failure. Returns True until the run has noticed."""
        if self.interrupted is None:
            self.interrupted, self.stop_code = signal_name, exit_code
        if self.recovering:
            return False
        self.db.cancel()
        return True

    def _run_steps(self, queue, total):
        """Run the queue of steps and checkpoints, committing as the transaction mode
        and the server's lock table say, then record the run and commit its end."""
        max_batch = None
        while queue:
            step = queue.popleft()
            if isinstance(step, Checkpoint):
                # A check of the pipeline's, on the run's connection: inside the open
                # transaction, so it sees the run's changes before they commit.
                self._checkpoint(step)
                continue
            if self._stop_text():
                raise StepFailure(step, MigrationError(
                    self._stop_text() + f"; {step.label} did not start",
                    version=step.version, file=step.migration.path))
            compiled = self._compiled(step)
            index = len(self.done)  # the steps of this run done so far
            if not self._transactional(compiled):
                self._commit_batch("a no-transaction migration follows")
                self._ensure_run_row()
                self._apply_autocommit(step, compiled, index, total)
                continue
            split = self._apply_in_transaction(step, compiled, index, total, queue)
            max_batch = split or max_batch
            if not split:
                self._commit_when_due(max_batch)
        self._commit_run()

    def _apply_in_transaction(self, step, compiled, index, total, queue):
        """Apply a step inside the open transaction. When the server's shared lock
        table is full, the chunk is rolled back whole and put back on the queue, and
        the new chunk size is returned (None otherwise)."""
        if not self.db.in_transaction:
            self._begin()
        try:
            self._apply(step, compiled, index, total)
        except StepFailure as failure:
            if not (getattr(failure.error, "lock_exhausted", False) and self.batch):
                raise
            queue.appendleft(step)
            self.db.rollback()
            for done_step, _entry, _result in reversed(self.batch):
                queue.appendleft(done_step)
                self.done.pop()
                self._untrack(done_step)
            max_batch = max(1, len(self.batch) // 2)
            self.batch = []
            emit(self.consumers, ChunkSplit(max_batch, "the server's lock table is full"))
            return max_batch
        return None

    def _commit_when_due(self, max_batch):
        if self.transaction == "each":
            self._commit_batch("each migration commits on its own")
        elif max_batch and len(self.batch) >= max_batch:
            self._commit_batch(f"chunks of {max_batch} fit the server's lock table")
        elif len(self.batch) % BUDGET_EVERY == 0 and self._over_budget():
            self._commit_batch("the run holds half of the server's lock table")

    def _commit_run(self):
        """Record the last chunk and the run's end, and commit: the run stands."""
        if not self.db.in_transaction:
            self._begin()
        self.current.finished_at = now()
        self.current.to_version = max(self.applied) if self.applied else None
        self.history.record([entry for _s, entry, _r in self.batch])
        self.history.finish_run(self.current, "ok")
        if self.interrupted:  # the last look before the commit makes it all stand
            raise StepFailure(None, MigrationError(
                f"interrupted by {self.interrupted} before the run committed"))
        self._commit()

    def _checkpoint(self, checkpoint):
        try:
            checkpoint.run(self.db)
        except FerrymanError as exc:
            raise StepFailure(None, exc) from exc

    def _begin(self):
        self._begin_prepared()
        if not self.run_row:
            self.history.start_run(self.current)

    def _begin_prepared(self):
        """BEGIN, with ferryman's tables made first when the run's row is not written
        yet (History.begin: before the BEGIN where DDL commits by itself)."""
        if self.run_row:
            self.db.begin()
        else:
            self.history.begin(self.state)

    def _ensure_run_row(self):
        if not self.run_row:
            self._begin()
            self._commit()

    def _commit(self):
        try:
            self.db.commit()
        except DriverError as exc:
            step = self.batch[-1][0] if self.batch else None
            raise StepFailure(step, _commit_error(exc), at_commit=True) from exc
        self.run_row = True
        self.committed.extend(step for step, _e, _r in self.batch)
        self.batch = []

    def _commit_batch(self, reason):
        if not self.db.in_transaction:
            return
        count = len(self.batch)
        self.history.record([entry for _s, entry, _r in self.batch])
        self._commit()
        if count:
            emit(self.consumers, ChunkCommitted(count, reason))

    def _over_budget(self):
        budget = self.db.lock_budget()
        return budget is not None and self.db.locks_held() > budget

    # -- one step ---------------------------------------------------------------------
    def _transactional(self, compiled):
        """Whether a step runs inside the run's transaction. A step that must not
        (``-- ferryman:no-transaction``, a statement the engine refuses in a
        transaction), or any step on an engine whose DDL commits implicitly
        (``transactional_ddl`` False), runs on its own, marked dirty until it
        finishes: a transaction there would promise a rollback the engine cannot keep."""
        return compiled.transactional and self.dialect.transactional_ddl

    def _autocommit_reason(self, compiled):
        if compiled.transactional:
            return f"{self.dialect.name} commits DDL implicitly"
        return compiled.reason

    def _compiled(self, step):
        compiled, _problems = step.migration.compiled(step.direction, self.dialect,
                                                      self.options)
        return compiled

    def _apply(self, step, compiled, index, total):
        """Run a transactional step inside the open transaction."""
        m = step.migration
        emit(self.consumers, StepStarted(m.version, m.name, m.phase, step.direction, index,
                                         total))
        started_at, started = now(), time.monotonic()
        try:
            self._run_script(step, compiled)
        except StepFailure as failure:
            if getattr(failure.error, "transaction_ended", False):
                self._transaction_ended(step, failure)
            raise
        entry = _entry(self.current.id, step, started_at)
        result = _step_result(step, _ms(started))
        self.batch.append((step, entry, result))
        self.done.append(result)
        self._track(step)
        emit(self.consumers, StepFinished(m.version, m.name, step.direction, _ms(started)))

    def _apply_autocommit(self, step, compiled, index, total):
        """Run a no-transaction step: dirty first, statement by statement, then clean.
        A resumed step (``ferryman up --resume``) starts at ``step.start``."""
        m = step.migration
        emit(self.consumers, StepStarted(m.version, m.name, m.phase, step.direction, index,
                                         total))
        script = m.script(step.direction)
        start = step.start
        dirty = {
            "version": m.version, "name": m.name, "phase": m.phase, "file": script.path,
            "direction": step.direction, "run_id": self.current.id,
            "since": iso(now(), "seconds"), "statement_index": start,
            "statements": len(compiled.statements) or None,
            "previous_version": self._previous_version(step),
            "reason": f"{self._autocommit_what(compiled)} did not finish",
        }
        self.progress = _Progress(script, compiled) if m.kind != "python" else None
        self.mark = dirty
        self._note_progress(dirty, start)
        self.history.set_dirty(dirty)
        self.group = None
        started_at, started = now(), time.monotonic()
        try:
            opened = self._run_script(step, compiled, progress=dirty)
            if self.group is None and (opened is not None or self.db.transaction_open()):
                raise self._left_open(step, compiled, opened)
        except StepFailure as failure:
            # Before any write of ferryman's: the migration's own transaction (or the
            # runner's group of data-only statements), still open, must not take the
            # dirty mark in with it (nor commit it later).
            if self.db.transaction_open():
                self.db.rollback()
            self.group = None
            resume = failure.block[0] if failure.block is not None else failure.index
            if resume == 0 and start == 0 and m.kind != "python" and self.db.connection_lost() \
                    is False:
                # It stopped at its first statement, or inside a transaction begun there
                # that was rolled back: nothing of it stands, so nothing is dirty.
                self._write_safely(lambda: self.history.set_dirty(None))
                raise
            dirty.update(reason=self._failed_part_way(compiled, failure),
                         error=failure.error.db_message or failure.error.message,
                         statement=failure.error.statement)
            if resume is not None and resume != dirty["statement_index"]:
                self._note_progress(dirty, resume)
            if failure.block is not None:  # it resumes where that transaction began
                dirty.update(line=failure.error.line)
            self._write_safely(lambda: self.history.set_dirty(dirty))
            failure.dirty = True
            raise
        entry = _entry(self.current.id, step, started_at)
        if self.group is None:
            self.db.begin()
        self.group = None  # the last data-only statements commit with the record
        self.history.set_dirty(None)
        self.history.record([entry])
        self._commit()
        self.committed.append(step)
        result = _step_result(step, _ms(started))
        self.done.append(result)
        self._track(step)
        emit(self.consumers, StepFinished(m.version, m.name, step.direction, _ms(started)))

    def _note_progress(self, dirty, index):
        """Put the statement a step is at into its dirty mark, with the digest of the
        file's text before that statement: ``--resume`` starts there once a person
        fixed the file, and refuses if the part that ran was edited."""
        dirty["statement_index"] = index
        if self.progress is not None:
            dirty.update(self.progress.done(index))

    def _run_script(self, step, compiled, progress=None):
        """Run a step's statements. In autocommit (``progress``: the dirty mark, kept
        at the statement it is at) the migration may begin and end transactions of its
        own: the mark is written only while none of them is open, so that it never
        goes in with the migration's own work, and the (index, Statement) that began
        the one still open at the end is returned (None: none is). Where DDL commits
        by itself, see _run_grouped."""
        m = step.migration
        script = m.script(step.direction)
        if m.kind == "python":
            self._execute_python(step, script)
            return None
        if progress is not None and not compiled.own_transactions and \
                not self.dialect.transactional_ddl:
            self.group = self._run_grouped(step, script, compiled, progress)
            return None
        opened = None
        for index in range(step.start, len(compiled.statements)):
            statement = compiled.statements[index]
            try:
                opened = self._run_statement(step, script, compiled, index, statement,
                                             progress, opened)
            except StepFailure as failure:
                failure.index, failure.block = index, opened
                raise
        return opened

    def _run_grouped(self, step, script, compiled, progress):
        """Statement by statement where DDL commits by itself (MySQL), the dirty mark
        moved to each statement before it runs. A run of statements that commit
        nothing by themselves (INSERT, UPDATE, DELETE: ``implicit_commit``) goes in
        one transaction that also moves the mark past them, so a failure or a kill
        leaves all of them or none, and the mark says which. A run at the end stays
        open: the migration's record commits with it. Returns the index where the open
        run began, or None."""
        statements = compiled.statements
        group, first = None, step.start
        for index in range(first, len(statements)):
            statement = statements[index]
            data = not self.db.implicit_commit(statement.words)
            try:
                if group is not None and not data:
                    self._mark(progress, index)  # inside the group: commits with it
                    self._commit_group()
                    group = None
                elif index != first and group is None:
                    self._mark(progress, index)
                if data and group is None:
                    self.db.begin()
                    group = index
                self._run_one(step, script, compiled, index, statement, group is None)
            except StepFailure as failure:
                failure.index = index
                if group is not None:
                    failure.block, failure.grouped = (group, statements[group]), True
                raise
            except DriverError as exc:  # ferryman's mark, or the group's COMMIT
                failure = StepFailure(step, MigrationError(
                    f"{script.path}: {exc.message}", file=script.path, version=step.version,
                    statement=statement.text, line=statement.line,
                    db_message=exc.db_message, sqlstate=exc.sqlstate))
                failure.index = index
                if group is not None:
                    failure.block, failure.grouped = (group, statements[group]), True
                raise failure from exc
        return group

    def _commit_group(self):
        self.db.commit()

    def _mark(self, progress, index):
        self._note_progress(progress, index)
        self.history.set_dirty(progress)

    def _run_statement(self, step, script, compiled, index, statement, progress, opened):
        """Run statement ``index`` of a step; ``opened``: the migration's own open
        transaction, if any (autocommit only). Returns the one open after it."""
        autocommit = progress is not None
        is_open = autocommit and self.db.transaction_open()
        if autocommit and compiled.own_transactions and self._does_nothing(
                step, statement, is_open, opened):
            return opened
        if autocommit and index != step.start and not is_open:
            self._mark(progress, index)
        self._run_one(step, script, compiled, index, statement, autocommit and not is_open)
        if not autocommit or not self.db.transaction_open():
            return None
        return opened if is_open else (index, statement)

    def _run_one(self, step, script, compiled, index, statement, alone):
        """Run statement ``index`` of a step (``alone``: in autocommit, where a failed
        statement may be cleaned up and tried once more); a StepFailure naming the
        file, the statement and the database's message when it fails."""
        m = step.migration
        if self._stop_text():  # a cancel just before a statement began stops nothing
            raise StepFailure(step, MigrationError(
                f"{script.path}: {self._stop_text()} before statement "
                f"{index + 1} of {len(compiled.statements)}", file=script.path,
                version=m.version, statement=statement.text, line=statement.line))
        try:
            self._statement(statement, alone, step)
        except DriverError as exc:
            if index == step.start and step.resumed and exc.duplicate_object:
                # The run this one resumes was stopped while this statement ran (no
                # error was recorded): it had committed, as the error says.
                emit(self.consumers, Message(
                    "warning", f"{step.label}: line {statement.line} was running when the "
                    f"run it resumes stopped, and it had finished then ({exc.message}): "
                    "going on after it"))
                return
            why = self._stop_text() or exc.message
            error = MigrationError(
                f"{script.path}: statement {index + 1} of "
                f"{len(compiled.statements)} failed: {why}",
                file=script.path, version=m.version, statement=statement.text,
                line=statement.line, db_message=exc.db_message, sqlstate=exc.sqlstate)
            # _run_steps reads it: a full lock table splits the chunk, not the run;
            # the API reads transient: a run that failed on one may be retried.
            error.lock_exhausted = exc.lock_exhausted
            error.transient = exc.transient and not self._stop_text()
            raise StepFailure(step, error) from exc

    def _does_nothing(self, step, statement, is_open, opened):
        """A BEGIN inside the migration's own open transaction, or a COMMIT or
        ROLLBACK with none open: PostgreSQL does nothing but warn, SQLite refuses it.
        Skipped, so that the file runs alike on every engine (compile notes them)."""
        if begins_transaction(statement.words) and is_open:
            where = f" begun at line {opened[1].line}" if opened is not None else ""
            what = f"is inside the transaction{where}"
        elif ends_transaction(statement.words) and not is_open:
            what = "has no transaction to end"
        else:
            return False
        emit(self.consumers, Message(
            "warning", f"{step.label}: line {statement.line}: "
            f"{' '.join(statement.words[:2])} {what}: it does nothing, skipped"))
        return True

    def _left_open(self, step, compiled, opened):
        """The failure of a migration that ended inside a transaction of its own
        (compile refuses a BEGIN never committed; SQLite's SAVEPOINT outside a
        transaction begins one too): the runner rolls it back, as a server does when a
        session ends in one, rather than let ferryman's next write commit it."""
        script = step.migration.script(step.direction)
        where = (f"the transaction it began at line {opened[1].line}" if opened is not None
                 else "a transaction")
        failure = StepFailure(step, MigrationError(
            f"{script.path}: the migration ended with {where} still open, never "
            "committed", file=script.path, version=step.version,
            statement=opened[1].text if opened is not None else None,
            line=opened[1].line if opened is not None else None,
            hint="end the transaction with COMMIT (or ROLLBACK) in the file"))
        failure.index, failure.block = len(compiled.statements), opened
        return failure

    def _autocommit_what(self, compiled):
        if compiled.own_transactions:
            return "a migration that controls its own transactions (it runs as written)"
        return f"a no-transaction migration ({self._autocommit_reason(compiled)})"

    def _failed_part_way(self, compiled, failure):
        """The dirty mark's reason: what stands of a step that failed in autocommit."""
        what = f"{self._autocommit_what(compiled)} failed part way"
        if failure.block is None:
            return what
        begun, statement = failure.block
        at = failure.index
        if failure.grouped:
            return (f"{what}: statement {at + 1} (line {failure.error.line}) failed among "
                    f"the data-only statements from statement {begun + 1} (line "
                    f"{statement.line}) on, which ran in one transaction: it was rolled "
                    f"back, so nothing from statement {begun + 1} on stands, and the "
                    "statements before it are committed")
        stopped = (f"it ended with the transaction it began at statement {begun + 1} (line "
                   f"{statement.line}) still open" if at >= len(compiled.statements) else
                   f"statement {at + 1} (line {failure.error.line}) failed inside the "
                   f"transaction it began at statement {begun + 1} (line {statement.line})")
        return (f"{what}: {stopped}; that transaction was rolled back, so nothing from "
                f"statement {begun + 1} on stands, and statements before it are committed")

    def _statement(self, statement, autocommit, step):
        """Run one statement; outside a transaction, a statement whose failure left
        something behind that the dialect can clean up (an invalid index) runs once
        more after the clean-up."""
        try:
            self.db.execute(statement.text)
        except DriverError as exc:
            again = None if not autocommit or self.expired else self.db.recover(
                statement.text, exc)
            if not again:
                raise
            if isinstance(again, str):  # another form of it (without an online clause)
                emit(self.consumers, Message(
                    "warning", f"{step.label}: line {statement.line}: the server refused "
                    f"to run it online ({exc.message}); running it with the table locked"))
                self.db.execute(again)
                return
            emit(self.consumers, Message(
                "warning", f"{step.label}: line {statement.line} failed ({exc.message}); "
                "dropped the invalid index it left, and building it once more"))
            try:
                self.db.execute(statement.text)
            except DriverError:
                self.db.recover(statement.text, exc)  # leave no invalid index behind
                raise

    def _execute_python(self, step, script):
        from .python import run_python

        try:
            run_python(self.db, step.migration, step.direction, script, self._call_user)
        except FerrymanError as exc:
            if self._stop_text():
                exc.transient = False
            raise StepFailure(step, exc) from exc
        if self._stop_text():  # it returned, though a statement of its was cancelled
            raise StepFailure(step, MigrationError(
                f"{script.path}: {self._stop_text()} while {step.direction}() ran",
                file=script.path, version=step.version))

    def _call_user(self, function, ctx):
        """Call a Python migration's function, marked as the migration's own code: a
        signal's handler may raise StopRequested only there (see stop_here)."""
        self.in_user_code = True
        try:
            function(ctx)
        finally:
            self.in_user_code = False

    def _track(self, step):
        if step.version is None:  # a repeatable migration has no version
            return
        if step.direction == "up":
            self.applied.add(step.version)
        else:
            self.applied.discard(step.version)

    def _previous_version(self, step):
        if step.version is None:  # a repeatable migration: the current version
            return max(self.applied) if self.applied else None
        below = [v for v in self.applied if v < step.version]
        return max(below) if below else None

    # -- failure ----------------------------------------------------------------------
    def _recover(self, failure):
        """Bring a failed run back to where it started, or stop at a consistent point
        that says the truth; always raises the error a person reads."""
        self.recovering = True  # from here on, a stop request cancels nothing
        error, step = failure.error, failure.step
        self._forget_batch(failure)
        if failure.at_commit and (getattr(error, "connection_lost", False) or self.lost):
            raise self._needs_person(error, "the connection was lost while committing; "
                                     "whether the run committed is unknown")
        if failure.dirty and not self._undo_part(failure):
            # Worded for both endings: a restore that brings it back (no "the database
            # is dirty" then), or a dirty mark left for a person.
            what = ("it stopped part way outside a transaction, so it could not be rolled "
                    "back" if failure.block is None or failure.grouped else
                    "it stopped part way: the transaction of its own that was open then was "
                    "rolled back, but what it had committed before could not be")
            if self.undo_failed:
                what += f"; {self.undo_failed}"
            self._unrecoverable(error, what, lambda: self._finish("dirty", error))
        rolled_back = self._undo_committed(error)
        if self.interrupted or getattr(error, "transient", False):
            final = self._stopped_or_transient(error, step, rolled_back)
            self._finish("rolled_back", error, final.message)
            raise final
        self._finish("rolled_back", error)
        raise _carry(error, self._rolled_back_error(error, rolled_back))

    def _undo_part(self, failure):
        """Where DDL commits by itself (MySQL), undo what ran of an up migration that
        stopped part way through its down migration: True when it ran to the end, the
        dirty mark then gone and the migration not applied. A statement of the down
        about an object that is not there (made by the part of the up that never ran)
        is skipped with a warning; any other failure leaves the mark, saying so."""
        self.undo_failed = None
        step = failure.step
        if (step is None or step.direction != "up" or self.dialect.transactional_ddl
                or step.migration.kind == "python" or not step.migration.has_down
                or self.lost or self.mark is None):
            return False
        undo = step.inverse()
        compiled = self._compiled(undo)
        if compiled is None or compiled.own_transactions:
            return False
        script = undo.migration.script("down")
        ran = self.mark.get("statement_index") or 0
        emit(self.consumers, Message(
            "info", f"undoing what ran of {step.label} ({ran} statement"
            f"{'s' if ran != 1 else ''}) through {script.path}"))
        mark = dict(self.mark, reason=self.mark.get("reason", "") + "; its down migration was "
                    f"undoing what ran of it ({script.path})")
        for key in ("done_sha256", "done_lines"):  # nothing to resume once the down ran
            mark.pop(key, None)

        def record_undoing():
            self.history.set_dirty(mark)

        self._write_safely(record_undoing)
        for index, statement in enumerate(compiled.statements):
            try:
                self.db.execute(statement.text)
            except DriverError as exc:
                if exc.missing_object and not exc.connection_lost:
                    emit(self.consumers, Message(
                        "warning", f"{undo.label}: line {statement.line}: {exc.message}: part "
                        "of what the up migration never did, skipped"))
                    continue
                self.undo_failed = (f"undoing it through {script.path} failed too, at "
                                    f"statement {index + 1} (line {statement.line}): "
                                    f"{exc.message}")
                mark["reason"] += f"; {self.undo_failed}"
                self._write_safely(record_undoing)
                return False
        self._write_safely(lambda: self.history.set_dirty(None))
        self.undone_part = (step.label, ran, script.path)
        failure.dirty = False
        return True

    def _forget_batch(self, failure):
        """Roll the open transaction back and forget the steps it held."""
        self.db.rollback()
        self._ensure_connection()
        for done_step, _entry, result in self.batch:
            self.done.remove(result)
            self._untrack(done_step)
        self.batch = []
        step = failure.step
        failure.error.migration = step.migration if step is not None else None
        if step is not None:
            emit(self.consumers, StepFailed(step.version, step.migration.name,
                                            step.direction, failure.error.message))

    def _undo_committed(self, error):
        """Undo the run's committed steps, newest first, through their inverses: the
        versions undone. A step that cannot be undone ends in _unrecoverable."""
        rolled_back, to_undo = [], list(self.committed)
        if to_undo:
            emit(self.consumers, RollbackStarted(len(to_undo)))
        for done_step in reversed(to_undo):
            undo = done_step.inverse()
            if undo.direction == "down" and not undo.migration.has_down:
                why = f"no down migration for {undo.version}"
                self._unrecoverable(
                    error, f"it could not be rolled back: {undo.version} "
                    f"({undo.migration.filename}) has no down migration",
                    lambda: self._mark_run_dirty(error, why, to_undo, rolled_back),
                    rolled_back)
            try:
                self._undo(undo)
            except StepFailure as undo_failure:
                reason = undo_failure.error.message
                mark = (lambda: self._finish("dirty", error)) if undo_failure.dirty else (
                    lambda: self._mark_run_dirty(error, reason, to_undo, rolled_back))
                self._unrecoverable(error, f"rolling back failed at {undo.label}: {reason}",
                                    mark, rolled_back)
            rolled_back.append(done_step.version)
        return rolled_back

    def _rolled_back_error(self, error, rolled_back):
        start = _label(self.current.from_version)
        part = ""
        if self.undone_part:
            label, ran, path = self.undone_part
            part = (f"what ran of {label} ({ran} statement{'s' if ran != 1 else ''}, "
                    f"committed one by one: {self.dialect.name} commits DDL implicitly) was "
                    f"undone through {path}; ")
        if rolled_back:
            where = (f"the run was rolled back ({len(rolled_back)} migration"
                     f"{'s' if len(rolled_back) != 1 else ''} undone); the database is "
                     f"where it started, at version {start}")
        elif part or not self.dialect.transactional_ddl:
            where = f"the database is where it started, at version {start}"
        else:
            where = (f"the transaction was rolled back; the database is where it "
                     f"started, at version {start}")
        return MigrationError(
            f"{error.message}\n{part}{where}", file=error.file, version=error.version,
            statement=error.statement, line=error.line, db_message=error.db_message,
            sqlstate=error.sqlstate, rolled_back=rolled_back, run_id=self.current.id,
            hint=f"fix {error.file or 'the migration'} and run the command again")

    def _stopped_or_transient(self, error, step, rolled_back):
        """The error of a run brought back after a signal (Interrupted) or a transient
        failure: nothing needs fixing in the migration, running it again is the fix."""
        where = (f"rolled back to version {_label(self.current.from_version)}, where the run "
                 "started" + (f" ({len(rolled_back)} migration"
                              f"{'s' if len(rolled_back) != 1 else ''} undone)"
                              if rolled_back else ""))
        during = f" during {step.label}" if step is not None else ""
        facts = dict(file=error.file, version=error.version, statement=error.statement,
                     line=error.line, db_message=error.db_message, sqlstate=error.sqlstate,
                     rolled_back=rolled_back, run_id=self.current.id)
        again = f"`ferryman {self.current.command}`"
        if self.interrupted:
            return Interrupted(f"interrupted by {self.interrupted}{during}: {where}",
                               signal_name=self.interrupted, exit_code=self.stop_code,
                               hint=f"nothing needs fixing: run {again} again to finish",
                               **facts)
        what = (f"the connection to the database was lost and the server rolled the "
                f"transaction back: {where}" if self.lost else where)
        name = step.label if step is not None else "the migration"
        final = MigrationError(
            f"{error.message}\nthis failure is transient; {what}. Nothing is wrong with "
            f"{name}: a lost connection, a serialization failure, a deadlock, a lock "
            "timeout or a server shutdown can pass on another try",
            hint=f"run {again} again, or let ferryman retry such failures itself: "
                 "--retries N (retries in ferryman.toml, FERRYMAN_RETRIES)", **facts)
        final.transient = True
        return final

    def _ensure_connection(self):
        """After a lost connection (the server ended it, the network dropped), open a
        new one and take the migration lock again, so that the failure is recorded and
        what the run committed can be undone. The lost session's
        lock went with it; another runner that took it since wins, and this run records
        nothing (a warning says so). Best effort: False when still without one."""
        if not self.db.connection_lost():
            return True
        self.lost = True
        if self.reconnect is None:
            return False
        try:
            db = self.reconnect()
        except FerrymanError as exc:
            emit(self.consumers, Message("warning", "the connection was lost and could not "
                                         f"be opened again: {exc.message}"))
            return False
        try:
            acquire_lock(db, self.prefix, min(self.lock_timeout, RECONNECT_LOCK_WAIT),
                         self.consumers)
        except FerrymanError as exc:
            db.close()
            emit(self.consumers, Message("warning", "the connection was lost; a new one "
                                         f"could not take the migration lock: {exc.message}"))
            return False
        self.db = db
        self.history = History(db, self.prefix)
        return True

    def _transaction_ended(self, step, failure):
        """A Python migration ended the run's transaction itself (a COMMIT or ROLLBACK
        that reached the driver past the guard): what the transaction
        held is committed or gone, and what ran after it is committed. Nothing can roll
        that back, so the database is marked dirty at the migration, with the truth."""
        self.db.rollback()  # whatever the migration began after ending ferryman's
        m = step.migration
        others = [s.version for s, _e, _r in self.batch if s.version is not None]
        dirty = {
            "version": m.version, "name": m.name, "phase": m.phase,
            "file": failure.error.file, "direction": step.direction, "run_id": self.current.id,
            "since": iso(now(), "seconds"),
            "previous_version": self._previous_version(step),
            "reason": f"{step.label} ended ferryman's transaction itself: what it did is "
                      "partly or wholly committed" + (
                          f", and migrations {', '.join(map(str, others))} of the same "
                          "transaction may be committed though not recorded"
                          if others else ""),
            "error": failure.error.message,
        }
        self.run_row = self._run_row_exists()

        def write():
            self._begin_prepared()
            if not self.run_row:  # its row went with the transaction: write it again
                self.history.start_run(self.current)
            self.history.set_dirty(dirty)
            self.db.commit()
            self.run_row = True

        self._write_safely(write)
        failure.dirty = True

    def _run_row_exists(self):
        try:
            rows = self.db.query(self.history.sql("SELECT count(*) FROM {p}runs WHERE id = ?"),
                                 (self.current.id,))
        except DriverError:
            return False
        return rows[0][0] > 0

    def _undo(self, step):
        compiled = self._compiled(step)
        total = 1
        if not self._transactional(compiled):
            self._apply_autocommit(step, compiled, 0, total)
            return
        self._begin()
        try:
            self._apply(step, compiled, 0, total)
            self._commit_batch("rollback step")
        except StepFailure:
            self.db.rollback()
            raise

    def _untrack(self, step):
        if step.version is None:
            return
        if step.direction == "up":
            self.applied.discard(step.version)
        else:
            self.applied.add(step.version)

    def _finish(self, outcome, error, message=None):
        run = self.current
        run.finished_at = now()
        run.to_version = max(self.applied) if self.applied else None
        entries = []
        if error.version is not None and error.version in self.listing.by_version:
            m = self.listing.by_version[error.version]
            direction = "up" if error.version not in self.applied else "down"
            entries.append(Entry(run.id, m, direction, run.started_at, run.finished_at,
                                 outcome="failed", error=error.details(),
                                 checksum=_safe_checksum(m)))

        def write():
            self._begin_prepared()
            self.history.record(entries)
            self.history.finish_run(run, outcome, message or error.message,
                                    exists=self.run_row)
            self.db.commit()
            self.run_row = True

        self._write_safely(write)
        emit(self.consumers, RunFinished(run.id, outcome, run.from_version, run.to_version,
                                         0, (run.finished_at - run.started_at)
                                         .total_seconds() * 1000))

    def _mark_run_dirty(self, error, why, to_undo, rolled_back):
        remaining = [s.version for s in to_undo if s.version not in rolled_back]
        dirty = {
            "version": max(self.applied) if self.applied else None,
            "name": f"run {self.current.id}", "run_id": self.current.id,
            "since": iso(now(), "seconds"),
            "reason": f"a failed run could not be rolled back ({why}); migrations "
                      f"{', '.join(map(str, remaining))} of it remain applied",
            "error": error.db_message or error.message, "statement": error.statement,
            "file": error.file, "previous_version": self.current.from_version,
        }
        self._write_safely(lambda: self.history.set_dirty(dirty))
        self._finish("rollback_failed", error)

    def _write_safely(self, write):
        """Best effort: the connection may be gone (then a new one is tried); status
        will tell the truth anyway."""
        self._ensure_connection()
        try:
            write()
        except (DriverError, FerrymanError) as exc:
            self.db.rollback()
            emit(self.consumers, Message("warning", f"could not record the failure: {exc}"))

    def _unrecoverable(self, error, what, mark, rolled_back=()):
        """Neither the transaction nor the down migrations bring the run back: restore
        the pre-run backup where the safety layer allows it, else mark and stop."""
        restored, failed = None, None
        if self.safety is not None:
            try:
                restored = self.safety.restore(self.db, self.current, error)
            except FerrymanError as exc:
                failed = f"the automatic restore failed too: {exc.message}"
        if restored:
            emit(self.consumers, Message("info", restored))
            raise MigrationError(
                f"{error.message}\n{what}; {restored}", file=error.file, version=error.version,
                statement=error.statement, line=error.line, db_message=error.db_message,
                sqlstate=error.sqlstate, rolled_back=rolled_back, run_id=self.current.id,
                hint=f"fix {error.file or 'the migration'} and run the command again")
        mark()
        raise self._needs_person(error, what + (f"; {failed}" if failed else ""), rolled_back)

    def _needs_person(self, error, what, rolled_back=()):
        restore = (f"; or restore the backup taken before the run: `ferryman backup restore "
                   f"{self.current.backup_id}`" if self.current.backup_id not in (None, "disabled")
                   else "")
        hint = ("run `ferryman status` to see where it stands, repair by hand, then "
                "`ferryman force VERSION`" + restore)
        mark = self.mark
        if mark is not None and resumable(mark) and not self.undo_failed and \
                mark.get("version") == error.version:
            hint = (f"fix statement {mark['statement_index'] + 1} of {mark.get('file')}, then "
                    f"run `ferryman {mark.get('direction') or 'up'} --resume` to go on from it "
                    "(the statements before it ran and are committed); or " + hint)
        return RollbackError(
            f"{error.message}\n{what}; the database needs a person",
            file=error.file, version=error.version, statement=error.statement,
            line=error.line, db_message=error.db_message, sqlstate=error.sqlstate,
            rolled_back=rolled_back, run_id=self.current.id, hint=hint)


def _entry(run_id, step, started_at):
    """The history row of a step that just ran."""
    m = step.migration
    if m.kind == "repeatable":  # the body that now stands, for the repeatables table
        script = m.script(step.direction)
        return Entry(run_id, m, step.direction, started_at, now(), checksum=script.checksum,
                     body=script.text)
    return Entry(run_id, m, step.direction, started_at, now(), checksum=m.checksum)


def _carry(cause, error):
    """Keep what the API reads (transient: worth a retry) on the error raised."""
    error.transient = getattr(cause, "transient", False)
    return error


def _commit_error(exc):
    error = MigrationError(f"COMMIT failed: {exc.message}", statement="COMMIT",
                           db_message=exc.db_message, sqlstate=exc.sqlstate)
    error.connection_lost = exc.connection_lost
    return error


def _step_result(step, duration_ms):
    m = step.migration
    return {"version": m.version, "name": m.name, "phase": m.phase,
            "direction": step.direction, "duration_ms": duration_ms}


def _safe_checksum(migration):
    try:
        return migration.checksum
    except (OSError, UnicodeError):
        return None


def _label(version):
    return "none (nothing applied)" if version is None else str(version)


_ms = ms_since
