"""Planning: from what is on disk and what the database says, the steps to run.

Pure: no database, no files read except through ``Migration.checksum``. Every
function takes a ``Listing`` (core/source.py) and a ``State`` (core/history.py).
"""

import re

from ..errors import (ChecksumError, DatabaseAheadError, DirtyError, InputError,
                      MissingMigrationError, OutOfOrderError)


class _Nothing:
    """The state with no migration applied, spelled ``none`` (``goto none``, ``down
    --to none``, ``force none``): below every version, version 0 included, so that
    ``version > NOTHING`` holds for each of them and ``version <= NOTHING`` for none."""

    __slots__ = ()

    def __lt__(self, other):
        return other is not self

    def __le__(self, other):
        return True

    def __gt__(self, other):
        return False

    def __ge__(self, other):
        return other is self

    def __repr__(self):
        return "NOTHING"

    def __str__(self):
        return "none"


NOTHING = _Nothing()


def resolve(listing, value, what="version"):
    """The version of ``listing`` that ``value`` names, or NOTHING.

    ``value`` is a version (an int), the text of one from a command line, or
    ``none`` (NOTHING) for the state with nothing applied. ``0`` where no migration has
    version 0 means nothing too, as it always has (``goto 0``); where one has, it is
    that migration. Raises InputError (exit 2) for a version that is not there."""
    if value is NOTHING or (isinstance(value, str) and value.strip().lower() == "none"):
        return NOTHING
    version = value
    if listing.key_kind is not None:  # names or Flyway versions (core/versions.py)
        from .versions import parse

        try:
            version = parse(str(value).strip(), listing.key_kind)
        except ValueError:
            version = None
        if version in listing.by_version:
            return version
        if str(value).strip() == "0":
            return NOTHING
        raise InputError(f"{what} {value}: not a migration of this folder; give "
                         f"{'a name' if listing.key_kind == 'name' else 'a Flyway version'}"
                         " from it, or `none` for nothing applied",
                         hint="`ferryman status` lists the versions")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():  # isdigit: no sign, no spaces, no underscores
            raise InputError(f"{what} {value}: not a version; give a version number from "
                             "the migrations folder, or `none` for nothing applied",
                             hint="`ferryman status` lists the versions")
        version = int(text)
    if version == 0 and 0 not in listing.by_version:
        return NOTHING
    if version not in listing.by_version:
        raise InputError(f"there is no migration with version {version}",
                         hint="`ferryman status` lists the versions; `none` is the "
                              "state with nothing applied")
    return version


class Step:
    """Run one migration in one direction."""

    __slots__ = ("migration", "direction", "start", "resumed")

    def __init__(self, migration, direction):
        self.migration = migration
        self.direction = direction
        self.start = 0  # the statement it starts at: after those a stopped run committed
        self.resumed = None  # the dirty mark it resumes from (``--resume``), or None

    @property
    def version(self):
        return self.migration.version

    def inverse(self):
        return Step(self.migration, "down" if self.direction == "up" else "up")

    @property
    def label(self):
        m = self.migration
        return f"{m.version}_{m.name}" + (" (down)" if self.direction == "down" else "")

    def __repr__(self):
        return f"<Step {self.direction} {self.migration.version}>"

    def __eq__(self, other):
        return (isinstance(other, Step) and self.direction == other.direction
                and self.migration.version == other.migration.version)


class Checkpoint:
    """A check that runs at its place among the steps, on the run's connection (the
    pipeline's integrity phase). ``run(db)`` raises a FerrymanError to fail the run."""

    __slots__ = ("name", "run")

    def __init__(self, name, run):
        self.name = name
        self.run = run

    def __repr__(self):
        return f"<Checkpoint {self.name}>"


