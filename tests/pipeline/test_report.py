"""The reports of a pipeline run: JSON, Markdown, and an HTML page opened in a real browser.

The report built here is hostile on purpose: migration names, SQL, table names, warnings
and phase messages carry markup that would run if any of it reached the page unescaped.
The browser tests read the DOM after the page's own script ran (Chromium's --dump-dom).
"""

import json
import os
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import run_chromium

from ferryman.pipeline import report as report_module
from ferryman.pipeline.report import render_html, render_markdown, write_reports

SCRIPT_NAME = "<script>alert(1)</script>"
CLOSER_NAME = "</script><script>document.body.setAttribute('data-pwned','1')</script>"
PIPE_NAME = 'add_check | "quoted" & <b>bold</b>'
HOSTILE_TABLE = 'users" onmouseover="alert(1)'
HOSTILE_WARNING = "<img src=x onerror=alert(1)> table letters has no primary key"
HOSTILE_SQL = ("ALTER TABLE letters ADD CONSTRAINT body_len CHECK (body <> '</script>"
               "<!--') -- | pipe")
PHASES = ["precheck", "backup", "core", "extended", "integrity", "indexes", "constraints",
          "views", "optimize", "validate"]


# --- the report --------------------------------------------------------------------


def phase(name, status, offset, duration, details=None, messages=()):
    at = (lambda ms: None if ms is None else f"2026-11-21T10:15:{ms / 1000:06.3f}Z")
    return {"name": name, "status": status, "started_at": at(offset),
            "finished_at": None if offset is None else at(offset + duration),
            "duration_ms": duration, "offset_ms": offset, "details": details or {},
            "messages": list(messages)}


def migration(version, name, phase_name, offset, duration, status="ok"):
    return {"version": version, "name": name, "phase": phase_name, "direction": "up",
            "offset_ms": offset, "duration_ms": duration, "status": status}


def migrations_within(phase_name, start, names, first_version, step=60.0):
    return [migration(first_version + i, name, phase_name, start + 5 + i * step, step - 10)
            for i, name in enumerate(names)]


def table(name, rows, size, indexes):
    return {"name": name, "rows": rows, "size_bytes": size, "indexes": indexes}


def sample_report():
    """A failed unified run: ten phases (ok, failed, skipped), twenty migrations."""
    core = migrations_within("core", 352, [
        "create_users", "create_letters", "add_reply_to", "normalise_emails", "create_tags",
        "letter_tags", SCRIPT_NAME, "add_read_at", "create_outbox", "outbox_status",
        "drop_legacy_drafts"], 1)
    extended = migrations_within("extended", 1152, [
        CLOSER_NAME, "backfill_tags", "split_names", "add_locale"], 12, step=95.0)
    integrity = [migration(None, "foreign_key_check", "integrity", 1560, 70)]
    indexes = migrations_within("indexes", 1642, ["letters_by_sender", "tags_by_name"], 16,
                                step=290.0)
    constraints = [migration(18, "users_email_unique", "constraints", 2250, 40),
                   migration(19, PIPE_NAME, "constraints", 2295, 90, status="failed")]
    return {
        "ferryman_version": "0.1.0", "run_id": "20261121T101500Z-3fa9c2",
        "strategy": "unified", "status": "failed", "database": "sqlite:////srv/app/penpal.db",
        "dialect": "sqlite", "started_at": "2026-11-21T10:15:00.000Z",
        "finished_at": "2026-11-21T10:15:02.610Z", "duration_ms": 2610.0,
        "from_version": 0, "to_version": 18,
        "options": {"dry_run": False, "skip_optimizations": True, "concurrent_indexes": False,
                    "timeout": 30.0, "failure_strategy": "stop", "backup_before_migrate": True},
        "phases": [
            phase("precheck", "ok", 0.0, 12.0, {"files": 20, "problems": []}),
            phase("backup", "ok", 12.0, 340.0,
                  {"path": "backups/penpal-20261121T101500Z.db", "size_bytes": 184320}),
            phase("core", "ok", 352.0, 800.0, {"applied": 11}),
            phase("extended", "ok", 1152.0, 400.0, {"applied": 4}),
            phase("integrity", "ok", 1552.0, 90.0, {"foreign_keys": "ok"}),
            phase("indexes", "ok", 1642.0, 600.0, {"created": ["letters_by_sender"]}),
            phase("constraints", "failed", 2242.0, 150.0, {"failed_version": 19},
                  ["CHECK constraint failed: body_len </script>"]),
            phase("views", "skipped", None, None, messages=["an earlier phase failed"]),
            phase("optimize", "skipped", None, None,
                  messages=["skip_optimizations is set"]),
            phase("validate", "ok", 2400.0, 210.0, {"checked_tables": 6}),
        ],
        "migrations": core + extended + integrity + indexes + constraints,
        "metrics": {
            "before": {"tables": [table("users", 1200, 98304, 1), table("letters", 5400, 737280, 1),
                                  table("drafts_legacy", 40, 8192, 0),
                                  table(HOSTILE_TABLE, 3, 4096, 0)]},
            "after": {"tables": [table("users", 1200, 102400, 2), table("letters", 5400, 819200, 3),
                                 table("tags", 25, 4096, 1), table(HOSTILE_TABLE, 3, 4096, 0)]},
        },
        "warnings": [HOSTILE_WARNING, "migration 19 failed; 18 is the current version"],
        "suggestions": [
            {"kind": "missing_index", "table": "letters",
             "detail": "letters.sender_id is filtered on but not indexed"},
            {"kind": "vacuum", "table": None, "detail": "the file has 30% free pages | reclaim"},
        ],
        "maintenance_plan": [
            {"schedule": "daily", "task": "analyze", "command": "ferryman maintain --analyze",
             "why": "keeps the planner's statistics current"},
            {"schedule": "weekly", "task": "vacuum", "command": "sqlite3 penpal.db 'VACUUM'",
             "why": "letters churns"},
        ],
        "error": {"message": f"migration 19 ({PIPE_NAME}) failed",
                  "file": "migrations/19_add_check.up.sql", "version": 19,
                  "statement": HOSTILE_SQL, "db_message": "CHECK constraint failed: body_len",
                  "hint": "fix the file, then run: ferryman up"},
        "schema_snapshot": "schema-20261121T101500Z.sql",
    }


