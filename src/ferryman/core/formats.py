"""The folder formats ferryman reads, each as its own tool reads it: file names, order,
the sections of single-file migrations, and which format a folder is in.

Pure: names and texts in, values and problem texts out; no file is opened here (the
caller passes names, and texts or a ``read`` function), no database is touched.

Formats, by the name used in the configuration (``format = "..."``) and in output:

``ferryman``
    ``{version}_{title}.up.sql`` / ``.down.sql``, ``{version}_{title}.py`` (up() and
    down() in one module), ``R__{title}.sql`` (repeatable). The default.
``golang-migrate``
    golang-migrate's own pattern, ``^([0-9]+)_(.*)\\.(down|up)\\.(.*)$`` with the version
    read by ``ParseUint`` (0 and leading zeros are valid). It takes any extension; one
    that is not ``sql`` (in any case) is a problem here, never skipped.
``name``
    ``{name}.up.sql`` / ``{name}.down.sql`` and ``{name}_up.sql`` / ``{name}_down.sql``,
    identified by ``{name}`` (several may share a number, a name may have no title) and
    run in the byte order of their up files' names (see ``_name``).
``flyway``
    ``V{version}__{description}.sql``, ``U...`` (undo), ``B...`` (baseline migration),
    ``R__{description}.sql`` (repeatable), with Flyway's version ordering
    (``FlywayVersion``); repeatables run after the versioned ones, by description.
``dbmate``
    ``^(\\d+).*\\.sql$``, one file holding ``-- migrate:up`` and ``-- migrate:down``
    (``dbmate_sections``); the version is the digits as a string, and files run in
    file-name order, as dbmate runs them.
``goose``
    ``{int64 >= 1}_{title}.sql`` with ``-- +goose Up`` / ``Down`` annotations
    (``goose_sections``); ``.go`` migrations are problems (ferryman runs no Go).

Every rule was read from the tool's own source (see FORMATS.md); where ferryman departs
from the tool, the docstring says so and why.

A problem is a ``Problem``: a text naming the file (and line), what is wrong and the
way forward, which also keeps those parts for ``validate --json``.
"""

import re
from collections import namedtuple

from .splitter import SplitError, Statement, split

__all__ = [
    "FORMATS", "DEFAULT_FORMAT", "PROBLEM_KINDS", "Problem", "Name", "FlywayVersion",
    "Section", "DbmateSections", "GooseSections", "parse_name", "check_names", "detect",
    "explain_refusal", "other_format", "flyway_checksum", "flyway_placeholders",
    "dbmate_sections", "goose_sections",
]

FORMATS = ("ferryman", "golang-migrate", "name", "flyway", "dbmate", "goose")
DEFAULT_FORMAT = "ferryman"
MAX_VERSION = 2**63 - 1  # ferryman stores versions as BIGINT
_MAX_UINT64 = 2**64 - 1
_LABEL = {"ferryman": "ferryman", "golang-migrate": "golang-migrate",
          "name": "a name-ordered runner", "flyway": "Flyway", "dbmate": "dbmate",
          "goose": "goose"}
_OWN_NAMES = {"ferryman": "ferryman's names", "golang-migrate": "golang-migrate's names",
              "name": "names of a folder run in file-name order",
              "flyway": "Flyway's names", "dbmate": "dbmate's names", "goose": "goose's names"}
_EXAMPLES = 3  # names quoted in a reason before "..."


# The kinds of problem a migration file can have (Problem.kind), as ``validate --json``
# names them.
PROBLEM_KINDS = {
    "name": "the file name is not one the folder's format takes",
    "version": "the version in the name cannot be stored (above 2**63-1)",
    "duplicate": "two files for one migration: a shared version, name or title",
    "pairing": "a down file without its up migration, or beside a Python migration",
    "link": "a symbolic link to a file outside the migrations folder",
    "unreadable": "the file cannot be read (permissions, not a regular file)",
    "encoding": "the file is not UTF-8 text",
    "control": "the text holds a control character no migration needs (a NUL)",
    "directive": "an unknown or misplaced -- ferryman: directive",
    "split": "the SQL cannot be cut into statements (an unterminated quote or comment)",
    "transaction": "the file begins a transaction of its own that it never ends",
    "python": "a Python migration does not compile, or has no up(ctx)",
    "unsupported": "something the file's own tool would do that ferryman does not",
    "placeholder": "a Flyway placeholder, which Flyway replaces and ferryman does not",
    "section": "dbmate's or goose's up/down sections are missing or misplaced",
    "annotation": "a goose annotation line goose refuses",
}


class Problem(str):
    """A problem text, ``{file}[:{line}]: {message} ({hint})``, that keeps its parts:
    ``file``, ``line`` (None when it is about the name), ``kind`` (one of
    PROBLEM_KINDS), ``message`` and ``hint`` (the way forward).

    ``files``: every file it is about (a duplicate names several; by default the one);
    ``key``: what makes problems of one kind one entry in ``validate --json``, where
    the default (None) is the message and the file, up and down alike, so that an up
    file and its down file with the same problem are one entry; a duplicate version
    says ("version", version), so that its up files and its down files are one."""

    def __new__(cls, file, line, kind, message, hint="", files=None, key=None):
        where = f"{file}:{line}" if line else f"{file}"
        self = super().__new__(cls, f"{where}: {message}" + (f" ({hint})" if hint else ""))
        self.file, self.line, self.kind, self.message, self.hint = (
            file, line, kind, message, hint)
        self.files = tuple(files) if files else (file,)
        self.key = key
        return self

    def __reduce__(self):
        return (Problem, (self.file, self.line, self.kind, self.message, self.hint,
                          self.files, self.key))


class Name(namedtuple("Name", "format file key version_text title direction kind order")):
    """What a file name says, in one format.

    file: the name (or the path the caller gave); key: the migration's identity, shared
    by its up and down files -- an int (ferryman, golang-migrate, goose), a string
    (name: the name without direction and extension; dbmate: the digits as written), a
    FlywayVersion (Flyway V, U, B), the title or description (repeatables);
    version_text: the version as written ('' for repeatables); title: may be '';
    direction: 'up' or 'down' (SQL file pairs; a Flyway U file is 'down', its V, B and
    R files 'up'), or 'both' (one file holds both: a ferryman Python migration, dbmate,
    goose); kind: 'sql', 'python', 'repeatable', 'undo' (Flyway U), 'baseline'
    (Flyway B); order: a key that sorts the format's migrations in the order the tool
    runs them (compare it only within one format).
    """

    __slots__ = ()


