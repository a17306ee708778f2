"""Helpers of the HTTP app's tests: four services with dependencies, an in-process
client (no server, no port), and polling without timed assertions.

The four services: users; letters (depends on users); museum (on letters and users);
audit (on nothing). Each has its own migrations folder and database.
"""

import contextlib
import threading
import time
import warnings

import pytest

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SERVICES = {"users": [], "letters": ["users"], "museum": ["letters", "users"], "audit": []}
MIGRATIONS = {
    "users": {"1_create_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY);",
              "1_create_users.down.sql": "DROP TABLE users;",
              "2_add_email.up.sql": "ALTER TABLE users ADD COLUMN email TEXT;",
              "2_add_email.down.sql": "ALTER TABLE users DROP COLUMN email;"},
    "letters": {"1_create_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY);",
                "1_create_letters.down.sql": "DROP TABLE letters;"},
    "museum": {"1_create_exhibits.up.sql": "CREATE TABLE exhibits (id INTEGER);",
               "1_create_exhibits.down.sql": "DROP TABLE exhibits;"},
    "audit": {"1_create_events.up.sql": "CREATE TABLE events (id INTEGER);",
              "1_create_events.down.sql": "DROP TABLE events;"},
}


def write_config(tmp_path, urls, migrations, extra="", files=None):
    """ferryman.toml with a [services.NAME] table per service of SERVICES; ``files``
    replaces the migrations of some services."""
    lines = ['backup_dir = "backups"', "", "[reports]", 'dir = "reports"', extra]
    for name, depends in SERVICES.items():
        folder = migrations((files or {}).get(name, MIGRATIONS[name]), f"migrations/{name}")
        lines += ["", f"[services.{name}]", f'url = "{urls[name]}"', f'migrations = "{folder}"',
                  "depends_on = [" + ", ".join(f'"{d}"' for d in depends) + "]"]
    path = tmp_path / "ferryman.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def client(config=None, *, settings=None, token=None, allowed_hosts=None, **kwargs):
    """An in-process client of the app for ``config`` (no server, no port)."""
    from ferryman.http import create_app

    return in_process(create_app(settings, config=config, token=token,
                                 allowed_hosts=allowed_hosts), **kwargs)


def in_process(app, base_url="http://localhost", **kwargs):
    with warnings.catch_warnings():  # starlette 1.x would rather have httpx2; httpx works
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

        return TestClient(app, base_url=base_url, **kwargs)


def migrator(config, service, **options):
    from ferryman.api import Migrator
    from ferryman.config import load_settings

    settings = load_settings(config, overrides=options).for_service(service)
    return Migrator(settings=settings)


def wait_for(predicate, timeout=60.0, what="the condition"):
    """Poll until ``predicate()`` is truthy and return it. The limit only stops a hang;
    nothing here asserts how long anything took."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def finished_run(http):
    """Wait for the run this process started to end; its progress snapshot."""
    def done():
        progress = http.get("/migration/runs/latest").json()["progress"]
        return progress if progress and not progress["running"] else None

    return wait_for(done, what="the background migration to finish")


def assert_clean_error(response):
    """An error body: JSON with error and message, and nothing a stack trace shows."""
    body = response.text
    assert "Traceback" not in body and 'File "' not in body, body
    data = response.json()
    assert data["error"] and data["message"], data
    return data


@contextlib.contextmanager
def serving(app):
    """``app`` under a real uvicorn server on 127.0.0.1, on a free port, in a thread of
    this process; yields its base URL. Stopped (and its lifespan ended) afterwards."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), what="uvicorn to start")
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def single_service_config(tmp_path, url, files, extra=""):
    """ferryman.toml for one database (its service is named after it) and ``files``."""
    folder = tmp_path / "migrations"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    path = tmp_path / "ferryman.toml"
    path.write_text(f'migrations = "{folder}"\nbackup_dir = "{tmp_path / "backups"}"\n'
                    f"{extra}\n[database]\nurl = \"{url}\"\n")
    return str(path)


def stale_fields_ok(status):
    """The freshness fields of a status (issue 8, item 20) are there and consistent."""
    from datetime import datetime

    assert isinstance(status["stale"], bool), status
    assert datetime.fromisoformat(status["as_of"].replace("Z", "+00:00")), status
    assert isinstance(status["age_seconds"], (int, float)) and status["age_seconds"] >= 0
    assert (status["stale_reason"] is not None) == status["stale"], status
    return status