# --- parsing what was written ------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag, attrs):
        self.tag, self.attrs, self.text = tag, dict(attrs), ""

    @property
    def classes(self):
        return (self.attrs.get("class") or "").split()


class Elements(HTMLParser):
    """Every element in document order, each with the text it holds (descendants included)."""

    def __init__(self, markup):
        super().__init__(convert_charrefs=True)
        self.nodes, self.open = [], []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs)
        self.nodes.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_endtag(self, tag):
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index].tag == tag:
                del self.open[index:]
                break

    def handle_data(self, data):
        for node in self.open:
            node.text += data


def select(markup, tag, cls=None):
    nodes = markup.nodes if isinstance(markup, Elements) else Elements(markup).nodes
    return [n for n in nodes if n.tag == tag and (cls is None or cls in n.classes)]


def by_id(markup, element_id):
    nodes = markup.nodes if isinstance(markup, Elements) else Elements(markup).nodes
    found = [n for n in nodes if n.attrs.get("id") == element_id]
    assert len(found) == 1, f"expected one #{element_id}, found {len(found)}"
    return found[0]


def table_rows(markup, table_id):
    """The text of each body row of table#table_id, cell by cell."""
    parser = Elements(markup)
    table_node = next(n for n in parser.nodes if n.attrs.get("id") == table_id)
    start = parser.nodes.index(table_node)
    rows, current = [], None
    for node in parser.nodes[start + 1:]:
        if node.tag == "table":
            break
        if node.tag == "tr":
            current = []
            rows.append(current)
        elif node.tag in ("td", "th") and current is not None:
            current.append(node.text.strip())
    return rows[1:]  # the first row is the heading


