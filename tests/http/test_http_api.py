"""The HTTP app's JSON endpoints, in-process, on four services of SQLite files."""

import json

import pytest
from httpkit import (AUTH, MIGRATIONS, SERVICES, TOKEN, assert_clean_error, client,
                     finished_run, in_process, migrator, wait_for, write_config)

from ferryman.dialects import connect
from ferryman.errors import FerrymanError
from ferryman.url import parse_url


def test_status_lists_every_service_in_the_file_order(sqlite_services):
    config, _urls = sqlite_services
    migrator(config, "users").up()
    data = client(config).get("/migration/status").json()
    assert [s["name"] for s in data["services"]] == list(SERVICES)
    users, letters = data["services"][0], data["services"][1]
    assert (users["current_version"], users["pending_count"], users["dirty"]) == (2, 0, False)
    assert (letters["current_version"], letters["pending_count"]) == (None, 1)
    assert letters["depends_on"] == ["users"]
    assert data["progress"] is None


def test_one_service_has_the_seed_fields_and_more(sqlite_services):
    config, _urls = sqlite_services
    migrator(config, "users").up(target=1)
    response = client(config).get("/migration/status/users")
    assert response.status_code == 200
    status = response.json()
    # seed 004's four, then what a person asks next
    assert status["current_version"] == 1 and status["dirty"] is False
    assert status["pending_count"] == 1 and status["last_backup"] is not None
    assert status["head_version"] == 2
    assert [p["name"] for p in status["pending"]] == ["add_email"]
    assert status["database"].startswith("sqlite:///")
    assert (status["running"], status["lock_held"], status["progress"]) == (False, False, None)
    assert status["dirty_details"] is None


def test_one_database_without_services_is_one_service_named_after_it(tmp_path, migrations):
    folder = migrations(MIGRATIONS["users"])
    (tmp_path / "ferryman.toml").write_text(
        f'migrations = "{folder}"\n[database]\nurl = "sqlite:///penpal.db"\n')
    http = client(str(tmp_path / "ferryman.toml"))
    data = http.get("/migration/status").json()
    assert [s["name"] for s in data["services"]] == ["penpal"]
    assert http.get("/migration/status/penpal").json()["pending_count"] == 2


def test_a_service_that_cannot_be_read_is_503_alone(sqlite_services, tmp_path, migrations):
    _config, urls = sqlite_services
    # Port 1 refuses at once: an unreachable database without waiting for a timeout.
    urls = dict(urls, audit="postgresql://nobody@127.0.0.1:1/gone")
    config = write_config(tmp_path, urls, migrations)
    http = client(config)
    one = http.get("/migration/status/audit")
    assert one.status_code == 503
    assert assert_clean_error(one)["error"] == "ConnectError"
    everyone = {s["name"]: s for s in http.get("/migration/status").json()["services"]}
    assert everyone["audit"]["reachable"] is False and everyone["audit"]["error"]["message"]
    assert everyone["users"]["reachable"] is True and everyone["users"]["pending_count"] == 2
    ready = http.get("/readyz")
    assert ready.status_code == 503
    assert any(r.startswith("audit: unreachable") for r in ready.json()["reasons"])
    assert http.get("/healthz").json() == {"status": "ok"}  # alive; asks no database


def test_history_backups_and_latest_runs(sqlite_services):
    config, _urls = sqlite_services
    migrator(config, "users").up()
    http = client(config)
    history = http.get("/migration/history/users").json()
    assert [(h["version"], h["direction"], h["outcome"]) for h in history] == [
        (2, "up", "ok"), (1, "up", "ok")]
    assert len(http.get("/migration/history/users?limit=1").json()) == 1
    assert [h["version"] for h in http.get("/migration/history/users?version=1").json()] == [1]
    assert http.get("/migration/history/letters").json() == []
    backups = http.get("/migration/backups/users").json()
    assert len(backups) == 1 and backups[0]["id"] and backups[0]["sha256"]
    latest = http.get("/migration/runs/latest").json()
    assert latest["progress"] is None
    assert latest["services"]["users"]["outcome"] == "ok"
    assert latest["services"]["users"]["backup_id"] == backups[0]["id"]
    assert latest["services"]["letters"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=abc", "limit=1.5",
                                   "limit=99999999999999999999", "limit=", "limit=%C2%B2",
                                   "version=-3", "limit=10001"])
def test_bad_parameters_are_422(sqlite_services, query):
    config, _urls = sqlite_services
    response = client(config).get(f"/migration/history/users?{query}")
    assert response.status_code == 422
    assert assert_clean_error(response)["error"] == "invalid"


def test_an_unknown_service_is_404(sqlite_services):
    config, _urls = sqlite_services
    http = client(config)
    for path in ("/migration/status/nosuch", "/migration/history/nosuch",
                 "/migration/backups/nosuch"):
        response = http.get(path)
        assert response.status_code == 404
        data = assert_clean_error(response)
        assert data["error"] == "not_found" and "users" in data["message"]


