"""The status page: its markup in-process, then its script in a real headless Chromium
against `ferryman serve` running as a subprocess."""

import re
import signal
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from httpkit import SERVICES, client, migrator, wait_for, write_config

from helpers import ferryman_process, run_chromium


class Page(HTMLParser):
    """Elements with their attributes and text, enough to check the hooks tests use."""

    def __init__(self, html):
        super().__init__()
        self.elements, self._open = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "parents": list(self._open)}
        self.elements.append(element)
        if tag not in ("meta", "br", "input", "link", "rect", "line", "path"):
            self._open.append(element)

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index]["tag"] == tag:
                del self._open[index:]
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def find(self, tag=None, **attrs):
        return [e for e in self.elements if (tag is None or e["tag"] == tag)
                and all(_has(e["attrs"].get(k.rstrip("_")), v) for k, v in attrs.items())]

    def cell(self, service, cls):
        row = self.find("tr", **{"data-service": service})[0]
        return next(e["text"].strip() for e in self.elements
                    if row in e["parents"] and _has(e["attrs"].get("class"), cls))


def _has(value, wanted):
    if value is None:
        return False
    return wanted in value.split() if wanted and " " not in wanted else value == wanted


def test_the_page_shows_every_service_and_the_graph(sqlite_services):
    config, _urls = sqlite_services
    migrator(config, "users").up()
    response = client(config).get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/html")
    page = Page(response.text)
    assert page.find("table", id="services")
    assert [r["attrs"]["data-service"] for r in page.find("tr") if "data-service" in
            r["attrs"]] == list(SERVICES)
    assert page.cell("users", "version") == "2" and page.cell("users", "pending") == "0"
    assert page.cell("letters", "version") == "none" and page.cell("letters", "pending") == "1"
    assert page.cell("users", "dirty") == "no" and page.cell("users", "last-backup") != "none"
    assert page.cell("users", "progress") == "idle"
    assert page.find(id="overall-progress") and page.find(id="updated-at")
    graph = page.find("svg", class_="dependency-graph")
    assert graph
    assert {g["attrs"]["data-service"] for g in page.find("g", class_="service")} == set(SERVICES)
    edges = {(e["attrs"]["data-from"], e["attrs"]["data-to"]) for e in page.find("line")}
    assert edges == {("letters", "users"), ("museum", "letters"), ("museum", "users")}
    # self-contained: nothing fetched from anywhere else
    assert not re.search(r'(src|href)="(https?:)?//', response.text)


def test_the_page_escapes_what_it_shows(sqlite_services, tmp_path, migrations):
    _config, urls = sqlite_services
    # An error message quoting a URL is shown on the page: markup in it stays text.
    urls = dict(urls, audit="postgresql://nobody@127.0.0.1:1/x%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    config = write_config(tmp_path, urls, migrations)
    text = client(config).get("/").text
    assert text.count("<script") == 1  # ours
    assert "unreachable: " in Page(text).cell("audit", "database")


def test_a_single_database_is_one_node(tmp_path, migrations):
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);"})
    (tmp_path / "ferryman.toml").write_text(
        f'migrations = "{folder}"\n[database]\nurl = "sqlite:///solo.db"\n')
    page = Page(client(str(tmp_path / "ferryman.toml")).get("/").text)
    assert [g["attrs"]["data-service"] for g in page.find("g", class_="service")] == ["solo"]
    assert page.cell("solo", "pending") == "1"


@pytest.fixture
def served(sqlite_services):
    """`ferryman serve` on a free port, as a real subprocess; (base URL, process)."""
    config, _urls = sqlite_services
    migrator(config, "users").up()
    process = ferryman_process("serve", "--config", config, "--bind-port", "0")
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + process.stderr.read() if process.poll() is not None else line
        yield f"http://127.0.0.1:{match.group(1)}/", process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_the_script_fills_the_page_in_a_real_browser(served, tmp_path):
    url, process = served
    dom = run_chromium(tmp_path, "status-page", "--virtual-time-budget=3000", "--dump-dom", url)
    page = Page(dom)
    # #updated-at is written only by the script, after a successful poll
    updated = page.find(id="updated-at")[0]["text"].strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", updated), updated
    assert page.find(id="poll-error")[0]["text"].strip() == ""
    rows = [r["attrs"]["data-service"] for r in page.find("tr") if "data-service" in r["attrs"]]
    assert rows == list(SERVICES)
    assert page.cell("users", "version") == "2"
    assert [r["attrs"]["data-state"] for r in page.find("tr") if "data-service" in r["attrs"]
            ] == ["ok", "pending", "pending", "pending"]
    svg = dom[dom.index("<svg"):dom.index("</svg>") + 6]
    nodes = ET.fromstring(svg).findall(".//{http://www.w3.org/2000/svg}g")
    assert {n.get("data-service"): n.get("data-status") for n in nodes} == {
        "users": "ok", "letters": "pending", "museum": "pending", "audit": "pending"}
    assert "no run in this process" in page.find(id="overall-progress")[0]["text"]
    process.send_signal(signal.SIGINT)  # Ctrl-C stops it
    assert wait_for(lambda: process.poll() is not None, what="serve to stop") and \
        process.returncode == 0


def test_serve_refuses_a_port_in_use_with_exit_4(sqlite_services, cli):
    import socket

    config, _urls = sqlite_services
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = cli("serve", "--config", config, "--bind-port", port)
    assert result.code == 4
    assert f"cannot listen on 127.0.0.1:{port}" in result.err