def parse_name(format, filename, path=None):
    """What ``filename`` is in ``format``: a Name; a Problem when it looks like a
    migration but cannot be taken (with the way forward, and the format that would take
    it); None when it is no migration (README.md, ``_helpers.sql``, ``.gitkeep``).

    ``path``, when given, is what problems and the Name call the file. Never raises on
    any name; an unknown format is a ValueError (a programming error: the configuration
    checks it against FORMATS).
    """
    parser = _parser(format)
    if filename.startswith(("_", ".")):
        return None
    found = parser(filename)
    if found is None or isinstance(found, Name):
        return found._replace(file=path or filename) if found else None
    kind, message, hint = found
    return Problem(path or filename, None, kind, message,
                   _with_other_format(hint, filename, format))


def _parser(format):
    try:
        return _PARSERS[format]
    except KeyError:
        raise ValueError(f"unknown migrations format {format!r}, expected one of "
                         + ", ".join(FORMATS)) from None


def other_format(hint, filename, format):
    """``hint`` for a name ``format`` refuses, plus which other format takes the name
    (``Flyway takes this name: set format = "flyway"``), if one does."""
    return _with_other_format(hint, filename, format)


def _with_other_format(hint, filename, format):
    """The hint, plus which other format takes the name, if one does."""
    takers = [f for f in _HINT_ORDER
              if f != format and isinstance(_PARSERS[f](filename), Name)]
    if not takers or f'format = "{takers[0]}"' in hint:
        return hint
    if "goose" in takers and "dbmate" in takers and takers[0] in ("goose", "dbmate"):
        other = ('goose and dbmate take this name (one file holding up and down): '
                 'set format = "goose" or "dbmate"')
    else:
        other = f'{_LABEL[takers[0]]} takes this name: set format = "{takers[0]}"'
    return f"{hint}; {other}" if hint else other


# -- ferryman ----------------------------------------------------------------------------
_FM_SQL = re.compile(r"([0-9]+)_(.*)\.(up|down)\.sql", re.S)
_FM_PY = re.compile(r"([0-9]+)_(.*)\.py", re.S)
_REPEATABLE = re.compile(r"R__(.+)\.sql", re.S)
_VERSIONED = re.compile(r"[0-9]+[_.]")
_DIGITS = re.compile(r"[0-9]+")


def _looks_versioned(filename):
    """Starts with digits and ``_`` or ``.`` and has ``.up.``/``.down.``: golang-migrate
    would take it whatever its extension."""
    lower = filename.lower()
    return _VERSIONED.match(filename) is not None and (".up." in lower or ".down." in lower)


def _ferryman(filename):
    lower = filename.lower()
    if not (lower.endswith((".sql", ".py")) or _looks_versioned(filename)):
        return None
    again = _REPEATABLE.fullmatch(filename)
    if again:
        return Name("ferryman", filename, again[1], "", again[1], "up", "repeatable",
                    (1, again[1]))
    match, kind = _FM_SQL.fullmatch(filename), "sql"
    if match is None and ".up." not in filename:
        match, kind = _FM_PY.fullmatch(filename), "python"
    if match is None:
        if not lower.endswith((".sql", ".py")):
            why = "ferryman runs only .sql and .py files"
        elif not filename.endswith((".sql", ".py")):
            why = "the extension must be .sql or .py, in lower case"
        else:
            why = ""
        return ("name", "name does not follow {version}_{title}.up.sql, "
                "{version}_{title}.down.sql, {version}_{title}.py or R__{title}.sql",
                (f"{why}; " if why else "")
                + "rename it, or start its name with _ to ignore it")
    version = _int_version(match[1], MAX_VERSION)
    if isinstance(version, tuple):
        return version
    direction = match[3] if kind == "sql" else "both"
    return Name("ferryman", filename, version, match[1], match[2], direction, kind,
                (0, version))


def _number(text):
    """``[+-]?[0-9]+`` as an int, or None when it has more than 40 digits: far beyond any
    version a tool takes, and int() refuses more than 4300 (a ValueError)."""
    return int(text) if len(text.lstrip("+-").lstrip("0")) <= 40 else None


def _int_version(text, limit, tool=None):
    """The version as an int, or a problem when it is above ``limit`` (BIGINT), saying
    what ``tool`` would do with it."""
    version = _number(text)
    if version is not None and version <= limit:
        return version
    if tool == "golang-migrate" and (version is None or version > _MAX_UINT64):
        what = "golang-migrate skips it silently (its ParseUint fails above 2**64-1)"
    else:
        what = "ferryman stores versions as BIGINT"
    return ("version", f"version {text} is above {MAX_VERSION}, the largest version; {what}",
            "renumber it below that")


# -- golang-migrate ----------------------------------------------------------------------
# Its source/parse.go Regex, with Go's semantics: '.' does not match a newline and '$'
# is the end of the name.
_GOLANG_MIGRATE = re.compile(r"([0-9]+)_([^\n]*)\.(down|up)\.([^\n]*)")


def _golang_migrate(filename):
    lower = filename.lower()
    match = _GOLANG_MIGRATE.fullmatch(filename)
    if match is None:
        if not (lower.endswith((".sql", ".py")) or _looks_versioned(filename)):
            return None
        return ("name", "name does not follow golang-migrate's {version}_{title}.up.sql / "
                "{version}_{title}.down.sql; golang-migrate would skip it silently",
                "rename it, or start its name with _ to ignore it")
    if match[4].lower() != "sql":
        return ("unsupported", f"extension .{match[4]}: golang-migrate would run it with the "
                "driver's own client; ferryman runs SQL files only",
                "rename it to .sql if it holds SQL for this database, or start its name "
                "with _ to leave it out")
    version = _int_version(match[1], MAX_VERSION, "golang-migrate")
    if isinstance(version, tuple):
        return version
    return Name("golang-migrate", filename, version, match[1], match[2], match[3], "sql",
                (0, version))


# -- name-ordered ------------------------------------------------------------------------
_NAME_SQL = re.compile(r"(.+)(\.up|\.down|_up|_down)\.(?i:sql)", re.S)
_NAME_OTHER = re.compile(r"(.+)(\.up|\.down)\.(.*)", re.S)
_LEADING_DIGITS = re.compile(r"([0-9]*)[_.-]?(.*)", re.S)


def _name(filename):
    """``{name}.up.sql``, ``{name}_up.sql`` and their downs, identified by ``{name}``.

    Order: the byte order of the up files' names (``{name}.up.sql`` or
    ``{name}_up.sql``, with ``.sql`` in lower case), which is how runners that list a
    folder order it (Go's os.ReadDir and sort.Strings, ``ls`` in the C locale): case
    counts (``B`` before ``a``), there are no ties (two files are two names), and
    numbers compare as text (``0010_x`` after ``0002_x``, but ``10_x`` before ``2_x``).
    Python compares strings by code point, which is the byte order of their UTF-8.
    A down file sorts as its up file's name would.
    """
    match = _NAME_SQL.fullmatch(filename)
    if match is None:
        lower = filename.lower()
        other = _NAME_OTHER.fullmatch(filename)
        if other is not None and not lower.endswith((".sql", ".py")):
            return ("unsupported", f"extension .{other[3]}: ferryman runs SQL files only",
                    "rename it to .sql if it holds SQL for this database, or start its "
                    "name with _ to leave it out")
        if not (lower.endswith((".sql", ".py")) or _looks_versioned(filename)):
            return None
        return ("name", "name does not follow {name}.up.sql, {name}.down.sql, "
                "{name}_up.sql or {name}_down.sql",
                "rename it, or start its name with _ to ignore it")
    stem, marker = match[1], match[2]
    digits, title = _LEADING_DIGITS.fullmatch(stem).groups()
    up_name = stem + (".up.sql" if marker.startswith(".") else "_up.sql")
    return Name("name", filename, stem, digits, title if digits else stem,
                "up" if marker.endswith("up") else "down", "sql", (0, up_name))


