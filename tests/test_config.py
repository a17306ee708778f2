"""Configuration: flags > environment > file > defaults; where the file is found; what
it may hold; database URLs and how they are shown."""

import os

import pytest
from helpers import tables

from ferryman.config import SETTINGS, load_settings, parse_duration
from ferryman.errors import ConfigError, redact
from ferryman.url import build_url, parse_url


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


# -- precedence ---------------------------------------------------------------------------
def test_defaults_without_any_configuration(tmp_path):
    s = load_settings(env={}, cwd=str(tmp_path))
    assert s.config_path is None and s.phases == {}
    assert s.table_prefix == "ferryman_" and s.lock_timeout == 600.0
    assert s.connect_timeout == 10.0 and s.transaction == "run"
    assert s.allow_out_of_order is False and s.password is None
    with pytest.raises(ConfigError) as caught:
        s.url
    assert "FERRYMAN_DATABASE_URL" in caught.value.hint
    with pytest.raises(ConfigError) as caught:
        s.require_phases()
    assert "FERRYMAN_MIGRATIONS" in caught.value.hint


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path):
    write(tmp_path / "ferryman.toml",
          'lock_timeout = "1m"\ntable_prefix = "file_"\ntransaction = "each"\n'
          'connect_timeout = "3s"\n')
    env = {"FERRYMAN_LOCK_TIMEOUT": "30s", "FERRYMAN_TABLE_PREFIX": "env_"}
    overrides = {"lock_timeout": "5", "connect_timeout": None}
    s = load_settings(overrides=overrides, env=env, cwd=str(tmp_path))
    assert s.lock_timeout == 5.0             # flag
    assert s.table_prefix == "env_"          # environment over file
    assert s.transaction == "each"           # file over default
    assert s.connect_timeout == 3.0          # a flag given as None does not count
    assert s.allow_out_of_order is False     # default

    s = load_settings(env=env, cwd=str(tmp_path))
    assert s.lock_timeout == 30.0
    s = load_settings(env={}, cwd=str(tmp_path))
    assert s.lock_timeout == 60.0 and s.table_prefix == "file_"


def test_an_empty_environment_variable_does_not_count(tmp_path):
    write(tmp_path / "ferryman.toml", 'table_prefix = "file_"\n')
    s = load_settings(env={"FERRYMAN_TABLE_PREFIX": ""}, cwd=str(tmp_path))
    assert s.table_prefix == "file_"


def test_the_cli_follows_the_same_precedence(cli, tmp_path, migrations, monkeypatch):
    """Which SQLite file `up` creates shows which database URL won."""
    migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);"}, folder="conf/migrations")
    write(tmp_path / "conf" / "ferryman.toml",
          'migrations = "migrations"\n[database]\nurl = "sqlite:///file.db"\n')
    config = str(tmp_path / "conf" / "ferryman.toml")

    assert cli("up", "--config", config).code == 0
    assert os.path.exists(tmp_path / "conf" / "file.db")  # relative to the file's folder

    monkeypatch.setenv("FERRYMAN_DATABASE_URL", "sqlite:///env.db")
    assert cli("up", "--config", config).code == 0
    assert os.path.exists(tmp_path / "env.db")  # relative to the current folder

    assert cli("up", "--config", config, "--database-url", "sqlite:///flag.db").code == 0
    assert cli("--database-url", "sqlite:///flag2.db", "up", "--config", config).code == 0
    for name in ("env.db", "flag.db", "flag2.db"):
        assert tables(f"sqlite:///{tmp_path / name}") == ["a"]
    assert tables(f"sqlite:///{tmp_path / 'conf' / 'file.db'}") == ["a"]


def test_allow_out_of_order_from_the_file_is_not_undone_by_an_absent_flag(
        cli, tmp_path, migrations):
    """A flag that was not given (False) is not an override."""
    migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);",
                "3_c.up.sql": "CREATE TABLE c (id INTEGER);"})
    write(tmp_path / "ferryman.toml",
          'migrations = "migrations"\nallow_out_of_order = true\n'
          '[database]\nurl = "sqlite:///app.db"\n')
    assert cli("up").code == 0
    migrations({"2_b.up.sql": "CREATE TABLE b (id INTEGER);"})
    result = cli("up")
    assert result.code == 0, result
    assert tables(f"sqlite:///{tmp_path / 'app.db'}") == ["a", "b", "c"]


