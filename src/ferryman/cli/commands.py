"""What each command does: read the options, call the library, print the result.

No logic here that the library lacks: every command is a few lines over
``ferryman.api`` (or, for ``status``, over ``ferryman.readonly`` directly, which
keeps the data classes' import off the start-up path).
"""

import os

from ..config import load_settings
from ..errors import ConfigError, FerrymanError
from ..exposure import check_command_line_url
from ..text import duration, size
from .output import version_label
from .spec import COMMANDS, check_numbers, options_of


def settings_from(command, params):
    if params.get("password"):
        raise ConfigError(
            "--password is not accepted: a password on the command line is visible to "
            "every user of this machine (ps, shell history)",
            hint="set FERRYMAN_PASSWORD, use --password-file FILE, or PGPASSFILE")
    check_command_line_url(params.get("database_url"))  # ps shows it: warn (item 10)
    check_numbers(command, params)
    # An option not given is None: not an override, or it would undo the file and env.
    overrides = {opt.name: params.get(opt.name) for opt in options_of(COMMANDS[command])
                 if opt.setting and params.get(opt.name) is not None}
    settings = load_settings(params.get("config"), overrides=overrides)
    if params.get("service"):
        return settings.for_service(params["service"])
    return settings


def migrator(command, params, out):
    from ..api import Migrator

    consumers = [out]
    if COMMANDS[command].changes:
        from .progress import live_progress

        live = live_progress(out)
        if live is not None:
            consumers.append(live)  # it starts with the run; cli.run stops it
    return Migrator(settings=settings_from(command, params), on_event=consumers)


# -- reading ------------------------------------------------------------------------------
def cmd_status(params, out):
    from ..readonly import read_status

    s = settings_from("status", params)
    data = read_status(s.url, s.require_phases(), format=s.format, prefix=s.table_prefix,
                       timeout=s.connect_timeout, password=s.password)
    # --exit-code: 3 (needs a person) when `up` would refuse.
    code = 3 if params.get("exit_code") and (data["dirty"] or data["problems"]) else 0
    if out.json:
        out.document(data)
        return code
    names = {a["version"]: a["name"] for a in data["applied"]}
    current = data["current_version"]
    out.line(f"database         {data['database']}")
    if data.get("format") not in (None, "ferryman"):
        out.line(f"format           {data['format']}")
    foreign = data.get("foreign")
    if foreign and foreign["adopted"]:
        out.line(f"adopted from     {foreign['tool']} {foreign['table']}"
                 + (" (kept up to date)" if foreign["keep"] else ""))
    out.line(f"current version  {version_label(current)}"
             + (f" ({names[current]})" if current in names else ""))
    dirty = data["dirty_details"]
    out.line("dirty            " + (f"YES: {dirty.get('reason')}" if dirty else "no"))
    if dirty and dirty.get("version") is not None:
        where = dirty.get("file") or dirty.get("name")
        out.line(f"                 version {dirty.get('version')}, {where}")
        if dirty.get("statement_index") is not None and dirty.get("statements"):
            out.line(f"                 stopped at statement {dirty['statement_index'] + 1} "
                     f"of {dirty.get('statements')}"
                     + (f" (line {dirty['done_lines'] + 1})"
                        if dirty.get("done_lines") is not None else ""))
        if dirty.get("error"):
            out.line(f"                 database said: {dirty['error']}")
    pending = data["pending"]
    out.line(f"pending          {len(pending)}" + (": " + ", ".join(
        f"{'R' if p['version'] is None else p['version']} {p['name']}"
        for p in pending[:5]) + (" ..." if len(pending) > 5
                                                                 else "") if pending else ""))
    out.line(f"last backup      {data['last_backup'] or 'none'}")
    missing = [a for a in data["applied"] if a["missing"]]
    if missing:
        out.line("missing files    " + ", ".join(f"{a['version']} {a['name']}" for a in missing))
    for problem in data["problems"]:
        out.line(f"problem: {problem}")
    if data["hint"]:
        out.line(f"next: {data['hint']}")
    return code