# -- Flyway ------------------------------------------------------------------------------
class FlywayVersion:
    """A Flyway migration version (api/MigrationVersion.java), hashable and ordered.

    ``_`` reads as ``.``; the text splits at each ``.`` followed by a digit; each part
    is an integer (a sign allowed, as Java's BigInteger takes it); trailing zero parts
    are dropped, so ``1`` = ``1.0`` = ``1_0`` = ``001`` and ``1.2`` < ``1.10``.
    ``str()`` is the text Flyway stores in its ``version`` column: as written, with
    ``_`` as ``.`` (leading zeros kept). A text Flyway would refuse, or read as one of
    its markers (``current``, ``next``, ``latest``), is a ValueError.
    """

    __slots__ = ("raw", "text", "parts")

    _SPLIT = re.compile(r"\.(?=[0-9])")  # Java's \d is ASCII
    _PART = re.compile(r"[+-]?\d+")  # BigInteger(String): Character.digit, any script
    _MARKERS = ("current", "next", "latest")

    def __init__(self, raw):
        if raw.lower() in self._MARKERS or raw == str(MAX_VERSION):
            raise ValueError(f"Flyway reads the version {raw!r} as a marker "
                             f"({'LATEST' if raw == str(MAX_VERSION) else raw.upper()}), "
                             "not as a version")
        text = raw.replace("_", ".")
        parts = []
        for part in self._SPLIT.split(text):
            if not self._PART.fullmatch(part):
                raise ValueError(f"Flyway cannot read the version {raw!r}: a version may "
                                 "only hold digits, with . or _ between them")
            if len(part) > 1000:  # int() refuses more than 4300 digits
                raise ValueError(f"the version {raw[:20]}... has a part of more than 1000 "
                                 "digits")
            parts.append(int(part))
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        self.raw, self.text, self.parts = raw, text, tuple(parts)

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"FlywayVersion({self.raw!r})"

    def __hash__(self):
        return hash(self.parts)

    # Later parts never carry a sign and trailing zeros are gone, so tuple order is
    # Flyway's compareTo (missing parts counting as 0).
    def __eq__(self, other):
        if not isinstance(other, FlywayVersion):
            return NotImplemented
        return self.parts == other.parts

    def __lt__(self, other):
        if not isinstance(other, FlywayVersion):
            return NotImplemented
        return self.parts < other.parts

    def __le__(self, other):
        if not isinstance(other, FlywayVersion):
            return NotImplemented
        return self.parts <= other.parts

    def __gt__(self, other):
        if not isinstance(other, FlywayVersion):
            return NotImplemented
        return self.parts > other.parts

    def __ge__(self, other):
        if not isinstance(other, FlywayVersion):
            return NotImplemented
        return self.parts >= other.parts


# Callback ids (api/callback/Event.java): SQL callbacks share the migrations' folder.
_FLYWAY_CALLBACKS = tuple(sorted((
    "afterBaseline", "afterBaselineError", "afterClean", "afterCleanError", "afterConnect",
    "afterEachMigrate", "afterEachMigrateError", "afterEachMigrateStatement",
    "afterEachMigrateStatementError", "afterEachUndo", "afterEachUndoError",
    "afterEachUndoStatement", "afterEachUndoStatementError", "afterInfo", "afterInfoError",
    "afterInfoOperationFinish", "afterMigrate", "afterMigrateApplied", "afterMigrateError",
    "afterMigrateOperationFinish", "afterRepair", "afterRepairError", "afterUndo",
    "afterUndoError", "afterValidate", "afterValidateError", "afterVersioned",
    "beforeBaseline", "beforeClean", "beforeConnect", "beforeCreateSchema",
    "beforeEachMigrate", "beforeEachMigrateStatement", "beforeEachUndo",
    "beforeEachUndoStatement", "beforeInfo", "beforeMigrate", "beforeRepair",
    "beforeRepeatables", "beforeUndo", "beforeValidate", "createSchema",
), key=len, reverse=True))  # longest first, as ResourceNameParser tries prefixes
# Script migrations (Flyway Teams): a script run by a shell or an interpreter.
_FLYWAY_SCRIPTS = (".ps1", ".bat", ".cmd", ".sh", ".bash", ".py")
_FLYWAY_KINDS = {"V": ("sql", "up", 0), "B": ("baseline", "up", 1), "U": ("undo", "down", 2)}
_FLYWAY_SHAPE = re.compile(r"[VUBR][^\n]*__")


def _flyway(filename):
    """ResourceNameParser.parse: the suffix ``.sql`` in any case, the prefix as written,
    the version and the description split at the first ``__`` (none: all is version),
    ``_`` in the description read as a space. Flyway skips what it cannot parse; here
    a ``.sql`` file it cannot take is a problem."""
    if not filename.lower().endswith(".sql"):
        if _FLYWAY_SHAPE.match(filename) and filename.lower().endswith(_FLYWAY_SCRIPTS):
            return ("unsupported", "a Flyway script migration: ferryman runs SQL files only",
                    "port it to SQL with the same name and .sql, or start its name with _ to "
                    "leave it out")
        return None
    base = filename[:-4]
    for event in _FLYWAY_CALLBACKS:
        if base.startswith(event):
            return ("unsupported", f"a Flyway callback ({event}): ferryman runs no callbacks",
                    "make it a repeatable migration R__{description}.sql if it must run "
                    "whenever it changes, or start its name with _ to leave it out")
    prefix, rest = base[:1], base[1:]
    version, _sep, description = rest.partition("__")
    if prefix == "R" and _sep:
        if version:
            return ("name", "a Flyway repeatable migration has no version",
                    f"rename it R__{description}.sql")
        return Name("flyway", filename, description.replace("_", " "), "",
                    description.replace("_", " "), "up", "repeatable",
                    (1, description.replace("_", " ").encode("utf-16-be", "surrogatepass")))
    if prefix not in _FLYWAY_KINDS or not rest:
        upper = prefix.upper() in "VUBR" and prefix.islower() and rest
        return ("name", "name does not follow Flyway's V{version}__{description}.sql, "
                "U{version}__{description}.sql, B{version}__{description}.sql or "
                "R__{description}.sql; Flyway would skip it silently",
                f"Flyway's prefixes are upper case: rename it {prefix.upper()}{rest}"
                f"{filename[-4:]}" if upper else
                "rename it, or start its name with _ to ignore it")
    if not version:
        return ("name", f"a Flyway {prefix} migration without a version",
                f"rename it {prefix}1__{description or 'description'}.sql")
    try:
        parsed = FlywayVersion(version)
    except ValueError as exc:
        hint = ("Flyway splits the version from the description at two underscores: "
                f"rename it {prefix}{version.split('_', 1)[0]}__{version.split('_', 1)[1]}.sql"
                if "_" in version and not _sep
                else "rename it with a version such as 1, 1.1 or 2_1")
        skipped = "" if "marker" in str(exc) else "; Flyway would skip the file silently"
        return ("name", f"{exc}{skipped}", hint)
    kind, direction, rank = _FLYWAY_KINDS[prefix]
    return Name("flyway", filename, parsed, version, description.replace("_", " "), direction,
                kind, (0, parsed, rank))