def test_allow_out_of_order_from_the_environment(cli, tmp_path, migrations, monkeypatch):
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);",
                         "3_c.up.sql": "CREATE TABLE c (id INTEGER);"})
    monkeypatch.setenv("FERRYMAN_DATABASE_URL", "sqlite:///app.db")
    monkeypatch.setenv("FERRYMAN_MIGRATIONS", folder)
    assert cli("up").code == 0
    migrations({"2_b.up.sql": "CREATE TABLE b (id INTEGER);"})
    assert cli("up").code == 2
    monkeypatch.setenv("FERRYMAN_ALLOW_OUT_OF_ORDER", "yes")
    assert cli("up").code == 0
    assert tables(f"sqlite:///{tmp_path / 'app.db'}") == ["a", "b", "c"]


# -- finding the file ---------------------------------------------------------------------
def test_ferryman_toml_in_the_current_folder(tmp_path):
    path = write(tmp_path / "ferryman.toml", 'migrations = "db/migrations"\n'
                                             '[database]\nurl = "sqlite:///app.db"\n')
    s = load_settings(env={}, cwd=str(tmp_path))
    assert s.config_path == path and s.base_dir == str(tmp_path)
    assert s.phases == {"core": str(tmp_path / "db" / "migrations")}
    assert s.url.path == str(tmp_path / "app.db")


def test_config_flag_and_ferryman_config_name_a_file_elsewhere(tmp_path):
    write(tmp_path / "ferryman.toml", '[database]\nurl = "sqlite:///here.db"\n')
    elsewhere = write(tmp_path / "deploy" / "prod.toml",
                      '[database]\nurl = "sqlite:///prod.db"\n')
    by_flag = load_settings("deploy/prod.toml", env={}, cwd=str(tmp_path))
    assert by_flag.config_path == elsewhere
    assert by_flag.url.path == str(tmp_path / "deploy" / "prod.db")
    by_env = load_settings(env={"FERRYMAN_CONFIG": elsewhere}, cwd=str(tmp_path))
    assert by_env.config_path == elsewhere
    # the flag wins over the environment
    other = write(tmp_path / "other.toml", '[database]\nurl = "sqlite:///other.db"\n')
    both = load_settings(other, env={"FERRYMAN_CONFIG": elsewhere}, cwd=str(tmp_path))
    assert both.config_path == other


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings("missing.toml", env={}, cwd=str(tmp_path))
    assert "missing.toml" in caught.value.message and caught.value.exit_code == 2


def test_tool_ferryman_in_pyproject(tmp_path):
    write(tmp_path / "pyproject.toml",
          '[project]\nname = "app"\n\n[tool.ferryman]\nmigrations = "migrations"\n'
          'lock_timeout = "2m"\n\n[tool.ferryman.database]\nurl = "sqlite:///app.db"\n'
          '\n[tool.other]\nsetting = 1\n')
    s = load_settings(env={}, cwd=str(tmp_path))
    assert s.config_path == str(tmp_path / "pyproject.toml")
    assert s.lock_timeout == 120.0
    assert s.phases == {"core": str(tmp_path / "migrations")}
    assert s.url.path == str(tmp_path / "app.db")


def test_a_pyproject_without_the_table_is_not_a_configuration(tmp_path):
    write(tmp_path / "pyproject.toml", '[project]\nname = "app"\n')
    assert load_settings(env={}, cwd=str(tmp_path)).config_path is None


def test_ferryman_toml_wins_over_pyproject(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.ferryman]\ntable_prefix = "py_"\n')
    write(tmp_path / "ferryman.toml", 'table_prefix = "toml_"\n')
    assert load_settings(env={}, cwd=str(tmp_path)).table_prefix == "toml_"


def test_relative_paths_from_the_environment_are_relative_to_the_current_folder(tmp_path):
    write(tmp_path / "conf" / "ferryman.toml", 'migrations = "m"\n')
    s = load_settings("conf/ferryman.toml",
                      env={"FERRYMAN_DATABASE_URL": "sqlite:///data/app.db",
                           "FERRYMAN_MIGRATIONS": "other"}, cwd=str(tmp_path))
    assert s.url.path == str(tmp_path / "data" / "app.db")
    assert s.phases["core"] == str(tmp_path / "other")


