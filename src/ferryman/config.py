"""Configuration: the one module that reads ``ferryman.toml``, ``pyproject.toml`` and
the ``FERRYMAN_*`` environment.

Precedence, highest first: command-line flags (or API keyword arguments), the
environment, the configuration file, the defaults below. Every setting is declared
once in ``SETTINGS``; the CLI builds its options from the same table.

The file is found through ``--config``, ``FERRYMAN_CONFIG``, ``./ferryman.toml`` or
``[tool.ferryman]`` in ``./pyproject.toml``. Relative paths in a file are relative to
the file's folder; relative paths from flags and the environment, to the current one.

On the path of ``ferryman status``: ``tomllib`` is imported only when a file exists.
"""

import os

from .errors import ConfigError, register_secret
from .exposure import check_password_file
from .phases import DEFAULT_STRATEGY, MIGRATION_PHASES, STRATEGIES
from .url import build_url, parse_url

DEFAULT_PHASE = "core"
PHASES = MIGRATION_PHASES  # the phases that take migrations from a folder

# name: (kind, default, help). The environment variable is FERRYMAN_<NAME>.
SETTINGS = {
    "database_url": ("url", None, "database URL, e.g. sqlite:///app.db or postgresql://app@db/app"),
    "host": ("str", None, "database host (instead of a URL)"),
    "port": ("int", None, "database port"),
    "user": ("str", None, "database user"),
    "database": ("str", None, "database name"),
    "ssl": ("str", None, "TLS mode: disable, prefer, require, verify-ca, verify-full"),
    "password_file": ("path", None, "file holding the database password"),
    "migrations": ("path", None, "folder of migrations (the core phase)"),
    "table_prefix": ("identifier", "ferryman_", "prefix of ferryman's own tables"),
    "lock_timeout": ("duration", 600.0, "how long to wait for another runner's lock "
                     "(SQLite: also another connection's write lock)"),
    "transaction": (("run", "each"), "run",
                    "commit the whole run at once, or each migration on its own"),
    "allow_out_of_order": ("bool", False, "apply pending migrations below the highest applied"),
    "format": (("auto", "ferryman", "golang-migrate", "dbmate", "goose", "name", "flyway"),
               "auto", "how the migrations folder names its files (auto: detected from "
               "the names)"),
    "keep_foreign_state": ("bool", None, "keep the adopted tool's table (golang-migrate, "
                           "dbmate, goose) up to date, the way back to it (default: on for "
                           "golang-migrate and dbmate)"),
    "foreign_table": ("str", None, "the other tool's state table to adopt, e.g. "
                      "app.schema_migrations (default: the tool's own name)"),
    "connect_timeout": ("duration", 10.0, "how long to wait for the database to answer"),
    # safety
    "backup": ("bool", True, "take a backup before every run that changes the database"),
    "backup_dir": ("path", None, "folder of backups (default: backups/ beside the config)"),
    "backup_keep": ("int", 10, "how many backups of each database to keep"),
    "restore_on_failure": ("bool", None, "restore the pre-run backup when a failed run cannot "
                           "be rolled back otherwise (default: on for SQLite)"),
    # time
    "timeout": ("duration", None, "give up on the whole run after this long"),
    "statement_timeout": ("duration", None, "give up on one statement after this long"),
    "table_lock_timeout": ("duration", None, "give up waiting for a table lock after this long "
                           "(PostgreSQL lock_timeout)"),
    "retries": ("int", 2, "retries of a run that failed on a transient error"),
    "retry_backoff": ("duration", 1.0, "first pause before a retry; doubles each time"),
    "log_file": ("path", None, "append every event of every run to this file"),
    # the pipeline (ferryman migrate)
    "strategy": (tuple(STRATEGIES), DEFAULT_STRATEGY,
                 "which phases `migrate` runs"),
    "failure_strategy": (("stop", "continue"), "stop",
                         "stop at a failed phase, or report check failures and go on"),
    "skip_optimization": ("bool", False, "skip the optimize phase"),
    "concurrent_indexes": ("bool", True, "build the indexes phase's indexes CONCURRENTLY "
                           "(PostgreSQL)"),
    "check_queries": ("path", None, "folder of *.sql checks that must return no rows"),
    "health_queries": ("path", None, "folder of *.sql health queries the validate phase runs"),
    "required_tables": ("list", [], "tables the integrity phase requires"),
    "required_extensions": ("list", [], "PostgreSQL extensions that must be available"),
    "min_server_version": ("str", None, "lowest server version accepted (PostgreSQL: 12)"),
    "optimize_extensions": ("list", [], "extensions the optimize phase enables, e.g. "
                            "pg_stat_statements"),
    "reports_dir": ("path", None, "folder of run reports (default: reports/ beside the config)"),
    # the coordinator (migrate --strategy coordinated)
    "parallel": ("int", None, "services migrated at once (default: up to 8)"),
    "failure_policy": (("stop", "continue", "rollback-all"), "stop",
                       "what a failed service means for the others"),
    # maintenance: `ferryman maintain purge`
    "purge_table": ("str", None, "table whose soft-deleted rows `maintain purge` deletes"),
    "purge_column": ("str", None, "its timestamp column that marks a row soft-deleted"),
    "purge_days": ("int", 30, "purge rows soft-deleted more than this many days ago"),
    # the HTTP app (ferryman serve): its backup, migrate and rollback routes exist only
    # with a token; a secret, so never a flag (visible in ps) and never printed
    "api_token": ("str", None, "bearer token of the HTTP app's routes that change things"),
    "status_deadline": ("duration", 1.0, "longest a status request waits for its database; "
                        "then the last known state, marked stale"),
}

