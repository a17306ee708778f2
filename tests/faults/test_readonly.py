"""A SQLite database this process cannot write (issue 8, item 17).

A read-only file (0444), or a read-only folder, where SQLite cannot create the journal
it needs for any write. ferryman must find out before anything runs, before the
backup: exit 4, saying what is read-only and what to do, no backup left behind, the
database as it was; the same with --no-backup (which used to run the migration into
the wall and advise "fix the migration").

The tests run as root, whom file modes do not stop. So the real command runs in a
subprocess as an unprivileged user (``setpriv --reuid``), on files in a folder of its
own that that user owns; run as anyone else, the modes apply already. The subprocess
imports the very ferryman this test process imported.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import pytest

import ferryman

UID = GID = 10001  # a user with no passwd entry, as in a container (runAsUser)
SRC = os.path.dirname(os.path.dirname(os.path.abspath(ferryman.__file__)))

FIRST = {"0001_accounts.up.sql": "CREATE TABLE accounts (id INTEGER PRIMARY KEY);\n"}
SECOND = {"0002_notes.up.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n"}


def _as_user(*args, cwd, env):
    """Run ``ferryman ARGS`` as the unprivileged user; (exit code, stdout, stderr)."""
    command = [sys.executable, "-m", "ferryman", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("setpriv (util-linux) is required to run as another user")
        command = [setpriv, f"--reuid={UID}", f"--regid={GID}", "--clear-groups", *command]
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": SRC,
                "HOME": os.path.join(cwd, "home"), "USER": "nobody", "LOGNAME": "nobody",
                **env}
    done = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def _give(path):
    """Hand ``path`` (and what is in it) to the unprivileged user."""
    if os.geteuid() != 0:
        return
    for folder, dirs, files in os.walk(path):
        for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
            os.chown(name, UID, GID)


@pytest.fixture
def project():
    """{root}/data/app.db at version 1 with 0002 pending, {root}/migrations, {root}/home;
    the backups go to {root}/backups, which stays writable. Not in tmp_path: pytest
    makes that folder 0700 for root, where the other user cannot reach it."""
    root = tempfile.mkdtemp(prefix="ferryman-readonly-")
    os.chmod(root, 0o755)
    for folder in ("data", "migrations", "home"):
        os.mkdir(os.path.join(root, folder))
    for name, text in FIRST.items():
        with open(os.path.join(root, "migrations", name), "w") as handle:
            handle.write(text)
    _give(root)
    env = {"FERRYMAN_DATABASE_URL": f"sqlite:///{root}/data/app.db",
           "FERRYMAN_MIGRATIONS": f"{root}/migrations", "FERRYMAN_BACKUP_DIR": f"{root}/backups"}
    code, _out, err = _as_user("up", cwd=root, env=env)
    assert code == 0, err
    for name, text in SECOND.items():
        with open(os.path.join(root, "migrations", name), "w") as handle:
            handle.write(text)
    _give(root)
    try:
        yield root, env
    finally:
        for folder, _dirs, _files in os.walk(root):
            os.chmod(folder, 0o755)
        shutil.rmtree(root)


def _snapshot(path):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def _backups(root):
    folder = os.path.join(root, "backups")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _wal(path):
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    finally:
        conn.close()
    _give(os.path.dirname(path))


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
@pytest.mark.parametrize("backup", [True, False], ids=["backup", "no-backup"])
def test_a_read_only_file_stops_up_before_the_backup(project, journal_mode, backup):
    root, env = project
    db = os.path.join(root, "data", "app.db")
    if journal_mode == "wal":
        _wal(db)
    os.chmod(db, 0o444)
    before, backups_before = _snapshot(db), _backups(root)

    code, out, err = _as_user("up", *([] if backup else ["--no-backup"]), cwd=root, env=env)

    assert code == 4, (out, err)
    assert f"the SQLite database {db} is read-only" in err, err
    assert f"(uid {UID if os.geteuid() == 0 else os.geteuid()})" in err, err
    assert "nothing was changed" in err and "make it writable" in err, err
    assert "fix the migration" not in err
    assert _snapshot(db) == before
    assert _backups(root) == backups_before  # no orphan backup


@pytest.mark.parametrize("backup", [True, False], ids=["backup", "no-backup"])
def test_a_read_only_folder_stops_up_before_the_backup(project, backup):
    """The file may be written, but SQLite cannot create its journal beside it. The lock
    file is there already (from the first run), so the journal is what fails."""
    root, env = project
    data = os.path.join(root, "data")
    db = os.path.join(data, "app.db")
    assert os.path.exists(db + ".ferryman_lock")
    os.chmod(data, 0o555)
    before, backups_before = _snapshot(db), _backups(root)

    code, out, err = _as_user("up", *([] if backup else ["--no-backup"]), cwd=root, env=env)

    assert code == 4, (out, err)
    assert f"the folder {data} is read-only" in err and "journal" in err, err
    assert f"make {data} writable" in err and "nothing was changed" in err, err
    assert _snapshot(db) == before
    assert _backups(root) == backups_before
    assert sorted(os.listdir(data)) == ["app.db", "app.db.ferryman_lock"]


def test_a_read_only_folder_without_the_lock_file_says_so(project):
    """Where ferryman cannot even create its lock file, the folder is named too."""
    root, env = project
    data = os.path.join(root, "data")
    os.remove(os.path.join(data, "app.db.ferryman_lock"))
    os.chmod(data, 0o555)
    before, backups_before = _snapshot(os.path.join(data, "app.db")), _backups(root)
    code, out, err = _as_user("up", cwd=root, env=env)
    assert code == 4, (out, err)
    assert f"the folder {data} is read-only" in err and "lock file" in err, err
    assert _snapshot(os.path.join(data, "app.db")) == before
    assert _backups(root) == backups_before


def test_status_still_reads_a_read_only_database(project):
    """Reading needs no write: status answers, and says 0002 is pending."""
    root, env = project
    os.chmod(os.path.join(root, "data", "app.db"), 0o444)
    code, out, err = _as_user("status", "--json", cwd=root, env=env)
    assert code == 0, err
    status = json.loads(out)
    assert (status["current_version"], status["pending_count"]) == (1, 1), status


def test_nothing_to_do_on_a_read_only_folder_is_done(project):
    """A start-up `up` on a read-only deployment with nothing pending: ferryman cannot
    create its lock file there, and needs none, since nothing will be written."""
    root, env = project
    data = os.path.join(root, "data")
    os.remove(os.path.join(root, "migrations", "0002_notes.up.sql"))
    os.remove(os.path.join(data, "app.db.ferryman_lock"))
    os.chmod(data, 0o555)
    before = _snapshot(os.path.join(data, "app.db"))
    code, out, err = _as_user("up", cwd=root, env=env)
    assert code == 0, (out, err)
    assert "nothing to do" in out + err
    assert sorted(os.listdir(data)) == ["app.db"]
    assert _snapshot(os.path.join(data, "app.db")) == before
