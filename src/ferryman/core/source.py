"""What exists on disk: migration folders, the migrations in them, and their problems.

A folder holds files named as golang-migrate names them, plus Python migrations:

    {version}_{title}.up.sql     the change          (golang-migrate's own regex:
    {version}_{title}.down.sql   its undo             ^([0-9]+)_(.*)\\.(up|down)\\.sql$)
    {version}_{title}.py         up(ctx) and optionally down(ctx)
    R__{title}.sql               repeatable: re-applied whenever it changes (Flyway's
                                 naming), for views and functions

A subfolder named after a dialect (``sqlite/``, ``postgresql/``) holds migrations
for that engine only, where the SQL differs (triggers, constraints).

Names starting with ``_`` or ``.`` are ignored (``__init__.py``, ``__pycache__``,
``.gitkeep``, editors' swap files), and so are other files that do not look like
migrations (README.md, data files). A name that looks like a migration but cannot be
taken is a problem, where golang-migrate would run it or skip it silently.
It looks like one when it ends in ``.sql`` or ``.py`` (any case), or when it
starts with digits and ``_`` or ``.`` and has ``.up.`` or ``.down.`` in it, as
golang-migrate's own pattern ``^([0-9]+)_(.*)\\.(down|up)\\.(.*)$`` takes any extension:
``2_other.up.sqlite``, ``3_x.up.SQL``, ``4_y.sql``, ``1_a.up.sql.bak``. So is a name
holding a character that is not printable (a control character, bytes that are not
UTF-8), which no message could show.

Symbolic links: a link inside the folder is followed only when it
resolves inside the folder (``2_b.up.sql -> shared/b.sql``); a link that leaves it
(``-> /etc/passwd``, ``-> ../other/1.sql``) is a problem, named with its target, so
that a migrations folder never reads files from elsewhere. The folder itself may be
a link (``-m current -> releases/42/migrations``): links are judged against where it
resolves. Only regular files are read: a pipe or a device named like a migration is
a problem, never a read that blocks.

The text of every migration file (SQL up and down, repeatable, Python) may not hold a
control character that no SQL or Python source needs: C0 but for tab,
line feed, form feed and carriage return, and DEL. A NUL is the dangerous one: libpq
sends a query as a C string, so PostgreSQL runs the text cut at the NUL (a ``WHERE``
lost is every row updated). A file holding one is a problem naming its line.

Listing is cheap and reads no file (``ferryman status`` needs names only); contents
are read, checked and hashed when a command is about to run migrations.
"""

import os
import re
import stat

from ..errors import ConfigError
from ..phases import MIGRATION_PHASES

SQL_NAME = re.compile(r"^([0-9]+)_(.*)\.(up|down)\.sql$")
PY_NAME = re.compile(r"^([0-9]+)_(.*)\.py$")
REPEATABLE_NAME = re.compile(r"^R__(.+)\.sql$")
DIALECT_FOLDERS = ("sqlite", "postgresql", "mysql")
# The migration phases of the pipeline, in the order they run.
PHASE_ORDER = MIGRATION_PHASES
MAX_VERSION = 2**63 - 1  # versions are stored as BIGINT
KNOWN_DIRECTIVES = {"no-transaction"}
_PY_DOWN = re.compile(r"^(?:async\s+)?def\s+down\s*\(", re.M)
_DIRECTIVE = re.compile(r"^\s*(?:--|#)\s*ferryman:([A-Za-z0-9_-]*)(.*)$")
# Control characters no migration needs: C0 but TAB, LF, FF, CR (whitespace to SQL and
# to Python), and DEL. See the module's docstring.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CONTROL_NAMES = {0x00: "NUL", 0x08: "backspace", 0x0B: "vertical tab", 0x1B: "escape",
                  0x7F: "DEL"}
# A name that looks like a migration (see the module's docstring): it must parse.
_VERSIONED = re.compile(r"^[0-9]+[_.]")
_GOLANG_MIGRATE = re.compile(r"^([0-9]+)_(.*)\.(down|up)\.(.*)$", re.S)  # its file source


