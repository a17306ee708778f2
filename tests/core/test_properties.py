"""Property tests of the input readers (issue 8, item 7): whatever comes in, only a
FerrymanError (or the splitter's SplitError) comes out; never another exception,
which the CLI would turn into exit 70 and a traceback.

The readers: the migration folder reader (random file names and random bytes, read
and checked for both engines), the SQL splitter (both dialects), the configuration
loader (random bytes as ferryman.toml and pyproject.toml, random TOML values for
every known key, random FERRYMAN_* values) and the database URL parser.

Each test is derandomized (the same examples every run: no flaky suite) and bounded
(200 examples, no deadline: the machine's load must not fail a test).
"""

import math
import os
import tempfile
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.config import _TABLE_KEYS, SETTINGS, load_settings
from ferryman.core.compile import check_files
from ferryman.core.source import scan
from ferryman.core.splitter import SplitError, split
from ferryman.dialects import dialect_class
from ferryman.errors import ConfigError, FerrymanError
from ferryman.url import parse_url

BOUNDED = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DIALECTS = ("postgresql", "sqlite")

# -- strategies ---------------------------------------------------------------------------
# Pieces that steer the splitter and the readers into their special cases: quotes,
# comments, dollar quotes, bodies, directives, control characters, line endings.
SQL_PIECES = [
    "'", '"', "`", "[", "]", ";", "--", "/*", "*/", "$$", "$a$", "$", "\\", "E'", "e'",
    "\n", "\r\n", "\r", " ", "\t", "\x00", "\x1b", "\x0b", "\ufeff", "é", "\U0001f600",
    "BEGIN", "END", "CASE", "COMMIT", "ROLLBACK", "CREATE", "TRIGGER", "FUNCTION",
    "PROCEDURE", "RULE", "AS", "DO", "INSTEAD", "ALSO", "ATOMIC", "RETURN", "TRANSACTION",
    "(", ")", "x", "1", "SELECT", "-- ferryman:no-transaction\n", "-- ferryman:bogus\n",
    "# ferryman:no-transaction\n", "def up(ctx):\n    pass\n", "def down(ctx):", ":",
]
sql_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(SQL_PIECES), st.characters()), max_size=60)
    .map("".join),
)
file_bytes = st.one_of(
    st.binary(max_size=200),
    sql_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
)
# Names: random text, random bytes (not UTF-8 on Linux), and names built like
# migrations with odd parts, for every branch of the naming rules.
_SUFFIXES = [".up.sql", ".down.sql", ".py", ".up.py", ".sql", ".up.SQL", ".UP.sql",
             ".up.sqlite", ".down.txt", ".up.sql.bak", ".up.sql~", ".md", ""]


def _usable(name):
    raw = os.fsencode(name)
    return name not in (".", "..") and b"/" not in raw and b"\x00" not in raw \
        and 0 < len(raw) <= 255


file_names = st.one_of(
    st.text(min_size=1, max_size=30),
    st.binary(min_size=1, max_size=30).map(os.fsdecode),
    st.builds(lambda prefix, version, sep, title, suffix: prefix + version + sep + title
              + suffix,
              st.sampled_from(["", "", "R__", "_", "."]),
              st.one_of(st.integers(0, 2**70).map(str), st.just("")),
              st.sampled_from(["_", ".", "", "__"]),
              st.one_of(st.text(max_size=10), st.binary(max_size=6).map(os.fsdecode)),
              st.sampled_from(_SUFFIXES)),
).filter(_usable)


# -- the migration folder reader ----------------------------------------------------------
@BOUNDED
@given(files=st.dictionaries(file_names, file_bytes, min_size=1, max_size=6),
       sub=st.sampled_from([None, "sqlite", "postgresql"]))
def test_the_folder_reader_lists_problems_and_raises_nothing_else(files, sub):
    with tempfile.TemporaryDirectory() as base:
        folder = os.path.join(base, "migrations")
        target = os.path.join(folder, sub) if sub else folder
        os.makedirs(target)
        for name, data in files.items():
            with open(os.path.join(os.fsencode(target), os.fsencode(name)), "wb") as handle:
                handle.write(data)
        for dialect in DIALECTS:
            try:
                listing = scan({"core": folder}, dialect)
                problems = check_files(listing, dialect_class(dialect))
            except FerrymanError:
                continue
            assert all(isinstance(p, str) for p in problems)
            for problem in problems:  # every problem can be printed and put in JSON
                problem.encode("utf-8")
            for migration in listing.migrations:
                assert 0 <= migration.version < 2**63  # version 0 is a version


