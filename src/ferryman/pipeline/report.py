"""The reports of a pipeline run: a JSON file, one HTML page and a Markdown summary.

The pipeline hands over a plain, JSON-ready dict and a folder; nothing here touches a
database or the network. ``write_reports`` writes ``{stem}.json``, ``{stem}.html`` and
``{stem}.md``; ``render_html`` and ``render_markdown`` return the texts.

The report (every key may be missing or null; lists may be empty, so the report of a
run that failed before its first phase still renders)::

    {"ferryman_version": "0.1.0",
     "run_id": "20261121T101500Z-3fa9c2" | None,
     "strategy": "unified" | "safe" | "extended" | "coordinated",
     "status": "ok" | "failed" | "rolled_back" | "dry_run",
     "database": "sqlite:///…",            # already redacted by the caller
     "dialect": "sqlite" | "postgresql",
     "started_at": ISO-8601, "finished_at": ISO-8601, "duration_ms": float,
     "from_version": int | None, "to_version": int | None,
     "options": {"dry_run": bool, "skip_optimizations": bool, "concurrent_indexes": bool,
                 "timeout": float | None, "failure_strategy": "stop" | "continue",
                 "backup_before_migrate": bool},
     "phases": [{"name": str,              # precheck, backup, core, extended, integrity,
                                           # indexes, constraints, views, optimize, validate
                 "status": "ok" | "skipped" | "failed",
                 "started_at": ISO | None, "finished_at": ISO | None,
                 "duration_ms": float | None,
                 "offset_ms": float | None,   # start, counted from the run's start
                 "details": {...any JSON...}, "messages": [str]}],
     "migrations": [{"version": int | None, "name": str, "phase": str,
                     "direction": "up" | "down",
                     "offset_ms": float,      # start, counted from the run's start
                     "duration_ms": float, "status": "ok" | "failed" | "rolled_back"}],
     "metrics": {"before": {"tables": [{"name": str, "rows": int,
                                        "size_bytes": int | None, "indexes": int}]},
                 "after": {"tables": [...]}},
     "warnings": [str],
     "suggestions": [{"kind": str, "table": str | None, "detail": str}],
     "maintenance_plan": [{"schedule": "hourly" | "daily" | "weekly" | "monthly",
                           "task": str, "command": str, "why": str}],
     "error": None | {"message": str, "file": str | None, "version": int | None,
                      "statement": str | None, "db_message": str | None,
                      "hint": str | None},
     "schema_snapshot": str | None}       # a file name

Names, SQL and messages come from migration files, so the HTML treats every string as
hostile: it is HTML-escaped where Python renders it, and set with ``textContent`` where
the chart's script draws it. The chart reads the report from a
``<script type="application/json">`` element whose ``<``, ``>`` and ``&`` are written as
JSON escapes, so no data can close that element. A Content-Security-Policy allows only
the page's own style and script (by hash) and no fetch at all: even a missed escape
could neither run a script nor reach the network.
"""

import base64
import hashlib
import html
import json
import os
import tempfile

from ..text import duration, size

STATUSES = ("ok", "skipped", "failed", "rolled_back", "dry_run")
NO_VALUE = "—"


# --- files -------------------------------------------------------------------------


def write_reports(report, folder, stem):
    """Write ``{stem}.json``, ``{stem}.html`` and ``{stem}.md`` into ``folder``.

    Returns ``{"json": path, "html": path, "markdown": path}``.
    """
    # Render all three first: a report that cannot be rendered leaves no file behind,
    # rather than a JSON from this run beside an HTML page from the previous one.
    texts = {"json": _render_json(report), "html": render_html(report),
             "markdown": render_markdown(report)}
    os.makedirs(folder, exist_ok=True)
    paths = {"json": os.path.join(folder, f"{stem}.json"),
             "html": os.path.join(folder, f"{stem}.html"),
             "markdown": os.path.join(folder, f"{stem}.md")}
    for kind, path in paths.items():
        write_atomically(path, texts[kind])
    return paths


def _render_json(report):
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def write_atomically(path, text):
    """A reader (a CI job, a browser) sees the old file or the new one, never half of one."""
    folder, name = os.path.split(path)
    # The temporary file sits in the same folder: os.replace is atomic only within
    # one file system.
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder or ".",
                                         prefix=f".{name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # NamedTemporaryFile creates 0600; a report is for whoever may read the folder.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, path)
    except BaseException:
        _remove_quietly(handle.name)
        raise


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# --- values shared by both renderings ----------------------------------------------