TABLES = {"database", "phases", "backup", "maintenance", "checks", "reports", "optimize",
          "services"}
# [table] key -> setting
_TABLE_KEYS = {
    "database": {"url": "database_url", "host": "host", "port": "port", "user": "user",
                 "name": "database", "database": "database", "ssl": "ssl",
                 "password_file": "password_file"},
    "backup": {"enabled": "backup", "dir": "backup_dir", "keep": "backup_keep",
               "restore_on_failure": "restore_on_failure"},
    "maintenance": {"table": "purge_table", "column": "purge_column", "days": "purge_days"},
    "checks": {"queries": "check_queries", "health": "health_queries",
               "required_tables": "required_tables",
               "required_extensions": "required_extensions",
               "min_server_version": "min_server_version"},
    "reports": {"dir": "reports_dir"},
    "optimize": {"extensions": "optimize_extensions", "skip": "skip_optimization",
                 "concurrent_indexes": "concurrent_indexes"},
}


# The accepted range of every number ferryman reads, whether it comes from a flag, a
# FERRYMAN_* variable or the file: name -> (kind, lowest, highest),
# both inclusive. check_number() is the one place that reads them; settings go through
# it in _coerce, and the command line's own numbers (--limit, --steps, a version...)
# through cli/spec.py's check_numbers. Durations are in seconds.
MAX_BIGINT = 2**63 - 1  # versions and row counts are BIGINT in the database
# PostgreSQL's statement_timeout and lock_timeout are int milliseconds, at most INT_MAX
# (https://www.postgresql.org/docs/current/runtime-config-client.html), and SQLite's
# busy timeout an int of milliseconds too: no timeout may go beyond that.
MAX_SECONDS = 2_147_483.0
NUMBERS = {
    # settings
    "port": ("int", 1, 65535),
    "lock_timeout": ("duration", 0.0, MAX_SECONDS),       # 0: try the lock once
    "connect_timeout": ("duration", 0.001, MAX_SECONDS),
    "timeout": ("duration", 0.001, MAX_SECONDS),          # not set: no limit
    "statement_timeout": ("duration", 0.001, MAX_SECONDS),  # below 1 ms PostgreSQL
    "table_lock_timeout": ("duration", 0.001, MAX_SECONDS),  # reads 0: no limit at all
    "retry_backoff": ("duration", 0.0, 3600.0),
    "retries": ("int", 0, 20),        # the pause doubles each time: 20 is days already
    "backup_keep": ("int", 1, MAX_BIGINT),  # 0 would remove the backup just taken
    "parallel": ("int", 1, 1024),
    "purge_days": ("int", 1, 36500),  # PostgreSQL's make_interval takes an int of days
    "status_deadline": ("duration", 0.001, 3600.0),
    # numbers of the command line only
    "limit": ("int", 1, MAX_BIGINT),
    "steps": ("int", 1, MAX_BIGINT),
    "to": ("int", 0, MAX_BIGINT),
    "target": ("int", 0, MAX_BIGINT),
    "version": ("int", 0, MAX_BIGINT),
    "days": ("int", 1, 36500),
    "batch_size": ("int", 1, 1_000_000),
    "bind_port": ("int", 0, 65535),   # 0: any free port
}


