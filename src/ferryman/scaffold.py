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


def new_migration(folder, name, *, python=False, sequence=None):
    """Create the files of a new migration; return their paths."""
    title = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not title:
        raise InputError(f"{name!r} makes no file name; use letters and digits")
    if not os.path.isdir(folder):
        raise ConfigError(f"migrations folder {folder} does not exist",
                          hint="run `ferryman init` first")
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


def _next_version(folder, sequence):
    versions = []
    for filename in os.listdir(folder):
        match = SQL_NAME.match(filename) or PY_NAME.match(filename)
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
