"""The status page: one self-contained HTML document (no CDN, nothing to fetch but
the status), rendered with the current status so it reads without JavaScript, then
kept current by its script, which polls ``/migration/status`` every second.

Every value is escaped here, and the script writes only ``textContent`` and
attributes, never markup; the Content-Security-Policy allows this script and this
style by their hashes and nothing else, so an injected tag could not run anyway.
"""

import base64
import hashlib
import json
from html import escape

from ..coordinator.graph import STATUS_COLOURS
from .services import graph_status

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1d2329; }
h1 { font-size: 1.4rem; margin: 0 0 .2rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
.meta { color: #58636e; } #poll-error { color: #c62828; }
table { border-collapse: collapse; min-width: 60%; }
th, td { text-align: left; padding: .3rem .7rem; border-bottom: 1px solid #dde2e6; }
tr[data-state="failed"] th { border-left: 4px solid #c62828; }
tr[data-state="running"] th { border-left: 4px solid #1565c0; }
tr[data-state="pending"] th { border-left: 4px solid #607d8b; }
tr[data-state="ok"] th { border-left: 4px solid #2e7d32; }
.database { color: #58636e; font-family: ui-monospace, monospace; font-size: 12px; }
progress { width: 18rem; vertical-align: middle; }
"""

SCRIPT = """
(function () {
  "use strict";
  var COLOURS = %s;
  var statusUrl = document.body.getAttribute("data-status-url");

  function setText(node, value) {
    value = value === null || value === undefined ? "" : String(value);
    if (node && node.textContent !== value) { node.textContent = value; }
  }
  function byService(selector, name) {
    var nodes = document.querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].getAttribute("data-service") === name) { return nodes[i]; }
    }
    return null;
  }
  function state(s) {
    if (!s.reachable || s.dirty) { return "failed"; }
    if (s.running) { return "running"; }
    return s.pending_count ? "pending" : "ok";
  }
  function progressLabel(p, running) {
    if (p) {
      var parts = [p.status, p.percent + "%%"];
      if (p.phase) { parts.push(p.phase); }
      if (p.migration) { parts.push(p.migration); }
      if (p.error) { parts.push(p.error); }
      return parts.join(" ");
    }
    return running ? "running" : "idle";
  }
  function renderService(s) {
    var row = byService("#services tr[data-service]", s.name);
    if (!row) { return; }
    var st = state(s);
    var cell = function (name) { return row.querySelector("." + name); };
    row.setAttribute("data-state", st);
    if (s.reachable) {
      setText(cell("database"), s.database);
      setText(cell("version"), s.current_version === null ? "none" : s.current_version);
      setText(cell("head"), s.head_version === null ? "none" : s.head_version);
      setText(cell("dirty"), s.dirty ? "yes" : "no");
      setText(cell("pending"), s.pending_count);
      setText(cell("last-backup"), s.last_backup || "none");
    } else {
      setText(cell("database"), "unreachable: " + s.error.message);
      ["version", "head", "dirty", "pending", "last-backup"].forEach(function (name) {
        setText(cell(name), "?");
      });
    }
    setText(cell("progress"), progressLabel(s.progress, s.running));
    var node = byService("svg.dependency-graph g.service", s.name);
    if (node) {
      node.setAttribute("data-status", st);
      var rect = node.querySelector("rect");
      if (rect) { rect.setAttribute("fill", COLOURS[st] || COLOURS.pending); }
      setText(node.querySelector("title"), s.name + ": " + st);
    }
  }
  function renderRun(p) {
    var box = document.getElementById("overall-progress");
    var bar = box.querySelector("progress");
    if (!p) {
      bar.value = 0;
      setText(box.querySelector(".label"), "no run in this process");
      return;
    }
    bar.value = p.percent;
    setText(box.querySelector(".label"), "run " + p.run_id + " (" + p.strategy + "): " +
            (p.running ? "running" : "finished") + ", " + p.done + " of " + p.total +
            " migrations, " + p.percent + "%%");
  }
  function poll() {
    fetch(statusUrl, {headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        data.services.forEach(renderService);
        renderRun(data.progress);
        setText(document.getElementById("updated-at"), new Date().toISOString());
        setText(document.getElementById("poll-error"), "");
      })
      .catch(function (error) {
        setText(document.getElementById("poll-error"), "status unavailable: " + error.message);
      })
      .then(function () { window.setTimeout(poll, 1000); });
  }
  poll();
})();
""" % json.dumps(STATUS_COLOURS)


def _hash(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# The page runs exactly its own script and style; it may fetch only its own origin.
CSP = (f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; "
       "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")

COLUMNS = (("database", "database"), ("version", "version"), ("head", "head"),
           ("dirty", "dirty"), ("pending", "pending"), ("last-backup", "last backup"),
           ("progress", "running / progress"))


def render(statuses, progress, graph_svg, status_url):
    """The page for ``statuses`` (Services.statuses()), a progress snapshot or None,
    the dependency graph as SVG, and the URL the script polls."""
    rows = "\n".join(_row(s) for s in statuses)
    heads = "".join(f"<th>{escape(title)}</th>" for _, title in COLUMNS)
    count = len(statuses)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ferryman: migration status</title>
<style>{STYLE}</style>
</head>
<body data-status-url="{escape(status_url)}">
<h1>ferryman: migration status</h1>
<p class="meta">{count} service{'s' if count != 1 else ''}; updated
<span id="updated-at">not yet</span> <span id="poll-error" role="status"></span></p>
<h2>Latest run</h2>
<div id="overall-progress">{_overall(progress)}</div>
<h2>Services</h2>
<table id="services">
<thead><tr><th>service</th>{heads}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h2>Dependencies</h2>
{graph_svg}
<script>{SCRIPT}</script>
</body>
</html>
"""


def _overall(progress):
    if progress is None:
        return '<progress max="100" value="0"></progress> <span class="label">no run in ' \
               'this process</span>'
    label = (f"run {progress['run_id']} ({progress['strategy']}): "
             f"{'running' if progress['running'] else 'finished'}, {progress['done']} of "
             f"{progress['total']} migrations, {_percent(progress['percent'])}%")
    return (f'<progress max="100" value="{progress["percent"]}"></progress> '
            f'<span class="label">{escape(label)}</span>')


def _row(s):
    cells = "".join(f'<td class="{cls}">{escape(str(value))}</td>'
                    for cls, value in zip((c for c, _ in COLUMNS), _cells(s)))
    return (f'<tr data-service="{escape(s["name"])}" data-state="{graph_status(s)}">'
            f'<th scope="row">{escape(s["name"])}</th>{cells}</tr>')


def _cells(s):
    """The text of each column, as the script writes it too."""
    if not s["reachable"]:
        return ["unreachable: " + s["error"]["message"], "?", "?", "?", "?", "?",
                _progress_label(s)]
    return [s["database"], _version(s["current_version"]), _version(s["head_version"]),
            "yes" if s["dirty"] else "no", s["pending_count"], s["last_backup"] or "none",
            _progress_label(s)]


def _version(value):
    return "none" if value is None else value


def _progress_label(s):
    p = s.get("progress")
    if p:
        parts = [p["status"], f"{_percent(p['percent'])}%"] + [
            str(p[k]) for k in ("phase", "migration", "error") if p.get(k)]
        return " ".join(parts)
    return "running" if s.get("running") else "idle"


def _percent(value):
    return f"{value:g}"  # 100 and 12.5, as JavaScript prints them