def test_absolute_and_memory_sqlite_urls_are_kept(tmp_path):
    write(tmp_path / "ferryman.toml", '[database]\nurl = "sqlite:////srv/app.db"\n')
    assert load_settings(env={}, cwd=str(tmp_path)).url.path == "/srv/app.db"
    write(tmp_path / "ferryman.toml", '[database]\nurl = "sqlite:///:memory:"\n')
    assert load_settings(env={}, cwd=str(tmp_path)).url.is_memory


def test_phase_folders_from_the_file(tmp_path):
    write(tmp_path / "ferryman.toml",
          'migrations = "core"\n[phases]\nindexes = "sql/indexes"\nviews = "sql/views"\n')
    s = load_settings(env={}, cwd=str(tmp_path))
    assert s.phases == {"indexes": str(tmp_path / "sql" / "indexes"),
                        "views": str(tmp_path / "sql" / "views"),
                        "core": str(tmp_path / "core")}


# -- what the file may hold ---------------------------------------------------------------
def test_unknown_keys_are_refused_naming_them(tmp_path):
    path = write(tmp_path / "ferryman.toml",
                 'migrations = "m"\nlock_timout = "1m"\n[database]\nurl = "sqlite:///a.db"\n'
                 'hostname = "db"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=str(tmp_path))
    message = caught.value.message
    assert path in message and "lock_timout" in message and "database.hostname" in message
    assert "migrations" not in message.split("unknown keys:")[1]


def test_unknown_keys_exit_2_through_the_cli(cli, tmp_path):
    write(tmp_path / "ferryman.toml", 'migrashuns = "m"\n')
    result = cli("status")
    assert result.code == 2 and "migrashuns" in result.err


@pytest.mark.parametrize("text", [
    '[database]\nurl = "postgresql://app@db/app"\npassword = "hunter2-secret"\n',
    'password = "hunter2-secret"\n',
])
def test_a_password_in_the_file_is_refused(tmp_path, text):
    write(tmp_path / "ferryman.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=str(tmp_path))
    error = caught.value
    assert "password does not belong in the configuration file" in error.message
    assert "FERRYMAN_PASSWORD" in error.hint
    assert "hunter2-secret" not in error.details()


def test_a_database_name_with_password_in_it_is_not_a_password(tmp_path):
    write(tmp_path / "ferryman.toml", 'host = "db"\ndatabase = "password_reset"\n')
    s = load_settings(env={}, cwd=str(tmp_path))
    assert s.database == "password_reset"
    assert s.url.database == "password_reset" and s.url.host == "db"


def test_a_toml_syntax_error_is_a_config_error(tmp_path):
    write(tmp_path / "ferryman.toml", 'migrations = \n')
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=str(tmp_path))
    assert "ferryman.toml" in caught.value.message


@pytest.mark.parametrize("value, seconds", [
    ("10m", 600.0), ("30s", 30.0), (5, 5.0), (1.5, 1.5), ("250ms", 0.25), ("1h", 3600.0),
    ("45", 45.0), (" 2M ", 120.0), (None, None),
])
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["ten", "10 minutes", "-5s", "", True])
def test_bad_durations_are_refused(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_a_bad_duration_names_where_it_came_from(tmp_path):
    write(tmp_path / "ferryman.toml", 'lock_timeout = "soon"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, cwd=str(tmp_path))
    assert "lock_timeout" in caught.value.message and "soon" in caught.value.message
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"FERRYMAN_CONNECT_TIMEOUT": "later"}, cwd=str(tmp_path / "x"))
    assert "FERRYMAN_CONNECT_TIMEOUT" in caught.value.message


def test_bad_values_are_refused_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={"transaction": "sometimes"}, env={}, cwd=str(tmp_path))
    assert "--transaction" in caught.value.message
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"FERRYMAN_ALLOW_OUT_OF_ORDER": "maybe"}, cwd=str(tmp_path))
    assert "FERRYMAN_ALLOW_OUT_OF_ORDER" in caught.value.message
    with pytest.raises(ConfigError):
        load_settings(overrides={"table_prefix": "drop table;"}, env={}, cwd=str(tmp_path))


# -- the seed's connection flags, passwords ----------------------------------------------
def test_connection_flags_build_a_postgresql_url(tmp_path):
    s = load_settings(overrides={"host": "db.internal", "port": "6543", "user": "app",
                                 "database": "shop", "ssl": "require"},
                      env={}, cwd=str(tmp_path))
    url = s.url
    assert (url.dialect, url.host, url.port, url.user, url.database) == (
        "postgresql", "db.internal", 6543, "app", "shop")
    assert url.query == {"sslmode": "require"}
    assert url.redacted() == "postgresql://app@db.internal:6543/shop?sslmode=require"


