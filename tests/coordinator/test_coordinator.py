"""Many services on real databases: order, parallelism, failure policies, scale."""

import json
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from helpers import query, tables

from ferryman import Migrator
from ferryman.config import load_settings
from ferryman.coordinator import CoordinatedError, coordinate
from ferryman.errors import InputError

# users <- letters <- museum, users <- search, (letters, search) <- stats
SHOP = {"users": [], "letters": ["users"], "search": ["users"], "museum": ["letters"],
        "stats": ["letters", "search"]}


def slow_migrations(name, seconds=0.4, count=2):
    """A service's migrations; the Python one sleeps, so that runs visibly overlap."""
    files = {f"{v}_{name}_t{v}.up.sql": f"CREATE TABLE {name}_t{v} (id INTEGER PRIMARY KEY);"
             for v in range(1, count + 1)}
    files.update({f"{v}_{name}_t{v}.down.sql": f"DROP TABLE {name}_t{v};"
                  for v in range(1, count + 1)})
    files[f"{count + 1}_{name}_wait.py"] = (
        "import time\n"
        f"def up(ctx):\n    time.sleep({seconds})\n"
        "def down(ctx):\n    pass\n")
    return files


def write_config(tmp_path, urls, depends, extra=None, migrations=None):
    """ferryman.toml with one [services.NAME] table per service; returns its path."""
    lines = [f'reports_dir = "{tmp_path / "reports"}"', f'backup_dir = "{tmp_path / "bk"}"']
    for name, url in urls.items():
        folder = tmp_path / "svc" / name
        folder.mkdir(parents=True, exist_ok=True)
        for file, text in (migrations or {}).get(name, slow_migrations(name)).items():
            (folder / file).write_text(text)
        lines += [f"[services.{name}]", f'url = "{url}"', f'migrations = "{folder}"',
                  f"depends_on = {json.dumps(depends.get(name, []))}"]
        lines += (extra or {}).get(name, [])
    path = tmp_path / "ferryman.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def moment(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sqlite_urls(tmp_path, names):
    return {name: f"sqlite:///{tmp_path / (name + '.db')}" for name in names}


