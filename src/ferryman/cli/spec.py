"""The command line, declared once as data.

Both faces read this table: the click application (help, errors, completion) and
the fast parser that runs well-formed invocations without importing click, so that
``ferryman status`` costs milliseconds. A test checks that both parse alike.
"""

from ..phases import STRATEGIES


class Opt:
    """One option. ``kind``: str, int, path, duration, flag (True when given), off (False
    when given: ``--no-backup``), list (repeatable: the values given, in order), or a
    tuple of choices. Not given is None."""

    __slots__ = ("name", "flags", "kind", "help", "metavar", "hidden", "setting")

    def __init__(self, name, flags, kind="str", help="", metavar=None, hidden=False,
                 setting=False):
        self.name = name
        self.flags = flags
        self.kind = kind
        self.help = help
        self.metavar = metavar
        self.hidden = hidden
        self.setting = setting  # passed to the configuration as an override


class Arg:
    __slots__ = ("name", "kind", "required")

    def __init__(self, name, kind="int", required=True):
        self.name = name
        self.kind = kind
        self.required = required


class Command:
    """A command; a name with a space (``backup create``) is a sub-command."""

    __slots__ = ("name", "summary", "example", "options", "args", "database", "changes")

    def __init__(self, name, summary, example, options=(), args=(), database=True,
                 changes=False):
        self.name = name
        self.summary = summary
        self.example = example
        self.options = list(options)
        self.args = list(args)
        self.database = database  # takes the connection options
        self.changes = changes    # takes the options of a run that changes a database


# Options every database command takes; also accepted before the command name.
COMMON = [
    Opt("config", ("--config", "-c"), "path", "ferryman.toml to read (default: ./ferryman.toml)",
        "FILE"),
    Opt("database_url", ("--database-url",), "str",
        "database URL; or FERRYMAN_DATABASE_URL", "URL", setting=True),
    Opt("migrations", ("--migrations", "-m"), "path",
        "migrations folder; or FERRYMAN_MIGRATIONS", "DIR", setting=True),
    Opt("host", ("--host",), "str", "database host (instead of a URL)", setting=True),
    Opt("port", ("--port",), "int", "database port", setting=True),
    Opt("user", ("--user",), "str", "database user", setting=True),
    Opt("database", ("--database",), "str", "database name", setting=True),
    Opt("ssl", ("--ssl",), ("disable", "allow", "prefer", "require", "verify-ca",
                            "verify-full"), "TLS mode", setting=True),
    Opt("password_file", ("--password-file",), "path",
        "file holding the password (or FERRYMAN_PASSWORD, PGPASSFILE)", "FILE", setting=True),
    Opt("password", ("--password",), "str", hidden=True),
    Opt("table_prefix", ("--table-prefix",), "str", "prefix of ferryman's tables "
        "(default ferryman_)", "PREFIX", setting=True),
    Opt("lock_timeout", ("--lock-timeout",), "duration",
        "how long to wait for another runner, or on SQLite another writer (default "
        "10m)", "DURATION", setting=True),
    Opt("connect_timeout", ("--connect-timeout",), "duration",
        "how long to wait for the database (default 10s)", "DURATION", setting=True),
    Opt("service", ("--service",), "str", "a service of [services] (a multi-service "
        "configuration)", "NAME"),
    Opt("verbose", ("--verbose", "-v"), "flag", "say more"),
    Opt("quiet", ("--quiet", "-q"), "flag", "say only what failed"),
    Opt("log_file", ("--log-file",), "path", "append every event to this file", "FILE",
        setting=True),
    Opt("backup_dir", ("--backup-dir",), "path", "folder of backups (default: backups/ beside "
        "the config)", "DIR", setting=True),
]

# Options of the commands that change a database.
CHANGING = [
    Opt("backup", ("--no-backup",), "off", "run without taking a backup first "
        "(or FERRYMAN_BACKUP=off)", setting=True),
    Opt("restore_on_failure", ("--restore-on-failure",), "flag",
        "restore the pre-run backup when a failed run cannot be rolled back otherwise "
        "(default on SQLite)", setting=True),
    Opt("timeout", ("--timeout",), "duration", "give up on the whole run after this long",
        "DURATION", setting=True),
    Opt("statement_timeout", ("--statement-timeout",), "duration",
        "give up on one statement after this long", "DURATION", setting=True),
    Opt("table_lock_timeout", ("--table-lock-timeout",), "duration",
        "give up waiting for a table lock after this long", "DURATION", setting=True),
    Opt("retries", ("--retries",), "int", "retries of a run that failed on a transient error "
        "(default 2)", "N", setting=True),
]

