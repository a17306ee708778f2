"""Adopting another tool's state: what a database golang-migrate, dbmate, goose or
Flyway migrated has applied, as ferryman's migrations of the same folder.

Pure: it takes the listing (core/source.py) and what core/foreign.py read, and says
which migrations to record as applied, or why a person must look first. The engine
writes it (``Engine.adopt``), on the first run against such a database or through
``ferryman adopt``; nothing runs that the other tool applied.
"""

from ..errors import (ChecksumError, DatabaseAheadError, DirtyError, MissingMigrationError,
                      StateError)

# How each tool is told that a failed migration was repaired by hand.
_REPAIR = {
    "golang-migrate": "`migrate force VERSION` (golang-migrate's own command)",
    "flyway": "`flyway repair`",
}
# The tools whose table ferryman keeps up to date by default once adopted: their
# tables say only which versions are applied, which ferryman knows exactly.
KEPT_BY_DEFAULT = ("golang-migrate", "dbmate")
# The tools whose table ferryman can keep up to date at all (keep_foreign_state).
KEPT = ("golang-migrate", "dbmate", "goose")


class Adoption:
    """What adopting ``found`` (a foreign.ForeignState) records: ``migrations`` of the
    listing, as applied; ``repeatables``: Flyway's repeatable migrations applied as the
    files now stand (the others run again, as Flyway would run them); ``keep``: whether
    ferryman keeps the tool's table up to date from now on (keep_foreign_state)."""

    __slots__ = ("found", "migrations", "keep", "repeatables", "removed")

    def __init__(self, found, migrations, keep, repeatables=(), removed=None):
        self.found, self.migrations, self.keep = found, migrations, keep
        self.repeatables = list(repeatables)
        # a resync (the kept table changed): the versions recorded as not applied
        self.removed = removed

    @property
    def tool(self):
        return self.found.tool

    @property
    def table(self):
        return self.found.table

    def record(self):
        """The meta row ``foreign``: which table, and whether ferryman keeps it."""
        return {"tool": self.tool, "table": self.table, "keep": self.keep}

    def message(self):
        if self.removed is not None:
            parts = [f"recorded {', '.join(str(m.version) for m in self.migrations)} as "
                     "applied"] if self.migrations else []
            if self.removed:
                parts.append(f"{', '.join(map(str, self.removed))} as not applied")
            return (f"took {self.found.summary()} as the truth: " + " and ".join(parts)
                    + ", running nothing")
        count = len(self.migrations)
        versions = ", ".join(_shown(m) for m in self.migrations[-3:])
        more = "…, " if count > 3 else ""
        applied = (f"{count} migration{'s' if count != 1 else ''} recorded as applied "
                   f"({more}{versions}), none run" if count else "nothing was applied")
        kept = (f"; ferryman keeps {self.table} up to date, so {self.tool} can take over "
                "again at any time (keep_foreign_state)" if self.keep else "")
        return f"adopted {self.found.summary()}: {applied}{kept}"


def choose(found, listing, keep=None):
    """The Adoption of the one foreign table in ``found``, None when there is none.
    Raises a StateError (exit code 3) that says what to do when a person must look
    first: several tools' tables, a dirty or failed migration, a table that does not
    read as the tool writes it, a version the folder lacks."""
    if not found:
        return None
    if len(found) > 1:
        raise StateError(
            "this database has the tables of several migration tools: "
            + "; ".join(f.summary() for f in found),
            hint="drop the table of the tool that no longer runs here (or set "
                 "foreign_table to the one to adopt), then run again")
    state = found[0]
    if state.problems:
        raise StateError(
            f"{state.summary()}: the table does not read as {state.tool} writes it: "
            + "; ".join(state.problems),
            hint="repair the table with the tool itself, or record the version by hand "
                 "with `ferryman baseline VERSION`")
    if not state.clean:
        failed = state.dirty or ", ".join(a.version or "?" for a in state.failed)
        raise DirtyError(
            f"{state.summary()}: {state.tool}'s last migration ({failed}) did not "
            "finish; ferryman adopts a clean state only",
            version=_number(failed),
            hint=f"look at the database, finish or undo that migration by hand, mark it "
                 f"with {_REPAIR.get(state.tool, state.tool + '`s own command')}, then "
                 "run ferryman again")
    migrations = _applied(state, listing)
    repeatables = []
    if state.tool == "flyway":
        _check_flyway_checksums(state, listing)
        repeatables = _flyway_repeatables(state, listing)
    if keep is None:
        keep = state.tool in KEPT_BY_DEFAULT
    elif keep and state.tool not in KEPT:
        raise StateError(f"keep_foreign_state: ferryman cannot keep {state.tool}'s table "
                         "up to date (only golang-migrate's, dbmate's and goose's)",
                         hint="set keep_foreign_state = false, and run ferryman only from "
                              "now on")
    return Adoption(state, migrations, keep, repeatables)


