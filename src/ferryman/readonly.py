"""Where a database stands: read-only, and cheap enough for every start-up.

Above the core and the dialects: it opens the connection the core reads through.

``read_status`` lists the migration folders, opens the database read-only, runs a few
queries and closes it; it reads the applied migrations' files to compare their
checksums, as ``up`` would (the pending ones are not read). It never writes, not even
ferryman's own tables, and a SQLite file that does not exist is not created.
"""

from .core.history import History
from .core.plan import changed_repeatables
from .core.source import scan
from .dialects import connect, dialect_class


def read_state(url, *, prefix="ferryman_", timeout=10.0, password=None):
    """The state as far as it can be read: damaged tables are in ``state.problems``."""
    db = connect(url, readonly=True, timeout=timeout, password=password)
    try:
        return History(db, prefix).read_state(strict=False)
    finally:
        db.close()


def read_status(url, phases, *, prefix="ferryman_", timeout=10.0, password=None,
                format=None):
    """The status as a plain dict: the JSON contract of ``ferryman status --json``."""
    listing = scan(phases, url.dialect, format)
    state = read_state(url, prefix=prefix, timeout=timeout, password=password)
    return status_dict(url, listing, state)


class StatusReader:
    """Reads the status again and again through one read-only connection, for an
    application that checks often (a health endpoint, a start-up loop).

    After the first call a status costs a few tiny queries, not a connection: the
    reader asks the database for a fingerprint of ferryman's tables (the count, the
    sum of the versions and the latest time of the applied migrations, the meta rows,
    the repeatables) and, when neither it nor the listing of the folders changed,
    answers what it answered last time. Thread-safe; a connection that broke is
    opened again once. ``convert`` turns the status dict into what ``read`` returns.
    """

    def __init__(self, url, phases, *, prefix="ferryman_", timeout=10.0, password=None,
                 convert=None, statement_timeout=None, format=None):
        import threading

        self.url, self.phases, self.prefix = url, phases, prefix
        self.format = format
        self.timeout, self.password = timeout, password
        # Bounds a read queued behind a lock (the HTTP app's read deadline).
        self.statement_timeout = statement_timeout
        self.convert = convert or (lambda data: data)
        self.db = None
        self.placeholder = False
        # Reentrant: close() takes it too, so no thread closes the connection while
        # another reads through it (a closed sqlite3 handle under a running statement
        # crashed the interpreter).
        self.lock = threading.RLock()
        self.last = None  # (listing, fingerprint, status dict, converted answer)

    def read(self, raw=False):
        """The status (converted), or with ``raw`` the plain dict of ``status --json``."""
        from .errors import DriverError

        listing = scan(self.phases, self.url.dialect, self.format)
        # An applied file edited in place changes no folder: its checksum is a problem.
        changed = [m for m in (*listing.repeatables, *listing.migrations) if m.refresh()]
        with self.lock:
            for attempt in (1, 2):
                db = self._connection()
                try:
                    history = History(db, self.prefix)
                    fingerprint = history.fingerprint()
                    last = self.last
                    # The same listing object (cached until a folder changes) and the
                    # same fingerprint: nothing the answer depends on has changed.
                    if last and last[0] is listing and last[1] == fingerprint and not changed:
                        return last[2] if raw else last[3]
                    state = history.read_state(strict=False)
                    break
                except DriverError as exc:
                    self.close()
                    if attempt == 2 or not (exc.connection_lost or exc.transient):
                        raise
            data = status_dict(self.url, listing, state)
            answer = self.convert(data)
            if not self.placeholder:  # an answer about a file that is not there yet is not kept
                self.last = (listing, fingerprint, data, answer)
        return data if raw else answer

    def lock_held(self):
        """Whether a runner of any process holds the migration lock now (not taken)."""
        from .errors import DriverError

        with self.lock:
            try:
                return self._connection().lock_held(self.prefix)
            except DriverError:
                self.close()
                return self._connection().lock_held(self.prefix)

    def _connection(self):
        # A read-only open of a SQLite file that does not exist reads an empty in-memory
        # database (the file is not created); once the file appears, open it for real.
        exists = dialect_class(self.url.dialect).exists
        if self.db is not None and self.placeholder and exists(self.url):
            self.close()
        if self.db is None:
            self.placeholder = not exists(self.url)
            self.db = connect(self.url, readonly=True, timeout=self.timeout,
                              password=self.password, statement_timeout=self.statement_timeout)
        return self.db

    def close(self):
        with self.lock:
            self.last = None
            if self.db is not None:
                self.db.close()
                self.db = None