def test_user_and_ssl_flags_complete_a_url_without_them(tmp_path):
    s = load_settings(overrides={"database_url": "postgresql://db/shop", "user": "app",
                                 "ssl": "verify-full"}, env={}, cwd=str(tmp_path))
    assert s.url.user == "app" and s.url.query["sslmode"] == "verify-full"


def test_the_password_comes_from_the_environment_and_is_never_shown(tmp_path):
    s = load_settings(overrides={"database_url": "postgresql://app@db/shop"},
                      env={"FERRYMAN_PASSWORD": "env-secret-pw"}, cwd=str(tmp_path))
    assert s.password == "env-secret-pw" and s.url.password == "env-secret-pw"
    assert "env-secret-pw" not in s.url.redacted() and "env-secret-pw" not in repr(s.url)
    assert redact("it said env-secret-pw") == "it said ***"


def test_the_password_comes_from_a_password_file(tmp_path):
    write(tmp_path / "secrets" / "db", "file-secret-pw\n")
    s = load_settings(overrides={"database_url": "postgresql://app@db/shop",
                                 "password_file": "secrets/db"}, env={}, cwd=str(tmp_path))
    assert s.url.password == "file-secret-pw"
    assert "file-secret-pw" not in str(s.url)


def test_an_unreadable_password_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides={"password_file": "nope"}, env={}, cwd=str(tmp_path))
    assert "password file" in caught.value.message


def test_everything_but_the_password_works_from_env_without_a_file(tmp_path):
    s = load_settings(env={"FERRYMAN_DATABASE_URL": "sqlite:///app.db",
                           "FERRYMAN_MIGRATIONS": "migrations"}, cwd=str(tmp_path))
    assert s.config_path is None
    assert s.url.path == str(tmp_path / "app.db")
    assert s.require_phases() == {"core": str(tmp_path / "migrations")}


# -- URLs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, path", [
    ("sqlite:///rel/app.db", "rel/app.db"),
    ("sqlite:////abs/app.db", "/abs/app.db"),
    ("sqlite:rel.db", "rel.db"),
    ("sqlite:/abs.db", "/abs.db"),
    ("sqlite3://rel.db", "rel.db"),
    ("sqlite:///a%20b.db", "a b.db"),
])
def test_sqlite_urls(text, path):
    url = parse_url(text)
    assert url.dialect == "sqlite" and url.path == path and not url.is_memory


def test_sqlite_memory():
    assert parse_url("sqlite:///:memory:").is_memory


@pytest.mark.parametrize("text", ["sqlite://", "sqlite:", "sqlite:///"])
def test_a_sqlite_url_without_a_path_is_refused(text):
    """A typo must not become a database that vanishes with the process."""
    with pytest.raises(ConfigError) as caught:
        parse_url(text)
    assert ":memory:" in caught.value.message


def test_a_relative_sqlite_path_resolves_against_a_folder():
    assert parse_url("sqlite:///db/app.db").with_path_base("/srv").path == "/srv/db/app.db"
    assert parse_url("sqlite:////abs.db").with_path_base("/srv").path == "/abs.db"
    assert parse_url("sqlite:///:memory:").with_path_base("/srv").is_memory


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_postgresql_urls_and_the_postgres_alias(scheme):
    url = parse_url(f"{scheme}://app@db.internal:5433/shop?sslmode=require")
    assert (url.dialect, url.user, url.password, url.host, url.port, url.database) == (
        "postgresql", "app", None, "db.internal", 5433, "shop")
    assert url.query == {"sslmode": "require"}
    assert url.redacted() == "postgresql://app@db.internal:5433/shop?sslmode=require"


def test_a_percent_encoded_password_is_decoded_and_never_shown():
    url = parse_url("postgresql://app:p%40ss%3Aw0rd%2F@db/shop")
    assert url.password == "p@ss:w0rd/" and url.user == "app" and url.host == "db"
    for shown in (url.redacted(), str(url), repr(url)):
        assert "p@ss" not in shown and "p%40ss" not in shown and "w0rd" not in shown
        assert "app:***@db" in shown