def md_cells(line):
    """The cells of a GFM table row: split on | that no backslash escapes."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def md_table_after(markdown, heading):
    lines = markdown.split(heading, 1)[1].strip().splitlines()
    table = []
    for line in lines:
        if not line.startswith("|"):
            if table:
                break
            continue
        table.append(line)
    return table


# --- JSON and files ----------------------------------------------------------------


def test_json_round_trips_and_keeps_the_phase_order(tmp_path):
    report = sample_report()
    paths = write_reports(report, str(tmp_path / "reports"), "run")
    written = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
    assert written == report
    assert [p["name"] for p in written["phases"]] == PHASES


def test_the_three_files_are_written_into_a_new_folder_and_no_temp_file_is_left(tmp_path):
    folder = tmp_path / "nested" / "reports"
    paths = write_reports(sample_report(), str(folder), "run-1")
    again = write_reports({"status": "ok"}, str(folder), "run-1")  # replaces, in place
    assert paths == again == {"json": str(folder / "run-1.json"),
                              "html": str(folder / "run-1.html"),
                              "markdown": str(folder / "run-1.md")}
    assert sorted(os.listdir(folder)) == ["run-1.html", "run-1.json", "run-1.md"]
    assert json.loads((folder / "run-1.json").read_text()) == {"status": "ok"}


def test_a_write_that_fails_keeps_the_previous_file_whole(tmp_path, monkeypatch):
    folder = tmp_path / "reports"
    write_reports(sample_report(), str(folder), "run")
    before = (folder / "run.json").read_bytes()

    def refuse(_src, _dst):
        raise OSError("disk full")

    monkeypatch.setattr(report_module.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_reports({"status": "ok"}, str(folder), "run")
    assert (folder / "run.json").read_bytes() == before
    assert sorted(os.listdir(folder)) == ["run.html", "run.json", "run.md"]


def test_a_report_that_cannot_be_rendered_writes_nothing(tmp_path):
    folder = tmp_path / "reports"
    with pytest.raises(TypeError):
        write_reports({"status": "ok", "details": {1, 2}}, str(folder), "run")
    assert not folder.exists()


@pytest.mark.parametrize("report", [{}, {"status": "dry_run", "phases": [], "migrations": []},
                                    {"phases": [{"name": "precheck"}],
                                     "migrations": [{"name": "x"}], "metrics": {"after": None},
                                     "error": {"message": "boom"}}])
def test_reports_missing_optional_keys_still_render(tmp_path, report):
    paths = write_reports(report, str(tmp_path), "partial")
    page = Path(paths["html"]).read_text()
    assert by_id(page, "timeline").tag == "svg"
    assert "### Phases" in Path(paths["markdown"]).read_text()
    assert ("boom" in page) == bool(report.get("error"))


# --- Markdown ----------------------------------------------------------------------


def test_markdown_has_a_heading_and_the_tables():
    markdown = render_markdown(sample_report())
    assert markdown.startswith("## ferryman unified run: failed\n")
    assert "**Database:** `sqlite:////srv/app/penpal.db` (sqlite)" in markdown
    phases = md_table_after(markdown, "### Phases")
    assert md_cells(phases[0]) == ["Phase", "Status", "Duration", "Details"]
    assert [md_cells(row)[0] for row in phases[2:]] == PHASES
    assert md_cells(phases[2 + PHASES.index("views")])[1] == "skipped"
    assert len(md_table_after(markdown, "### Migrations")) == 2 + 20
    assert md_cells(md_table_after(markdown, "### Maintenance plan")[2])[2] == \
        "`ferryman maintain --analyze`"
    for heading in ("### Table changes", "### Warnings", "### Suggestions"):
        assert heading in markdown


def test_markdown_escapes_pipes_so_every_row_keeps_its_columns():
    markdown = render_markdown(sample_report())
    for heading in ("### Phases", "### Migrations", "### Table changes", "### Maintenance plan"):
        rows = md_table_after(markdown, heading)
        widths = {len(md_cells(row)) for row in rows}
        assert widths == {len(md_cells(rows[0]))}, (heading, rows)
    failed = next(row for row in md_table_after(markdown, "### Migrations")
                  if row.startswith("| 19 |"))
    assert r'add\_check \| "quoted" \& \<b\>bold\</b\>' in failed
    assert "free pages \\| reclaim" in markdown


def test_markdown_shows_hostile_markup_as_text():
    markdown = render_markdown(sample_report())
    # Outside the fenced SQL no < goes unescaped: GitHub would render or strip the tag.
    outside_fence = re.sub(r"```sql\n.*?\n```", "", markdown, flags=re.S)
    assert outside_fence != markdown
    assert not re.search(r"(?<!\\)<", outside_fence)
    assert r"\<script\>alert(1)\</script\>" in markdown
    assert f"```sql\n{HOSTILE_SQL}\n```\n" in markdown  # the SQL as written


def test_markdown_fences_sql_that_holds_a_fence():
    statement = "UPDATE notes SET body = '\n````\n# not a heading' WHERE id = 1;"
    markdown = render_markdown({"error": {"message": "boom", "statement": statement}})
    assert f"\n`````sql\n{statement}\n`````" in markdown


def test_markdown_shows_metric_deltas_only_for_changed_tables():
    rows = {md_cells(r)[0]: md_cells(r)
            for r in md_table_after(render_markdown(sample_report()), "### Table changes")[2:]}
    assert rows["letters"][1:] == ["5,400", "0", "800.0 KiB", "+80.0 KiB", "3", "+2"]
    assert rows["tags (new)"][1:3] == ["25", "—"]  # no "before" to count from
    assert rows["drafts\\_legacy (dropped)"][1] == "40"
    # users" onmouseover=… did not change, so it is left out
    assert set(rows) == {"users", "letters", "tags (new)", "drafts\\_legacy (dropped)"}
    assert "1 other table unchanged." in render_markdown(sample_report())


def test_markdown_carries_the_error_and_its_hint():
    markdown = render_markdown(sample_report())
    error = markdown.split("### Error\n\n", 1)[1].split("### Phases")[0]
    assert error.startswith("**migration 19 (add\\_check \\| ")
    assert "- **Next step:** fix the file, then run: ferryman up\n" in error
    assert "- **The database said:** CHECK constraint failed: body\\_len\n" in error
    assert "### Error" not in render_markdown({"status": "ok"})


# --- HTML, as written --------------------------------------------------------------


def test_html_tables_are_there_without_javascript():
    page = render_html(sample_report())
    assert [row[0] for row in table_rows(page, "phases")] == PHASES
    assert [row[1] for row in table_rows(page, "phases")][6:9] == ["failed", "skipped", "skipped"]
    migrations = table_rows(page, "migrations")
    assert len(migrations) == 20
    assert migrations[6][1] == SCRIPT_NAME  # shown as text, whole
    metrics = {row[0]: row for row in table_rows(page, "metrics")}
    assert metrics["letters"][1:] == ["5,400", "5,400", "0", "720.0 KiB", "800.0 KiB",
                                      "+80.0 KiB", "1", "3", "+2"]
    assert metrics["tags new"][3] == "—" and metrics["drafts_legacy dropped"][2] == "—"
    assert "The timeline needs JavaScript" in by_id(page, "timeline-section").text
    for element_id in ("warnings", "suggestions", "maintenance", "error", "summary"):
        by_id(page, element_id)
    # The chart is drawn by the page's script, not written by Python: the browser tests
    # below therefore prove that the script ran.
    assert select(page, "rect") == []


def test_html_embeds_the_report_as_data_that_cannot_close_its_script_element():
    page = render_html(sample_report())
    assert page.count("<script") == 2 and page.count("</script>") == 2
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                     page, re.S).group(1)
    assert json.loads(data) == sample_report()


def test_html_escapes_every_hostile_string():
    page = render_html(sample_report())
    for hostile in (SCRIPT_NAME, CLOSER_NAME, HOSTILE_WARNING, HOSTILE_SQL, HOSTILE_TABLE):
        assert hostile not in page
    nodes = Elements(page).nodes
    assert [n.tag for n in nodes if n.tag in ("img", "b")] == []
    assert not [n for n in nodes if any(name.startswith("on") for name in n.attrs)]
    assert HOSTILE_SQL in by_id(page, "error").text


def test_html_is_self_contained():
    page = render_html(sample_report())
    nodes = Elements(page).nodes
    assert not [n for n in nodes if {"src", "href"} & set(n.attrs) or n.tag == "link"]
    style = "".join(n.text for n in nodes if n.tag == "style")
    assert "{" in style and "url(" not in style and "@import" not in style
    csp = next(n for n in select(page, "meta") if n.attrs.get("http-equiv"))
    assert csp.attrs["content"].startswith("default-src 'none'")


# --- HTML, in a real browser -------------------------------------------------------

def dump_dom(workdir, report, name):
    paths = write_reports(report, str(workdir), name)
    return Elements(run_chromium(workdir, name, "--dump-dom", Path(paths["html"]).as_uri()))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def dom(workdir):
    """The sample report's page, as the DOM stands after its script ran."""
    return dump_dom(workdir, sample_report(), "sample")