def check_state(listing, state, *, verify_checksums=True):
    """Refuse to run against a database that needs a person first (exit code 3)."""
    if state.dirty:
        raise dirty_error(state.dirty)
    missing = [a for a in state.applied if a.version not in listing.by_version]
    if missing:
        raise missing_error(listing, missing)
    if verify_checksums:
        mismatched = [
            (listing.by_version[a.version], a) for a in state.applied
            if listing.by_version[a.version].checksum != a.checksum]
        if mismatched:
            lines = [f"{m.path}: applied with sha256 {a.checksum}, the file now has "
                     f"{m.checksum}" for m, a in mismatched]
            raise ChecksumError(
                f"{len(mismatched)} applied migration{'s were' if len(lines) > 1 else ' was'} "
                "edited after being applied:\n  " + "\n  ".join(lines),
                file=mismatched[0][0].path, version=mismatched[0][0].version,
                hint="restore the file as it was (git checkout), and put the change in a new "
                     "migration")


def dirty_error(dirty):
    where = f"{dirty.get('file') or dirty.get('name')}"
    stmt = dirty.get("statement_index")
    detail = (f", statement {stmt + 1} of {dirty.get('statements')}"
              if stmt is not None and dirty.get("statements") else "")
    previous = dirty.get("previous_version")
    force = (f"`ferryman force {dirty.get('version')}` (finished) or `ferryman force "
             f"{previous if previous is not None else 'none'}` (undone)")
    hint = f"inspect the database, finish or undo the migration by hand, then run {force}"
    if resumable(dirty):
        hint = (f"fix statement {stmt + 1} of {dirty.get('file')}, then run `ferryman "
                f"{dirty.get('direction') or 'up'} --resume` to go on from it (the statements "
                f"before it ran and are committed); or repair by hand and run {force}")
    return DirtyError(
        f"the database is dirty: {dirty.get('reason', 'a migration did not finish')} "
        f"(version {dirty.get('version')}, {where}{detail})",
        file=dirty.get("file"), version=dirty.get("version"),
        statement=dirty.get("statement"), db_message=dirty.get("error"), hint=hint)


def text_lines(text):
    """The lines of ``text`` with their ends, cut at LF only, as the splitter counts
    a statement's line (str.splitlines also cuts at CR, FF, U+2028 ...)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def resumable(dirty):
    """Whether a dirty mark says where its migration stopped precisely enough for
    ``--resume``: the statement, and the digest of the file's text before it."""
    return bool(dirty) and dirty.get("statement_index") is not None and bool(
        dirty.get("done_sha256")) and dirty.get("done_lines") is not None


def resume_point(listing, state, dialect, options=(), direction="up"):
    """Where ``--resume`` goes on: (version, start, mark) for the dirty migration of
    ``state``, whose statements before ``start`` ran and are committed. Refused when
    nothing is dirty, when the mark does not say where it stopped, when the migration
    ran in the other direction, and when the part of the file that ran was edited
    since (only the statement it stopped at and those after it may change)."""
    import hashlib

    dirty = state.dirty
    if not dirty:
        raise InputError("nothing to resume: the database is not dirty",
                         hint=f"run `ferryman {direction}`")
    version = dirty.get("version")
    if not resumable(dirty):
        raise dirty_error(dirty)
    if (dirty.get("direction") or "up") != direction:
        raise InputError(f"the migration that stopped part way ({version}) was running "
                         f"{dirty.get('direction')}; `ferryman {dirty.get('direction')} "
                         "--resume` goes on with it", version=version)
    migration = listing.by_version.get(version)
    if migration is None:
        raise InputError(f"the migration that stopped part way, version {version}, is not "
                         "in the migrations folder any more", version=version,
                         hint="restore its file, then run the command again")
    script = migration.script(direction)
    compiled, problems = migration.compiled(direction, dialect, tuple(options))
    if compiled is None:
        raise InputError(f"{script.path} cannot be read: " + "; ".join(map(str, problems)),
                         file=script.path, version=version)
    lines = text_lines(script.text)
    done, index = dirty["done_lines"], dirty["statement_index"]
    digest = hashlib.sha256("".join(lines[:done]).encode("utf-8")).hexdigest()
    start = sum(1 for statement in compiled.statements if statement.line <= done)
    if len(lines) < done or digest != dirty["done_sha256"] or start != index:
        raise ChecksumError(
            f"{script.path}: the part of it that ran (lines 1 to {done}, statements 1 to "
            f"{index}) was edited after it ran; resuming would not finish what ran",
            file=script.path, version=version,
            hint=f"put lines 1 to {done} back as they were: only statement {index + 1} "
                 "(line {}) and those after it may change".format(done + 1))
    return version, start, dirty