@pytest.fixture
def pg_databases():
    """make(names) -> {name: url} of fresh PostgreSQL databases, dropped afterwards."""
    import psycopg
    from helpers import PG_DSN

    made = []

    def make(names):
        urls = {}
        with psycopg.connect(PG_DSN + " dbname=postgres", autocommit=True) as admin:
            for name in names:
                db = f"ferryman_t_{uuid.uuid4().hex[:10]}_{name}"[:63]
                admin.execute(f'CREATE DATABASE "{db}"')
                made.append(db)
                urls[name] = f"postgresql://postgres@127.0.0.1:5432/{db}"
        return urls

    yield make
    with psycopg.connect(PG_DSN + " dbname=postgres", autocommit=True) as admin:
        for db in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def shop_urls(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_urls(tmp_path, SHOP)
    return request.getfixturevalue("pg_databases")(list(SHOP))


def test_services_run_in_dependency_order_and_in_parallel(tmp_path, shop_urls):
    config = write_config(tmp_path, shop_urls, SHOP)
    result = coordinate(load_settings(str(config)), parallel=4)
    outcomes = {s["name"]: s for s in result.services}
    assert {s["status"] for s in result.services} == {"ok"}
    for name, deps in SHOP.items():  # the order, proven from the recorded times
        for dep in deps:
            assert moment(outcomes[dep]["finished_at"]) <= moment(outcomes[name]["started_at"])
    # letters and search depend only on users: they ran at the same time
    letters, search = outcomes["letters"], outcomes["search"]
    assert moment(letters["started_at"]) < moment(search["finished_at"])
    assert moment(search["started_at"]) < moment(letters["finished_at"])
    for name, url in shop_urls.items():
        assert {f"{name}_t1", f"{name}_t2"} <= set(tables(url))
    report = json.loads(Path(result.report_paths["json"]).read_text())
    assert [s["name"] for s in report["services"]] == list(SHOP)
    for entry in report["services"]:
        assert entry["status"] == "ok" and entry["report"]["strategy"] == "unified"
        assert moment(entry["started_at"]) <= moment(entry["finished_at"])
    svg = Path(result.report_paths["graph"]).read_text()
    assert svg.count('data-status="ok"') == len(SHOP)


def test_parallel_one_runs_them_one_at_a_time(tmp_path):
    names = ["a", "b", "c"]
    config = write_config(tmp_path, sqlite_urls(tmp_path, names), {})
    result = coordinate(load_settings(str(config)), parallel=1)
    spans = sorted((moment(s["started_at"]), moment(s["finished_at"])) for s in result.services)
    for (_start, end), (start, _end) in zip(spans, spans[1:]):
        assert end <= start


def failing(name):
    files = slow_migrations(name, seconds=0.1)
    files[f"9_{name}_broken.up.sql"] = "INSERT INTO nowhere VALUES (1);"
    return files


def test_stop_starts_nothing_new_and_rolls_back_the_failed_one(tmp_path, shop_urls):
    config = write_config(tmp_path, shop_urls, SHOP, migrations={"letters": failing("letters")})
    with pytest.raises(CoordinatedError) as caught:
        coordinate(load_settings(str(config)), parallel=4, failure_policy="stop")
    result = caught.value.result
    status = {s["name"]: s["status"] for s in result.services}
    assert status["users"] == "ok" and status["letters"] == "failed"
    assert status["museum"] == "skipped" and status["stats"] == "skipped"
    assert status["search"] in ("ok", "skipped")  # it may have started alongside letters
    assert caught.value.exit_code == 1
    assert tables(shop_urls["letters"]) == []  # its own run was rolled back
    assert tables(shop_urls["museum"]) == []


def test_continue_lets_independent_branches_go_on(tmp_path, shop_urls):
    config = write_config(tmp_path, shop_urls, SHOP, migrations={"letters": failing("letters")})
    with pytest.raises(CoordinatedError) as caught:
        coordinate(load_settings(str(config)), parallel=4, failure_policy="continue")
    status = {s["name"]: s["status"] for s in caught.value.result.services}
    assert status == {"users": "ok", "letters": "failed", "search": "ok",
                      "museum": "skipped", "stats": "skipped"}
    skipped = next(s for s in caught.value.result.services if s["name"] == "museum")
    assert "letters" in skipped["error"]["message"]


def test_rollback_all_undoes_every_service_of_the_run(tmp_path, shop_urls):
    config = write_config(tmp_path, shop_urls, SHOP, migrations={"museum": failing("museum")})
    with pytest.raises(CoordinatedError) as caught:
        coordinate(load_settings(str(config)), parallel=4, failure_policy="rollback-all")
    status = {s["name"]: s["status"] for s in caught.value.result.services}
    errors = {s["name"]: s["error"] for s in caught.value.result.services}
    assert status["museum"] == "failed" and status["users"] == "rolled_back", errors
    assert status["letters"] == "rolled_back"
    for name in ("users", "letters"):
        assert tables(shop_urls[name]) == []
        assert Migrator(settings=load_settings(str(config)).for_service(name)).status() \
            .current_version is None


def test_a_cycle_is_refused_before_anything_runs(cli, tmp_path):
    urls = sqlite_urls(tmp_path, ["a", "b", "c"])
    config = write_config(tmp_path, urls, {"a": ["c"], "b": ["a"], "c": ["b"]})
    result = cli("migrate", "--strategy", "coordinated", "--config", config)
    assert result.code == 2
    assert "cycle" in result.err and "a" in result.err
    assert not any((tmp_path / f"{n}.db").exists() for n in "abc")


def test_an_unknown_service_name_is_refused(cli, tmp_path):
    config = write_config(tmp_path, sqlite_urls(tmp_path, ["a"]), {"a": ["ghost"]})
    result = cli("migrate", "--strategy", "coordinated", "--config", config)
    assert result.code == 2 and "ghost" in result.err
    result = cli("status", "--service", "nope", "--config", config)
    assert result.code == 2 and "nope" in result.err


def test_services_option_runs_only_those(tmp_path):
    config = write_config(tmp_path, sqlite_urls(tmp_path, SHOP), SHOP)
    result = coordinate(load_settings(str(config)), services=["users", "search"])
    assert [s["name"] for s in result.services] == ["users", "search"]
    assert not (tmp_path / "letters.db").exists()


def test_every_single_database_command_works_for_one_service(cli, tmp_path):
    config = write_config(tmp_path, sqlite_urls(tmp_path, ["users", "letters"]),
                          {"letters": ["users"]})
    assert cli("up", "--service", "letters", "--config", config).code == 0
    data = cli("status", "--service", "letters", "--config", config, "--json").json()
    assert data["current_version"] == 3 and data["pending_count"] == 0
    assert data["database"].endswith("letters.db")
    assert cli("status", "--service", "users", "--config", config, "--json").json()[
        "current_version"] is None
    history = cli("history", "--service", "letters", "--config", config, "--json").json()
    assert {e["version"] for e in history} == {1, 2, 3}
    backups = cli("backup", "list", "--service", "letters", "--config", config, "--json").json()
    assert backups and all("letters-" in Path(b["path"]).name for b in backups)


def test_each_services_credentials_appear_only_in_its_own_lines(cli, tmp_path, pg_databases):
    urls = pg_databases(["alpha", "beta"])
    secrets = {"alpha": "alpha-Secret-1", "beta": "beta-Secret-2"}
    with_passwords = {name: url.replace("postgres@", f"postgres:{secrets[name]}@")
                      for name, url in urls.items()}
    config = write_config(tmp_path, with_passwords, {"beta": ["alpha"]})
    result = cli("migrate", "--strategy", "coordinated", "--config", config)
    assert result.code == 0, result
    text = result.out + result.err
    assert not any(secret in text for secret in secrets.values())
    for line in text.splitlines():
        for name, url in urls.items():
            other = "beta" if name == "alpha" else "alpha"
            database = url.rsplit("/", 1)[1]
            if database in line:
                assert not line.startswith(f"[{other}]"), line


@pytest.mark.slow
def test_fifty_sqlite_services_in_one_run(tmp_path):
    names = [f"s{i:02d}" for i in range(50)]
    depends = {name: [names[i // 2]] if i else [] for i, name in enumerate(names)}
    files = {name: {"1_t.up.sql": f"CREATE TABLE {name}_t (id INTEGER);"} for name in names}
    config = write_config(tmp_path, sqlite_urls(tmp_path, names), depends, migrations=files)
    result = coordinate(load_settings(str(config)), parallel=8)
    assert [s["status"] for s in result.services] == ["ok"] * 50
    assert all(tables(f"sqlite:///{tmp_path / (n + '.db')}") == [f"{n}_t"] for n in names)


@pytest.mark.slow
def test_twenty_postgresql_databases_in_one_run(tmp_path, pg_databases):
    names = [f"p{i:02d}" for i in range(20)]
    urls = pg_databases(names)
    depends = {name: [names[i - 1]] if i % 5 else [] for i, name in enumerate(names)}
    files = {name: {"1_t.up.sql": f"CREATE TABLE {name}_t (id INTEGER);",
                    "1_t.down.sql": f"DROP TABLE {name}_t;"} for name in names}
    config = write_config(tmp_path, urls, depends, migrations=files)
    peak = []

    def count_sessions(event):  # as each service finishes: who is connected to them all
        if type(event.event).__name__ == "RunFinished":
            peak.append(sessions_on(list(urls.values())))

    result = coordinate(load_settings(str(config)), parallel=4, consumers=[count_sessions])
    assert [s["status"] for s in result.services] == ["ok"] * 20
    for name, url in urls.items():
        assert query(url, "SELECT count(*) FROM ferryman_migrations") == [(1,)]
    # Nothing kept open once a service is done: 20 idle connections would crowd the
    # server's max_connections. At most the 4 running services hold sessions.
    assert len(peak) == 20 and max(peak) <= 4 * 3, peak
    assert sessions_on(list(urls.values())) == 0


def sessions_on(urls):
    names = [url.rsplit("/", 1)[1] for url in urls]
    return query(urls[0], "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY(%s) "
                          "AND pid <> pg_backend_pid()",
                 (names,))[0][0]


def test_no_services_configured_is_bad_input(tmp_path, sqlite_url, migrations):
    settings = load_settings(overrides={"database_url": sqlite_url,
                                        "migrations": migrations({})})
    with pytest.raises(InputError):
        coordinate(settings)