def flyway_checksum(text):
    """Flyway's checksum of a migration's text (ChecksumCalculator): CRC32 of the UTF-8
    of its lines, split at CR LF, CR or LF, concatenated without them, with a U+FEFF
    dropped from the start of the first; a signed 32-bit int. Line endings count for
    nothing: ``"a;\\nb;\\n"`` and ``"a;b;"`` have the same checksum. A lone surrogate
    (a byte that was not UTF-8) becomes ``?``, as Java's encoder writes it."""
    import zlib

    lines = re.split("\r\n|\r|\n", text)
    if lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    crc = zlib.crc32("".join(lines).encode("utf-8", "replace"))
    return crc - 2**32 if crc >= 2**31 else crc


_PLACEHOLDER = re.compile(r"\$\{([^${}\n]*)\}")  # no "${" inside: linear


def flyway_placeholders(text, path):
    """Problems for Flyway placeholders (``${name}``, ``${flyway:defaultSchema}``) in a
    migration's text: Flyway replaces them before running it (placeholderReplacement is
    on by default); ferryman would send them as written."""
    problems = []
    for match in _PLACEHOLDER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        problems.append(Problem(
            path, line, "placeholder",
            f"Flyway placeholder {match.group()}: Flyway replaces it before running the "
            "file; ferryman runs the text as written",
            "write the value in its place"))
    return problems


# -- dbmate ------------------------------------------------------------------------------
def _dbmate_version(filename):
    """pkg/dbmate/db.go migrationFileRegexp ``^(\\d+).*\\.sql$`` with Go's semantics
    (``\\d`` is ASCII, ``.`` no newline, leftmost-first: all the leading digits), as
    (digits, rest) or None; without the regex, whose two runs cost a long name
    quadratic time."""
    digits = _DIGITS.match(filename)
    if digits is None or not filename.endswith(".sql") or "\n" in filename:
        return None
    return digits.group(), filename[digits.end():-4]


def _dbmate(filename):
    lower = filename.lower()
    match = _dbmate_version(filename)
    if match is None:
        if lower.endswith(".py") and _DIGITS.match(filename):
            return _python_elsewhere()
        if not lower.endswith(".sql"):
            return None
        if _DIGITS.match(filename):
            return ("name", "dbmate takes .sql in lower case only and would skip this file",
                    "rename it to end in .sql, or start its name with _ to ignore it")
        return ("name", "name does not start with a version: dbmate's names are "
                "{version}_{title}.sql (e.g. 20240131120000_create_users.sql) and dbmate "
                "would skip this file", "rename it, or start its name with _ to ignore it")
    return Name("dbmate", filename, match[0], match[0], match[1].lstrip("_-. "), "both",
                "sql", (0, filename))


def _python_elsewhere():
    return ("unsupported", "a Python migration: only ferryman's own format runs them",
            'set format = "ferryman" and name it {version}_{title}.py, or start its name '
            "with _ to leave it out")


# -- goose -------------------------------------------------------------------------------
_GOOSE_VERSION = re.compile(r"[+-]?[0-9]+")  # strconv.ParseInt(s, 10, 64)


def _goose(filename):
    """migration.go NumericComponent: ``.sql`` or ``.go`` (as written), an int64 >= 1
    before the first ``_``. goose skips ``_test.go`` files and Go files without a
    version (helpers); a Go migration is a problem here."""
    lower = filename.lower()
    ext = filename[filename.rfind("."):] if "." in filename else ""
    if ext not in (".sql", ".go"):
        if lower.endswith(".py") and _DIGITS.match(filename):
            return _python_elsewhere()
        if lower.endswith(".sql"):
            return ("name", "goose takes .sql in lower case only and would skip this file",
                    "rename it to end in .sql, or start its name with _ to ignore it")
        return None
    if filename.endswith("_test.go"):
        return None
    before, sep, rest = filename.partition("_")
    number = _number(before) if sep and _GOOSE_VERSION.fullmatch(before) else None
    valid = number is not None and 1 <= number <= MAX_VERSION
    if ext == ".go":
        if not valid:
            return None
        return ("unsupported", "a goose Go migration: ferryman cannot run Go code",
                f"port it to SQL as {before}_{rest[:-3]}.sql with -- +goose Up / Down, and "
                "remove the .go file")
    if not sep:
        why = "there is no _ after the version"
    elif not _GOOSE_VERSION.fullmatch(before):
        why = f"{before!r} is not a version"
    elif before.startswith("-") or number == 0:
        why = f"version {before} is below 1, which goose refuses"
    elif not valid:
        why = f"version {before} is above {MAX_VERSION}, the largest int64"
    else:
        return Name("goose", filename, number, before, rest[:-4], "both", "sql", (0, number))
    return ("name", f"goose's names are {{version}}_{{title}}.sql, and {why}",
            "rename it (e.g. 00001_create_users.sql), or start its name with _ to ignore it")


_PARSERS = {"ferryman": _ferryman, "golang-migrate": _golang_migrate, "name": _name,
            "flyway": _flyway, "dbmate": _dbmate, "goose": _goose}
# Which format a hint names first, when several take a refused name.
_HINT_ORDER = ("ferryman", "golang-migrate", "flyway", "name", "goose", "dbmate")


# -- the names of a folder together --------------------------------------------------------
def check_names(format, names):
    """Problems of the Names of one folder (``parse_name``'s results for ``format``)
    taken together: two files that the tool would take for the same migration.

    ferryman, golang-migrate, goose: one up file (or single file) and one down file per
    version; name: per name (``0002_a.up.sql`` and ``0002_a_up.sql`` clash); Flyway: one
    V, one U and one B per version as Flyway compares them (``1`` = ``1.0``), one
    repeatable per description; dbmate: one file per version string (dbmate records
    the version, not the file, so it would run only the first). A down file without
    its up file is left to the caller, who pairs them.
    """
    groups = {}
    for name in names:
        if name.kind == "repeatable":
            slot = "repeatable"
        elif format == "flyway":
            slot = name.kind
        else:
            slot = "down" if name.direction == "down" else "up"
        groups.setdefault((slot, name.key), []).append(name)
    return [_duplicate(format, slot, key, group)
            for (slot, key), group in groups.items() if len(group) > 1]