def _number(value):
    """``value`` as a float, or None when it is missing or not a number (bool included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _duration(ms):
    ms = _number(ms)
    return NO_VALUE if ms is None else duration(ms)


def _size(count):
    count = _number(count)
    return NO_VALUE if count is None else size(count)


def _count(value):
    value = _number(value)
    return NO_VALUE if value is None else f"{value:,.0f}"


def _signed(delta, show):
    """``+12`` / ``-3`` / ``0`` for a delta, formatted by ``show``; ``—`` when unknown."""
    if delta is None:
        return NO_VALUE
    if delta == 0:
        return "0"
    return ("+" if delta > 0 else "-") + show(abs(delta))


def _delta(before, after):
    before, after = _number(before), _number(after)
    return None if before is None or after is None else after - before


def _text(value):
    return "" if value is None else str(value)


def _versions(report):
    def show(version):
        return "none" if version is None else str(version)
    return f"{show(report.get('from_version'))} → {show(report.get('to_version'))}"


def _phase_counts(phases):
    counts = {}
    for phase in phases:
        status = _text(phase.get("status")) or "unknown"
        counts[status] = counts.get(status, 0) + 1
    return " · ".join(f"{n} {status}" for status, n in counts.items()) or "none"


def _details_summary(details):
    """One line for a phase's details: scalars as they are, lists and objects counted."""
    if not isinstance(details, dict):
        return "" if details is None else _short(details)
    return ", ".join(f"{key}: {_short(value)}" for key, value in details.items())


def _short(value):
    if isinstance(value, list):
        return f"{len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return f"{len(value)} key{'' if len(value) == 1 else 's'}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _tables_by_name(snapshot):
    tables = (snapshot or {}).get("tables") or []
    return {_text(table.get("name")): table for table in tables if isinstance(table, dict)}


def _metric_rows(report):
    """One row per table seen before or after: (name, before or None, after or None).

    Tables keep the order of ``after``; tables that the run dropped follow.
    """
    metrics = report.get("metrics") or {}
    before, after = _tables_by_name(metrics.get("before")), _tables_by_name(metrics.get("after"))
    names = list(after) + [name for name in before if name not in after]
    return [(name, before.get(name), after.get(name)) for name in names]


def _metric_change(before, after, key):
    return _delta((before or {}).get(key), (after or {}).get(key))


def _table_state(before, after):
    if before is None:
        return "new"
    if after is None:
        return "dropped"
    return ""


# --- HTML --------------------------------------------------------------------------


def render_html(report):
    """One self-contained page: inline style and script, no network."""
    title = f"ferryman {_text(report.get('strategy')) or 'pipeline'} run: " \
            f"{_text(report.get('status')) or 'unknown'}"
    body = [_html_header(report, title), _html_summary(report), _html_error(report),
            _html_timeline(), _html_phases(report), _html_migrations(report),
            _html_metrics(report), _html_warnings(report), _html_suggestions(report),
            _html_maintenance(report), _html_footer(report)]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>{_e(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        '<main class="page">', *[part for part in body if part], "</main>",
        f'<script type="application/json" id="report-data">{_script_json(report)}</script>',
        f"<script>{_SCRIPT}</script>", "</body>", "</html>", ""])


def _e(value):
    return html.escape(_text(value))