def missing_error(listing, missing):
    versions = ", ".join(f"{a.version} ({a.name})" for a in missing)
    if listing.head is None or all(a.version > listing.head for a in missing):
        return DatabaseAheadError(
            f"the database is ahead of the code: it has {versions} applied, and the newest "
            f"migration here is {listing.head}",
            version=missing[-1].version,
            hint="deploy the newer code, or point --migrations at the right folder")
    return MissingMigrationError(
        f"applied migration{'s' if len(missing) > 1 else ''} missing from the migrations "
        f"folder: {versions}", version=missing[0].version,
        hint="restore the file(s) from version control; never delete an applied migration")


def pending(listing, state):
    return [m for m in listing.migrations if m.version not in state.by_version]


def plan_up(listing, state, target=None, allow_out_of_order=False, phases=None):
    """Apply every pending migration up to ``target`` (inclusive): phase by phase in
    the pipeline's order, by version within a phase, each phase's changed repeatable
    migrations after its versioned ones. ``phases`` limits it to those phases."""
    if target is not None:
        target = resolve(listing, target, "--target")
    todo = [m for m in pending(listing, state)
            if (target is None or m.version <= target) and (phases is None or m.phase in phases)]
    _check_order(todo, _highest(state.applied), allow_out_of_order)
    steps = [Step(m, "up") for m in todo]
    if target is None:  # repeatables have no version: they come with going to the head
        steps += [Step(r, "up") for r in changed_repeatables(listing, state)
                  if phases is None or r.phase in phases]
    order = {id(r): i for i, r in enumerate(repeatable_order(listing.repeatables))}
    steps.sort(key=lambda s: (listing.rank(s.migration), s.version is None,
                              order.get(id(s.migration), 0) if s.version is None
                              else s.version))
    return steps


def changed_repeatables(listing, state):
    """The repeatable migrations to apply: new or changed ones, and every one that
    depends on them (a view on a view is re-created after it), in dependency order.
    Each gets ``previous``, the body applied before, which is its undo."""
    ordered = repeatable_order(listing.repeatables)
    closure = set()
    for r in ordered:
        applied = state.repeatables.get(r.name)
        if applied is None or applied[0] != r.checksum or _depends(r, closure, ordered):
            closure.add(r.name)
    for r in ordered:
        r.previous = state.repeatables.get(r.name, (None, None))[1]
    return [r for r in ordered if r.name in closure]


def repeatable_order(repeatables):
    """Repeatables sorted so that each comes after those whose objects it uses.

    A repeatable creates the views, functions and types its text names after CREATE;
    it uses another when one of those names appears in it, outside comments and DROP
    statements (dropping a dependent first, to re-create it after, is not using it).
    Ties keep name order.
    """
    creates = {r.name: _created(r) for r in repeatables}
    words = {r.name: _uses(r) for r in repeatables}
    needs = {r.name: {o.name for o in repeatables if o is not r and creates[o.name] & words[r.name]
                      and not creates[r.name] & creates[o.name]}
             for r in repeatables}
    done, ordered = set(), []
    while len(ordered) < len(repeatables):
        ready = [r for r in repeatables if r.name not in done and needs[r.name] <= done]
        if not ready:
            cycle = sorted(r.name for r in repeatables if r.name not in done)
            raise InputError("repeatable migrations depend on each other in a cycle: "
                             + ", ".join(f"R__{name}.sql" for name in cycle))
        for r in ready:
            done.add(r.name)
            ordered.append(r)
    return ordered