class Migration:
    """One versioned migration: where its files are; their contents load on demand."""

    __slots__ = ("version", "name", "phase", "kind", "path", "down_path", "_scripts",
                 "_compiled", "format", "version_text")

    def __init__(self, version, name, phase, kind, path, down_path=None, format=None,
                 version_text=None):
        self.version = version
        self.name = name
        self.phase = phase
        self.kind = kind  # "sql" or "python"
        self.path = path
        self.down_path = down_path
        self._scripts = {}
        self._compiled = {}
        # The folder's format when it is not ferryman's; in a single-file format
        # (dbmate, goose) both directions are sections of ``path``.
        self.format = format
        self.version_text = version_text  # as the file name writes it (dbmate: 001)

    @property
    def filename(self):
        return os.path.basename(self.path)

    @property
    def has_down(self):
        if self.kind == "python":
            return _PY_DOWN.search(self.script("up").text) is not None
        if self.format in SECTIONED:
            return _has_statements(self.script("down")) or not _has_statements(
                self.script("up"))  # an empty migration undoes as nothing
        return self.down_path is not None or self._runs_nothing()

    def _runs_nothing(self):
        """An up file of comments only (golang-migrate's examples ship them): undoing
        it is nothing, so it needs no down file. Unreadable: not known to be nothing."""
        if self.kind != "sql":
            return False
        try:
            text = self.script("up").text
        except (OSError, ValueError):
            return False
        return all(not line.strip() or line.lstrip().startswith("--")
                   for line in text.split("\n"))

    def script(self, direction):
        """The up or down script, read and hashed once. Raises OSError/UnicodeError."""
        if self.format in SECTIONED and direction not in self._scripts:
            whole = Script.read(self.path, self.kind, "up")
            self._scripts.update(_sections(self.format, whole))
        if direction not in self._scripts:
            path = self.path if direction == "up" or self.kind == "python" else self.down_path
            if path is None:  # no down file, and the up file runs nothing (has_down)
                self._scripts[direction] = Script(f"{self.path} (no down file: its up runs "
                                                  "nothing)", self.kind, direction, "")
                return self._scripts[direction]
            script = Script.read(path, self.kind, direction)
            if self.format == "flyway":  # Flyway replaces ${...}; ferryman does not
                from .formats import flyway_placeholders

                script.problems.extend(flyway_placeholders(script.text, path))
            self._scripts[direction] = script
        return self._scripts[direction]

    def refresh(self):
        """Forget loaded contents whose file changed since (mtime or size); True if so."""
        for direction, script in list(self._scripts.items()):
            if script.signature is None:  # not from a file (a repeatable's previous body)
                continue
            try:
                st = os.stat(script.path)
            except OSError:
                signature = None
            else:
                signature = (st.st_mtime_ns, st.st_size)
            if signature != script.signature:
                self._scripts.clear()
                self._compiled.clear()
                return True
        return False

    def compiled(self, direction, dialect, options=()):
        """The script compiled for ``dialect`` (a class) with ``options`` (a tuple of
        (name, value) pairs, e.g. concurrent_indexes): (Compiled or None, problems)."""
        key = (direction, dialect.name, options)
        if key not in self._compiled:
            from .compile import compile_script

            script = self.script(direction)
            if script.kind == "python" and "\x00" in script.text:
                # ast.parse raises ValueError on a NUL on Python 3.11.2 (SyntaxError
                # later); the script's own problem already says what is wrong.
                compiled, problems = None, []
            else:
                compiled, problems = compile_script(script, dialect, self.phase,
                                                    dict(options))
            self._compiled[key] = (compiled, script.problems + problems)
        return self._compiled[key]

    @property
    def checksum(self):
        """sha256 of the up file (or the Python module), line endings normalised."""
        return self.script("up").checksum

    def __repr__(self):
        return f"<Migration {self.version} {self.name!r} ({self.phase}, {self.kind})>"


class Repeatable(Migration):
    """``R__{title}.sql``: applied again whenever its checksum changes.

    It has no version and no down file; its undo is the body applied before, which the
    database keeps (``previous``, set by the planner).
    """

    __slots__ = ("previous",)

    def __init__(self, name, phase, path):
        super().__init__(None, name, phase, "repeatable", path)
        self.previous = None

    @property
    def has_down(self):
        return self.previous is not None

    def script(self, direction):
        if direction == "up":
            return super().script("up")
        if "down" not in self._scripts:
            self._scripts["down"] = Script(f"{self.path} (as applied before)", "repeatable",
                                           "down", self.previous or "")
        return self._scripts["down"]

    def __repr__(self):
        return f"<Repeatable {self.name!r} ({self.phase})>"


