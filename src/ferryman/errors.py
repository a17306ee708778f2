"""Every error ferryman raises, under one root.

    FerrymanError                  root; ``exit_code`` is what the CLI exits with
    ├── InputError            (2)  bad usage, configuration or migration files; nothing changed
    │   ├── ConfigError            configuration or command-line options
    │   ├── SourceError            migration files: every problem at once, in ``problems``
    │   ├── OutOfOrderError        a pending migration below the highest applied one
    │   └── UnknownService         no service of that name (the HTTP app answers 404)
    ├── MigrationError        (1)  a migration failed and the database was brought back
    │   ├── RollbackError     (3)  ... and could not be brought back: needs a person
    │   ├── CheckFailed    (1/3)   a check phase found problems: 1 inside the run (rolled
    │   │                          back), 3 after the run's commit (the migrations stay)
    │   └── StartupError    (cause's)  start-up could not bring the database to head
    ├── Interrupted     (130/143)  SIGINT/SIGTERM stopped it; a run in progress rolled back
    ├── StateError            (3)  the database needs a person before anything runs
    │   ├── DirtyError             a migration started and neither finished nor rolled back
    │   ├── ChecksumError          an applied migration's file was edited
    │   ├── MissingMigrationError  an applied migration's file is gone
    │   ├── DatabaseAheadError     the database has migrations newer than the code
    │   ├── SchemaVersionError     ferryman's own tables are newer than this ferryman
    │   ├── DamagedStateError      ferryman's own tables are missing, unreadable or disagree
    │   ├── AfterCommitError       the migrations committed, then optimize or validate failed
    │   ├── VerifyError            a backup failed verification (hash or content)
    │   └── Busy                   something is already changing the database (HTTP 409)
    ├── RestoreError          (3)  a restore could not be done; the live database untouched
    ├── CoordinatedError (worst)   one or more services of a coordinated run failed
    └── BlockedError          (4)  the environment stopped it before anything changed
        ├── ConnectError           database unreachable, authentication or TLS refused
        ├── LockTimeout            another runner (or SQLite writer) held a lock too long
        ├── ReadOnlyDatabase       the database file or its folder cannot be written
        ├── DriverError            the database refused a statement of ferryman's own
        └── BackupError            the backup could not be made

``exit_code`` is a class attribute, or a constructor field (``exit_code=``) for the
errors whose code depends on what happened (Interrupted, CheckFailed, StartupError,
CoordinatedError); it is never changed on an error after it was made.

Driver exceptions never reach a caller: dialects translate them at the boundary
(``raise ... from exc``) and the core adds what a person needs to act: the file,
the version, the statement, the database's own message and the next command.

This module is on the path of ``ferryman status``: it imports nothing.
"""

__all__ = [
    "FerrymanError", "InputError", "ConfigError", "SourceError", "OutOfOrderError",
    "MigrationError", "RollbackError", "Interrupted", "StateError", "DirtyError",
    "ChecksumError",
    "MissingMigrationError", "DatabaseAheadError", "SchemaVersionError", "DamagedStateError",
    "BlockedError", "ConnectError", "LockTimeout", "ReadOnlyDatabase", "DriverError",
    "UnknownService", "CheckFailed", "StartupError", "AfterCommitError", "VerifyError",
    "Busy", "RestoreError", "CoordinatedError", "BackupError", "after_commit",
]

_SECRETS = set()


def register_secret(secret):
    """Remember a secret (a password) so that no message ever shows it."""
    if secret and len(secret) >= 3:
        _SECRETS.add(secret)


def redact(text):
    """Replace every registered secret in ``text`` with ``***``."""
    if not text:
        return text
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class FerrymanError(Exception):
    """Root of every ferryman error.

    Attributes a person needs to act, each optional: ``file``, ``version``,
    ``statement`` (its text), ``line``, ``db_message`` (the database's own words),
    ``hint`` (the next command to run).

    ``exit_code`` is the class's; ``exit_code=`` gives one error its own where the code
    depends on what happened (a signal's number, a cause's code).
    """

    exit_code = 2

    def __init__(self, message, *, file=None, version=None, statement=None, line=None,
                 db_message=None, sqlstate=None, hint=None, exit_code=None):
        super().__init__(redact(message))
        if exit_code is not None:
            self.exit_code = exit_code
        self.message = redact(message)
        self.file = file
        self.version = version
        self.statement = redact(statement)
        self.line = line
        self.db_message = redact(db_message)
        self.sqlstate = sqlstate
        self.hint = redact(hint)

    def details(self):
        """The message followed by one line per known fact, as the CLI prints it."""
        lines = [self.message]
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
            lines.append(f"  file:      {where}")
        if self.version is not None:
            lines.append(f"  version:   {self.version}")
        if self.statement:
            lines.append(f"  statement: {_clip(self.statement)}")
        if self.db_message:
            said = self.db_message.strip().replace("\n", "\n             ")
            lines.append(f"  database:  {said}")
        if self.hint:
            lines.append(f"  next:      {self.hint}")
        return "\n".join(lines)

    def to_dict(self):
        return {
            "error": type(self).__name__,
            "exit_code": self.exit_code,
            "message": self.message,
            "file": self.file,
            "version": self.version,
            "statement": self.statement,
            "line": self.line,
            "db_message": self.db_message,
            "sqlstate": self.sqlstate,
            "hint": self.hint,
        }