@pytest.mark.parametrize("path", [
    "/migration/status/..%2F..%2Fetc%2Fpasswd",
    "/migration/status/..",
    "/migration/status/%2e%2e",
    "/migration/status/users%00",
    "/migration/status/users%2F..%2Fletters",
    "/migration/history/..%2F..%2F..%2Fetc%2Fpasswd",
    "/migration/backups/%2E%2E%5C%2E%2E%5Cwindows",
    "/migration/status/users.db",
    "/migration/status/%3Cscript%3E",
    "/migration/status/" + "a" * 101,
])
def test_path_injection_is_refused_without_reading_anything(sqlite_services, path):
    config, _urls = sqlite_services
    response = client(config).get(path)
    assert response.status_code in (404, 422)
    assert_clean_error(response)
    assert "root:" not in response.text


def test_unknown_routes_and_methods_answer_json(sqlite_services):
    config, _urls = sqlite_services
    http = client(config)
    missing = http.get("/nowhere")
    assert missing.status_code == 404 and assert_clean_error(missing)["error"] == "not_found"
    wrong = http.put("/migration/status")
    assert wrong.status_code == 405
    assert assert_clean_error(wrong)["error"] == "method_not_allowed"


def test_readyz_is_503_while_a_database_is_dirty(sqlite_services, tmp_path, migrations):
    _config, urls = sqlite_services
    broken = dict(MIGRATIONS["museum"], **{"2_half.up.sql": (
        "-- ferryman:no-transaction\nCREATE TABLE half (id INTEGER);\n"
        "INSERT INTO nowhere VALUES (1);\n")})
    config = write_config(tmp_path, urls, migrations, files={"museum": broken})
    http = client(config)
    assert http.get("/readyz").json() == {"ready": True}
    with pytest.raises(FerrymanError) as failed:  # a no-transaction migration, no backup
        migrator(config, "museum", backup=False).up()
    assert failed.value.exit_code == 3
    ready = http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert [r.split(":")[0] for r in ready.json()["reasons"]] == ["museum"]
    status = http.get("/migration/status/museum").json()
    assert status["dirty"] is True and status["dirty_details"]["version"] == 2
    assert "ferryman force" in status["hint"]  # what to run, as `ferryman status` says


def test_readyz_and_status_see_a_lock_held_by_another_connection(sqlite_services):
    config, urls = sqlite_services
    http = client(config)
    holder = connect(parse_url(urls["letters"]))  # as another runner would
    try:
        assert holder.try_lock("ferryman_")
        status = http.get("/migration/status/letters").json()
        assert status["lock_held"] is True and status["running"] is True
        assert http.get("/migration/status/users").json()["running"] is False
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reasons"] == ["letters: a migration is running"]
        assert 'ferryman_migration_running{service="letters"} 1' in http.get("/metrics").text
    finally:
        holder.close()
    assert http.get("/readyz").json() == {"ready": True}
    assert http.get("/migration/status/letters").json()["running"] is False


def test_asking_whether_the_lock_is_held_does_not_take_it(sqlite_services):
    config, urls = sqlite_services
    http = client(config)
    http.get("/migration/status/users")
    db = connect(parse_url(urls["users"]))
    try:
        assert db.try_lock("ferryman_")  # nobody kept it
    finally:
        db.close()


def test_metrics_parse_as_prometheus_text(sqlite_services):
    import re

    config, _urls = sqlite_services
    migrator(config, "users").up()
    response = client(config).get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    sample = re.compile(r'^(ferryman_[a-z_]+)(\{[a-z_]+="(?:[^"\\\n]|\\.)*"'
                        r'(?:,[a-z_]+="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.e+]+)$')
    typed, seen = set(), {}
    for line in response.text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            assert line.startswith("# HELP ferryman_"), line
            continue
        match = sample.match(line)
        assert match, f"not a sample line: {line!r}"
        assert match.group(1) in typed, f"{match.group(1)} has no TYPE line before it"
        seen[(match.group(1), match.group(2))] = float(match.group(3))
    assert seen[("ferryman_current_version", '{service="users"}')] == 2
    assert seen[("ferryman_pending_migrations", '{service="letters"}')] == 1
    assert seen[("ferryman_up", '{service="audit"}')] == 1
    assert seen[("ferryman_dirty", '{service="museum"}')] == 0
    assert ("ferryman_last_backup_timestamp_seconds", '{service="users"}') in seen
    assert ("ferryman_last_backup_timestamp_seconds", '{service="letters"}') not in seen
    assert any(name == "ferryman_info" for name, _ in seen)


def test_metric_label_values_are_escaped():
    from ferryman.http.metrics import escape

    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_openapi_describes_every_route(sqlite_services):
    config, _urls = sqlite_services
    for token, methods in ((None, {"get"}), (TOKEN, {"get", "post"})):
        http = client(config, token=token)
        doc = http.get("/openapi.json").json()
        assert doc["openapi"].startswith("3.1")
        routes = {(r.path, m.lower()) for r in http.app.routes for m in r.methods
                  if m != "HEAD"}
        described = {(p, m) for p, ops in doc["paths"].items() for m in ops}
        assert routes == described
        assert {m for _, m in described} == methods
    assert doc["paths"]["/migration/migrate/{service}"]["post"]["security"] == [{"bearer": []}]