def check_number(name, value, source):
    """``value`` (a number, or text from the environment or a flag) as the number
    ``NUMBERS[name]`` says, or a ConfigError (exit 2) naming ``source`` (the flag, the
    variable or the file's key) and the accepted range."""
    kind, low, high = NUMBERS[name]
    try:
        number = _whole(value) if kind == "int" else parse_duration(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:  # NaN is never in range either
        accepted = _accepted(kind, low, high)
        if source.startswith("--"):  # a flag, as it was written: --days 0
            raise ConfigError(f"{source} {value}: must be {accepted}")
        raise ConfigError(f"{source}: must be {accepted}; got {value!r}")
    return number


def _whole(value):
    """An int from an int or from its decimal text; not from a bool or a float."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 30:
            return int(text)
    raise ValueError(f"{value!r} is not a whole number")


def _accepted(kind, low, high):
    if kind == "int" and high == MAX_BIGINT:
        return f"a whole number, {low} or more"
    if kind == "int":
        return f"a whole number from {low} to {high}"
    return f"a duration from {_seconds(low)} to {_seconds(high)} (e.g. 250ms, 30s, 10m, 1h)"


def _seconds(value):
    return f"{value:.3f}".rstrip("0").rstrip(".") + "s"


class Settings:
    """Resolved settings for one database. Attributes are the names in SETTINGS, plus
    ``phases`` ({phase: folder}), ``config_path``, ``base_dir`` and ``password``."""

    __slots__ = tuple(SETTINGS) + ("phases", "config_path", "base_dir", "password", "raw",
                                   "services", "service", "depends_on")

    def __init__(self, values, *, phases, config_path, base_dir, password, raw, services=None,
                 service=None, depends_on=()):
        for name in SETTINGS:
            setattr(self, name, values.get(name, SETTINGS[name][1]))
        self.phases = phases
        self.config_path = config_path
        self.base_dir = base_dir
        self.password = password
        self.raw = raw
        self.services = services or {}  # name -> the [services.NAME] table, as written
        self.service = service          # the service these settings are for, if any
        self.depends_on = list(depends_on)

    def for_service(self, name):
        """The settings of one service of [services]: these, overlaid with its table."""
        if name not in self.services:
            known = ", ".join(sorted(self.services)) or "none configured"
            raise ConfigError(f"no service {name!r} in the configuration (services: {known})")
        table = self.services[name]
        where = f"{self.config_path}: services.{name}"
        values = {n: getattr(self, n) for n in SETTINGS}
        flat, phases = _from_file({k: v for k, v in table.items()
                                   if k not in ("url", "migrations", "depends_on")}, where)
        for key, value in flat.items():
            values[key] = _coerce(key, value, f"{where}.{_file_key(table, key)}",
                                  self.base_dir)
        if "url" in table:
            values["database_url"] = _coerce("database_url", table["url"], f"{where}.url",
                                             self.base_dir)
        phases = {p: _path(folder, self.base_dir) for p, folder in phases.items()}
        if "migrations" in table:
            phases["core"] = _coerce("migrations", table["migrations"], f"{where}.migrations",
                                     self.base_dir)
        return Settings(values, phases=phases or dict(self.phases),
                        config_path=self.config_path, base_dir=self.base_dir,
                        password=self.password, raw=self.raw, services=self.services,
                        service=name, depends_on=table.get("depends_on", ()))

    @property
    def url(self):
        """The database URL, from ``database_url`` or the connection settings."""
        if self.database_url is not None:
            url = self.database_url
        elif self.host or self.database:
            url = build_url(host=self.host, port=self.port, user=self.user,
                            database=self.database, ssl=self.ssl)
        else:
            raise ConfigError(
                "no database configured",
                hint="set FERRYMAN_DATABASE_URL, pass --database-url, or add [database] url "
                     "to ferryman.toml")
        if url.dialect != "sqlite":
            if self.user and not url.user:
                url.user = self.user
            if self.ssl and "sslmode" not in url.query:
                url.query["sslmode"] = self.ssl
            if self.password and not url.password:
                url.password = self.password
        return url

    def require_phases(self):
        if not self.phases:
            raise ConfigError(
                "no migrations folder configured",
                hint="set FERRYMAN_MIGRATIONS, pass --migrations, or add migrations = "
                     "\"migrations\" to ferryman.toml")
        return self.phases

    def __repr__(self):
        try:
            url = self.url.redacted()
        except ConfigError:
            url = None
        return f"Settings(url={url}, phases={self.phases!r})"


def load_settings(config=None, overrides=None, env=None, cwd=None):
    """Resolve the settings from the flags (``overrides``), the environment and the file."""
    env = os.environ if env is None else env
    cwd = cwd or os.getcwd()
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    config_path = _find_config(config or env.get("FERRYMAN_CONFIG"), cwd)
    raw = _read_config(config_path) if config_path else {}
    base_dir = os.path.dirname(config_path) if config_path else cwd

    values = {}
    file_values, file_phases = _from_file(raw, config_path)
    for name, value in file_values.items():
        values[name] = _coerce(name, value, f"{config_path}: {_file_key(raw, name)}",
                               base_dir)
    for name in SETTINGS:
        text = env.get("FERRYMAN_" + name.upper())
        if text not in (None, ""):
            values[name] = _coerce(name, text, f"FERRYMAN_{name.upper()}", cwd)
    for name, value in overrides.items():
        if name not in SETTINGS:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _coerce(name, value, f"--{name.replace('_', '-')}", cwd)

    if values.get("backup_dir") is None:
        values["backup_dir"] = os.path.join(base_dir, "backups")
    if values.get("reports_dir") is None:
        values["reports_dir"] = os.path.join(base_dir, "reports")
    phases = {p: _path(folder, base_dir) for p, folder in file_phases.items()}
    if values.get("migrations"):
        phases[DEFAULT_PHASE] = values["migrations"]
    password = _password(values, env)
    register_secret(values.get("api_token"))  # redact() hides it in every message
    return Settings(values, phases=phases, config_path=config_path, base_dir=base_dir,
                    password=password, raw=raw, services=_services(raw, config_path))


def _file_key(raw, name):
    """How the file spells a setting: ``retries``, or ``backup.keep`` in its table."""
    for table, keys in _TABLE_KEYS.items():
        for key, setting in keys.items():
            if setting == name and isinstance(raw.get(table), dict) and key in raw[table]:
                return f"{table}.{key}"
    return name


def _services(raw, path):
    """The [services.NAME] tables, checked: names, depends_on, and keys nobody reads."""
    services = raw.get("services", {})
    if not isinstance(services, dict):
        raise ConfigError(f"{path}: [services] holds one table per service")
    for name, table in services.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: services.{name} must be a table")
        if not name.replace("-", "_").replace("_", "a").isalnum() or not name.isascii():
            raise ConfigError(f"{path}: service name {name!r} must be letters, digits, - and _")
        depends = table.get("depends_on", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise ConfigError(f"{path}: services.{name}.depends_on is a list of service names")
        if "password" in table:
            raise ConfigError(f"{path}: a password does not belong in the configuration file",
                              hint="use FERRYMAN_PASSWORD, password_file, or PGPASSFILE")
        _from_file({k: v for k, v in table.items() if k not in ("url", "migrations",
                                                                "depends_on")},
                   f"{path}: services.{name}")
    return services


def _find_config(explicit, cwd):
    if explicit:
        path = os.path.abspath(os.path.join(cwd, explicit))
        if os.path.isdir(path):
            raise ConfigError(f"configuration file {explicit} is a folder, not a file")
        if not os.path.isfile(path):
            raise ConfigError(f"configuration file {explicit} does not exist")
        return path
    for name in ("ferryman.toml", "pyproject.toml"):
        path = os.path.join(cwd, name)
        if os.path.isfile(path) and (name == "ferryman.toml" or _has_tool_table(path)):
            return path
    return None


def _has_tool_table(path):
    """Whether a pyproject.toml holds [tool.ferryman]: _read_config then reads it (and
    says so when it is not UTF-8 or not TOML)."""
    try:
        with open(path, "rb") as handle:
            return b"[tool.ferryman" in handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None


def _read_config(path):
    """The file's settings: a table. Anything else, or a file that is not UTF-8 TOML,
    is a ConfigError (exit 2) naming the file."""
    import tomllib  # only when there is a file: keeps `ferryman status` fast without one

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read configuration {path}: not UTF-8 text (invalid "
                          f"byte at offset {exc.start}); TOML files are UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from None
    if os.path.basename(path) == "pyproject.toml":
        tool = data.get("tool", {})
        data = tool.get("ferryman", {}) if isinstance(tool, dict) else {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: tool.ferryman must be a table ([tool.ferryman])")
    return data


def _from_file(raw, path):
    """Flatten the file into (settings, phases); refuse keys nobody reads (typos)."""
    values, unknown = {}, []
    for key, value in raw.items():
        if key in _TABLE_KEYS and isinstance(value, dict):
            for sub, sub_value in value.items():
                if sub in _TABLE_KEYS[key]:
                    values[_TABLE_KEYS[key][sub]] = sub_value
                else:
                    unknown.append(f"{key}.{sub}")
        elif key in SETTINGS:
            values[key] = value
        elif key in _TABLE_KEYS:
            raise ConfigError(f"{path}: {key} must be a table ([{key}])")
        elif key not in TABLES and key not in EXTRA_TABLES:
            unknown.append(key)
    database = raw.get("database")
    if "password" in raw or isinstance(database, dict) and "password" in database:
        raise ConfigError(f"{path}: a password does not belong in the configuration file",
                          hint="use FERRYMAN_PASSWORD, password_file, or PGPASSFILE")
    if "api_token" in raw:
        raise ConfigError(f"{path}: a token does not belong in the configuration file",
                          hint="set FERRYMAN_API_TOKEN in the environment")
    if unknown:
        raise ConfigError(f"{path}: unknown key{'s' if len(unknown) > 1 else ''}: "
                          + ", ".join(sorted(unknown)))
    phases = raw.get("phases", {})
    if not isinstance(phases, dict) or not all(isinstance(v, str) for v in phases.values()):
        raise ConfigError(f"{path}: [phases] maps a phase name to a folder")
    wrong = [name for name in phases if name not in PHASES]
    if wrong:
        raise ConfigError(f"{path}: [phases] has no phase {', '.join(map(repr, wrong))}; the "
                          f"migration phases are {', '.join(PHASES)}")
    return values, phases


# Tables that later layers read (backups, pipeline, coordinator); accepted here.
EXTRA_TABLES = set()


def _password(values, env):
    password = env.get("FERRYMAN_PASSWORD") or None
    path = values.get("password_file")
    if path and not password:
        check_password_file(path)  # warn when others can read it
        try:
            with open(path, encoding="utf-8") as handle:
                password = handle.read().strip() or None
        except OSError as exc:
            raise ConfigError(f"cannot read password file {path}: {exc.strerror}") from exc
        except UnicodeDecodeError:
            raise ConfigError(f"cannot read password file {path}: not UTF-8 text") from None
    register_secret(password)
    return password


def _coerce(name, value, source, base_dir):
    if name in NUMBERS:
        return check_number(name, value, source)
    kind = SETTINGS[name][0]
    try:
        if isinstance(value, str) and "\x00" in value:
            # no path, host or name can hold one: C APIs would cut the text there
            raise ValueError("holds a NUL character, which no setting may")
        if isinstance(kind, tuple):
            if value not in kind:
                raise ValueError(f"must be one of {', '.join(kind)}")
            return value
        return _COERCE[kind](value, base_dir)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _url(value, base_dir):
    if not isinstance(value, str):
        raise ValueError(f"a database URL is text, not {type(value).__name__}")
    return parse_url(value).with_path_base(base_dir)


def _text(value, _base):
    """Text; a number written without quotes in the file is taken as its text."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{value!r} is not text")
    return str(value)


def _bool(value, _base):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _identifier(value, _base):
    if not isinstance(value, str) or not value.replace("_", "a").isalnum() or not value.isascii():
        raise ValueError(f"{value!r} must be letters, digits and underscores")
    return value.lower()


def _path(value, base_dir):
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a path")
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))


def _list(value):
    """A list of names: a TOML array, or a comma-separated string from the environment."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"{value!r} is not a list of names")


def parse_duration(value):
    """Seconds from 30, 1.5, "250ms", "30s", "10m", "1h"; None stays None."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if value is None else float(value)
    text = str(value).strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    if text.replace(".", "", 1).isdigit():
        return float(text)
    raise ValueError(f"{value!r} is not a duration (e.g. 30s, 10m, 1h)")


_COERCE = {
    "url": _url,
    "str": _text,
    "bool": _bool,
    "identifier": _identifier,
    "path": _path,
    "list": lambda v, _b: _list(v),
}