def test_browser_draws_one_bar_per_phase_with_its_status(dom):
    bars = select(dom, "rect", "phase-bar")
    assert [(b.attrs["data-phase"], b.attrs["data-status"]) for b in bars] == \
        [(p["name"], p["status"]) for p in sample_report()["phases"]]
    assert all(f"status-{b.attrs['data-status']}" in b.classes for b in bars)
    assert select(dom, "svg")[0].attrs.get("id") == "timeline"
    assert "hidden" in by_id(dom, "timeline-error").attrs


def test_browser_draws_one_bar_per_migration_inside_its_phase(dom):
    migrations = sample_report()["migrations"]
    bars = select(dom, "rect", "migration-bar")
    expected = ["" if m["version"] is None else str(m["version"]) for m in migrations]
    assert [b.attrs["data-version"] for b in bars] == expected
    assert [b.attrs["data-status"] for b in bars].count("failed") == 1
    phases = {b.attrs["data-phase"]: b for b in select(dom, "rect", "phase-bar")}
    for bar in bars:
        outer = phases[bar.attrs["data-phase"]]
        left, right = float(bar.attrs["x"]), float(bar.attrs["x"]) + float(bar.attrs["width"])
        assert float(outer.attrs["x"]) <= left
        assert right <= float(outer.attrs["x"]) + float(outer.attrs["width"]) + 0.01