def test_an_ipv6_host():
    url = parse_url("postgresql://app:v6-secret-pw@[2001:db8::1]:5432/shop")
    assert url.host == "2001:db8::1" and url.port == 5432 and url.database == "shop"
    assert url.redacted() == "postgresql://app:***@[2001:db8::1]:5432/shop"
    assert "v6-secret-pw" not in url.redacted()


def test_a_password_in_the_query_is_redacted_too():
    url = parse_url("postgresql://app@db/shop?password=query-secret-pw&sslmode=disable")
    assert "query-secret-pw" not in url.redacted()
    assert "sslmode=disable" in url.redacted()


@pytest.mark.parametrize("text", [
    "mongodb://app:mongo-secret-pw@db/shop",
    "postgresql://app:port-secret-pw@db:notaport/shop",
    "postgresql:app:path-secret-pw@db/shop",
    "postgresql://app:at@secret-pw@db:notaport/shop",
    "postgresql://db:notaport/shop?password=query-secret-pw",
    "",
])
def test_bad_urls_are_config_errors_that_hide_the_password(text):
    with pytest.raises(ConfigError) as caught:
        parse_url(text)
    assert caught.value.exit_code == 2
    assert "secret-pw" not in caught.value.details()


def test_build_url_for_the_seed_flags():
    url = build_url(host="db", port="5432", user="app", database="shop", ssl="disable")
    assert url == parse_url("postgresql://app@db:5432/shop?sslmode=disable")
    assert build_url(dialect="sqlite", database="app.db").path == "app.db"


