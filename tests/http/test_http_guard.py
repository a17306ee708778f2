"""Who may ask: the token of the routes that change things, the Host and the Origin."""

import pytest
from httpkit import AUTH, TOKEN, assert_clean_error, client, finished_run, migrator

CHANGES = ["/migration/backup/users", "/migration/migrate/users", "/migration/rollback/users"]


@pytest.mark.parametrize("path", CHANGES)
def test_without_a_token_the_routes_that_change_things_do_not_exist(sqlite_services, path):
    config, _urls = sqlite_services
    http = client(config)
    response = http.post(path, headers=AUTH)
    assert response.status_code in (404, 405)
    assert_clean_error(response)
    assert http.get("/migration/backups/users").json() == []  # nothing was done


@pytest.mark.parametrize("path", CHANGES)
def test_no_token_is_401_and_a_wrong_one_403(sqlite_services, path):
    config, _urls = sqlite_services
    http = client(config, token=TOKEN)
    missing = http.post(path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert assert_clean_error(missing)["error"] == "unauthorized"
    for header in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer",
                   f"bearer  {TOKEN[::-1]}"):
        wrong = http.post(path, headers={"Authorization": header})
        assert wrong.status_code in (401, 403), header
        assert TOKEN not in wrong.text
    assert http.post(path, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert http.get("/migration/backups/users").json() == []  # nothing was done


def test_with_the_token_backup_migrate_and_rollback_work(sqlite_services):
    config, _urls = sqlite_services
    http = client(config, token=TOKEN)
    backup = http.post("/migration/backup/users", headers=AUTH)
    assert backup.status_code == 201
    assert [b["id"] for b in http.get("/migration/backups/users").json()] == [
        backup.json()["backup"]["id"]]
    started = http.post("/migration/migrate/users", headers=AUTH)
    assert started.status_code == 202 and started.headers["location"].endswith("/runs/latest")
    assert finished_run(http)["services"][0]["status"] == "ok"
    assert http.get("/migration/status/users").json()["current_version"] == 2
    undone = http.post("/migration/rollback/users", headers=AUTH)
    assert undone.status_code == 200
    assert undone.json()["result"]["to_version"] is None
    assert http.get("/migration/status/users").json()["current_version"] is None


def test_a_failed_migration_shows_as_failed_progress(sqlite_services, tmp_path, migrations):
    from httpkit import MIGRATIONS, write_config

    _config, urls = sqlite_services
    bad = dict(MIGRATIONS["letters"], **{"2_bad.up.sql": "INSERT INTO nowhere VALUES (1);"})
    config = write_config(tmp_path, urls, migrations, files={"letters": bad})
    http = client(config, token=TOKEN)
    assert http.post("/migration/migrate/letters", headers=AUTH).status_code == 202
    entry = finished_run(http)["services"][0]
    assert entry["status"] == "failed" and "nowhere" in entry["error"]
    # the run was rolled back: the database is where it was
    assert http.get("/migration/status/letters").json()["current_version"] is None


def test_a_dirty_database_refuses_rollback_with_409(sqlite_services, tmp_path, migrations):
    from httpkit import MIGRATIONS, write_config

    _config, urls = sqlite_services
    half = dict(MIGRATIONS["audit"], **{"2_half.up.sql": (
        "-- ferryman:no-transaction\nCREATE TABLE half (id INTEGER);\n"
        "INSERT INTO nowhere VALUES (1);\n")})
    config = write_config(tmp_path, urls, migrations, files={"audit": half})
    with pytest.raises(Exception):
        migrator(config, "audit", backup=False).up()
    response = client(config, token=TOKEN).post("/migration/rollback/audit", headers=AUTH)
    assert response.status_code == 409
    assert assert_clean_error(response)["exit_code"] == 3


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example",
                                  "localhost.evil.example", "", "[::2]:80", "0.0.0.0"])
def test_a_foreign_host_is_refused_on_every_route(sqlite_services, host):
    config, _urls = sqlite_services
    http = client(config, token=TOKEN)
    for method, path in (("GET", "/"), ("GET", "/migration/status"), ("GET", "/healthz"),
                         ("GET", "/metrics"), ("POST", "/migration/backup/users")):
        response = http.request(method, path, headers={"Host": host, **AUTH})
        assert response.status_code == 403, (method, path)
        assert assert_clean_error(response)["error"] == "forbidden"
    assert http.get("/migration/backups/users").json() == []


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:9", "[::1]:8080",
                                  "LOCALHOST", "status.internal:443"])
def test_the_local_and_allowed_hosts_are_accepted(sqlite_services, host):
    config, _urls = sqlite_services
    http = client(config, allowed_hosts=["status.internal"])
    assert http.get("/healthz", headers={"Host": host}).status_code == 200


def test_a_star_allows_any_host(sqlite_services):
    config, _urls = sqlite_services
    http = client(config, allowed_hosts=["*"])
    assert http.get("/healthz", headers={"Host": "anything.example"}).status_code == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "https://evil.example:8080",
                                    "null", "http://localhost.evil.example",
                                    "file://", "http://127.0.0.1@evil.example"])
def test_a_change_from_a_foreign_origin_is_refused(sqlite_services, origin):
    config, _urls = sqlite_services
    http = client(config, token=TOKEN)
    response = http.post("/migration/backup/users", headers={"Origin": origin, **AUTH})
    assert response.status_code == 403
    assert "Origin" in assert_clean_error(response)["message"]
    assert http.get("/migration/backups/users").json() == []


def test_a_change_from_a_local_origin_goes_through(sqlite_services):
    config, _urls = sqlite_services
    http = client(config, token=TOKEN)
    for origin in ("http://localhost:8080", "https://127.0.0.1", "http://[::1]:3000"):
        response = http.post("/migration/backup/users", headers={"Origin": origin, **AUTH})
        assert response.status_code == 201, origin
    # a read from another origin is answered (no CORS header lets its page read it)
    read = http.get("/migration/status", headers={"Origin": "http://evil.example"})
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers


def test_every_response_carries_the_security_headers(sqlite_services):
    config, _urls = sqlite_services
    http = client(config)
    for path in ("/", "/migration/status", "/nowhere"):
        headers = http.get(path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
    assert "script-src 'sha256-" in http.get("/").headers["content-security-policy"]