def _check_flyway_checksums(state, listing):
    """Flyway's CRC32 of each applied file, compared with the file as it is now: an
    edited applied migration needs a person (as `flyway validate` says)."""
    from .formats import flyway_checksum

    by_text = {str(m.version): m for m in listing.migrations}
    edited = []
    for applied in state.applied:
        migration = by_text.get(applied.version)
        if migration is None or applied.checksum is None:
            continue
        now = flyway_checksum(migration.script("up").text)
        if now != applied.checksum:
            edited.append(f"{migration.path}: Flyway applied it with checksum "
                          f"{applied.checksum}, the file now has {now}")
    if edited:
        raise ChecksumError(
            f"{state.summary()}: {len(edited)} applied migration"
            f"{'s were' if len(edited) > 1 else ' was'} edited after Flyway applied "
            f"{'them' if len(edited) > 1 else 'it'}:\n  " + "\n  ".join(edited),
            hint="restore the files as they were (git checkout), or run `flyway repair` "
                 "if the edit is intended, then run ferryman again")


def _flyway_repeatables(state, listing):
    """The repeatable migrations Flyway applied in the form the files have now."""
    from .formats import flyway_checksum

    applied = {a.description: a.checksum for a in state.applied if a.version is None}
    return [r for r in listing.repeatables
            if r.name in applied and applied[r.name] == flyway_checksum(r.script("up").text)]


def _applied(state, listing):
    """The listing's migrations that ``state`` says are applied."""
    if not state.complete:  # golang-migrate: every version up to its one
        if state.current is None:
            return []
        current = int(state.current)
        if current not in listing.by_version:
            _missing(listing, [state.current], state)
        return [m for m in listing.migrations if m.version <= current]
    found = []
    if state.baseline is not None and listing.key_kind == "flyway":
        from .versions import FlywayKey

        baseline = FlywayKey(state.baseline)  # Flyway counts what it covers as applied
        found = [m for m in listing.migrations if m.version <= baseline]
    by_text = {}
    for m in listing.migrations:
        by_text.setdefault(_text(m), m)
        by_text.setdefault(str(m.version), m)
    missing = []
    for text in state.versions:
        if state.baseline is not None and text == state.baseline:
            continue
        migration = by_text.get(text)
        if migration is None and text.isdigit():
            migration = listing.by_version.get(int(text))
        (found.append(migration) if migration is not None else missing.append(text))
    if missing:
        _missing(listing, missing, state)
    return sorted(set(found), key=lambda m: m.version)


def _missing(listing, versions, state):
    shown = ", ".join(versions[:10]) + (f" and {len(versions) - 10} more"
                                          if len(versions) > 10 else "")
    head = listing.head
    numbers = [_number(v) for v in versions]
    if head is None or (listing.key_kind is None
                        and all(n is not None and n > head for n in numbers)):
        raise DatabaseAheadError(
            f"{state.summary()}: it has {shown} applied, and the newest migration here is "
            f"{head if head is not None else 'none'}",
            hint="point --migrations at the folder that migrated this database, or deploy "
                 "the newer code")
    raise MissingMigrationError(
        f"{state.summary()}: applied {'versions' if len(versions) > 1 else 'version'} "
        f"{shown} {'are' if len(versions) > 1 else 'is'} not in the migrations folder",
        hint="point --migrations at the folder that migrated this database (restore the "
             "missing files from version control)")


def _shown(migration):
    """A version as status shows it: a number as its file writes it (dbmate's 001), a
    name or a Flyway version as ferryman keeps it (1.1, not 1_1)."""
    return _text(migration) if isinstance(migration.version, int) else str(migration.version)


def _text(migration):
    return getattr(migration, "version_text", None) or str(migration.version)


def _number(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def divergence(found, listing, state):
    """How the other tool's table, which ferryman keeps up to date, disagrees with
    ferryman's own record: (versions it says are applied that ferryman's tables do
    not, versions ferryman's tables say are applied that it does not), as listing
    versions; ((), ()) when they agree. Someone ran the old tool in between."""
    adoption = choose([found], listing, True)
    theirs = {m.version for m in adoption.migrations}
    ours = set(state.by_version)
    if not found.complete:  # golang-migrate keeps its highest version only
        highest = max(ours) if ours else None
        if (max(theirs) if theirs else None) == highest:
            return [], []
    return sorted(theirs - ours), sorted(ours - theirs)


def diverged_error(found, extra, missing):
    parts = []
    if extra:
        parts.append(f"it has {', '.join(map(str, extra))} applied, which ferryman's "
                     "tables do not")
    if missing:
        parts.append(f"ferryman's tables have {', '.join(map(str, missing))} applied, "
                     "which it does not")
    return StateError(
        f"{found.summary()}, which ferryman keeps up to date, changed since ferryman last "
        f"ran ({found.tool} ran here in between?): " + "; ".join(parts),
        hint=f"if {found.tool}'s record is right, `ferryman adopt` takes it as the truth "
             "(it runs nothing); otherwise put the table back as it was")