def test_a_token_in_the_file_is_refused(tmp_path):
    (tmp_path / "ferryman.toml").write_text('api_token = "0123456789abcdefXYZ"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(cwd=str(tmp_path))
    assert "FERRYMAN_API_TOKEN" in caught.value.hint
    assert "0123456789abcdefXYZ" not in caught.value.details()


# -- files that are not UTF-8 or not TOML (issue 8, item 7) -------------------------------
def no_traceback(result):
    return "Traceback" not in result.err and "internal error" not in result.err


@pytest.mark.parametrize("name, data, said", [
    ("ferryman.toml", b"\xff\xfemigrations = 'm'\n", "not UTF-8 text (invalid byte at offset 0)"),
    ("ferryman.toml", "migrations = 'caf\xe9'\n".encode("latin-1"),
     "not UTF-8 text (invalid byte at offset 17)"),
    ("ferryman.toml", b"migrations = \n", "Invalid value"),
    ("ferryman.toml", b"\x00\x01\x02", "Invalid statement"),
    ("ferryman.toml", b"maintenance = 5\n", "maintenance must be a table"),
    ("ferryman.toml", b"[database]\nurl = 5\n", "database.url: a database URL is text"),
    ("ferryman.toml", b'migrations = "m\\u0000"\n', "holds a NUL character"),
    ("ferryman.toml", b"host = [1, 2]\n", "is not text"),
    ("pyproject.toml", "[tool.ferryman]\nmigrations = 'caf\xe9'\n".encode("latin-1"),
     "not UTF-8 text"),
    ("pyproject.toml", b"[tool.ferryman]\nmigrations = \n", "Invalid value"),
    ("pyproject.toml", b"# [tool.ferryman]\ntool = { ferryman = 5 }\n",
     "tool.ferryman must be a table"),
])
def test_a_configuration_file_that_cannot_be_read_exits_2(cli, tmp_path, name, data, said):
    """Before, a file that was not UTF-8 ended in a traceback and exit 70."""
    (tmp_path / name).write_bytes(data)
    for command in ("status", "validate", "up"):
        result = cli(command)
        assert result.code == 2, result
        assert name in result.err and said in result.err, result
        assert no_traceback(result), result
    assert os.listdir(tmp_path) == [name]


def test_a_folder_as_the_configuration_file_exits_2(cli, tmp_path):
    result = cli("status", "--config", str(tmp_path))
    assert result.code == 2 and "is a folder, not a file" in result.err, result


def test_a_password_file_that_is_not_utf8_exits_2(cli, tmp_path, migrations):
    (tmp_path / "pw").write_bytes(b"s\xe9cret\n")
    result = cli("status", "--database-url", "postgresql://app@127.0.0.1:1/x",
                 "--password-file", str(tmp_path / "pw"), "--migrations", migrations({}))
    assert result.code == 2 and "password file" in result.err and "not UTF-8" in result.err
    assert no_traceback(result), result


# -- numbers: one range check for flags, environment and file (issue 8, item 8) ----------
# (setting, the value as written in TOML, as text for the environment and a flag, the
# file's key, the flag or None, the accepted range as the message says it)
RANGES = [
    ("lock_timeout", "-5", "-5", "lock_timeout", "--lock-timeout",
     "a duration from 0s to 2147483s"),
    ("retries", "-1", "-1", "retries", "--retries", "a whole number from 0 to 20"),
    ("retries", "-3", "-3", "retries", "--retries", "a whole number from 0 to 20"),
    ("backup_keep", "-3", "-3", "backup.keep", None, "a whole number, 1 or more"),
    ("backup_keep", "0", "0", "backup.keep", None, "a whole number, 1 or more"),
    ("timeout", '"0s"', "0s", "timeout", "--timeout", "a duration from 0.001s to 2147483s"),
    ("retries", '"two"', "two", "retries", None, "a whole number from 0 to 20"),
    ("retries", "true", "yes", "retries", None, "a whole number from 0 to 20"),
    ("retries", "2.5", "2.5", "retries", None, "a whole number from 0 to 20"),
    ("lock_timeout", "nan", "nan", "lock_timeout", None, "a duration from 0s"),
    ("lock_timeout", "inf", "1e999", "lock_timeout", None, "a duration from 0s"),
    ("connect_timeout", '"0s"', "0", "connect_timeout", "--connect-timeout",
     "a duration from 0.001s"),
    ("statement_timeout", '"0.5ms"', "0.0001", "statement_timeout", "--statement-timeout",
     "a duration from 0.001s"),
    ("table_lock_timeout", '"600h"', "1000h", "table_lock_timeout", None,
     "a duration from 0.001s to 2147483s"),
    ("retry_backoff", "-1", "2h", "retry_backoff", None, "a duration from 0s to 3600s"),
    ("port", "0", "70000", "database.port", "--port", "a whole number from 1 to 65535"),
    ("parallel", "0", "0", "parallel", "--parallel", "a whole number from 1 to 1024"),
    ("purge_days", "0", "-7", "maintenance.days", None, "a whole number from 1 to 36500"),
]
TABLES_OF = {"backup.keep": ("backup", "keep"), "database.port": ("database", "port"),
             "maintenance.days": ("maintenance", "days")}


def toml_line(key, value):
    if key in TABLES_OF:
        table, sub = TABLES_OF[key]
        return f"[{table}]\n{sub} = {value}\n"
    return f"{key} = {value}\n"


@pytest.mark.parametrize("setting, in_toml, as_text, key, flag, accepted", RANGES,
                         ids=[f"{r[0]}={r[2]}" for r in RANGES])
def test_a_number_out_of_range_exits_2_from_the_file_the_environment_and_a_flag(
        cli, tmp_path, migrations, monkeypatch, setting, in_toml, as_text, key, flag,
        accepted):
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n"})
    command = "migrate" if setting == "parallel" else "up"
    args = (command, "--database-url", "sqlite:///app.db", "--migrations", folder)

    config = tmp_path / "conf" / "ferryman.toml"
    write(config, toml_line(key, in_toml))
    result = cli(*args, "--config", str(config))
    assert result.code == 2, result
    assert f"{config}: {key}: must be {accepted}" in result.err, result
    assert no_traceback(result)

    monkeypatch.setenv(f"FERRYMAN_{setting.upper()}", as_text)
    result = cli(*args)
    assert result.code == 2, result
    assert f"FERRYMAN_{setting.upper()}: must be {accepted}" in result.err, result
    assert f"; got {as_text!r}" in result.err
    monkeypatch.delenv(f"FERRYMAN_{setting.upper()}")

    if flag:
        result = cli(*args, flag, as_text)
        assert result.code == 2, result
        assert f"{flag} {as_text}: must be {accepted}" in result.err, result
    assert not os.path.exists(tmp_path / "app.db")  # nothing was changed


@pytest.mark.parametrize("argv, said", [
    (["history", "--limit", "-1"], "--limit -1: must be a whole number, 1 or more"),
    (["history", "--limit", "0"], "--limit 0: must be a whole number, 1 or more"),
    (["history", "--version", "-2"], "--version -2: must be a whole number, 0 or more"),
    (["history", "--version", "9223372036854775808"], "--version 9223372036854775808: must be "
                                                      "a whole number, 0 or more"),
    (["inspect", "--limit", "-5"], "--limit -5: must be a whole number, 1 or more"),
    (["down", "--steps", "-1"], "--steps -1: must be a whole number, 1 or more"),
    (["down", "--to", "-1"], "--to -1: not a version"),
    (["up", "--target", "-4"], "--target -4: not a version"),
    (["goto", "--", "-1"], "goto VERSION -1: not a version"),
    (["goto", "1.5"], "goto VERSION 1.5: not a version"),
    (["force", "abc"], "force VERSION abc: not a version"),
    (["maintain", "purge", "--table", "a", "--column", "b", "--days", "99999"],
     "--days 99999: must be a whole number from 1 to 36500"),
    (["maintain", "purge", "--table", "a", "--column", "b", "--batch-size", "-1"],
     "--batch-size -1: must be a whole number from 1 to 1000000"),
    (["serve", "--bind-port", "65536"], "--bind-port 65536: must be a whole number from 0 to "
                                        "65535"),
])
def test_the_command_lines_own_numbers_are_range_checked_alike(cli, tmp_path, migrations,
                                                               argv, said):
    """history --limit -1 listed every row on SQLite and was a database error on
    PostgreSQL; now every number of the command line has a range, checked before
    anything opens."""
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n"})
    result = cli(argv[0], "--database-url", "sqlite:///app.db", "--migrations", folder,
                 *argv[1:])
    assert result.code == 2, result
    assert said in result.err and no_traceback(result), result
    assert not os.path.exists(tmp_path / "app.db")


def test_every_number_of_the_command_line_has_a_range():
    """A new numeric option without a range would be a KeyError (exit 70): the table
    must name every one."""
    from ferryman.cli.spec import COMMANDS, options_of
    from ferryman.config import NUMBERS

    for command in COMMANDS.values():
        for item in command.args + options_of(command):
            if item.kind == "int":
                assert item.name in NUMBERS, (command.name, item.name)
    for name, (kind, _low, _high) in NUMBERS.items():
        if name in SETTINGS:
            assert SETTINGS[name][0] == kind, name
    assert {n for n, s in SETTINGS.items() if s[0] in ("int", "duration")} <= set(NUMBERS)


def test_numbers_in_range_are_taken_from_every_source(tmp_path):
    write(tmp_path / "ferryman.toml", 'retries = 0\nlock_timeout = 0\n[backup]\nkeep = 1\n'
                                      '[maintenance]\ndays = 36500\n')
    s = load_settings(env={"FERRYMAN_PORT": " 65535 ", "FERRYMAN_TIMEOUT": "1ms"},
                      overrides={"parallel": 1024, "retry_backoff": "3600"},
                      cwd=str(tmp_path))
    assert (s.retries, s.lock_timeout, s.backup_keep, s.purge_days) == (0, 0.0, 1, 36500)
    assert (s.port, s.timeout, s.parallel, s.retry_backoff) == (65535, 0.001, 1024, 3600.0)


def test_a_service_table_names_its_own_key(tmp_path):
    write(tmp_path / "ferryman.toml", '[services.api]\nurl = "sqlite:///a.db"\n'
                                      'migrations = "m"\n[services.api.backup]\nkeep = 0\n')
    s = load_settings(env={}, cwd=str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        s.for_service("api")
    assert "services.api.backup.keep: must be a whole number, 1 or more; got 0" in \
        caught.value.message


@pytest.mark.parametrize("text", [
    "sqlite:///app%00.db", "postgresql://u%00x@127.0.0.1:5432/d",
    "postgresql://u:pw%00nul-secret-pw@127.0.0.1/d", "postgresql://u@h/d?sslmode=%00",
])
def test_a_nul_in_a_database_url_is_refused(cli, tmp_path, migrations, text):
    """SQLite could not open the path (exit 70 with a traceback) and libpq took the
    user u%00x as u: C strings end at a NUL (issue 8, item 7)."""
    with pytest.raises(ConfigError) as caught:
        parse_url(text)
    assert "holds a NUL character (%00)" in caught.value.message
    assert "nul-secret-pw" not in caught.value.details()
    folder = migrations({"1_a.up.sql": "CREATE TABLE a (id INTEGER);\n"})
    result = cli("up", "--database-url", text, "--migrations", folder)
    assert result.code == 2 and "holds a NUL character" in result.err, result
    assert no_traceback(result) and "nul-secret-pw" not in result.err
    assert os.listdir(tmp_path) == ["migrations"]