JSON = Opt("json", ("--json",), "flag", "print JSON")
DRY_RUN = Opt("dry_run", ("--dry-run",), "flag", "print what would run, SQL included; "
              "change nothing")
OUT_OF_ORDER = Opt("allow_out_of_order", ("--allow-out-of-order",), "flag",
                   "apply pending migrations below the current version", setting=True)
YES = Opt("yes", ("--yes", "-y"), "flag", "do not ask for confirmation")
RESUME = Opt("resume", ("--resume",), "flag",
             "first go on with the migration a stopped run left dirty, from the statement "
             "it stopped at (fix that statement in the file first)")
TRANSACTION = Opt("transaction", ("--transaction",), ("run", "each"),
                  "one transaction for the run (default), or one per migration",
                  setting=True)

COMMANDS = {c.name: c for c in [
    Command("init", "Create ferryman.toml and a migrations folder here.",
            "ferryman init --database-url sqlite:///app.db",
            [Opt("database_url", ("--database-url",), "str", "database URL to write", "URL"),
             Opt("migrations", ("--migrations", "-m"), "str", "folder to create "
                 "(default migrations)", "DIR")],
            database=False),
    Command("new", "Create the files of a new migration.",
            "ferryman new add_users_email   # 20261121101500_add_users_email.up/down.sql",
            [Opt("python", ("--python",), "flag", "a Python migration (up(ctx)/down(ctx))"),
             Opt("sequence", ("--seq",), "flag", "number it 0001, 0002... (default: follow "
                 "the folder, else a UTC timestamp)"),
             Opt("config", ("--config", "-c"), "path", "ferryman.toml to read", "FILE"),
             Opt("migrations", ("--migrations", "-m"), "path", "migrations folder", "DIR",
                 setting=True)],
            [Arg("name", "str")], database=False),
    Command("status", "Show the version, the dirty flag, pending migrations and the last "
            "backup.", "ferryman status --json", [
                JSON, Opt("exit_code", ("--exit-code",), "flag", "exit 3 when the database "
                          "is dirty or has problems (0 otherwise)")]),
    Command("up", "Apply pending migrations.", "ferryman up --target 20260101120000",
            [Opt("target", ("--target",), "version", "stop after this version", "VERSION"),
             DRY_RUN, RESUME, OUT_OF_ORDER, TRANSACTION, JSON], changes=True),
    Command("down", "Undo applied migrations (the newest by default).",
            "ferryman down --steps 2", [
                Opt("steps", ("--steps", "-n"), "int", "how many to undo (default 1)", "N"),
                Opt("to", ("--to",), "version", "undo every migration above this version "
                    "(none: all)", "VERSION"),
                DRY_RUN, RESUME, TRANSACTION, JSON], changes=True),
    Command("goto", "Apply or undo migrations until the database is at VERSION.",
            "ferryman goto 3     # ferryman goto none undoes everything",
            [DRY_RUN, OUT_OF_ORDER, TRANSACTION, JSON], [Arg("version", "version")],
            changes=True),
    Command("rollback", "Undo the last run: its down migrations, or else its backup.",
            "ferryman rollback --dry-run", [DRY_RUN, YES, JSON], changes=True),
    Command("migrate", "Run the migration pipeline: the phases of a strategy, with a report.",
            "ferryman migrate --strategy unified --dry-run", [
                Opt("strategy", ("--strategy",), tuple(STRATEGIES),
                    "which phases run (default unified: all ten)", setting=True),
                DRY_RUN,
                Opt("rollback", ("--rollback",), "flag", "undo the last run instead, as "
                    "`ferryman rollback` does (asks before restoring a backup)"),
                YES,
                Opt("skip_optimization", ("--skip-optimization",), "flag",
                    "skip the optimize phase", setting=True),
                Opt("failure_strategy", ("--failure-strategy",), ("stop", "continue"),
                    "stop at a failed phase (default), or report failed checks and go on",
                    setting=True),
                Opt("concurrent_indexes", ("--no-concurrent-indexes",), "off",
                    "build the indexes phase's indexes inside the transaction (PostgreSQL)",
                    setting=True),
                Opt("reports_dir", ("--reports-dir",), "path", "where the reports go "
                    "(default: reports/ beside the config)", "DIR", setting=True),
                Opt("parallel", ("--parallel",), "int", "coordinated: services migrated at "
                    "once (default: up to 8)", "N", setting=True),
                Opt("services", ("--services",), "str", "coordinated: only these services "
                    "(comma-separated)", "A,B"),
                Opt("failure_policy", ("--failure-policy",), ("stop", "continue",
                                                               "rollback-all"),
                    "coordinated: what a failed service means for the others", setting=True),
                OUT_OF_ORDER, TRANSACTION, JSON], changes=True),
    Command("force", "Record VERSION as current and clear the dirty flag; runs nothing.",
            "ferryman force 5    # after repairing a failed migration by hand",
            [JSON], [Arg("version", "version")]),
    Command("baseline", "Adopt an existing database: mark migrations up to VERSION applied.",
            "ferryman baseline 12", [JSON], [Arg("version", "version")]),
    Command("adopt", "Adopt another tool's state (golang-migrate, dbmate, goose); runs "
            "nothing.", "ferryman adopt --dry-run",
            [DRY_RUN, JSON], changes=True),
    Command("validate", "Check the migration files and the applied checksums; change "
            "nothing.", "ferryman validate", [JSON]),
    Command("history", "Show every migration ever run here, newest first.",
            "ferryman history --limit 20 --json",
            [Opt("limit", ("--limit",), "int", "at most this many rows", "N"),
             Opt("version", ("--version",), "version", "only this migration", "VERSION"),
             JSON]),
    Command("maintain", "Run a maintenance task: analyze, vacuum, reindex, refresh or purge.",
            "ferryman maintain purge --table letters --column deleted_at --days 30",
            [Opt("tables", ("--table",), "list", "only this table (repeat it, or a comma "
                 "list); purge: the table to purge", "TABLE"),
             Opt("column", ("--column",), "str", "purge: the timestamp column that marks a "
                 "row deleted", "COLUMN"),
             Opt("days", ("--days",), "int", "purge: rows deleted more than N days ago "
                 "(default 30)", "N"),
             Opt("batch_size", ("--batch-size",), "int", "purge: rows per batch, each its "
                 "own transaction (default 1000)", "N"),
             DRY_RUN, JSON], [Arg("task", "str")]),
    Command("inspect", "Show slow queries, table sizes, connections and locks; change "
            "nothing.", "ferryman inspect --limit 5 --json",
            [Opt("limit", ("--limit",), "int", "at most N slow queries (default 10)", "N"),
             JSON]),
    # The listen address is --bind/--bind-port: --host and --port are the database's
    # (the connection flags, in COMMON).
    Command("serve", "Serve the status page, JSON status and metrics over HTTP.",
            "ferryman serve --bind 127.0.0.1 --bind-port 8080", [
                Opt("bind", ("--bind",), "str", "listen on this address (default "
                    "127.0.0.1)", "HOST"),
                Opt("bind_port", ("--bind-port",), "int", "listen on this port (default "
                    "8080; 0: any free port)", "PORT"),
                Opt("allow_hosts", ("--allow-host",), "list", "also answer requests whose "
                    "Host header names HOST (repeat it; * for any, behind a proxy)",
                    "HOST")]),
    Command("backup create", "Take a backup now and record it in the database.",
            "ferryman backup create", [JSON]),
    Command("backup list", "List the backups of this database, newest first.",
            "ferryman backup list --json", [JSON]),
    Command("backup verify", "Check a backup's hash, then that the database's tool reads it.",
            "ferryman backup verify 20261121T101500Z-3fa9c2", [JSON], [Arg("id", "str")]),
    Command("backup restore", "Replace the database with a verified backup, after a safety "
            "backup.", "ferryman backup restore 20261121T101500Z-3fa9c2 --yes",
            [YES, JSON], [Arg("id", "str")]),
]}

GROUPS = {"backup": "Create, list, verify and restore backups."}


def options_of(command):
    """Every option the command takes, its own first."""
    return (command.options + (CHANGING if command.changes else [])
            + (COMMON if command.database else []))


def check_numbers(command, params):
    """Range-check the command line's own numbers (--limit, --steps, a VERSION...) by
    the same table and function as every setting (config.NUMBERS, check_number): a
    setting given as a flag is checked by the configuration, as it is from the
    environment and the file. Raises ConfigError (exit 2)."""
    from ..config import check_number

    spec = COMMANDS[command]
    for item in spec.args + options_of(spec):
        value = params.get(item.name)
        if value is None or item.kind != "int" or getattr(item, "setting", False):
            continue
        source = item.flags[0] if isinstance(item, Opt) else f"{command} {item.name.upper()}"
        check_number(item.name, value, source)
