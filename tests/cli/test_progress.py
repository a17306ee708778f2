"""A live progress display on a terminal; plain lines anywhere else."""

import os
import pty
import select
import subprocess
import sys

MIGRATIONS = {f"{v}_t{v}.up.sql": f"CREATE TABLE t{v} (id INTEGER);" for v in range(1, 4)}


def run_on_a_terminal(args, env):
    """Run the command with a pseudo-terminal as its stdout; return what it drew."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "ferryman", *args], stdout=follower,
                               stderr=subprocess.STDOUT, env={**os.environ, **env,
                                                              "COLUMNS": "100", "TERM": "xterm"})
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=30)
    os.close(leader)
    return process.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_gets_a_live_display(tmp_path, migrations, sqlite_url):
    folder = migrations(MIGRATIONS)
    code, drawn = run_on_a_terminal(["up"], {"FERRYMAN_DATABASE_URL": sqlite_url,
                                             "FERRYMAN_MIGRATIONS": folder})
    assert code == 0, drawn
    assert "\x1b[" in drawn  # rich drew and redrew its live line
    assert "3/3" in drawn  # the count of migrations done
    assert "up   3 t3" in drawn  # the plain lines still print above it


def test_anything_else_gets_plain_lines(migrations, sqlite_url):
    folder = migrations(MIGRATIONS)
    done = subprocess.run([sys.executable, "-m", "ferryman", "up"], capture_output=True,
                          text=True, env={**os.environ, "FERRYMAN_DATABASE_URL": sqlite_url,
                                          "FERRYMAN_MIGRATIONS": folder})
    assert done.returncode == 0
    assert "\x1b[" not in done.stdout
    assert [line.split(" (")[0] for line in done.stdout.splitlines()[:3]] == [
        "  up   1 t1", "  up   2 t2", "  up   3 t3"]