def test_responses_never_show_the_token_or_the_password(sqlite_services, monkeypatch):
    monkeypatch.setenv("FERRYMAN_PASSWORD", "pw-that-must-not-show")
    config, _urls = sqlite_services
    http = client(config, token=TOKEN)
    bodies = [http.get(path).text for path in (
        "/", "/migration/status", "/migration/status/users", "/metrics", "/openapi.json",
        "/migration/runs/latest", "/readyz", "/migration/history/users")]
    bodies.append(http.post("/migration/backup/users", headers=AUTH).text)
    for body in bodies:
        assert TOKEN not in body and "pw-that-must-not-show" not in body


def test_an_internal_error_is_500_without_a_trace_or_a_secret(sqlite_services, caplog):
    config, _urls = sqlite_services
    http = client(config, token=TOKEN)

    def broken(name):
        raise RuntimeError(f"a bug that mentions {TOKEN}")

    http.app.state.ferryman.services.latest_run = broken  # a bug, not a database mock
    response = http.get("/migration/runs/latest")
    assert response.status_code == 500
    assert response.json() == {"error": "internal",
                               "message": "internal error; the server's log has the details"}
    assert TOKEN not in caplog.text and "RuntimeError" in caplog.text


def test_a_short_token_is_refused():
    from ferryman.config import load_settings
    from ferryman.errors import ConfigError
    from ferryman.http import create_app

    settings = load_settings(overrides={"database_url": "sqlite:///a.db", "migrations": "m"})
    with pytest.raises(ConfigError):
        create_app(settings, token="short")


def test_the_token_comes_from_the_environment_and_is_redacted(sqlite_services, monkeypatch):
    from ferryman.errors import redact

    monkeypatch.setenv("FERRYMAN_API_TOKEN", TOKEN)
    config, _urls = sqlite_services
    http = client(config)
    assert http.post("/migration/backup/users").status_code == 401  # the route exists
    assert redact(f"token {TOKEN}") == "token ***"


def test_mounted_in_a_fastapi_app(sqlite_services):
    from fastapi import FastAPI

    from ferryman.http import create_app

    config, _urls = sqlite_services
    outer = FastAPI()
    outer.mount("/ops", create_app(config=config))
    http = in_process(outer)
    data = http.get("/ops/migration/status").json()
    assert [s["name"] for s in data["services"]] == list(SERVICES)
    page = http.get("/ops/")
    assert 'data-status-url="/ops/migration/status"' in page.text
    assert http.get("/ops/openapi.json").json()["servers"] == [{"url": "/ops"}]


def test_the_status_json_is_plain_json(sqlite_services):
    config, _urls = sqlite_services
    text = client(config).get("/migration/status").text
    assert json.loads(text)["services"]  # no NaN, no Python reprs


def test_a_second_change_while_one_runs_is_409(sqlite_services, tmp_path, migrations):
    """A Python migration that waits for a file keeps the run going while we look."""
    _config, urls = sqlite_services
    gate = tmp_path / "gate"
    slow = dict(MIGRATIONS["audit"], **{"2_wait.py": (
        "import os, time\n\n\ndef up(ctx):\n    deadline = time.monotonic() + 60\n"
        f"    while not os.path.exists({str(gate)!r}) and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)\n    ctx.execute('CREATE TABLE waited (id INTEGER)')\n\n\n"
        "def down(ctx):\n    ctx.execute('DROP TABLE waited')\n")})
    config = write_config(tmp_path, urls, migrations, files={"audit": slow})
    http = client(config, token=TOKEN)
    started = http.post("/migration/migrate/audit", headers=AUTH)
    assert started.status_code == 202
    assert started.json()["run"]["services"][0]["status"] == "running"
    try:
        wait_for(lambda: http.get("/migration/status/audit").json()["progress"]["migration"]
                 == "2 wait", what="the run to reach the slow migration")
        status = http.get("/migration/status/audit").json()
        assert status["running"] is True and status["lock_held"] is True
        for path in ("/migration/migrate/audit", "/migration/backup/users",
                     "/migration/rollback/users"):
            busy = http.post(path, headers=AUTH)
            assert busy.status_code == 409, path
            assert assert_clean_error(busy)["error"] == "Busy"
        assert http.get("/readyz").status_code == 503
        overall = http.get("/migration/status").json()["progress"]
        assert overall["running"] is True and overall["done"] == 1 and overall["total"] == 2
        assert 0 < float(_metric(http, "ferryman_run_progress_ratio")) < 1
    finally:
        gate.write_text("go")
    progress = finished_run(http)
    assert progress["services"][0]["status"] == "ok" and progress["percent"] == 100.0
    assert http.get("/migration/status/audit").json()["current_version"] == 2
    assert http.get("/readyz").json() == {"ready": True}


def _metric(http, name):
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return line.split()[1]
    return None