def _clip(text, limit=400):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InputError(FerrymanError):
    """Bad usage, configuration or migration files; nothing was changed."""

    exit_code = 2


class ConfigError(InputError):
    """The configuration or the command-line options are invalid."""


class SourceError(InputError):
    """The migration files are invalid. ``problems`` lists every one of them."""

    def __init__(self, problems, **kwargs):
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the migration files"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems), **kwargs)


class OutOfOrderError(InputError):
    """A pending migration's version is below the highest applied one."""


class UnknownService(InputError):
    """No service of that name in the configuration: the HTTP app answers 404."""


class MigrationError(FerrymanError):
    """A migration failed; the database was brought back to where the run started.

    ``rolled_back`` lists the versions undone to get there.
    """

    exit_code = 1

    def __init__(self, message, *, rolled_back=(), run_id=None, **kwargs):
        super().__init__(message, **kwargs)
        self.rolled_back = list(rolled_back)
        self.run_id = run_id


class Interrupted(FerrymanError):
    """SIGINT or SIGTERM stopped the command. A run in progress was
    stopped (its running statement cancelled) and rolled back as for a failure first; the
    message says where the database is. ``exit_code`` is 128 + the signal's number, as a
    shell reports a process that a signal ended: 130 for SIGINT, 143 for SIGTERM. When the
    run could not be brought back, RollbackError (3) is raised instead."""

    def __init__(self, message, *, signal_name, exit_code, rolled_back=(), run_id=None,
                 **kwargs):
        super().__init__(message, exit_code=exit_code, **kwargs)
        self.signal_name = signal_name
        self.rolled_back = list(rolled_back)
        self.run_id = run_id


class StateError(FerrymanError):
    """The database is in a state that needs a person before anything runs."""

    exit_code = 3


class RollbackError(MigrationError):
    """A migration failed and the run could not be rolled back: needs a person."""

    exit_code = 3


class CheckFailed(MigrationError):
    """A check phase (integrity, optimize, validate) found problems; ``problems`` lists
    them. Inside the run (integrity, failure strategy stop) the run was rolled back: exit
    code 1. After the run's commit (``after_commit=True``) the migrations stay, at
    ``committed_version``: exit code 3, the database needs a look."""

    def __init__(self, phase, problems, *, after_commit=False, committed_version=None,
                 **kwargs):
        self.phase = phase
        self.problems = list(problems)
        self.after_commit = after_commit
        self.committed_version = committed_version
        head = f"the {phase} phase failed"
        if after_commit:
            head = f"{_committed(committed_version)}; then {head}"
            kwargs.setdefault("hint", _AFTER_COMMIT_HINT)
        super().__init__(head + ":\n  - " + "\n  - ".join(self.problems),
                         exit_code=3 if after_commit else None, **kwargs)


class StartupError(MigrationError):
    """Start-up could not bring the database to head; ``cause`` (the error that stopped
    it) says why, with its facts and its exit code."""

    def __init__(self, message, cause):
        super().__init__(message, file=cause.file, version=cause.version,
                         statement=cause.statement, line=cause.line,
                         db_message=cause.db_message, sqlstate=cause.sqlstate,
                         hint=cause.hint, exit_code=cause.exit_code)
        self.cause = cause


class DirtyError(StateError):
    """A migration started and neither finished nor rolled back."""


class ChecksumError(StateError):
    """An applied migration's file was edited after it was applied."""


class MissingMigrationError(StateError):
    """An applied migration's file is no longer among the migrations."""


class DatabaseAheadError(MissingMigrationError):
    """The database has migrations applied that are newer than the code."""


class SchemaVersionError(StateError):
    """ferryman's own tables were written by a newer ferryman."""