def cmd_history(params, out):
    entries = migrator("history", params, out).history(params.get("limit"),
                                                        params.get("version"))
    if out.json:
        out.document([e.to_dict() for e in entries])
        return 0
    if not entries:
        out.line("no history: ferryman has not run on this database")
    for e in entries:
        took = _ms(e.duration_ms)
        out.line(f"{e.started_at}  {e.direction:<10} {str(e.version):<16} {e.name or '':<28} "
                 f"{e.outcome:<8} {took:>10}  {e.applied_by}")
    return 0


def cmd_validate(params, out):
    from ..errors import SourceError

    try:
        result = migrator("validate", params, out).validate()
    except SourceError as exc:
        from ..core.problems import lines, structured

        format, reasons = getattr(exc, "format", None), getattr(exc, "format_reasons", ())
        # One line per problem, an up file and its down file with one problem as one.
        merged = SourceError(lines(exc.problems), hint=exc.hint)
        if not out.json:
            _read_as(out, format, reasons)
            raise merged from None
        # The problems as objects (file, files, line, kind, message, hint).
        out.document({"ok": False, "error": type(exc).__name__, "exit_code": exc.exit_code,
                      "message": merged.message, "format": format,
                      "format_reasons": list(reasons),
                      "advice": getattr(exc, "advice", []),
                      "problems": structured(exc.problems), "hint": exc.hint})
        return exc.exit_code
    if out.json:
        out.document(dict(result.to_dict(), ok=True))
    else:
        _read_as(out, result.format, result.format_reasons)
        out.line(f"ok: {result.migrations} migration files are valid; {result.applied_checked} "
                 "applied migrations match their files")
    return 0


def _read_as(out, format, reasons):
    """The line saying which format the folder is read in, and why."""
    if format:
        out.line(f"format: {format}" + (f" ({'; '.join(reasons)})" if reasons else ""))


# -- changing -----------------------------------------------------------------------------
def cmd_up(params, out):
    m = migrator("up", params, out)
    return _report(m.up(params.get("target"), dry_run=params.get("dry_run"),
                        resume=bool(params.get("resume"))), out)


def cmd_down(params, out):
    m = migrator("down", params, out)
    return _report(m.down(params.get("steps"), to=params.get("to"),
                          dry_run=params.get("dry_run"), resume=bool(params.get("resume"))),
                   out)


def cmd_goto(params, out):
    m = migrator("goto", params, out)
    return _report(m.goto(params["version"], dry_run=params.get("dry_run")), out)


def cmd_rollback(params, out):
    m = migrator("rollback", params, out)
    return _report(m.rollback(dry_run=params.get("dry_run"), yes=bool(params.get("yes")),
                              confirm=_confirm), out)


def cmd_migrate(params, out):
    from ..pipeline.run import MigrationOptions

    m = migrator("migrate", params, out)
    options = MigrationOptions(dry_run=bool(params.get("dry_run")),
                               rollback_mode=bool(params.get("rollback")),
                               yes=bool(params.get("yes")))
    services = [s.strip() for s in (params.get("services") or "").split(",") if s.strip()]
    try:
        result = m.migrate(options=options, services=services or None, confirm=_confirm)
    except FerrymanError as exc:
        result = getattr(exc, "result", None)
        if result is not None and out.json:
            out.document(result.to_dict())
        elif result is not None:
            _print_reports(result, out)
        raise
    if out.json:
        out.document(result.to_dict())
        return 0
    if result.services:  # a coordinated run of many services
        _print_services(result, out)
        _print_reports(result, out)
        return 0
    if result.status == "dry_run" and result.plan:
        _print_pipeline_plan(result, out)
    out.info(f"{result.strategy} run {result.status}: version "
             f"{version_label(result.from_version)} -> {version_label(result.to_version)}"
             + (f" (run {result.run_id})" if result.run_id else ""))
    for warning in result.warnings:
        out.info(f"warning: {warning}")
    _print_reports(result, out)
    return 0


def _print_services(result, out):
    for s in result.services:
        out.info(f"{s['name']:<20} {s['status']:<12} {s['started_at'] or '':<25} "
                 f"{s['finished_at'] or ''}")
    counts = {}
    for s in result.services:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    out.info(f"coordinated run {result.run_id} {result.status}: "
             + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))


