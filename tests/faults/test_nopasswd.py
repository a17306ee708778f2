"""A container user without a passwd entry (issue 8, item 12).

OpenShift runs images as an arbitrary uid (``runAsUser: 10001``) that /etc/passwd
does not know, and distroless images have no passwd entries at all: there,
``getpass.getuser()`` raises KeyError. Before, every PostgreSQL connection (its
application_name) and the SQLite lock file (its holder line) asked it, so ``up``
ended in exit 70.

The real ``ferryman up`` runs under ``setpriv --reuid 10001`` with no USER or
LOGNAME in its environment, HOME in a folder that uid owns. The suite's own
interpreter lives under /root (mode 0700 here), which uid 10001 may not enter, so
the child gets CAP_DAC_READ_SEARCH as an ambient capability: it may read and enter
any folder, as an image's world-readable files are for such a user, and still
writes only where uid 10001 may (the folder below, which it owns).
"""

import os
import pwd
import shutil
import subprocess
import sys

import pytest
from helpers import query

UID = 10001

FILES = {
    "1_users.up.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\n",
    "1_users.down.sql": "DROP TABLE users;\n",
    "2_letters.up.sql": "CREATE TABLE letters (id INTEGER PRIMARY KEY, body TEXT);\n",
    "2_letters.down.sql": "DROP TABLE letters;\n",
}


@pytest.fixture
def nobody_home(tmp_path):
    """A folder owned by uid 10001, which has no passwd entry on this machine."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.fail("this test runs as root with setpriv (util-linux) installed")
    with pytest.raises(KeyError):
        pwd.getpwuid(UID)  # the premise: no name for this uid
    home = tmp_path / "uid10001"
    home.mkdir()
    for name, text in FILES.items():
        (home / name).write_text(text)
    os.chown(home, UID, UID)
    os.chmod(home, 0o700)
    return home


def up_as_uid_without_a_name(home, url):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "FERRYMAN_DATABASE_URL": url, "FERRYMAN_MIGRATIONS": str(home),
           "FERRYMAN_BACKUP_DIR": str(home / "backups")}
    command = [shutil.which("setpriv"), f"--reuid={UID}", f"--regid={UID}", "--clear-groups",
               "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
               sys.executable, "-m", "ferryman", "up"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=home,
                          env=env)
    assert "internal error" not in done.stderr, done.stderr
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done


def test_up_on_sqlite_as_a_uid_without_a_name(nobody_home):
    url = f"sqlite:///{nobody_home / 'app.db'}"
    up_as_uid_without_a_name(nobody_home, url)
    assert os.stat(nobody_home / "app.db").st_uid == UID  # it really ran as that uid
    who = query(url, "SELECT DISTINCT applied_by FROM ferryman_history")
    assert [row[0].split("@")[0] for row in who] == [f"uid {UID}"]
    runs = query(url, "SELECT applied_by FROM ferryman_runs")
    assert runs and all(row[0].startswith(f"uid {UID}@") for row in runs)
    assert query(url, "SELECT count(*) FROM users") == [(0,)]
    # the lock file names its holder the same way
    holder = (nobody_home / "app.db.ferryman_lock").read_text()
    assert f" uid {UID}@" in holder, holder


@pytest.mark.postgresql
def test_up_on_postgresql_as_a_uid_without_a_name(nobody_home, pg_url):
    up_as_uid_without_a_name(nobody_home, pg_url)
    who = query(pg_url, "SELECT DISTINCT applied_by FROM ferryman_history")
    assert [row[0].split("@")[0] for row in who] == [f"uid {UID}"]
    # the backup taken before the run was written by that uid too
    backups = [name for name in os.listdir(nobody_home / "backups") if name.endswith(".dump")]
    assert len(backups) == 1
    assert os.stat(nobody_home / "backups" / backups[0]).st_uid == UID