def _script_json(report):
    """The report as JSON that cannot end its <script> element, nor open a comment in it.

    ``\\u003c`` and friends are plain JSON escapes: JSON.parse gives the text back as is.
    """
    text = json.dumps(report, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _badge(status):
    status = _text(status) or "unknown"
    css = status if status in STATUSES else "unknown"
    return f'<span class="badge status-{css}">{_e(status.replace("_", " "))}</span>'


def _html_table(table_id, columns, rows, empty):
    """A table; ``columns`` are (heading, css class) and cells are HTML already."""
    if not rows:
        return f'<p class="empty" id="{table_id}-empty">{_e(empty)}</p>'
    head = "".join(f'<th class="{css}">{_e(label)}</th>' for label, css in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="{css}">{cell}</td>'
                         for (_label, css), cell in zip(columns, row)) + "</tr>"
        for row in rows)
    return (f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _section(section_id, heading, content):
    return (f'<section id="{section_id}" class="block">'
            f"<h2>{_e(heading)}</h2>{content}</section>")


def _html_header(report, title):
    facts = [("database", report.get("database")), ("dialect", report.get("dialect")),
             ("run", report.get("run_id")), ("started", report.get("started_at")),
             ("finished", report.get("finished_at"))]
    meta = "".join(f"<div><dt>{_e(label)}</dt><dd>{_e(value)}</dd></div>"
                   for label, value in facts if value is not None)
    return (f'<header class="top"><div class="title-row"><h1>{_e(title)}</h1>'
            f'{_badge(report.get("status"))}</div><dl class="facts">{meta}</dl>'
            f"{_html_options(report.get('options'))}</header>")


def _html_options(options):
    if not isinstance(options, dict) or not options:
        return ""
    chips = "".join(f'<li><span>{_e(_text(key).replace("_", " "))}</span> {_e(_option(value))}</li>'
                    for key, value in options.items())
    return f'<ul class="options" id="options">{chips}</ul>'


def _option(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else str(value)


def _html_summary(report):
    migrations = report.get("migrations") or []
    failed = sum(1 for m in migrations if m.get("status") in ("failed", "rolled_back"))
    tables = _metric_rows(report)
    cards = [("Duration", _duration(report.get("duration_ms")), ""),
             ("Versions", _versions(report), ""),
             ("Phases", str(len(report.get("phases") or [])),
              _phase_counts(report.get("phases") or [])),
             ("Migrations", str(len(migrations)), f"{failed} failed" if failed else ""),
             ("Rows", *_rows_card(tables)),
             ("Warnings", str(len(report.get("warnings") or [])), "")]
    return '<section class="summary" id="summary">' + "".join(
        f'<div class="card"><div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(value)}</div><div class="sub">{_e(sub)}</div></div>'
        for label, value, sub in cards) + "</section>"


def _rows_card(tables):
    """Rows after the run, and how many the run added or removed (new and dropped tables
    count in full)."""
    if not tables:
        return NO_VALUE, ""
    before = sum(_number((b or {}).get("rows")) or 0 for _name, b, _a in tables)
    after = sum(_number((a or {}).get("rows")) or 0 for _name, _b, a in tables)
    return _count(after), f"{_signed(after - before, _count)} during the run"


def _html_error(report):
    error = report.get("error")
    if not isinstance(error, dict):
        return ""
    parts = [("file", error.get("file"), False), ("version", error.get("version"), False),
             ("statement", error.get("statement"), True),
             ("the database said", error.get("db_message"), True),
             ("next step", error.get("hint"), False)]
    rows = "".join(f"<dt>{_e(label)}</dt><dd>{f'<pre>{_e(value)}</pre>' if pre else _e(value)}"
                   "</dd>" for label, value, pre in parts if value is not None)
    return (f'<section class="error-box" id="error"><h2>Error</h2>'
            f'<p class="message">{_e(error.get("message"))}</p><dl>{rows}</dl></section>')


def _html_timeline():
    legend = "".join(f'<li><span class="swatch status-{status}"></span>'
                     f'{status.replace("_", " ")}</li>'
                     for status in ("ok", "skipped", "failed", "rolled_back"))
    return ('<section id="timeline-section" class="block"><h2>Timeline</h2>'
            '<p class="note">One row per phase; its migrations are drawn under it. '
            "Hover a bar for its times.</p>"
            f'<ul class="legend">{legend}</ul>'
            '<noscript><p class="empty">The timeline needs JavaScript; '
            "the tables below have every number.</p></noscript>"
            '<svg id="timeline" role="img" aria-label="Timeline of the phases and migrations">'
            '</svg><p id="timeline-error" class="empty" hidden></p></section>')


def _html_phases(report):
    rows = [[f'<span class="name">{_e(p.get("name"))}</span>', _badge(p.get("status")),
             _e(_duration(p.get("duration_ms"))), _html_phase_details(p)]
            for p in report.get("phases") or []]
    columns = [("Phase", ""), ("Status", ""), ("Duration", "num"), ("Details", "details")]
    return _section("phases-section", "Phases",
                    _html_table("phases", columns, rows, "No phase ran."))


def _html_phase_details(phase):
    details, messages = phase.get("details"), phase.get("messages") or []
    parts = [f"<div>{_e(_details_summary(details))}</div>"] if details else []
    if messages:
        parts.append("<ul>" + "".join(f"<li>{_e(m)}</li>" for m in messages) + "</ul>")
    if details:
        pretty = json.dumps(details, indent=2, ensure_ascii=False)
        parts.append(f"<details><summary>all details</summary><pre>{_e(pretty)}</pre></details>")
    return "".join(parts)


def _html_migrations(report):
    rows = [[_e(m.get("version")), f'<span class="name">{_e(m.get("name"))}</span>',
             _e(m.get("phase")), _e(m.get("direction")), _badge(m.get("status")),
             _e("+" + _duration(m.get("offset_ms"))), _e(_duration(m.get("duration_ms")))]
            for m in report.get("migrations") or []]
    columns = [("Version", "num"), ("Name", ""), ("Phase", ""), ("Direction", ""),
               ("Status", ""), ("Started at", "num"), ("Duration", "num")]
    return _section("migrations-section", "Migrations",
                    _html_table("migrations", columns, rows, "No migration ran."))


def _html_metrics(report):
    columns = [("Table", "")]
    for label in ("Rows", "Size", "Indexes"):
        columns += [(f"{label} before", "num"), (f"{label} after", "num"), ("Δ", "num delta")]
    rows = [_html_metric_row(name, before, after) for name, before, after in _metric_rows(report)]
    return _section("metrics-section", "Tables before and after",
                    _html_table("metrics", columns, rows, "No table metrics were collected."))


def _html_metric_row(name, before, after):
    state = _table_state(before, after)
    cells = [f'<span class="name">{_e(name)}</span>'
             + (f' <span class="tag">{state}</span>' if state else "")]
    for key, show in (("rows", _count), ("size_bytes", _size), ("indexes", _count)):
        delta = _metric_change(before, after, key)
        sign = "" if not delta else ("up" if delta > 0 else "down")
        cells += [_e(show((before or {}).get(key)) if before else NO_VALUE),
                  _e(show((after or {}).get(key)) if after else NO_VALUE),
                  f'<span class="{sign}">{_e(_signed(delta, show))}</span>']
    return cells


def _html_warnings(report):
    warnings = report.get("warnings") or []
    items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
    content = f"<ul>{items}</ul>" if warnings else '<p class="empty">No warnings.</p>'
    return _section("warnings", "Warnings", content)


def _html_suggestions(report):
    rows = [[_e(s.get("kind")), _e(s.get("table") or NO_VALUE), _e(s.get("detail"))]
            for s in report.get("suggestions") or []]
    table = _html_table("suggestions-table", [("Kind", ""), ("Table", ""), ("Detail", "")],
                        rows, "No suggestions.")
    return _section("suggestions", "Suggestions", table)


def _html_maintenance(report):
    rows = [[_e(t.get("schedule")), _e(t.get("task")), f"<code>{_e(t.get('command'))}</code>",
             _e(t.get("why"))] for t in report.get("maintenance_plan") or []]
    columns = [("Schedule", ""), ("Task", ""), ("Command", ""), ("Why", "")]
    table = _html_table("maintenance-table", columns, rows, "No maintenance planned.")
    return _section("maintenance", "Maintenance plan", table)


def _html_footer(report):
    parts = [f"ferryman {_e(report.get('ferryman_version') or '')}".strip()]
    if report.get("schema_snapshot"):
        parts.append(f"schema snapshot: <code>{_e(report['schema_snapshot'])}</code>")
    return f'<footer class="foot">{" · ".join(parts)}</footer>'


# --- Markdown ----------------------------------------------------------------------

# Characters that Markdown or GitHub's HTML would act on inside a table cell; a
# backslash before any ASCII punctuation makes it literal (CommonMark, "Backslash escapes").
_MD_SPECIAL = set("\\`*_[]<>|~&#!")
_MD_COLLAPSE = 30  # more migrations than this fold into a <details> block
_MD_METRIC_COLUMNS = ["Table", "Rows", "Δ rows", "Size", "Δ size", "Indexes", "Δ indexes"]


def render_markdown(report):
    """A summary for a pull request (GitHub-flavoured Markdown)."""
    parts = [_md_heading(report), _md_error(report), _md_phases(report),
             _md_migrations(report), _md_metrics(report), _md_warnings(report),
             _md_suggestions(report), _md_maintenance(report)]
    return "\n\n".join(part for part in parts if part) + "\n"


def _md(value):
    """Text that Markdown shows as written, on one line, fit for a table cell."""
    text = " ".join(_text(value).split())
    return "".join("\\" + char if char in _MD_SPECIAL else char for char in text)


def _md_code(value):
    """A code span that holds any text: the fence is longer than any run of backticks."""
    text = " ".join(_text(value).split())
    fence = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    # GFM splits table cells on | before it parses code spans, so it is escaped even here.
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def _longest_backtick_run(text):
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


def _md_table(headers, rows, numeric=()):
    """A GFM table; the columns named in ``numeric`` are aligned right."""
    rule = ["---:" if header in numeric else "---" for header in headers]
    lines = [headers, rule] + rows
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _md_heading(report):
    title = (f"## ferryman {_md(report.get('strategy') or 'pipeline')} run: "
             f"{_md((report.get('status') or 'unknown').replace('_', ' '))}")
    facts = [f"**Database:** {_md_code(report.get('database') or NO_VALUE)}"
             + (f" ({_md(report['dialect'])})" if report.get("dialect") else ""),
             f"**Versions:** {_versions(report)}",
             f"**Duration:** {_duration(report.get('duration_ms'))}"]
    if report.get("run_id"):
        facts.append(f"**Run:** {_md_code(report['run_id'])}")
    options = report.get("options")
    lines = [title, "", " · ".join(facts)]
    if isinstance(options, dict) and options:
        lines += ["", "**Options:** " + " · ".join(
            f"{_md(_text(key).replace('_', ' '))}: {_md(_option(value))}"
            for key, value in options.items())]
    return "\n".join(lines)


def _md_error(report):
    error = report.get("error")
    if not isinstance(error, dict):
        return ""
    lines = ["### Error", "", f"**{_md(error.get('message'))}**", ""]
    for label, key in (("File", "file"), ("Version", "version"),
                       ("The database said", "db_message"), ("Next step", "hint")):
        if error.get(key) is not None:
            lines.append(f"- **{label}:** {_md(error[key])}")
    if error.get("statement"):
        fence = "`" * max(3, _longest_backtick_run(_text(error["statement"])) + 1)
        lines += ["", f"{fence}sql", _text(error["statement"]).rstrip("\n"), fence]
    return "\n".join(lines).rstrip("\n")


def _md_phases(report):
    phases = report.get("phases") or []
    if not phases:
        return "### Phases\n\nNo phase ran."
    rows = [[_md(p.get("name")), _md_status(p.get("status")), _duration(p.get("duration_ms")),
             _md(_md_phase_detail(p))] for p in phases]
    return "### Phases\n\n" + _md_table(["Phase", "Status", "Duration", "Details"], rows,
                                       numeric={"Duration"})


def _md_phase_detail(phase):
    return "; ".join(part for part in [_details_summary(phase.get("details"))]
                     + list(phase.get("messages") or []) if part)


def _md_status(status):
    status = _text(status) or "unknown"
    text = _md(status.replace("_", " "))
    return f"**{text}**" if status in ("failed", "rolled_back") else text


def _md_migrations(report):
    migrations = report.get("migrations") or []
    if not migrations:
        return "### Migrations\n\nNo migration ran."
    rows = [[_md(m.get("version")), _md(m.get("name")), _md(m.get("phase")),
             _md(m.get("direction")), _md_status(m.get("status")),
             _duration(m.get("duration_ms"))] for m in migrations]
    table = _md_table(["Version", "Name", "Phase", "Direction", "Status", "Duration"], rows,
                      numeric={"Version", "Duration"})
    if len(migrations) > _MD_COLLAPSE:
        # GitHub folds <details>; the blank lines let the table inside render as Markdown.
        table = (f"<details><summary>{len(migrations)} migrations</summary>\n\n"
                 f"{table}\n\n</details>")
    return "### Migrations\n\n" + table


def _md_metrics(report):
    """Only the tables that changed: a pull request reader looks for the differences."""
    changed, unchanged = [], 0
    for name, before, after in _metric_rows(report):
        deltas = [_metric_change(before, after, key) for key in ("rows", "size_bytes", "indexes")]
        if before and after and not any(deltas):
            unchanged += 1
        else:
            changed.append(_md_metric_row(name, before, after, deltas))
    if not changed and not unchanged:
        return ""
    parts = ["### Table changes"]
    if changed:
        parts.append(_md_table(_MD_METRIC_COLUMNS, changed, numeric=_MD_METRIC_COLUMNS[1:]))
    if unchanged:
        others = "other " if changed else ""
        parts.append(f"{unchanged} {others}table{'' if unchanged == 1 else 's'} unchanged.")
    return "\n\n".join(parts)


def _md_metric_row(name, before, after, deltas):
    state = _table_state(before, after)
    current = after or before
    return [_md(name) + (f" ({state})" if state else ""), _count(current.get("rows")),
            _signed(deltas[0], _count), _size(current.get("size_bytes")),
            _signed(deltas[1], _size), _count(current.get("indexes")),
            _signed(deltas[2], _count)]


def _md_warnings(report):
    warnings = report.get("warnings") or []
    if not warnings:
        return ""
    return "### Warnings\n\n" + "\n".join(f"- {_md(w)}" for w in warnings)


def _md_suggestions(report):
    suggestions = report.get("suggestions") or []
    if not suggestions:
        return ""
    return "### Suggestions\n\n" + "\n".join(
        f"- **{_md(s.get('kind'))}**" + (f" on {_md_code(s['table'])}" if s.get("table") else "")
        + f": {_md(s.get('detail'))}" for s in suggestions)


def _md_maintenance(report):
    plan = report.get("maintenance_plan") or []
    if not plan:
        return ""
    rows = [[_md(t.get("schedule")), _md(t.get("task")), _md_code(t.get("command")),
             _md(t.get("why"))] for t in plan]
    return "### Maintenance plan\n\n" + _md_table(["Schedule", "Task", "Command", "Why"], rows)


# --- the page's own style and script -----------------------------------------------

_CSS = """
:root { --ok: #2f9e5b; --skipped: #a3acb9; --failed: #d64545; --rolled_back: #d9892b;
  --dry_run: #3d7fd6; --unknown: #7a8594; --ink: #1f2733; --muted: #5f6b7a;
  --line: #e3e7ed; --bg: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
.page { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0; }
h2 { font-size: 16px; margin: 0 0 10px; }
.top { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px; }
.title-row { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 22px; margin: 10px 0 0; }
.facts div { display: flex; gap: 6px; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 13px; overflow-wrap: anywhere; }
.options { list-style: none; display: flex; flex-wrap: wrap; gap: 6px; padding: 0;
  margin: 12px 0 0; }
.options li { background: var(--bg); border: 1px solid var(--line); border-radius: 12px;
  padding: 1px 10px; font-size: 12px; }
.options span { color: var(--muted); }
.badge { display: inline-block; color: #fff; border-radius: 12px; padding: 1px 10px;
  font-size: 12px; font-weight: 600; background: var(--unknown); white-space: nowrap; }
.badge.status-ok { background: var(--ok); } .badge.status-skipped { background: var(--skipped); }
.badge.status-failed { background: var(--failed); }
.badge.status-rolled_back { background: var(--rolled_back); }
.badge.status-dry_run { background: var(--dry_run); }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr));
  gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: 600; margin-top: 2px; }
.card .sub { color: var(--muted); font-size: 12px; min-height: 1em; }
.block, .error-box { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin: 0 0 16px; overflow-x: auto; }
.error-box { border-color: var(--failed); border-left-width: 6px; }
.error-box h2 { color: var(--failed); }
.error-box .message { font-weight: 600; margin: 0 0 8px; overflow-wrap: anywhere; }
.error-box dt { color: var(--muted); margin-top: 6px; }
.error-box dd { margin: 0; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
.note, .empty { color: var(--muted); margin: 0 0 10px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.details { color: var(--muted); font-size: 13px; }
td.details ul { margin: 4px 0; padding-left: 18px; }
.name { font-weight: 600; overflow-wrap: anywhere; }
.tag { font-size: 11px; color: var(--muted); border: 1px solid var(--line); border-radius: 8px;
  padding: 0 6px; }
.up, .down { font-weight: 600; color: #2f6fb0; }  /* a change, neither good nor bad */
.legend { list-style: none; display: flex; gap: 16px; padding: 0; margin: 0 0 8px;
  font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 5px;
  vertical-align: -2px; background: var(--unknown); }
.swatch.status-ok { background: var(--ok); } .swatch.status-skipped { background: var(--skipped); }
.swatch.status-failed { background: var(--failed); }
.swatch.status-rolled_back { background: var(--rolled_back); }
#timeline { width: 100%; height: auto; display: block; }
#timeline .grid { stroke: var(--line); }
#timeline .tick { fill: var(--muted); font-size: 11px; }
#timeline .row-bg { fill: #fafbfc; }
#timeline .label { fill: var(--ink); font-size: 12px; font-weight: 600; }
#timeline .label-sub { fill: var(--muted); font-size: 10px; }
#timeline rect.phase-bar, #timeline rect.migration-bar { fill: var(--unknown); }
#timeline rect.status-ok { fill: var(--ok); }
#timeline rect.status-skipped { fill: var(--skipped); stroke: var(--muted); stroke-dasharray: 2 2; }
#timeline rect.status-failed { fill: var(--failed); }
#timeline rect.status-rolled_back { fill: var(--rolled_back); }
#timeline rect.migration-bar { fill-opacity: .75; stroke: #fff; stroke-width: .5; }
#timeline rect:hover { stroke: var(--ink); stroke-width: 1; fill-opacity: 1; }
.foot { color: var(--muted); font-size: 12px; text-align: center; padding: 8px 0 24px; }
"""

_SCRIPT = """
(function () {
  "use strict";
  // Every string from the report is set with textContent or setAttribute, never as
  // markup: names and SQL come from migration files.
  const NS = "http://www.w3.org/2000/svg";
  const STATUSES = ["ok", "skipped", "failed", "rolled_back"];
  const WIDTH = 1000, LABEL = 150, RIGHT = 20, AXIS = 24, ROW = 40, MIN_BAR = 2;

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    parent.appendChild(node);
    return node;
  }
  function text(parent, attrs, content) { el("text", attrs, parent).textContent = content; }
  function tooltip(node, content) { el("title", {}, node).textContent = content; }
  function num(value) { return typeof value === "number" && isFinite(value) ? value : null; }
  function css(status) { return STATUSES.includes(status) ? status : "unknown"; }

  function duration(ms) {
    if (ms === null) return "—";
    if (ms < 1) return ms.toFixed(2) + " ms";
    if (ms < 1000) return ms.toFixed(1) + " ms";
    return (ms / 1000).toFixed(2) + " s";
  }

  // One row per phase, in the report's order. A migration whose phase is not listed
  // gets a row of its own, so that no migration goes undrawn.
  function rowsOf(data) {
    const rows = [], byName = new Map();
    for (const phase of data.phases || []) {
      if (!byName.has(phase.name)) byName.set(phase.name, rows.length);
      rows.push({name: String(phase.name), phase: phase, migrations: []});
    }
    for (const migration of data.migrations || []) {
      if (!byName.has(migration.phase)) {
        byName.set(migration.phase, rows.length);
        rows.push({name: String(migration.phase), phase: null, migrations: []});
      }
      rows[byName.get(migration.phase)].migrations.push(migration);
    }
    return rows;
  }

  // A phase without times (skipped, or never reached) is drawn as a sliver where the
  // run stood at that point, so every phase keeps its bar.
  function place(rows) {
    let cursor = 0;
    for (const row of rows) {
      if (!row.phase) continue;
      const start = num(row.phase.offset_ms), length = num(row.phase.duration_ms);
      row.start = start === null ? cursor : start;
      row.length = length === null ? 0 : Math.max(0, length);
      cursor = Math.max(cursor, row.start + row.length);
    }
  }

  function totalOf(data, rows) {
    let total = num(data.duration_ms) || 0;
    for (const row of rows) {
      if (row.phase) total = Math.max(total, row.start + row.length);
      for (const m of row.migrations) {
        total = Math.max(total, (num(m.offset_ms) || 0) + (num(m.duration_ms) || 0));
      }
    }
    return total > 0 ? total : 1;
  }

  // Ticks at 1, 2 or 5 times a power of ten, about eight of them.
  function ticks(total) {
    const raw = total / 8, power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(f => f * power).find(s => s >= raw);
    const values = [];
    for (let i = 0; i * step <= total * (1 + 1e-9); i++) values.push(i * step);
    return values.map(v => ({at: v, label: tickLabel(v, step)}));
  }
  // Milliseconds below a second, seconds from there on: 0 ms, 500 ms, 1 s, 1.5 s.
  function tickLabel(ms, step) {
    if (ms === 0) return "0";
    const inSeconds = ms >= 1000, unit = inSeconds ? step / 1000 : step;
    const digits = unit >= 1 ? 0 : Math.ceil(-Math.log10(unit) - 1e-9);
    const value = Number((inSeconds ? ms / 1000 : ms).toFixed(digits));
    return String(value) + (inSeconds ? " s" : " ms");
  }

  function drawAxis(svg, total, height, x) {
    for (const tick of ticks(total)) {
      el("line", {class: "grid", x1: x(tick.at), x2: x(tick.at), y1: AXIS - 4, y2: height}, svg);
      text(svg, {class: "tick", x: x(tick.at), y: AXIS - 8, "text-anchor": "middle"}, tick.label);
    }
  }

  function stripe(svg, index) {
    if (index % 2) return;
    el("rect", {class: "row-bg", x: 0, y: AXIS + index * ROW, width: WIDTH, height: ROW}, svg);
  }

  function drawRow(svg, row, index, x) {
    const top = AXIS + index * ROW;
    text(svg, {class: "label", x: LABEL - 10, y: top + 17, "text-anchor": "end"}, row.name);
    if (row.phase) {
      text(svg, {class: "label-sub", x: LABEL - 10, y: top + 30, "text-anchor": "end"},
           String(row.phase.status) + " · " + duration(num(row.phase.duration_ms)));
      drawPhase(svg, row, top, x);
    }
    for (const migration of row.migrations) drawMigration(svg, row, migration, top, x);
  }

  function bar(svg, attrs, start, length, x) {
    const left = x(start), width = Math.max(x(start + length) - left, MIN_BAR);
    return el("rect", Object.assign({x: left, width: width}, attrs), svg);
  }

  function drawPhase(svg, row, top, x) {
    const phase = row.phase, status = String(phase.status);
    const node = bar(svg, {class: "phase-bar status-" + css(status), "data-phase": row.name,
      "data-status": status, y: top + 5, height: 14, rx: 3}, row.start, row.length, x);
    const lines = [row.name + ": " + status + ", " + duration(num(phase.duration_ms)) +
      " from +" + duration(row.start)].concat((phase.messages || []).map(String));
    tooltip(node, lines.join("\\n"));
  }

  function drawMigration(svg, row, m, top, x) {
    const start = num(m.offset_ms) || 0, length = num(m.duration_ms) || 0;
    const status = String(m.status);
    const version = m.version === null || m.version === undefined ? "" : String(m.version);
    const node = bar(svg, {class: "migration-bar status-" + css(status), "data-version": version,
      "data-phase": row.name, "data-status": status, y: top + 23, height: 11, rx: 2},
      start, length, x);
    tooltip(node, (version ? version + " " : "") + String(m.name) + " (" +
      String(m.direction) + "): " + status + ", " + duration(length) +
      " from +" + duration(start));
  }

  function draw(svg, data) {
    const rows = rowsOf(data);
    place(rows);
    const total = totalOf(data, rows), height = AXIS + Math.max(rows.length, 1) * ROW + 6;
    const x = ms => LABEL + (ms / total) * (WIDTH - LABEL - RIGHT);
    svg.setAttribute("viewBox", "0 0 " + WIDTH + " " + height);
    // Painted in layers: stripes, then the grid over them, then labels and bars on top.
    rows.forEach((row, index) => stripe(svg, index));
    drawAxis(svg, total, height, x);
    rows.forEach((row, index) => drawRow(svg, row, index, x));
    if (!rows.length) {
      text(svg, {class: "tick", x: WIDTH / 2, y: AXIS + 24, "text-anchor": "middle"},
           "No phase ran.");
    }
  }

  try {
    draw(document.getElementById("timeline"),
         JSON.parse(document.getElementById("report-data").textContent));
  } catch (error) {
    // A report the chart cannot read still leaves the tables; say why the chart is empty.
    const note = document.getElementById("timeline-error");
    note.textContent = "The timeline could not be drawn: " + error;
    note.hidden = false;
  }
})();
"""


def _csp_hash(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Only this module's own style and script may run, and nothing may be fetched.
_CSP = (f"default-src 'none'; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_SCRIPT)}; "
        "img-src data:; base-uri 'none'; form-action 'none'")