def _print_reports(result, out):
    if result.report_paths.get("html"):
        out.info(f"report: {result.report_paths['html']} (also .json and .md)")


def _print_pipeline_plan(result, out):
    out.line(f"-- dry run of `ferryman migrate --strategy {result.strategy}`: nothing was "
             "changed")
    for phase in result.plan:
        out.line("")
        if phase["check"]:
            out.line(f"-- phase {phase['phase']}: {phase['note']}")
            continue
        out.line(f"-- phase {phase['phase']}: {len(phase['steps'])} migration"
                 f"{'s' if len(phase['steps']) != 1 else ''}")
        for step in phase["steps"]:
            _print_step(step, out)


def cmd_force(params, out):
    return _report(migrator("force", params, out).force(params["version"]), out)


def cmd_baseline(params, out):
    return _report(migrator("baseline", params, out).baseline(params["version"]), out)


def cmd_adopt(params, out):
    result = migrator("adopt", params, out).adopt(dry_run=params.get("dry_run"))
    if out.json:
        out.document(result.to_dict())
    else:
        out.info(f"adopt: {result.message}")
    return 0


def _report(result, out):
    if out.json:
        out.document(result.to_dict())
        return 0
    if result.dry_run:
        _print_plan(result, out)
        return 0
    if result.outcome != "ok":  # a rollback that restored a backup
        out.info(f"{result.command}: {result.outcome}; the database is at version "
                 f"{version_label(result.to_version)}")
        return 0
    if result.message:  # force and baseline say what they did
        out.info(f"{result.command}: {result.message} (run {result.run_id})")
        return 0
    if result.nothing_to_do:
        out.info(f"nothing to do: the database is at version {version_label(result.to_version)}")
        return 0
    count = len(result.steps)
    out.info(f"ran {count} migration{'s' if count != 1 else ''}: version "
             f"{version_label(result.from_version)} -> {version_label(result.to_version)} "
             f"(run {result.run_id})")
    return 0


def _print_plan(result, out):
    out.line(f"-- dry run of `ferryman {result.command}`: nothing was changed")
    out.line(f"-- from version {version_label(result.from_version)} to "
             f"{version_label(result.to_version)}, {len(result.steps)} step"
             f"{'s' if len(result.steps) != 1 else ''}")
    for step in result.steps:
        out.line("")
        _print_step(step, out)


def _print_step(step, out):
    """One planned step of a dry run: its header, its note, its SQL."""
    how = "in the run's transaction" if step.transactional else "outside a transaction"
    label = step.version if step.version is not None else "R"  # R: a repeatable
    where = f"{os.path.basename(step.file)}, " if step.file else ""
    out.line(f"-- {step.direction} {label} {step.name}  [{where}{how}]")
    if step.note:
        out.line(f"--   {step.note}")
    for sql in step.sql:
        out.line(sql.rstrip() + ";")


# -- maintenance and monitoring ----------------------------------------------------------
def cmd_maintain(params, out):
    result = migrator("maintain", params, out).maintain(
        params["task"], tables=params.get("tables"), column=params.get("column"),
        days=params.get("days"), batch_size=params.get("batch_size"),
        dry_run=params.get("dry_run"))
    if out.json:
        out.document(result.to_dict())
    elif result.dry_run:
        _print_maintenance_plan(result, out)
    else:
        _print_maintenance(result, out)
    return 0


def _print_maintenance(result, out):
    count = len(result.statements)
    if result.task == "purge":
        out.info(f"purge: deleted {result.rows} row{'s' if result.rows != 1 else ''} in "
                 f"{result.batches} batch{'es' if result.batches != 1 else ''} "
                 f"({_ms(result.duration_ms)}) on {result.database}")
    elif count:
        out.info(f"{result.task}: {count} statement{'s' if count != 1 else ''} in "
                 f"{_ms(result.duration_ms)} on {result.database}")
        for run in result.statements:
            out.info(f"  {run.sql}  ({_ms(run.duration_ms)})")
    else:
        out.info(f"{result.task}: nothing to do on {result.database}")
    for note in result.notes:
        out.info(f"  {note}")