# -- the splitter ---------------------------------------------------------------------------
@BOUNDED
@given(text=sql_text)
def test_the_splitter_raises_nothing_but_split_error(text):
    for dialect in DIALECTS:
        try:
            statements = split(text, dialect)
        except SplitError:
            continue
        for statement in statements:
            assert isinstance(statement.text, str) and statement.line >= 1


# -- the configuration loader --------------------------------------------------------------
def _toml_string(text):
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in '"\\' or ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_string(k)} = {_toml_value(v)}"
                           for k, v in value.items()) + "}"


TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)
SCALARS = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), TEXT,
    st.sampled_from(["0s", "-5", "10m", "250ms", "1h", "two", "nan", "sqlite:///a.db",
                     "postgresql://u:pw@h:1/d", "run", "each", "safe", "stop", "~", "/",
                     "ferryman_", "1e999", " 3 ", "+4", "-0"]),
)
TOML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=6)
# Every key a file may hold: the settings, and [table] keys.
KEYS = sorted(set(SETTINGS) - {"api_token"}) + [
    f"{table}.{key}" for table, keys in _TABLE_KEYS.items() for key in keys]


def _toml_document(values):
    top, tables = [], {}
    for key, value in values.items():
        if "." in key:
            table, sub = key.split(".", 1)
            tables.setdefault(table, []).append(f"{sub} = {_toml_value(value)}")
        elif key not in tables:
            top.append(f"{key} = {_toml_value(value)}")
    text = "\n".join(top) + "\n"
    for table, lines in tables.items():
        if table not in values:  # a top-level key of the same name would clash
            text += f"[{table}]\n" + "\n".join(lines) + "\n"
    return text


def _load(folder, env=None):
    """Load the settings and use them as a command would; only ConfigError may come."""
    try:
        s = load_settings(env=env or {}, cwd=folder)
        repr(s)
        s.url.redacted()
        for name in s.services:
            s.for_service(name)
    except FerrymanError as exc:
        assert isinstance(exc, ConfigError), exc
        str(exc.details())


@BOUNDED
@given(data=st.binary(max_size=300), name=st.sampled_from(["ferryman.toml",
                                                           "pyproject.toml"]))
def test_random_bytes_as_the_configuration_file(data, name):
    with tempfile.TemporaryDirectory() as folder:
        if name == "pyproject.toml":
            data = b"[tool.ferryman]\n" + data
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(data)
        _load(folder)


@BOUNDED
@given(values=st.dictionaries(st.sampled_from(KEYS), TOML_VALUES, max_size=6),
       service=st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), TOML_VALUES,
                                                    max_size=3)))
def test_random_toml_values_for_every_known_key(values, service):
    text = _toml_document(values)
    if service is not None:
        text += "[services.api]\n" + _toml_document(service).replace("\n[", "\n[services.api.")
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:  # the document clashes with itself (a key twice)
        return
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "ferryman.toml"), "w", encoding="utf-8") as handle:
            handle.write(text)
        _load(folder)


ENV_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",),
                                          exclude_characters="\x00"), max_size=20)


@BOUNDED
@given(env=st.dictionaries(st.sampled_from(sorted(SETTINGS)).map(
    lambda n: "FERRYMAN_" + n.upper()), ENV_TEXT, max_size=6))
def test_random_environment_values(env):
    with tempfile.TemporaryDirectory() as folder:
        _load(folder, env)


# -- the URL parser ---------------------------------------------------------------------------
URL_PIECES = ["postgresql", "postgres", "sqlite", "sqlite3", "mysql", "pgsql+psycopg", ":",
              "//", "///", "/", "@", "[", "]", "::1", "?", "&", "=", "%", "%4", "%41", "%zz",
              "%ff", "password", "sslmode", "u", "pw", "h", "5432", "99999999999999999999",
              ":memory:", "é", "\x00", " ", "#"]
urls = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(st.sampled_from(URL_PIECES), st.characters()), max_size=25)
    .map("".join),
)


@BOUNDED
@given(text=urls)
def test_the_url_parser_raises_nothing_but_config_error(text):
    try:
        url = parse_url(text)
    except ConfigError as exc:
        exc.details()
        return
    str(url)
    repr(url)
    url.redacted().encode("utf-8", "surrogatepass")
    url.with_path_base("/tmp")