def _duplicate(format, slot, key, group):
    files = ", ".join(n.file for n in group)
    first = group[0].file
    if slot == "repeatable":
        what = "description" if format == "flyway" else "title"
        return Problem(first, None, "duplicate",
                       f"{len(group)} repeatable migrations have the {what} {key!r}: {files}",
                       "rename all but one")
    if format == "flyway":
        return Problem(first, None, "duplicate",
                       f"Found more than one migration with version {key}: {files} (Flyway "
                       "compares versions as numbers: 1 = 1.0 = 1_0 = 001)",
                       "renumber all but one; Flyway refuses such a folder too")
    if format == "dbmate":
        return Problem(first, None, "duplicate",
                       f"{len(group)} files have the version {key}: {files}; dbmate records "
                       "the version, not the file, so it would run only the first",
                       "renumber all but one")
    if format == "name":
        return Problem(first, None, "duplicate",
                       f"{len(group)} {slot} files name the migration {key!r}: {files}",
                       "keep one of them")
    texts = sorted({n.version_text for n in group})
    same = f" ({' and '.join(texts)} are the same number)" if len(texts) > 1 else ""
    return Problem(first, None, "duplicate",
                   f"version {key} has {len(group)} {slot} files: {files}{same}",
                   "renumber all but one; goose refuses such a folder too" if format == "goose"
                   else 'renumber all but one; or, if the runner orders this folder by file '
                   'name so that several files may share a number, set format = "name"')


# -- detection ---------------------------------------------------------------------------
def detect(filenames, read=None):
    """The format a folder's file names are in: (format, reasons), the reasons short
    texts that ``validate`` can print.

    ``read(filename)`` returns the first few KB of a file's text; it is called only when
    the names cannot tell (dbmate or goose: ``-- migrate:up`` or ``-- +goose Up``), for
    at most three files; a file it cannot read (OSError, UnicodeError) is passed over.

    The rules, the largest group of names deciding when a folder mixes them (ties in
    this order):
    - Flyway names (``V1__init.sql``, ``U…``, ``B…``, callbacks such as
      ``afterMigrate.sql``): flyway.
    - ``.up``/``.down`` files: name-ordered when several share a number, when a name
      has no ``{version}_`` (``0157.up.sql``) or when files are named ``…_up.sql``;
      otherwise ferryman when there are Python migrations or ``R__`` repeatables, and
      golang-migrate when not (the two read such a folder alike; golang-migrate is what
      the names say).
    - ``{version}_{title}.sql`` files: goose when there are ``.go`` migrations, dbmate
      when a name has no ``_`` after its digits (goose needs one); else by contents.
    - Nothing of these (an empty folder, Python migrations and repeatables only, files
      with neither dbmate's nor goose's markers): ferryman, the default.
    """
    names = sorted(f for f in filenames if not f.startswith(("_", ".")))
    flyway = [f for f in names if _is_flyway(f)]
    repeatables = [f for f in names if _REPEATABLE.fullmatch(f)]
    python = [f for f in names if isinstance(_ferryman(f), Name) and f.endswith(".py")]
    taken = set(flyway)
    directional = [f for f in names if f not in taken and _is_directional(f)]
    taken.update(directional)
    single = [f for f in names if f not in taken and _is_single(f)]
    groups = [(len(flyway), "flyway"), (len(directional) + len(python), "directional"),
              (len(single), "single")]
    count, group = max(groups, key=lambda g: g[0])  # max keeps the first of a tie
    if count == 0:
        return DEFAULT_FORMAT, _default_reasons(names, repeatables)
    if group == "flyway":
        format, reasons = "flyway", [
            f"{_count(flyway, 'file')} named as Flyway names them: {_examples(flyway)}"]
    elif group == "directional":
        format, reasons = _directional(directional, python, repeatables)
    else:
        format, reasons = _single(single, read)
    return format, reasons + _others(format, names)


def _is_problem(found):
    """Whether a parser's result is a problem: (kind, message, hint), not a Name."""
    return found is not None and not isinstance(found, Name)


def _is_flyway(filename):
    found = _flyway(filename)
    if isinstance(found, Name):
        return found.kind != "repeatable"
    return _is_problem(found) and found[1].startswith("a Flyway callback")


def _is_directional(filename):
    return (_GOLANG_MIGRATE.fullmatch(filename) is not None
            or isinstance(_name(filename), Name))


def _is_single(filename):
    return isinstance(_dbmate(filename), Name) or (
        filename.endswith(".go") and _is_problem(_goose(filename)))


def _default_reasons(names, repeatables):
    if not names:
        return ["no migration files: ferryman's own format, the default for new projects"]
    if repeatables:
        return [f"only R__ repeatable migrations ({_examples(repeatables)}): ferryman's own "
                'format; in a Flyway project, set format = "flyway"']
    return ["no file is named as a known format names migrations: ferryman's own format"]


def _directional(files, python, repeatables):
    reasons = []
    underscored = [f for f in files if re.search(r"_(up|down)\.(?i:sql)\Z", f)
                   and not _GOLANG_MIGRATE.fullmatch(f)]
    if underscored:
        reasons.append(f"{_count(underscored, 'file')} named {{name}}_up.sql / "
                       f"{{name}}_down.sql: {_examples(underscored)}")
    underscored_set = set(underscored)
    untitled = [f for f in files
                if not _GOLANG_MIGRATE.fullmatch(f) and f not in underscored_set]
    if untitled:
        reasons.append(f"{_count(untitled, 'name')} without {{version}}_{{title}} before "
                       f".up/.down: {_examples(untitled)}")
    shared = {}
    for f in files:
        match = _GOLANG_MIGRATE.fullmatch(f)
        if match and match[3] == "up":
            shared.setdefault(match[1].lstrip("0"), []).append(f)
    for group in shared.values():
        if len(group) > 1:
            text = _GOLANG_MIGRATE.fullmatch(group[0])[1]
            reasons.append(f"{len(group)} files share version {text}: {_examples(group)}")
    if reasons:
        return "name", reasons + ["so the folder is ordered by file name, not by a "
                                  "unique version"]
    if python or repeatables:
        found = [_count(files, "up/down SQL file") if files else "",
                 _count(python, "Python migration") if python else "",
                 _count(repeatables, "R__ repeatable") if repeatables else ""]
        return "ferryman", ["ferryman's own format: " + ", ".join(filter(None, found))]
    return "golang-migrate", [
        f"{_count(files, 'file')} named {{version}}_{{title}}.up/.down.{{ext}} with unique "
        "versions, as golang-migrate names them (ferryman's own format reads them alike)"]


