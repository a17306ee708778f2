"""The report of a coordinated run: one JSON, HTML and Markdown file for all services,
each service's own pipeline report inside, and a picture of the dependency graph with
each service's outcome."""

import json
import os
from html import escape

from ..pipeline.report import write_atomically


def write_coordinated_report(result, graph, folder):
    data = result.to_dict()
    statuses = {s["name"]: s["status"] for s in result.services}
    svg = graph.svg(statuses)
    stem = os.path.join(folder, f"coordinated-{result.run_id}")
    try:
        os.makedirs(folder, exist_ok=True)
        paths = {"json": stem + ".json", "html": stem + ".html", "markdown": stem + ".md",
                 "graph": stem + ".graph.svg"}
        data["report_paths"] = paths
        write_atomically(paths["graph"], svg)
        write_atomically(paths["json"], json.dumps(data, indent=2, default=str) + "\n")
        write_atomically(paths["html"], _html(data, svg))
        write_atomically(paths["markdown"], _markdown(data))
    except OSError:
        return {}
    return paths


def _duration(service):
    from datetime import datetime

    if not service["started_at"] or not service["finished_at"]:
        return ""
    start = datetime.fromisoformat(service["started_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(service["finished_at"].replace("Z", "+00:00"))
    return f"{(end - start).total_seconds():.2f} s"


def _html(data, svg):
    rows = []
    for s in data["services"]:
        link = ""
        paths = (s.get("report") or {}).get("report_paths") or s.get("report_paths") or {}
        if paths.get("html"):
            link = f'<a href="{escape(os.path.basename(paths["html"]))}">report</a>'
        message = (s.get("error") or {}).get("message") or ""
        rows.append(
            f'<tr data-service="{escape(s["name"])}" data-status="{escape(s["status"])}">'
            f'<td>{escape(s["name"])}</td><td class="status {escape(s["status"])}">'
            f'{escape(s["status"])}</td><td>{escape(", ".join(s["depends_on"]) or "—")}</td>'
            f'<td>{escape(s["started_at"] or "")}</td><td>{escape(s["finished_at"] or "")}</td>'
            f'<td>{escape(_duration(s))}</td><td>{link}</td>'
            f'<td class="error">{escape(message.splitlines()[0] if message else "")}'
            f'{_traceback_html(s)}</td></tr>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>ferryman coordinated run {escape(data["run_id"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin-top: 1rem; }}
td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }}
.status.ok {{ color: #2e7d32; }} .status.failed {{ color: #c62828; font-weight: bold; }}
.status.skipped {{ color: #777; }} .status.rolled_back {{ color: #ef6c00; }}
</style></head><body>
<h1>Coordinated run <code>{escape(data["run_id"])}</code>: {escape(data["status"])}</h1>
<p>failure policy <b>{escape(data["failure_policy"])}</b>, up to {data["parallel"]} at once,
{len(data["services"])} services</p>
<h2>Dependency graph</h2>
{svg}
<h2>Services</h2>
<table id="services"><tr><th>service</th><th>status</th><th>depends on</th><th>started</th>
<th>finished</th><th>took</th><th>report</th><th>error</th></tr>
{"".join(rows)}
</table></body></html>
"""


def _traceback_html(service):
    """A bug's traceback, folded under the service's error."""
    trace = (service.get("error") or {}).get("traceback")
    if not trace:
        return ""
    return f"<details><summary>traceback</summary><pre>{escape(trace)}</pre></details>"


def _markdown(data):
    lines = [f"## ferryman coordinated run `{data['run_id']}`: {data['status']}", "",
             f"failure policy **{data['failure_policy']}**, up to {data['parallel']} at once",
             "", "| service | status | depends on | took | error |", "| --- | --- | --- | ---: | --- |"]
    for s in data["services"]:
        message = ((s.get("error") or {}).get("message") or "").splitlines()
        lines.append(f"| {s['name']} | {s['status']} | {', '.join(s['depends_on']) or '—'} | "
                     f"{_duration(s)} | {(message[0] if message else '').replace('|', '&#124;')} |")
    for s in data["services"]:
        trace = (s.get("error") or {}).get("traceback")
        if trace:
            lines += ["", f"### {s['name']}: traceback", "", "```", trace.rstrip(), "```"]
    return "\n".join(lines) + "\n"