def _depends(repeatable, names, ordered):
    creates = set()
    for other in ordered:
        if other.name in names:
            creates |= _created(other)
    return bool(creates & _uses(repeatable))


def _uses(repeatable):
    text = _NOT_USES.sub(" ", repeatable.script("up").text)
    return set(_WORD.findall(text.lower()))


def _created(repeatable):
    return {m.group(1).strip('"').split(".")[-1].strip('"').lower()
            for m in _CREATES.finditer(repeatable.script("up").text)}


_WORD = re.compile(r"[a-z_][a-z0-9_$]*")
_NOT_USES = re.compile(r"--[^\n]*|/\*.*?\*/|\bDROP\s[^;]*;?", re.I | re.S)
_CREATES = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:MATERIALIZED\s+)?"
    r"(?:RECURSIVE\s+)?(?:VIEW|FUNCTION|PROCEDURE|TYPE|TRIGGER|AGGREGATE)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?((?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)", re.I)


def plan_down(listing, state, steps=None, to=None):
    """Undo the ``steps`` newest applied migrations, or every one above ``to``."""
    applied = [listing.by_version[a.version] for a in reversed(state.applied)]
    if to is not None:
        to = resolve(listing, to, "--to")
        chosen = [m for m in applied if m.version > to]
    else:
        steps = 1 if steps is None else steps
        if steps < 1:
            raise InputError(f"--steps {steps}: give 1 or more")
        chosen = applied[:steps]
    return _downs(chosen)


def plan_goto(listing, state, version, allow_out_of_order=False):
    """Reach the state where exactly the migrations up to ``version`` are applied."""
    version = resolve(listing, version, "goto VERSION")
    downs = [listing.by_version[a.version] for a in reversed(state.applied)
             if a.version > version]
    kept = [a for a in state.applied if a.version <= version]
    ups = [m for m in pending(listing, state) if m.version <= version]
    _check_order(ups, _highest(kept), allow_out_of_order)
    ups.sort(key=lambda m: (listing.rank(m), m.version))
    return _downs(downs) + [Step(m, "up") for m in ups]


def _downs(migrations):
    without = [m for m in migrations if not m.has_down]
    if without:
        raise InputError(
            "cannot go down: no down migration for "
            + ", ".join(f"{m.version} ({m.filename})" for m in without),
            file=without[0].path, version=without[0].version,
            hint=_undo_hint(without[0]) + ", or use `ferryman force`")
    return [Step(m, "down") for m in migrations]


def _undo_hint(migration):
    """How a migration gets its undo, in its folder's format."""
    format = getattr(migration, "format", None)
    if format == "flyway":
        return (f"write its undo as U{migration.version_text}__"
                f"{migration.name.replace(' ', '_')}.sql")
    if format == "goose":
        return "add a '-- +goose Down' section with its undo to the file"
    if format == "dbmate":
        return "add a '-- migrate:down' section with its undo to the file"
    return "write the .down.sql file (or down() in the module)"


def _highest(applied):
    """The highest applied version of each phase: a pending migration below it came
    in out of order (each phase counts on its own, as the pipeline runs them)."""
    highest = {}
    for a in applied:
        highest[a.phase] = max(highest.get(a.phase, a.version), a.version)
    return highest


def _check_order(todo, highest, allow):
    if allow:
        return
    below = [m for m in todo if m.phase in highest and m.version < highest[m.phase]]
    if below:
        current = max(highest[m.phase] for m in below)
        raise OutOfOrderError(
            f"pending migration{'s' if len(below) > 1 else ''} below the current version "
            f"{current}: " + ", ".join(f"{m.version} ({m.filename})" for m in below),
            file=below[0].path, version=below[0].version,
            hint="give it a version above the current one, or pass --allow-out-of-order")