class DamagedStateError(StateError):
    """ferryman's own tables are missing, hold values ferryman cannot read, or disagree
    with each other: what was applied cannot be trusted, so
    nothing runs until a person repairs them (``ferryman force``) or restores a backup.
    ``problems`` lists every one found."""

    def __init__(self, problems, **kwargs):
        self.problems = list(problems)
        head = "ferryman's own tables are damaged, so what was applied here cannot be trusted"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems),
                         **kwargs)


class AfterCommitError(StateError):
    """The run's migrations committed, then a phase after the commit (optimize, validate)
    failed: the database is at the new version and needs a look. Exit code 3, never 4,
    which would say that nothing changed. ``cause`` is the phase's own error; this one
    carries its facts (the statement, the database's message)."""

    def __init__(self, cause, phase, committed_version):
        super().__init__(f"{_committed(committed_version)}; then the {phase} phase failed: "
                         f"{cause.message}", file=cause.file, version=cause.version,
                         statement=cause.statement, line=cause.line,
                         db_message=cause.db_message, sqlstate=cause.sqlstate,
                         hint=cause.hint or _AFTER_COMMIT_HINT)
        self.cause = cause
        self.phase = phase
        self.committed_version = committed_version


class VerifyError(StateError):
    """A backup failed verification: its hash or its content is wrong."""


class Busy(StateError):
    """Something is already changing the database (exit code 3: the app answers 409)."""


class RestoreError(FerrymanError):
    """The restore could not be done; the live database was not touched."""

    exit_code = 3


class CoordinatedError(FerrymanError):
    """One or more services of a coordinated run failed; ``result`` (a CoordinatedResult)
    says which and what happened to the rest. Its exit code is the worst of theirs."""

    def __init__(self, result):
        failed = [s for s in result.services if s["status"] == "failed"]
        lines = [f"{s['name']}: {_first_line((s['error'] or {}).get('message'))}"
                 for s in failed]
        super().__init__(f"{len(failed)} of {len(result.services)} services failed "
                         f"(failure policy {result.failure_policy}):\n  " + "\n  ".join(lines),
                         hint=f"the report: {result.report_paths.get('html', 'not written')}",
                         exit_code=result.exit_code)
        self.result = result


class BlockedError(FerrymanError):
    """The environment stopped the command before anything changed."""

    exit_code = 4


class ConnectError(BlockedError):
    """The database is unreachable, or refused the authentication or TLS."""


class LockTimeout(BlockedError):
    """Another runner held the migration lock longer than the lock timeout; on SQLite,
    also another connection holding the database's write lock that long."""


class ReadOnlyDatabase(BlockedError):
    """The database cannot be written by this process: a read-only file, or a folder
    where SQLite cannot create its journal. Found before the backup and before any
    migration runs."""


class DriverError(BlockedError):
    """The database refused a statement. Dialects raise it; the core re-raises it
    with the migration's context as the error that fits."""

    def __init__(self, message, *, transient=False, lock_exhausted=False, missing_table=False,
                 connection_lost=False, missing_object=False, duplicate_object=False,
                 **kwargs):
        super().__init__(message, **kwargs)
        self.transient = transient
        self.lock_exhausted = lock_exhausted
        self.missing_table = missing_table
        self.connection_lost = connection_lost
        # the statement names a table, column, index, routine... that is not there
        # (a DROP of what never was made), or makes one that is there already
        self.missing_object = missing_object or missing_table
        self.duplicate_object = duplicate_object


class BackupError(BlockedError):
    """The backup could not be made; nothing was changed."""


_AFTER_COMMIT_HINT = ("the migrations stay applied: `ferryman status` shows the database; "
                      "the run's report says what failed")


def after_commit(error, phase, committed_version):
    """What ``error``, raised by ``phase`` after the run's commit, becomes: the same
    facts, exit code 3, and a message saying at which version the migrations committed."""
    # A signal keeps its own exit code (130, 143): what committed stands either way.
    if isinstance(error, (AfterCommitError, Interrupted)) or getattr(error, "after_commit",
                                                                       False):
        return error
    if isinstance(error, CheckFailed):
        return CheckFailed(error.phase, error.problems, after_commit=True,
                           committed_version=committed_version)
    return AfterCommitError(error, phase, committed_version)


def _committed(version):
    where = "no version (nothing applied)" if version is None else f"version {version}"
    return f"the migrations are committed: the database is at {where}"


def _first_line(text):
    return (text or "").splitlines()[0] if text else ""