def _print_maintenance_plan(result, out):
    out.line(f"-- dry run of `ferryman maintain {result.task}`: nothing was changed")
    if result.task == "purge":
        out.line(f"-- would delete {result.rows} row{'s' if result.rows != 1 else ''}: "
                 f"{result.notes[0]}, each its own transaction")
    else:
        out.line("-- each statement on its own, outside a transaction:")
        for note in result.notes:
            out.line(f"-- {note}")
    for run in result.statements:
        out.line(run.sql + ";")


def cmd_inspect(params, out):
    limit = params.get("limit")
    view = migrator("inspect", params, out).inspect(10 if limit is None else limit)
    if out.json:
        out.document(view.to_dict())
        return 0
    out.line(f"database  {view.database}")
    for name, title in (("slow_queries", "slow queries, slowest mean time first"),
                        ("table_sizes", "table sizes, largest first"),
                        ("connections", "connections"), ("locks", "locks")):
        rows = getattr(view, name)
        out.line("")
        out.line(title)
        if rows:
            _print_table(out, _columns(name, rows), rows)
        elif name not in view.notes:
            out.line("  none")
        if name in view.notes:
            out.line(f"  {view.notes[name]}")
    return 0


def _columns(section, rows):
    """(header, key, format) of each column a section shows."""
    if section == "slow_queries":
        return [("mean", "mean_ms", _ms), ("calls", "calls", str), ("total", "total_ms", _ms),
                ("rows", "rows", str), ("query", "query", _one_line)]
    if section == "table_sizes":
        return [("table", "table", str), ("total", "total_bytes", size),
                ("data", "table_bytes", size), ("indexes", "indexes_bytes", size),
                ("rows", "rows", str if not rows[0]["rows_estimated"] else _estimate)]
    if section == "connections":
        return [("state", "state", str), ("application", "application_name", str),
                ("user", "user", str), ("count", "count", str),
                ("longest", "longest_seconds", _seconds), ("query", "query", _one_line)]
    if "blocked_pid" not in rows[0]:
        return [(key.replace("_", " "), key, str) for key in rows[0]]
    return [("blocked", "blocked_pid", str), ("by", "blocking_pid", str),
            ("lock", "locktype", str), ("mode", "mode", str), ("relation", "relation", str),
            ("waiting", "waiting_seconds", _seconds),
            ("blocked query", "blocked_query", _one_line),
            ("blocking query", "blocking_query", _one_line)]


def _print_table(out, columns, rows):
    """Plain text, columns aligned; the last column (a query) is never padded."""
    cells = [[header for header, _, _ in columns]]
    cells += [["" if row.get(key) is None else show(row[key]) for _, key, show in columns]
              for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns) - 1)]
    for line in cells:
        out.line("  " + "  ".join([cell.ljust(w) for cell, w in zip(line, widths)]
                                  + [line[-1]]).rstrip())


def _ms(value):
    return "" if value is None else duration(value)


def _seconds(value):
    if value < 120:
        return f"{value:.1f}s"
    return f"{value / 60:.0f}m" if value < 7200 else f"{value / 3600:.1f}h"


def _estimate(value):
    return f"~{value}"


def _one_line(text):
    return " ".join(str(text).split())


# -- the HTTP app ------------------------------------------------------------------------
def cmd_serve(params, out):
    """Run the HTTP app under uvicorn until Ctrl-C. The socket is bound here, so a busy
    port is exit code 4 before anything starts, and --bind-port 0 says which port."""
    try:  # the HTTP stack: imported by this command only
        import uvicorn

        from ..http import create_app
    except ImportError as exc:
        raise ConfigError(f"ferryman serve needs Starlette and uvicorn ({exc})",
                          hint="pip install 'ferryman[web]'") from exc

    host = params.get("bind") or "127.0.0.1"
    port = 8080 if params.get("bind_port") is None else params["bind_port"]
    app = create_app(settings_from("serve", params),
                     allowed_hosts=[host, *(params.get("allow_hosts") or [])])
    sock = _listening_socket(host, port)
    _announce_serving(out, app, host, sock.getsockname()[1], params)
    verbose = bool(params.get("verbose"))
    config = uvicorn.Config(app, log_level="info" if verbose else "warning",
                            access_log=verbose)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn raises Ctrl-C again once it has shut down: the way to stop it
    out.info("stopped")
    return 0