def status_dict(url, listing, state):
    for repeatable in listing.repeatables:  # its checksum decides: the file may have changed
        repeatable.refresh()
    applied_versions = state.by_version
    pending = [m for m in listing.migrations if m.version not in applied_versions]
    pending += changed_repeatables(listing, state) if listing.repeatables else []
    current = state.current_version
    highest = {}
    for a in state.applied:
        highest[a.phase] = max(highest.get(a.phase, a.version), a.version)
    dirty = state.dirty
    last_backup = state.last_backup
    problems, hint = _problems(listing, state)
    return {
        "database": url.redacted(),
        "current_version": current,
        "dirty": bool(dirty),
        "dirty_details": dirty,
        "pending_count": len(pending),
        "last_backup": last_backup.get("id") if isinstance(last_backup, dict) else last_backup,
        "last_backup_details": last_backup if isinstance(last_backup, dict) else None,
        "head_version": listing.head,
        "applied": [
            {"version": a.version, "name": a.name, "phase": a.phase,
             "applied_at": a.applied_at, "missing": a.version not in listing.by_version}
            for a in state.applied],
        "pending": [
            {"version": m.version, "name": m.name, "phase": m.phase,
             "out_of_order": m.version is not None and m.phase in highest
                             and m.version < highest[m.phase]}
            for m in pending],
        "problems": problems,
        "hint": hint,
        "foreign": _foreign(state),
        "format": _format(listing),
    }


def _format(listing):
    """How the migrations folder was read: the format of its first folder."""
    for format, _why in listing.formats.values():
        return format
    return None


def _foreign(state):
    """The other tool's table: adopted (and whether ferryman keeps it up to date), or
    found and to be adopted by the first run; None when there is none."""
    if state.foreign:
        return {"tool": state.foreign.get("tool"), "table": state.foreign.get("table"),
                "adopted": True, "keep": bool(state.foreign.get("keep"))}
    if len(state.found) == 1:
        found = state.found[0]
        return {"tool": found.tool, "table": found.table, "adopted": False,
                "current": found.current, "clean": found.clean and not found.problems,
                "summary": found.summary()}
    return None


def _problems(listing, state):
    """(problems, hint): everything that would stop `ferryman up`,
    in the words of its error, and what a person should run next (None when nothing
    needs a person). ``status --exit-code`` exits 3 when there are problems."""
    from .core.plan import dirty_error, missing_error

    problems = list(listing.problems)
    hints = []
    error = state.error()
    if error is not None:
        problems += [error.message] if state.newer is not None else state.problems
        hints.append(error.hint)
    elif state.dirty:
        hints.append(dirty_error(state.dirty).hint)
    missing = [a for a in state.applied if a.version not in listing.by_version]
    if missing:
        error = missing_error(listing, missing)
        problems.append(error.message)
        hints.append(error.hint)
    edited = _edited(listing, state)
    if edited:
        problems += edited
        hints.append("restore the file as it was (git checkout), and put the change in a "
                     "new migration")
    if listing.problems:
        hints.append("fix the migration files (`ferryman validate` lists them)")
    if not hints and state.found:
        found = "; ".join(f.summary() for f in state.found)
        hints.append(f"another tool migrated this database ({found}): ferryman adopts its "
                     "state on the first run, and runs nothing it applied; `ferryman adopt "
                     "--dry-run` shows what it would record")
    if not hints and state.tables is not None and not state.tables and state.populated:
        hints.append("this database has tables but no ferryman history: if its schema "
                     "is already at some version of these migrations (made by hand or by "
                     "another tool), record it first with `ferryman baseline VERSION`, "
                     "which runs nothing; `ferryman up` would run every migration")
    return problems, hints[0] if hints else None


def _edited(listing, state):
    """Applied migrations whose file changed since (the checksum `up` compares)."""
    found = []
    for applied in state.applied:
        migration = listing.by_version.get(applied.version)
        if migration is None:
            continue
        try:
            checksum = migration.checksum
        except (OSError, UnicodeError) as exc:
            found.append(f"{migration.path}: applied, and cannot be read now: {exc}")
            continue
        if checksum != applied.checksum:
            found.append(f"{migration.path}: applied with sha256 {applied.checksum}, the "
                         f"file now has {checksum}")
    return found