_GOOSE_UP = re.compile(r"^--[^\n]*\+goose[^\n]*$", re.M)


def _single(files, read):
    go = [f for f in files if f.endswith(".go")]
    if go:
        return "goose", [f"{_count(go, 'Go migration')}, which only goose names so: "
                         f"{_examples(go)}"]
    dbmate_only = [f for f in files if not isinstance(_goose(f), Name)]
    if dbmate_only:
        return "dbmate", [f"{_count(dbmate_only, 'name')} that dbmate takes and goose does "
                          f"not ({{version}}_ needed): {_examples(dbmate_only)}"
                          ] + _dbmate_order(files)
    if read is None:
        return DEFAULT_FORMAT, [
            f"{_count(files, 'file')} named {{version}}_{{title}}.sql, which both dbmate and "
            "goose take: their contents tell which (set format = \"dbmate\" or \"goose\")"]
    votes = {"dbmate": [], "goose": []}
    for filename in files[:3]:
        try:
            head = read(filename)
        except (OSError, ValueError):  # UnicodeError is a ValueError
            continue
        if _DBMATE_UP.search(head):
            votes["dbmate"].append(filename)
        if any(_goose_annotation(m.group())[0] == "Up" for m in _GOOSE_UP.finditer(head)):
            votes["goose"].append(filename)
    if not votes["dbmate"] and not votes["goose"]:
        return DEFAULT_FORMAT, [
            f"{_count(files, 'file')} named {{version}}_{{title}}.sql, but none of "
            f"{_examples(files[:3])} holds dbmate's -- migrate:up or goose's -- +goose Up"]
    format = "goose" if len(votes["goose"]) > len(votes["dbmate"]) else "dbmate"
    marker = "-- +goose Up" if format == "goose" else "-- migrate:up"
    verb = "holds" if len(votes[format]) == 1 else "hold"
    return format, [f"{_examples(votes[format])} {verb} {marker}"] + (
        _dbmate_order(files) if format == "dbmate" else [])


def _numeric(digits):
    """A key that orders digit strings as the numbers they write, of any length."""
    significant = digits.lstrip("0")
    return len(significant), significant


def _dbmate_order(files):
    """A note when file-name order (dbmate's) differs from numeric order."""
    by_name = [f for f in files if isinstance(_dbmate(f), Name)]
    by_number = sorted(by_name, key=lambda f: (_numeric(_dbmate_version(f)[0]), f))
    if by_name == by_number:
        return []
    first = next(i for i, (a, b) in enumerate(zip(by_name, by_number)) if a != b)
    return [f"dbmate runs files in name order, so {by_name[first]} runs before "
            f"{by_number[first]}; ferryman keeps that order"]


def _others(format, names):
    """A reason for files the chosen format refuses and another takes."""
    refused = [f for f in names if _is_problem(_PARSERS[format](f))]
    out = []
    for other in _HINT_ORDER:
        if other == format or not refused:
            continue
        taken = [f for f in refused if isinstance(_PARSERS[other](f), Name)]
        if taken:
            out.append(f"also {_count(taken, 'file')} that {_LABEL[other]} takes and "
                       f"format {format!r} refuses: {_examples(taken)}")
            done = set(taken)
            refused = [f for f in refused if f not in done]
    return out


def explain_refusal(filenames, format, read=None):
    """When ``format`` refuses some of a folder's files: which format would take them,
    as texts, e.g. ``4 of the files format 'ferryman' refuses are Flyway's names
    (V1__init.sql, ...): set format = "flyway"``, followed by ``detect``'s reasons;
    [] when it refuses none, or no format takes them."""
    names = sorted(f for f in filenames if not f.startswith(("_", ".")))
    refused = [f for f in names if _is_problem(_parser(format)(f))]
    if not refused:
        return []
    best, reasons = detect(names, read)
    out = []
    if best != format:
        taken = [f for f in refused if isinstance(_PARSERS[best](f), Name)]
        if taken:
            out.append(f"{len(taken)} of the files format {format!r} refuses "
                       f"{'is' if len(taken) == 1 else 'are'} {_OWN_NAMES[best]} "
                       f'({_examples(taken)}): set format = "{best}"')
            out.extend(reasons)
            done = set(taken)
            refused = [f for f in refused if f not in done]
    for other in _HINT_ORDER:
        if other in (format, best) or not refused:
            continue
        taken = [f for f in refused if isinstance(_PARSERS[other](f), Name)]
        if taken:
            out.append(f'{_examples(taken)}: {_OWN_NAMES[other]} (format = "{other}")')
            done = set(taken)
            refused = [f for f in refused if f not in done]
    return out


def _count(items, noun):
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _examples(items):
    shown = ", ".join(items[:_EXAMPLES])
    return shown + (", ..." if len(items) > _EXAMPLES else "")


# -- sections of single-file migrations ----------------------------------------------------
class Section(namedtuple("Section", "text line transaction")):
    """One up or down block of a single-file migration: its text as the tool runs it
    (from its marker line on), the 1-based line of its first character in the file, and
    whether the tool runs it in a transaction."""

    __slots__ = ()

    @property
    def padded(self):
        """The text after as many empty lines as precede it in the file, so that a
        splitter's line numbers are the file's."""
        return "\n" * (self.line - 1) + self.text


DbmateSections = namedtuple("DbmateSections", "up down problems")
GooseSections = namedtuple("GooseSections", "up down transaction problems")

# pkg/dbmate/migration.go upRegExp, downRegExp and blockDirectiveRegExp, with Go's \s
# (ASCII: no \v) and multi-line ^ and $ (at a \n only, as Python's).
_GO_S = "[\t\n\f\r ]"
_DBMATE_UP = re.compile(f"^--{_GO_S}*migrate:up(?:{_GO_S}*$|{_GO_S}+[^\t\n\f\r ]+)", re.M)
_DBMATE_DOWN = re.compile(f"^--{_GO_S}*migrate:down(?:{_GO_S}*$|{_GO_S}+[^\t\n\f\r ]+)", re.M)
_DBMATE_DIRECTIVE = re.compile(f"--{_GO_S}*migrate:(?:up|down)")
_DBMATE_BLANK_OR_COMMENT = re.compile(f"{_GO_S}*(?:--.*)?", re.S)
# Go's unicode.IsSpace (strings.TrimSpace, bufio.ScanWords); str.strip() would also take
# U+001C..U+001F.
_GO_SPACE = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
             "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_GO_WORDS = re.compile(f"[^{_GO_SPACE}]+")