def test_browser_places_bars_by_their_start_and_skipped_phases_as_slivers(dom):
    bars = {b.attrs["data-phase"]: b for b in select(dom, "rect", "phase-bar")}
    starts = [float(bars[name].attrs["x"]) for name in PHASES if name not in ("views", "optimize")]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    core, extended = bars["core"].attrs, bars["extended"].attrs
    # core runs 800 ms and extended 400 ms: twice the width
    assert float(core["width"]) == pytest.approx(2 * float(extended["width"]), rel=1e-6)
    assert float(bars["views"].attrs["width"]) == 2  # the minimum, where the run stood
    assert float(bars["views"].attrs["x"]) == pytest.approx(
        float(bars["constraints"].attrs["x"]) + float(bars["constraints"].attrs["width"]))


def test_browser_draws_an_axis_and_tooltips(dom):
    ticks = [t.text for t in select(dom, "text", "tick")]
    # the run took 2.61 s: a tick every 500 ms
    assert ticks == ["0", "500 ms", "1 s", "1.5 s", "2 s", "2.5 s"]
    failed = next(bar for bar in select(dom, "rect", "migration-bar")
                  if bar.attrs["data-version"] == "19")
    assert failed.text.startswith(f"19 {PIPE_NAME} (up): failed")
    constraints = next(b for b in select(dom, "rect", "phase-bar")
                       if b.attrs["data-phase"] == "constraints")
    assert "CHECK constraint failed: body_len </script>" in constraints.text


def test_browser_shows_hostile_strings_as_text_only(dom):
    assert len(select(dom, "script")) == 2
    assert select(dom, "img") == [] and select(dom, "b") == []
    assert not [n for n in dom.nodes if "data-pwned" in n.attrs]
    assert not [n for n in dom.nodes if any(name.startswith("on") for name in n.attrs)]
    titles = [b.text for b in select(dom, "rect", "migration-bar")]
    assert any(SCRIPT_NAME in t for t in titles) and any(CLOSER_NAME in t for t in titles)
    cells = [n.text for n in select(dom, "td")]
    assert SCRIPT_NAME in [c.strip() for c in cells]
    assert any(HOSTILE_WARNING == li.text for li in select(dom, "li"))


def test_browser_keeps_the_tables(dom):
    tables = {n.attrs.get("id") for n in select(dom, "table")}
    assert {"phases", "migrations", "metrics", "suggestions-table",
            "maintenance-table"} <= tables
    assert {"warnings", "suggestions", "maintenance"} <= {n.attrs.get("id") for n in dom.nodes}


def test_browser_draws_a_report_without_times(workdir):
    """Phases with no times and a migration of an unlisted phase are still drawn."""
    report = {"phases": [{"name": "precheck", "status": "ok"},
                         {"name": "core", "status": "failed", "duration_ms": None}],
              "migrations": [{"version": 7, "name": "orphan", "phase": "hooks",
                              "status": "rolled_back"}]}
    dom = dump_dom(workdir, report, "untimed")
    assert [b.attrs["data-status"] for b in select(dom, "rect", "phase-bar")] == ["ok", "failed"]
    assert [b.attrs["data-version"] for b in select(dom, "rect", "migration-bar")] == ["7"]
    assert "hooks" in [t.text for t in select(dom, "text", "label")]
    assert "hidden" in by_id(dom, "timeline-error").attrs


def png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_browser_screenshot_is_a_real_picture(workdir):
    paths = write_reports(sample_report(), str(workdir), "shot")
    picture = workdir / "shot.png"
    run_chromium(workdir, "shot", "--window-size=1280,2000", f"--screenshot={picture}",
                 Path(paths["html"]).as_uri())
    assert png_size(picture) == (1280, 2000)
    # A blank page of this size compresses to about 12 KB; this one to about 190 KB.
    assert picture.stat().st_size > 60_000
