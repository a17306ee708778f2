"""Files a person starts from: ``ferryman init`` and ``ferryman new``."""

import os
import re
import time

from .core.source import PY_NAME, SQL_NAME
from .errors import ConfigError, InputError
from .url import holds_password

CONFIG_TEMPLATE = """\
# ferryman configuration. Environment variables override it (FERRYMAN_DATABASE_URL,
# FERRYMAN_MIGRATIONS, ...), and command-line flags override both.
migrations = "{migrations}"

[database]
url = "{url}"
# A password never goes here: use FERRYMAN_PASSWORD, password_file, or PGPASSFILE.
"""

SQL_UP = """\
-- {name}: the change. Runs in a transaction together with its history row.
-- Put `-- ferryman:no-transaction` on the first line for statements that cannot
-- (CREATE INDEX CONCURRENTLY runs outside one without it).

"""

SQL_DOWN = """\
-- {name}: undoes {up_file}. Runs when you go down, and when a later migration of
-- the same run fails and ferryman rolls the run back.

"""

# One file per migration, as dbmate and goose write theirs (``dbmate new``,
# ``goose create NAME sql``).
SINGLE = {
    "dbmate": "-- migrate:up\n\n\n-- migrate:down\n\n",
    "goose": "-- +goose Up\n-- +goose StatementBegin\nSELECT 'up SQL query';\n"
             "-- +goose StatementEnd\n\n-- +goose Down\n-- +goose StatementBegin\n"
             "SELECT 'down SQL query';\n-- +goose StatementEnd\n",
}

PY_TEMPLATE = '''\
"""{name}."""


def up(ctx):
    """Runs inside the migration's transaction. ctx.execute(sql, params) runs a statement
    (placeholders: ctx.paramstyle), ctx.query(sql, params) returns rows, ctx.connection
    is the DB-API connection. Never commit: ferryman does."""
    ctx.execute("SELECT 1")


def down(ctx):
    """Undoes up(). Delete this function if the change cannot be undone."""
    ctx.execute("SELECT 1")
'''


# Backups are full copies of the database and reports show its schema and SQL: they
# belong beside the project, never in its repository.
GITIGNORE = ("backups/", "reports/")


def init_project(directory, database_url=None, migrations=None):
    """Write ferryman.toml, create the migrations folder, and make .gitignore cover the
    backups and reports folders; never overwrite. Returns the paths written."""
    config = os.path.join(directory, "ferryman.toml")
    if os.path.exists(config):
        raise ConfigError(f"{config} exists already; nothing was changed")
    migrations = migrations or "migrations"
    url = database_url or "sqlite:///app.db"
    if holds_password(url):
        raise ConfigError("the URL holds a password; write it without one and set "
                          "FERRYMAN_PASSWORD or use password_file")
    folder = os.path.join(directory, migrations)
    os.makedirs(folder, exist_ok=True)
    with open(config, "x", encoding="utf-8") as handle:
        handle.write(CONFIG_TEMPLATE.format(migrations=migrations, url=url))
    ignore = ignore_generated(directory)
    return [config, folder] + ([ignore] if ignore else [])


def ignore_generated(directory):
    """Append to ``directory``/.gitignore the lines of GITIGNORE it lacks (creating
    it if need be); keep every line it has. Returns its path, or None if it already
    covered them all."""
    path = os.path.join(directory, ".gitignore")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        text = ""
    have = {line.strip().strip("/") for line in text.splitlines()}
    missing = [entry for entry in GITIGNORE if entry.strip("/") not in have]
    if not missing:
        return None
    lead = "\n" if text and not text.endswith("\n") else ""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(lead + "# ferryman: backups and reports hold the database's data\n"
                     + "".join(f"{entry}\n" for entry in missing))
    return path


def new_migration(folder, name, *, python=False, sequence=None, format=None):
    """Create the files of a new migration, in the folder's format (configured, or
    read from its names: core/source.py folder_format); return their paths."""
    title = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not title:
        raise InputError(f"{name!r} makes no file name; use letters and digits")
    if not os.path.isdir(folder):
        raise ConfigError(f"migrations folder {folder} does not exist",
                          hint="run `ferryman init` first")
    from .core.source import folder_format

    with os.scandir(folder) as entries:
        format, _why = folder_format(folder, sorted(entries, key=lambda e: e.name), format)
    if python and format not in ("ferryman", "golang-migrate"):
        raise InputError(f"a Python migration in a {format} folder would be read by "
                         "ferryman only", hint="drop --python, or use ferryman's format")
    if format in SINGLE or format == "flyway":
        return [_new_file(folder, format, title, sequence)]
    version = _next_version(folder, sequence)
    if python:
        paths = [os.path.join(folder, f"{version}_{title}.py")]
        contents = [PY_TEMPLATE.format(name=title.replace("_", " ").capitalize())]
    else:
        up = f"{version}_{title}.up.sql"
        paths = [os.path.join(folder, up), os.path.join(folder, f"{version}_{title}.down.sql")]
        contents = [SQL_UP.format(name=title), SQL_DOWN.format(name=title, up_file=up)]
    for path, text in zip(paths, contents):
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    return paths


def _new_file(folder, format, title, sequence):
    """A dbmate, goose or Flyway migration: one file, named as that tool names it."""
    if format == "flyway":
        from .core.formats import parse_name

        majors = []
        for filename in os.listdir(folder):
            found = parse_name("flyway", filename)
            if not isinstance(found, (str, type(None))) and found.kind != "repeatable":
                majors.append(int(found.version_text.replace("_", ".").split(".")[0]))
        path = os.path.join(folder, f"V{max(majors, default=0) + 1}__{title}.sql")
        text = f"-- {title}: the change, as Flyway runs it (V...__ files have no down).\n\n"
    else:
        path = os.path.join(folder, f"{_next_version(folder, sequence, format)}_{title}.sql")
        text = SINGLE[format]
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _next_version(folder, sequence, format=None):
    versions = []
    single = re.compile(r"^([0-9]+)_.*\.sql$")
    for filename in os.listdir(folder):
        match = SQL_NAME.match(filename) or PY_NAME.match(filename) or (
            single.match(filename) if format in SINGLE else None)
        if match:
            versions.append(match.group(1))
    numbers = [int(v) for v in versions]
    sequential = bool(numbers) and max(numbers) < 10**9
    if sequence and numbers and not sequential:
        raise InputError(f"the migrations in {folder} are numbered by timestamp; a sequence "
                         "number would sort before all of them", hint="drop --seq")
    if sequence or sequential:
        width = max((len(v) for v in versions), default=4) if versions else 4
        return str(max(numbers, default=0) + 1).zfill(width)
    stamp = int(time.strftime("%Y%m%d%H%M%S", time.gmtime()))
    return str(max(stamp, max(numbers, default=0) + 1))
