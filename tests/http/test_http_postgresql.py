"""The HTTP app on four services, each its own PostgreSQL database."""

import pytest
from httpkit import (AUTH, MIGRATIONS, SERVICES, TOKEN, assert_clean_error, client,
                     finished_run, migrator, write_config)

from ferryman.dialects import connect
from ferryman.errors import FerrymanError
from ferryman.url import parse_url

pytestmark = pytest.mark.postgresql


def test_status_of_every_service(pg_services):
    config, _urls = pg_services
    migrator(config, "users").up()
    migrator(config, "audit").up()
    http = client(config)
    data = http.get("/migration/status").json()
    versions = {s["name"]: (s["current_version"], s["pending_count"]) for s in data["services"]}
    assert versions == {"users": (2, 0), "letters": (None, 1), "museum": (None, 1),
                        "audit": (1, 0)}
    one = http.get("/migration/status/users").json()
    assert one["database"].startswith("postgresql://") and one["last_backup"]
    assert one["running"] is False and one["lock_held"] is False
    assert http.get("/readyz").json() == {"ready": True}


def test_a_lock_held_by_another_session_shows_as_running(pg_services):
    config, urls = pg_services
    http = client(config)
    holder = connect(parse_url(urls["museum"]))
    try:
        assert holder.try_lock("ferryman_")
        status = http.get("/migration/status/museum").json()
        assert status["lock_held"] is True and status["running"] is True
        assert http.get("/migration/status/letters").json()["lock_held"] is False
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reasons"] == ["museum: a migration is running"]
        busy = client(config, token=TOKEN).post("/migration/migrate/museum", headers=AUTH)
        assert busy.status_code == 409 and assert_clean_error(busy)["error"] == "Busy"
        # Released by the holder itself: a closed connection's advisory lock is let go
        # by the server a moment after the close returns, which a request could beat.
        holder.unlock("ferryman_")
    finally:
        holder.close()
    assert http.get("/readyz").json() == {"ready": True}


def test_readyz_is_503_when_a_database_is_dirty(pg_services, tmp_path, migrations):
    _config, urls = pg_services
    half = dict(MIGRATIONS["letters"], **{"2_half.up.sql": (
        "-- ferryman:no-transaction\nCREATE TABLE half (id INTEGER);\n"
        "INSERT INTO nowhere VALUES (1);\n")})
    config = write_config(tmp_path, urls, migrations, files={"letters": half})
    with pytest.raises(FerrymanError) as failed:
        migrator(config, "letters", backup=False).up()
    assert failed.value.exit_code == 3
    http = client(config)
    ready = http.get("/readyz")
    assert ready.status_code == 503
    assert [r.split(":")[0] for r in ready.json()["reasons"]] == ["letters"]
    assert 'ferryman_dirty{service="letters"} 1' in http.get("/metrics").text


def test_backup_migrate_history_runs_and_rollback(pg_services):
    config, _urls = pg_services
    http = client(config, token=TOKEN)
    backup = http.post("/migration/backup/letters", headers=AUTH)
    assert backup.status_code == 201
    backup_id = backup.json()["backup"]["id"]
    assert [b["id"] for b in http.get("/migration/backups/letters").json()] == [backup_id]
    status = http.get("/migration/status/letters").json()
    assert status["last_backup"] == backup_id and status["last_backup_at"]
    assert 'ferryman_last_backup_timestamp_seconds{service="letters"}' in \
        http.get("/metrics").text

    assert http.post("/migration/migrate/users", headers=AUTH).status_code == 202
    progress = finished_run(http)
    assert progress["services"][0]["status"] == "ok" and progress["done"] == 2
    history = http.get("/migration/history/users?limit=5").json()
    assert [(h["version"], h["direction"]) for h in history] == [(2, "up"), (1, "up")]
    latest = http.get("/migration/runs/latest").json()
    assert latest["services"]["users"]["command"] == "migrate"
    assert latest["services"]["users"]["to_version"] == 2
    assert latest["services"]["museum"] is None

    undone = http.post("/migration/rollback/users", headers=AUTH)
    assert undone.status_code == 200
    assert http.get("/migration/status/users").json()["current_version"] is None


def test_an_unreachable_database_is_503_and_the_others_answer(pg_services, tmp_path,
                                                              migrations):
    _config, urls = pg_services
    gone = urls["audit"].rsplit("/", 1)[0] + "/ferryman_t_does_not_exist"
    config = write_config(tmp_path, dict(urls, audit=gone), migrations)
    http = client(config)
    response = http.get("/migration/status/audit")
    assert response.status_code == 503
    assert "does not exist" in assert_clean_error(response)["message"]
    services = http.get("/migration/status").json()["services"]
    assert [s["reachable"] for s in services] == [True, True, True, False]
    assert 'ferryman_up{service="audit"} 0' in http.get("/metrics").text
    assert len(SERVICES) == len(services)
