"""Who else on the host can read a copy of the database, or its password (issue 8,
item 10).

- Backups, manifests, partial files and the backup folder are the owner's alone
  (0600 and 0700), whatever the umask; before, they were 0644 and 0755.
- ``ferryman init`` keeps backups/ and reports/ out of git.
- A password on the command line, or in a password file others can read, is warned
  about once, on stderr, without the password.
"""

import json
import os
import stat

import pytest
from helpers import ferryman_process

from ferryman import Migrator
from ferryman.safety.store import Store

FILES = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
    "1_users.down.sql": "DROP TABLE users;\n",
}
PASSWORD = "Perm-s3cret-pw"


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_backups_manifests_and_their_folder_are_private(db_url, migrations, tmp_path, umask):
    backup_dir = tmp_path / "var" / "backups"
    migrator = Migrator(db_url, migrations(FILES), backup_dir=str(backup_dir))
    migrator.up()
    migrator.backup()
    names = sorted(os.listdir(backup_dir))
    assert len(names) == 4, names  # two backups, two manifests
    assert mode(backup_dir) == 0o700
    for name in names:
        assert mode(backup_dir / name) == 0o600, (name, oct(mode(backup_dir / name)))
    # the folders above it are the person's: created as the umask says
    assert mode(tmp_path / "var") == 0o777 & ~umask


def test_partial_files_are_private_from_their_first_byte(tmp_path, umask):
    """The file a backup is written to exists, 0600, before the tool writes a byte: a
    reader who opens it early keeps reading what follows, whatever its mode becomes."""
    store = Store(str(tmp_path / "bk"), "app", "sqlite")
    store.ensure_folder()
    final, manifest = store.paths("20260101T000000Z-abcdef", ".sqlite")
    for path in (store.temporary(final), store.temporary(manifest)):
        assert path.endswith(".partial") and os.path.getsize(path) == 0
        assert mode(path) == 0o600


def test_a_backup_folder_that_exists_keeps_its_mode(sqlite_url, migrations, tmp_path):
    """A folder a person made (shared with a backup operator's group, say) is theirs."""
    backup_dir = tmp_path / "shared"
    backup_dir.mkdir()
    os.chmod(backup_dir, 0o750)
    Migrator(sqlite_url, migrations(FILES), backup_dir=str(backup_dir)).up()
    assert mode(backup_dir) == 0o750
    assert {mode(backup_dir / n) for n in os.listdir(backup_dir)} == {0o600}


# -- ferryman init: .gitignore ------------------------------------------------------------
def test_init_writes_a_gitignore_for_backups_and_reports(cli, tmp_path):
    result = cli("init", "--database-url", "sqlite:///app.db")
    assert result.code == 0, result
    assert "created .gitignore" in result.out
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert "backups/" in lines and "reports/" in lines


def test_init_appends_only_the_missing_lines_to_a_gitignore(cli, tmp_path):
    (tmp_path / ".gitignore").write_text("node_modules/\n/backups\n*.pyc")  # no final \n
    result = cli("init", "--database-url", "sqlite:///app.db")
    assert result.code == 0, result
    assert "updated .gitignore" in result.out
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:3] == ["node_modules/", "/backups", "*.pyc"]  # kept, in order
    assert lines.count("reports/") == 1
    assert not any(line.strip("/") == "backups" for line in lines[3:])  # not twice


def test_init_leaves_a_gitignore_that_covers_both_alone(cli, tmp_path):
    text = "backups/\nreports\n"
    (tmp_path / ".gitignore").write_text(text)
    result = cli("init", "--database-url", "sqlite:///app.db")
    assert result.code == 0, result
    assert (tmp_path / ".gitignore").read_text() == text
    assert ".gitignore" not in result.out


# -- warnings: a password others can read -------------------------------------------------
def run(*args, env=None, code=0):
    proc = ferryman_process(*args, env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, (args, out, err)
    assert PASSWORD not in out and PASSWORD not in err, (out, err)
    return out, err


def with_password(url):
    scheme, rest = url.split("://", 1)
    user, _, host = rest.partition("@")
    return f"{scheme}://{user}:{PASSWORD}@{host}"


COMMAND_LINE_WARNING = "the database URL on the command line holds a password"


@pytest.mark.postgresql
@pytest.mark.parametrize("command", [("status", "--json"), ("up",), ("--verbose", "up")])
def test_a_password_in_the_url_on_the_command_line_is_warned_about_once(
        pg_url, migrations, command):
    folder = migrations(FILES)
    out, err = run(*command[:-1], command[-1], "--database-url", with_password(pg_url),
                   "--migrations", folder)
    assert err.count(COMMAND_LINE_WARNING) == 1, err
    assert "FERRYMAN_PASSWORD" in err
    if "--json" in command:
        assert json.loads(out)["database"].endswith(pg_url.rsplit("@", 1)[1])


@pytest.mark.postgresql
def test_a_password_in_the_url_from_the_environment_is_not_warned_about(pg_url, migrations):
    """The environment of a process is its user's alone (/proc/PID/environ is 0400)."""
    env = {"FERRYMAN_DATABASE_URL": with_password(pg_url),
           "FERRYMAN_MIGRATIONS": migrations(FILES)}
    _, err = run("up", env=env)
    assert "warning" not in err, err


def test_a_malformed_url_on_the_command_line_is_warned_about_too(migrations):
    """The password was on the command line whether or not the URL parses."""
    url = f"postgresql://app:{PASSWORD}/x@127.0.0.1/db"
    _, err = run("status", "--database-url", url, "--migrations", migrations(FILES), code=2)
    assert err.count(COMMAND_LINE_WARNING) == 1, err


def test_a_url_without_a_password_on_the_command_line_is_not_warned_about(sqlite_url,
                                                                          migrations):
    _, err = run("up", "--database-url", sqlite_url, "--migrations", migrations(FILES))
    assert "warning" not in err, err


@pytest.mark.postgresql
@pytest.mark.parametrize("how", ["--password-file", "FERRYMAN_PASSWORD_FILE"])
@pytest.mark.parametrize("file_mode, who", [(0o644, "others"), (0o640, "its group"),
                                            (0o600, None), (0o400, None)])
def test_a_password_file_others_can_read_is_warned_about(pg_url, migrations, tmp_path, how,
                                                         file_mode, who):
    secret = tmp_path / "db password"
    secret.write_text(PASSWORD + "\n")
    os.chmod(secret, file_mode)
    env = {"FERRYMAN_DATABASE_URL": pg_url, "FERRYMAN_MIGRATIONS": migrations(FILES)}
    args = ["up"]
    if how == "--password-file":
        args += ["--password-file", str(secret)]
    else:
        env[how] = str(secret)
    _, err = run(*args, env=env)
    if who is None:
        assert "warning" not in err, err
    else:
        expected = (f"the password file {secret} is readable by {who} "
                    f"(mode {file_mode:03o}); make it readable by its owner only: "
                    f"chmod 600 '{secret}'")
        assert err.count(expected) == 1, err