def dbmate_sections(text, path):
    """The sections of a dbmate migration (pkg/dbmate/migration.go):
    DbmateSections(up, down, problems), up and down tuples of Section.

    The file is cut before each ``-- migrate:up`` line; each part holds one
    ``-- migrate:down`` line, which ends its up block. Only comments and blank lines may
    come before the first ``-- migrate:up``. A block's marker line carries its options:
    ``transaction:false`` (exactly so) runs it outside a transaction. Several up/down
    pairs in one file (dbmate 2.x, #620) are several sections, each run on its own as
    dbmate runs them; their downs come last section first, which undoes them --
    dbmate 2.35 runs them in file order, which fails on its own README's example
    (the table dropped before the column). A leading U+FEFF is dropped, as ferryman
    drops it from every file (dbmate would not find a marker on that line).
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    starts = [m.start() for m in _DBMATE_UP.finditer(text)]
    if not starts:
        return DbmateSections((), (), [Problem(
            path, 1, "section", "no '-- migrate:up' line: dbmate needs one",
            "add '-- migrate:up' above the migration's statements, and '-- migrate:down' "
            "above the statements that undo them")])
    problems = _before_first_up(text, starts[0], path)
    ups, downs = [], []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        part = text[start:end]
        found = [m.start() for m in _DBMATE_DOWN.finditer(part)]
        line = _line_at(text, start)
        if not found:
            problems.append(Problem(
                path, line, "section", "this '-- migrate:up' has no '-- migrate:down' after "
                "it: dbmate needs one, even with nothing under it",
                "add '-- migrate:down' after the up statements"))
            continue
        if len(found) > 1:
            problems.append(Problem(
                path, _line_at(text, start + found[1]), "section", "a second "
                f"'-- migrate:down' after the '-- migrate:up' at line {line}: dbmate "
                "needs a '-- migrate:up' before every '-- migrate:down'",
                "remove one, or add the '-- migrate:up' that it ends"))
            continue
        up, down = part[:found[0]], part[found[0]:]
        ups.append(Section(up, line, _dbmate_transaction(up)))
        downs.append(Section(down, _line_at(text, start + found[0]),
                             _dbmate_transaction(down)))
    if problems:
        return DbmateSections((), (), problems)
    return DbmateSections(tuple(ups), tuple(reversed(downs)), [])


def _before_first_up(text, start, path):
    for number, line in enumerate(text[:start].split("\n"), 1):
        if not _DBMATE_BLANK_OR_COMMENT.fullmatch(line):
            return [Problem(path, number, "section",
                            "a statement before '-- migrate:up': dbmate refuses the file",
                            "move it under '-- migrate:up', or make it a comment")]
    return []


def _dbmate_transaction(block):
    """parseMigrationOptions: the words after the marker on its line, ``key:value``."""
    first = block.split("\n", 1)[0]
    directive = _DBMATE_DIRECTIVE.match(first)
    if directive:
        first = first[directive.end():]
    options = {}
    for pair in re.split(_GO_S + "+", first.strip(_GO_SPACE)):
        key_value = pair.split(":")
        if len(key_value) == 2:
            options[key_value[0]] = key_value[1]
    return options.get("transaction") != "false"


def _line_at(text, pos):
    return text.count("\n", 0, pos) + 1


# -- goose -------------------------------------------------------------------------------
_GOOSE_ANNOTATIONS = ("Up", "Down", "StatementBegin", "StatementEnd", "NO TRANSACTION",
                      "ENVSUB ON", "ENVSUB OFF")
_GOOSE_FOLDED = {a.lower(): a for a in _GOOSE_ANNOTATIONS}
# Go's strings.EqualFold folds case rune by rune (simple folding): for these ASCII
# words, only U+212A (Kelvin) and U+017F (long s) fold onto them besides ASCII letters.
_FOLD_TO_ASCII = {"\u212a": "k", "\u017f": "s"}
_GOOSE_LINE_MAX = 4 * 1024 * 1024  # its bufio.Scanner buffer: a longer line fails
_START, _UP, _BEGIN_UP, _END_UP, _DOWN, _BEGIN_DOWN, _END_DOWN = range(7)
_DIRECTION = {_UP: "up", _BEGIN_UP: "up", _END_UP: "up",
              _DOWN: "down", _BEGIN_DOWN: "down", _END_DOWN: "down"}


def _goose_annotation(line):
    """extractAnnotation: (annotation, None) or (None, what is wrong)."""
    if line.startswith((" ", "\t")):
        return None, "whitespace before '--'"
    cmd = line.replace("--", "").replace("+goose", "", 1)
    if "+goose" in cmd:
        return None, "more than one '+goose'"
    cmd = cmd.strip(_GO_SPACE)
    if not cmd:
        return None, "no annotation after '+goose'"
    folded = "".join(_FOLD_TO_ASCII.get(c, c.lower() if c.isascii() else c) for c in cmd)
    if folded in _GOOSE_FOLDED:
        return _GOOSE_FOLDED[folded], None
    return None, f"{cmd!r} is not one of goose's annotations ({', '.join(_GOOSE_ANNOTATIONS)})"


def _ends_with_semicolon(line):
    """endsWithSemicolon: the last word before a word starting with ``--`` ends in ';'."""
    last = ""
    for word in _GO_WORDS.findall(line):
        if word.startswith("--"):
            break
        last = word
    return last.endswith(";")


class _GooseParser:
    """internal/sqlparser/parser.go ParseSQLMigration, both directions in one pass.

    goose parses a file once per direction, dropping the other direction's lines; the
    states and statements of each direction's lines are the same in one pass, and a
    file either direction refuses is a problem here.
    """

    def __init__(self, path, dialect):
        self.path, self.dialect = path, dialect
        self.state, self.transaction, self.envsub = _START, True, None
        self.buf = []  # (line number, line) of the statement being read
        self.statements = {"up": [], "down": []}
        self.problems = []
        self.begin_line = self.empty_block = None

    def problem(self, number, message, hint, kind="section"):
        self.problems.append(Problem(self.path, number, kind, message, hint))

    def run(self, text):
        if text.startswith("\ufeff"):
            text = text[1:]
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()  # bufio.ScanLines: no empty line after the last newline
        for number, line in enumerate(lines, 1):
            if line.endswith("\r"):
                line = line[:-1]
            if (len(line) * 4 > _GOOSE_LINE_MAX
                    and len(line.encode("utf-8", "replace")) > _GOOSE_LINE_MAX):
                self.problem(number, "a line longer than 4 MiB: goose cannot read it",
                             "break it into several lines")
                return
            if not self.line(number, line):
                return
        self.end()

    def line(self, number, line):
        """Take one line; False when the file cannot be read further."""
        stripped = line.strip(_GO_SPACE)
        if self.state == _START and not stripped:
            return True
        annotation = None
        if stripped.startswith("--") and "+goose" in line:
            annotation, wrong = _goose_annotation(line)
            if annotation is None:
                self.problem(number, f"{wrong}: goose refuses this annotation line",
                             "write it as '-- +goose Up' (or Down, StatementBegin, "
                             "StatementEnd, NO TRANSACTION), or reword the comment without "
                             "'+goose'", "annotation")
                return False
            if not self.annotate(number, annotation):
                return False
            if annotation != "StatementEnd":
                return True
        if not self.buf and (stripped.startswith("--") or line == ""):
            if annotation == "StatementEnd":
                self.empty_block = (self.begin_line, number)
            return True
        if self.state in (_END_UP, _END_DOWN):
            if annotation != "StatementEnd":  # the line after an empty block
                first, last = self.empty_block
                self.problem(number, "goose would skip this line: it follows an empty "
                             f"StatementBegin/StatementEnd block (lines {first}-{last})",
                             "remove that empty block, or put this statement inside it",
                             "unsupported")
            self.emit()
            self.state = _UP if self.state == _END_UP else _DOWN
            return True
        if self.state == _START:
            self.problem(number, "SQL before '-- +goose Up': goose refuses the file",
                         "put '-- +goose Up' above the migration's statements")
            return False
        if self.envsub is not None and "$" in line:
            self.problem(number, "goose would replace ${VAR} here with the environment's "
                         f"value (-- +goose ENVSUB ON at line {self.envsub}); ferryman "
                         "runs the text as written",
                         "write the value in, or put '-- +goose ENVSUB OFF' before this "
                         "line if its $ is no variable", "unsupported")
        self.buf.append((number, line))
        if self.state in (_UP, _DOWN) and _ends_with_semicolon(line):
            self.emit()
        return True

    def annotate(self, number, annotation):
        """Apply an annotation; False when goose refuses it where it stands."""
        state = self.state
        if annotation == "Up":
            if state != _START:
                self.problem(number, "a second '-- +goose Up': goose refuses the file",
                             "remove one; a file holds one Up and one Down section")
                return False
            self.state = _UP
        elif annotation == "Down":
            if state not in (_UP, _END_UP):
                where = ("before '-- +goose Up'" if state == _START else
                         f"inside the StatementBegin block opened at line {self.begin_line}"
                         if state in (_BEGIN_UP, _BEGIN_DOWN) else "a second time")
                self.problem(number, f"'-- +goose Down' {where}: goose refuses the file",
                             "put one '-- +goose Down' after the Up section")
                return False
            if not self.unfinished(f"before '-- +goose Down' (line {number})"):
                return False
            self.state = _DOWN
        elif annotation == "StatementBegin":
            if state in (_UP, _END_UP):
                self.state = _BEGIN_UP
            elif state in (_DOWN, _END_DOWN):
                self.state = _BEGIN_DOWN
            else:
                where = ("before '-- +goose Up'" if state == _START else
                         f"inside the block opened at line {self.begin_line}")
                self.problem(number, f"'-- +goose StatementBegin' {where}: goose refuses "
                             "the file", "close the block before with '-- +goose "
                             "StatementEnd'" if state != _START else
                             "put '-- +goose Up' above it")
                return False
            self.begin_line = number
        elif annotation == "StatementEnd":
            if state not in (_BEGIN_UP, _BEGIN_DOWN):
                self.problem(number, "'-- +goose StatementEnd' without a "
                             "'-- +goose StatementBegin' before it: goose refuses the file",
                             "add the StatementBegin line above the statement, or remove "
                             "this line")
                return False
            self.state = _END_UP if state == _BEGIN_UP else _END_DOWN
        elif annotation == "NO TRANSACTION":
            self.transaction = False
        else:
            self.envsub = number if annotation == "ENVSUB ON" else None
        return True

    def unfinished(self, where):
        """A problem when a statement was left without its ';'; False then."""
        first = self.first_code_line()
        if first is None:
            self.buf.clear()
            return True
        self.problem(first, f"the statement starting here does not end with ';' {where}: "
                     "goose refuses the file", "end its last line with ';', or put it "
                     "between '-- +goose StatementBegin' and '-- +goose StatementEnd'")
        return False

    def first_code_line(self):
        return next((n for n, line in self.buf if line.strip(_GO_SPACE)), None)

    def emit(self):
        first = self.first_code_line()
        if first is not None:
            text = "\n".join(line for _n, line in self.buf).strip(_GO_SPACE)
            self.statements[_DIRECTION[self.state]].append(
                Statement(text, first, _words(text, self.dialect)))
        self.buf.clear()

    def end(self):
        if self.state == _START:
            self.problem(1, "no '-- +goose Up' annotation: goose refuses the file",
                         "put '-- +goose Up' above the migration's statements, and "
                         "'-- +goose Down' above those that undo them")
        elif self.state in (_BEGIN_UP, _BEGIN_DOWN):
            self.problem(self.begin_line, "this '-- +goose StatementBegin' has no "
                         "'-- +goose StatementEnd': goose refuses the file",
                         "add '-- +goose StatementEnd' after the statement")
        else:
            self.unfinished("at the end of the file")


def _words(text, dialect):
    """The statement's first words, as the splitter finds them (Statement.words)."""
    try:
        found = split(text, dialect)
    except SplitError:
        return ()
    return found[0].words if found else ()