def _listening_socket(host, port):
    """A TCP socket listening on host:port; a BlockedError (exit 4) when it cannot be."""
    import socket

    from ..errors import BlockedError

    try:
        # Made with IPPROTO_TCP, not socket.create_server's protocol 0: asyncio turns on
        # TCP_NODELAY only for accepted connections of a TCP socket, and without it a
        # response's body waits ~40 ms on Nagle's algorithm behind its headers.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                             socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        raise BlockedError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _announce_serving(out, app, host, port, params):
    """Say which services the app serves and at which address, before it starts."""
    shown = f"[{host}]" if ":" in host else host
    names = app.state.ferryman.services.names
    out.info(f"serving {len(names)} service{'s' if len(names) != 1 else ''} "
             f"({', '.join(names)}) on http://{shown}:{port}/ "
             "(Ctrl-C stops it)")
    if host in ("0.0.0.0", "::") and not params.get("allow_hosts"):
        out.info("note: requests must name 127.0.0.1 or localhost in their Host header; "
                 "--allow-host NAME accepts another name")
    out.stdout.flush()


# -- backups ----------------------------------------------------------------------------
def cmd_backup_create(params, out):
    backup = migrator("backup create", params, out).backup()
    if out.json:
        out.document(backup.to_dict())
    else:
        out.line(f"backup {backup.id}: {backup.path} ({backup.size} bytes, sha256 "
                 f"{backup.sha256[:16]}...)")
    return 0


def cmd_backup_list(params, out):
    backups = migrator("backup list", params, out).backups()
    if out.json:
        out.document([b.to_dict() for b in backups])
        return 0
    if not backups:
        out.line("no backups")
    for b in backups:
        out.line(f"{b.id}  {b.created_at}  version {version_label(b.migration_version):<8} "
                 f"{b.size:>12} bytes  {b.reason or ''}")
    return 0


def cmd_backup_verify(params, out):
    backup, problems = migrator("backup verify", params, out).verify_backup(params["id"])
    if out.json:
        out.document({"backup": backup.to_dict(), "ok": not problems, "problems": problems})
    elif problems:
        out.line(f"backup {backup.id} is NOT usable:")
        for problem in problems:
            out.line(f"  - {problem}")
    else:
        out.line(f"backup {backup.id} is sound: sha256 matches and the database's tool reads it")
    return 3 if problems else 0


def cmd_backup_restore(params, out):
    backup = migrator("backup restore", params, out).restore(
        params["id"], yes=bool(params.get("yes")), confirm=_confirm)
    if out.json:
        out.document({"restored": backup.to_dict()})
    else:
        out.line(f"restored backup {backup.id} (version "
                 f"{version_label(backup.migration_version)}); a safety backup of what it "
                 "replaced was taken first")
    return 0


def _confirm(question):
    """Ask on a terminal; anywhere else, the answer is no (pass --yes)."""
    import sys

    if not sys.stdin.isatty():
        return False
    import click

    return click.confirm(question, default=False, err=True)


# -- files --------------------------------------------------------------------------------
def cmd_init(params, out):
    from ..scaffold import init_project

    had_ignore = os.path.exists(".gitignore")
    created = init_project(os.getcwd(), params.get("database_url"), params.get("migrations"))
    for path in created:
        verb = "updated" if had_ignore and os.path.basename(path) == ".gitignore" else "created"
        out.info(f"{verb} {os.path.relpath(path)}")
    out.info("next: `ferryman new create_users`, write the SQL, then `ferryman up`")
    return 0


def cmd_new(params, out):
    from ..scaffold import new_migration

    settings = load_settings(params.get("config"),
                             overrides={"migrations": params.get("migrations")})
    folder = settings.require_phases().get("core") or next(iter(settings.phases.values()))
    for path in new_migration(folder, params["name"], python=params.get("python"),
                              sequence=params.get("sequence"), format=settings.format):
        out.line(f"created {os.path.relpath(path)}")
    return 0


HANDLERS = {name[4:].replace("_", " "): value for name, value in globals().items()
            if name.startswith("cmd_")}