class Script:
    """The text of one migration file, normalised, with its checksum and directives.

    ``statements``: the statements as the file's own tool cuts them (goose's
    annotations), None where ferryman's splitter cuts the text (``split``)."""

    __slots__ = ("path", "kind", "direction", "text", "checksum", "directives", "problems",
                 "signature", "statements")

    def __init__(self, path, kind, direction, text, signature=None, data=None):
        import hashlib  # off the status path

        self.path = path
        self.kind = kind
        self.direction = direction
        self.text = text
        # ``data``: the file's bytes when they are already the normalised text's UTF-8
        # (no BOM, no CR): hashing them saves encoding the text again.
        self.checksum = hashlib.sha256(data if data is not None else text.encode("utf-8")
                                       ).hexdigest()
        self.directives, self.problems = parse_directives(text, path)
        control = control_character(text, path)
        if control:
            self.problems.insert(0, control)
        self.signature = signature
        self.statements = None

    def split(self, dialect):
        """The statements to run on ``dialect`` (a class). Where the file's tool cut
        them (goose), each of its statements is cut again by the dialect: goose sends a
        statement as one call, which may hold several (``INSERT ..; INSERT ..;`` on one
        line); one the splitter cannot cut runs as goose would send it."""
        if self.statements is None:
            return dialect.split(self.text)
        from .splitter import SplitError, Statement

        out = []
        for statement in self.statements:
            try:
                parts = dialect.split(statement.text)
            except SplitError:
                parts = [statement]
            else:
                parts = [Statement(p.text, p.line + statement.line - 1, p.words)
                         for p in parts]
            out.extend(parts)
        return out

    @classmethod
    def read(cls, path, kind, direction):
        # os.open/os.read: a run reads thousands of small files, and the io stack's
        # buffered reader costs more than the read itself.
        # O_NONBLOCK: a pipe named like a migration must not block the open; then only
        # a regular file is read (a directory, a pipe or a device is an OSError here).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
                raise OSError(0, f"{kind}, not a migration file")
            chunks, size = [], 0
            while True:
                chunk = os.read(fd, max(st.st_size - size, 0) + 65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
        text = data.decode("utf-8-sig")
        plain = b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")
        return cls(path, kind, direction, text if plain else normalise(text),
                   (st.st_mtime_ns, st.st_size), data if plain else None)

    @property
    def transactional(self):
        return "no-transaction" not in self.directives


SECTIONED = ("dbmate", "goose")


def _has_statements(script):
    if script.statements is not None:
        return bool(script.statements)
    return any(line.strip() and not line.lstrip().startswith("--")
               for line in script.text.split("\n"))


def _sections(format, whole):
    """{direction: Script} of a single-file migration (dbmate, goose): each section
    as its tool cuts it, with the whole file's checksum and problems, its line numbers
    the file's, and ``no-transaction`` where the tool runs it outside a transaction."""
    from . import formats

    scripts = {}
    if format == "dbmate":
        found = formats.dbmate_sections(whole.text, whole.path)
        for direction, sections in (("up", found.up), ("down", found.down)):
            text = (sections[0].padded if len(sections) == 1
                    else "\n".join(section.text for section in sections))
            transactional = all(section.transaction for section in sections)
            scripts[direction] = _section_script(whole, direction, text, transactional,
                                                 found.problems)
    else:
        found = formats.goose_sections(whole.text, whole.path)
        for direction, statements in (("up", found.up), ("down", found.down)):
            script = _section_script(whole, direction,
                                     "\n".join(st.text for st in statements),
                                     found.transaction, found.problems)
            script.statements = list(statements)
            scripts[direction] = script
    return scripts


def _section_script(whole, direction, text, transactional, problems):
    script = Script(whole.path, whole.kind, direction, text, whole.signature)
    script.checksum = whole.checksum  # the file's: editing either section is an edit
    # The file's problems once, with its up section (check_files reads both).
    script.problems = list(whole.problems) + list(problems) if direction == "up" else []
    if not transactional:
        script.directives = dict(script.directives, **{"no-transaction": ""})
    return script


def control_character(text, path):
    """The problem of a text holding a control character no migration needs (see the
    module's docstring), naming the first one's line and column; None when clean."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    start = found.start()
    line_start = text.rfind("\n", 0, start) + 1
    line = text.count("\n", 0, start) + 1
    code = ord(found.group())
    name = _CONTROL_NAMES.get(code, "a control character")
    more = len(_CONTROL.findall(text)) - 1
    return _problem(path, line, "control", f"control character U+{code:04X} ({name}) at "
                    f"column {start - line_start + 1}"
                    + (f", and {more} more in the file" if more else "")
                    + "; no migration needs one, and PostgreSQL's driver cuts a statement "
                    "at a NUL", "remove it; write it as an escape, e.g. chr(27), where the "
                    "data needs it")


def normalise(text):
    """Line endings to LF, so a checkout on Windows hashes like one on Linux."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def checksum_of(text):
    import hashlib

    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def parse_directives(text, path):
    """Header directives (``-- ferryman:NAME`` before the first statement).

    Returns (directives, problems): an unknown directive, or one found after the
    header (where it would silently do nothing), is a problem.
    """
    directives, problems = {}, []
    if "ferryman:" not in text:
        return directives, problems
    in_header = True
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        match = _DIRECTIVE.match(line)
        if match:
            name, arg = match.group(1), match.group(2).strip()
            if name not in KNOWN_DIRECTIVES:
                known = ", ".join(sorted(KNOWN_DIRECTIVES))
                problems.append(_problem(path, number, "directive", "unknown directive "
                                         f"'ferryman:{name}' (known: {known})",
                                         "correct its spelling, or remove the line"))
            elif not in_header:
                problems.append(_problem(path, number, "directive", f"directive "
                                         f"'ferryman:{name}' must come before the first "
                                         "statement", "move the line to the top of the file"))
            else:
                directives[name] = arg
        elif stripped and not stripped.startswith(("--", "#")):
            in_header = False
    return directives, problems


class Listing:
    """The migrations found in a set of phase folders, and the naming problems.

    ``migrations`` are the versioned ones, by version; ``repeatables`` by name;
    ``phases`` the phase names in the order they run.
    """

    __slots__ = ("migrations", "repeatables", "problems", "by_version", "phases", "formats",
                 "key_kind")

    def __init__(self, migrations, problems, repeatables=(), phases=("core",)):
        self.formats = {}  # {folder: (format, why)}: how each folder was read
        # "name" or "flyway" when versions are core/versions.py keys, None for numbers
        self.key_kind = None
        self.migrations = migrations
        self.repeatables = list(repeatables)
        self.problems = problems
        self.by_version = {m.version: m for m in migrations}
        self.phases = tuple(phases)

    def rank(self, migration):
        """Where a migration's phase comes in the run (phase, then version)."""
        phase = migration.phase
        return self.phases.index(phase) if phase in self.phases else len(self.phases)

    @property
    def head(self):
        return self.migrations[-1].version if self.migrations else None


_cache = {}
_RACY_NS = 2_000_000_000  # a folder changed this recently may change again unseen


def scan(phases, dialect=None, format=None):
    """List the migrations of every phase folder, sorted by version.

    ``phases`` maps a phase name to a folder. Versions are unique across all of
    them. The listing is cached until a folder changes (its mtime), so an
    application that checks its status often pays for it once; a folder modified in
    the last two seconds is never cached, because a second change within the same
    timestamp tick would go unseen (git's "racy" rule). File contents are checked
    for changes separately, by ``Migration.refresh``.
    """
    folders = []
    for phase, folder in phases.items():
        folders.append((phase, folder, _mtime(folder), folder))
        sub = os.path.join(folder, dialect) if dialect else None
        if sub and os.path.isdir(sub):
            folders.append((phase, sub, _mtime(sub), folder))
    key = (dialect, format, tuple(folders))
    cached = _cache.get(key)
    if cached is not None:
        return cached
    migrations, repeatables, problems, formats = [], [], [], {}
    for phase, folder, _mtime_ns, root in folders:
        entries = _entries(folder)
        formats[folder] = folder_format(folder, entries, format)
        found, again, folder_problems = _read_folder(phase, folder, root, entries,
                                                     formats[folder][0])
        migrations.extend(found)
        repeatables.extend(again)
        problems.extend(folder_problems)
    kinds = {getattr(m.version, "kind", None) for m in migrations}
    if len(kinds) > 1:
        shown = ", ".join(f"{folder} ({format})" for folder, (format, _w) in formats.items())
        raise ConfigError(f"the migration folders mix numbered versions with names or "
                          f"Flyway versions: {shown}",
                          hint="give every folder of this database one format (format = "
                               "... in the configuration)")
    migrations.sort(key=lambda m: m.version)
    repeatables.sort(key=lambda r: r.name)
    problems.extend(_duplicates(migrations))
    problems.extend(_duplicate_repeatables(repeatables))
    order = [p for p in PHASE_ORDER if p in phases] + [p for p in phases if p not in PHASE_ORDER]
    listing = Listing(_unique(migrations), problems, repeatables, order)
    listing.formats = formats
    listing.key_kind = kinds.pop() if kinds else None
    import time

    if all(time.time_ns() - mtime > _RACY_NS for _p, _f, mtime, _r in folders):
        _cache.clear()
        _cache[key] = listing
    return listing


def _mtime(folder):
    """The folder's mtime; a ConfigError (exit 2) when it is missing, not a folder
    (``-m /etc/passwd``) or cannot be read."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        raise ConfigError(f"migrations folder {folder} does not exist",
                          hint="create it, or run `ferryman init`") from None
    except OSError as exc:
        raise ConfigError(f"cannot read migrations folder {folder}: {exc.strerror}") from None
    except ValueError:  # a NUL in the path
        raise ConfigError(f"migrations folder {_printable(folder)}: not a valid path") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"migrations folder {folder} is not a folder",
                          hint="pass the folder that holds the migration files: "
                               "--migrations DIR") from None
    return st.st_mtime_ns


def folder_format(folder, entries, configured=None):
    """(format, why) of a folder: the configured one, else the one its names say
    (core/formats.py ``detect``: reads the first lines of a few files only when the
    names cannot tell dbmate's from goose's)."""
    if configured and configured != "auto":
        return configured, ["set in the configuration"]
    names = [entry.name for entry in entries]
    if all(SQL_NAME.match(n) or PY_NAME.match(n) or REPEATABLE_NAME.match(n)
           or not looks_like_migration(n) for n in names):
        return "ferryman", []  # the common case, decided without the format rules
    from .formats import detect

    def head(name):
        with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
            return f.read(4096)

    format, why = detect(names, head)
    if format in ("golang-migrate", "name"):
        # golang-migrate's up/down files read as ferryman's (its rules for names that
        # cannot be taken are in _naming_problem). A name-ordered folder identifies
        # migrations by name, which would make a numbered folder's applied versions
        # unknown: it is read so only when the configuration says format = "name";
        # otherwise the names ferryman refuses say so.
        return "ferryman", why
    return format, why


def _read_folder(phase, folder, root, entries=None, format="ferryman"):
    """The migrations of one folder; ``root`` is its phase folder, which no link may
    leave (``folder`` itself, when it is the dialect's subfolder, included)."""
    ups, downs, repeatables, problems = {}, {}, [], []
    real_root = None
    if folder != root:
        real_root = os.path.realpath(root)
        target = _outside(real_root, folder)
        if target:
            return [], [], [_link_problem(folder, target, root)]
    filing = _file_away if format == "ferryman" else _filer(format)
    for entry in entries if entries is not None else _entries(folder):
        filename = entry.name
        # Another tool's format decides for itself (goose's .go migrations are
        # problems); ferryman's skips what does not look like a migration.
        if not (looks_like_migration(filename) if format == "ferryman"
                else not filename.startswith(("_", "."))):
            continue
        path = os.path.join(folder, filename)
        problem, real_root = _entry_problem(entry, path, root, real_root)
        if problem is None:
            problem = filing(phase, filename, path, ups, downs, repeatables)
        if problem is not None:
            problems.append(problem)
    problems.extend(_down_problems(ups, downs))
    return _pair(phase, ups, downs), repeatables, problems


def _entries(folder):
    """The folder's entries, sorted by name; a ConfigError (exit 2) when it cannot be
    read."""
    try:
        with os.scandir(folder) as listing:
            return sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        raise ConfigError(f"cannot read migrations folder {folder}: {exc.strerror}") from None


def _entry_problem(entry, path, root, real_root):
    """What makes a migration file unusable whatever its name says -- a name that is
    not printable, a link out of the phase folder -- or None; with the phase folder's
    real path, resolved at the first link (``real_root`` until then)."""
    if not entry.name.isprintable():
        return _problem(_printable(path), None, "name", "the name holds a character that "
                        "is not printable (a control character, or bytes that are not "
                        "UTF-8)", "rename it"), real_root
    if entry.is_symlink():
        real_root = real_root or os.path.realpath(root)
        target = _outside(real_root, path)
        if target:
            return _link_problem(path, target, root), real_root
    return None, real_root


def _file_away(phase, filename, path, ups, downs, repeatables):
    """Put the file among the repeatables, the up or the down migrations (by
    version), as its name says; a problem with its name, or None."""
    again = REPEATABLE_NAME.match(filename)
    if again:
        repeatables.append(Repeatable(again.group(1), phase, path))
        return None
    match = SQL_NAME.match(filename)
    kind = "sql"
    if match is None:
        # golang-migrate splits at the last ".up."/".down.": ".up..sql" has the
        # extension ".sql", which it runs as SQL (a real project ships one).
        other = _GOLANG_MIGRATE.match(filename)
        if other is not None and other.group(4).lstrip(".") == "sql" and (
                other.group(4) != "sql"):
            match = other
    if match is None:
        match, kind = PY_NAME.match(filename), "python"
    if match is None or (kind == "python" and ".up." in filename):
        return _naming_problem(path, filename)
    version = int(match.group(1))
    if version > MAX_VERSION:
        return _problem(path, None, "version", f"version {match.group(1)} is above "
                        f"{MAX_VERSION}, the largest a database's BIGINT holds",
                        "renumber it (a UTC timestamp such as 20260101120000 fits)")
    direction = match.group(3) if kind == "sql" else "up"
    table = downs if direction == "down" else ups
    table.setdefault(version, []).append((match.group(2), kind, path))
    return None


def _filer(format):
    """The filing function of another tool's format (core/formats.py reads the
    names): golang-migrate's up and down files, dbmate's and goose's single files, a
    name-ordered folder's up and down files (identified by name), Flyway's V, U (its
    undo: the down) and R files (identified by a Flyway version, core/versions.py)."""
    from . import formats
    from .versions import FlywayKey, NameKey

    def file_away(phase, filename, path, ups, downs, repeatables):
        found = formats.parse_name(format, filename, path)
        if found is None:
            return None
        if isinstance(found, str):  # a Problem
            return found
        if found.kind == "repeatable":
            repeatables.append(Repeatable(found.title, phase, path))
            return None
        if found.kind == "baseline":
            return (f"{path}: a Flyway baseline migration (B...): ferryman does not run "
                    "them (rename it V... if it is a migration to run, or record the "
                    "schema it makes with `ferryman baseline VERSION`)")
        if format == "name":
            version = NameKey(found.key)
        elif format == "flyway":
            version = FlywayKey(found.version_text)
        else:
            version = int(found.key)
            if version > MAX_VERSION:
                return f"{path}: version {found.version_text} is above {MAX_VERSION}"
        entry = (found.title, "sql", path, format, found.version_text)
        table = downs if found.direction == "down" else ups
        table.setdefault(version, []).append(entry)
        return None

    return file_away


def _pair(phase, ups, downs):
    """The up migrations, each with its version's down file when it is SQL."""
    migrations = []
    for version, entries in ups.items():
        for name, kind, path, *more in entries:
            down = downs.get(version)
            down_path = down[0][2] if down and kind == "sql" else None
            migrations.append(Migration(version, name, phase, kind, path, down_path, *more))
    return migrations


def _down_problems(ups, downs):
    """Down files without an up migration, several for one version, or beside a
    Python migration (whose down() is in its module)."""
    problems = []
    for version, entries in downs.items():
        if version not in ups:
            problems.extend(_problem(path, None, "pairing", "down migration without an up "
                                     "migration", f"expected {_up_name(path)}: add it, empty "
                                     "or with a comment, for a version that does nothing "
                                     "going up; or remove this file")
                            for name, _k, path, *_more in entries)
        elif len(entries) > 1:
            paths = [p for _n, _k, p, *_more in entries]
            problems.append(_problem(
                paths[0], None, "duplicate",
                f"version {version} has {len(entries)} down files: " + ", ".join(paths),
                "keep one down file per version: give each up migration its own version, "
                "its down file renamed with it, or remove the extra down files",
                files=paths, key=("version", version)))
        elif any(k == "python" for _n, k, _p, *_more in ups[version]) and len(ups[version]) == 1:
            problems.append(_problem(entries[0][2], None, "pairing", "a Python migration "
                                     "has its down() in the module",
                                     "remove this file or the down() function"))
    return problems


def _up_name(path):
    """The name of the up file a down file pairs with: its own name, up for down (V
    for U, a Flyway undo's)."""
    name = os.path.basename(path)
    for down, up in ((".down.", ".up."), ("_down.", "_up.")):
        at = name.rfind(down)
        if at >= 0:
            return name[:at] + up + name[at + len(down):]
    if name.startswith("U") and "__" in name:
        return "V" + name[1:]
    return name


def looks_like_migration(filename):
    """Whether a name in a migrations folder is meant as a migration, so that it must
    parse (see the module's docstring); names starting with _ or . never are."""
    if filename.startswith(("_", ".")):
        return False
    lower = filename.lower()
    if lower.endswith((".sql", ".py")):
        return True
    return _VERSIONED.match(filename) is not None and (".up." in lower or ".down." in lower)


def _naming_problem(path, filename):
    lower = filename.lower()
    if not lower.endswith((".sql", ".py")):
        why = "ferryman runs only .sql and .py files" + (
            ", though golang-migrate would run this one; " if _GOLANG_MIGRATE.match(filename)
            else "; ")
    elif not filename.endswith((".sql", ".py")):
        why = "the extension must be .sql or .py, in lower case; "
    else:
        why = ""
    from .formats import other_format

    return _problem(path, None, "name", "name does not follow {version}_{title}.up.sql, "
                    "{version}_{title}.down.sql, {version}_{title}.py or R__{title}.sql; "
                    "not a migration", other_format(
                        f"{why}rename it, or start its name with _ to ignore it", filename,
                        "ferryman"))


def _outside(real_root, path):
    """Where ``path`` resolves, when that is outside ``real_root`` (a resolved folder);
    None when it stays inside."""
    target = os.path.realpath(path)
    if target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep):
        return None
    return target


def _link_problem(path, target, root):
    return _problem(path, None, "link",
                    f"a symbolic link to {_printable(target)}, outside the migrations folder "
                    f"{root}; ferryman reads no file from outside it",
                    "copy the file in, or link within the folder")


def _problem(file, line, kind, message, hint="", files=None, key=None):
    """A core/formats.py Problem: a text, which keeps its parts for ``validate --json``
    (formats is imported here, off the status path)."""
    from .formats import Problem

    return Problem(file, line, kind, message, hint, files, key)


def _printable(text):
    """``text`` with what a terminal or a UTF-8 stream cannot take shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _duplicates(migrations):
    problems, seen = [], {}
    for m in migrations:
        seen.setdefault(m.version, []).append(m)
    for version, group in seen.items():
        if len(group) > 1:
            paths = [m.path for m in group]
            problems.append(_problem(
                paths[0], None, "duplicate",
                f"version {version} is used by {len(group)} migrations: " + ", ".join(paths),
                _duplicate_hint(version, group[-1].name, group[0].format), files=paths,
                key=("version", version)))
    return problems


def _duplicate_hint(version, name, format):
    """The way forward for a version several migrations share (``name``: the newer's;
    ``format``: the folder's, None for ferryman's)."""
    kind = getattr(version, "kind", None)
    if kind == "name":
        return ("keep one of them: in a folder ordered by file name, {name}.up.sql and "
                "{name}_up.sql name the same migration")
    title = re.sub(r"[^a-z0-9]+", "_", (name or "").lower()).strip("_") or "NAME"
    renumber = (f"give each its own version: renumber all but one, e.g. move the newer "
                f"one's SQL into the files `ferryman new {title}` creates (the next "
                "version) and delete its old files")
    if kind == "flyway":
        return (renumber + "; Flyway compares versions as numbers (1 = 1.0 = 1_0) and "
                "refuses such a folder too")
    if format == "dbmate":
        return renumber
    if format == "goose":
        return renumber + "; goose refuses such a folder too"
    return renumber + '; or, for a folder ordered by file name, set format = "name"'


def _duplicate_repeatables(repeatables):
    seen = {}
    for r in repeatables:
        seen.setdefault(r.name, []).append(r.path)
    return [_problem(paths[0], None, "duplicate", f"repeatable migration R__{name}.sql "
                     f"appears {len(paths)} times: " + ", ".join(paths),
                     "keep one: a repeatable is known by its title in every phase folder and "
                     "dialect subfolder, so rename or remove the others", files=paths)
            for name, paths in seen.items() if len(paths) > 1]


def _unique(migrations):
    seen, unique = set(), []
    for m in migrations:
        if m.version not in seen:
            seen.add(m.version)
            unique.append(m)
    return unique