def goose_sections(text, path, dialect="postgresql"):
    """The statements of a goose SQL migration, as goose's parser cuts them:
    GooseSections(up, down, transaction, problems), up and down lists of Statement.

    Annotations are lines starting with ``--`` (no whitespace before it) that hold
    ``+goose``: ``Up``, ``Down``, ``StatementBegin``, ``StatementEnd``,
    ``NO TRANSACTION`` (for both directions: ``transaction`` is False), ``ENVSUB ON`` /
    ``OFF``, in any case. A statement ends on a line whose last word before any
    ``--`` word ends with ``;``; between StatementBegin and StatementEnd it ends at
    StatementEnd. Comments and empty lines before a statement are dropped; a statement's
    text is its lines, trimmed, with its ``;`` and any comment after it, as goose sends
    it (one Exec each: on SQLite, where one call runs one statement, split each text
    again with the splitter). ``line`` is the file's line of its first character;
    ``words`` are the splitter's for ``dialect``.

    Lines are cut at LF, a CR before it dropped (bufio.ScanLines): in a text whose lone
    CRs were made line breaks, lines are counted as ferryman counts them. A leading
    U+FEFF is dropped, as ferryman drops it from every file (goose refuses such a file).
    Where goose would run something other than what the file says, that is a problem:
    ENVSUB ON over a line holding ``$`` (ferryman does not expand ``${VAR}``: the
    environment is not part of a migration, and it holds passwords), and a line goose
    drops after an empty StatementBegin/StatementEnd block.
    """
    parser = _GooseParser(path, dialect)
    parser.run(text)
    if parser.problems:
        return GooseSections([], [], parser.transaction, parser.problems)
    return GooseSections(parser.statements["up"], parser.statements["down"],
                         parser.transaction, [])
