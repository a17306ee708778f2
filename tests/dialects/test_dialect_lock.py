"""The migration lock: exclusive across connections and processes, never blocking,
released by unlock (idempotent), by closing the connection and by the holder's death;
lock_holder and lock_held tell the truth about it."""

import subprocess
import sys
import threading
import time

NAME = "ferryman_"

# A holder in another process: it takes the lock, says so, then waits to be killed.
HOLDER = """\
import sys
from ferryman.dialects import connect
from ferryman.url import parse_url
db = connect(parse_url(sys.argv[1]))
print("locked" if db.try_lock(sys.argv[2]) else "refused", flush=True)
sys.stdin.read()
"""


def try_lock_bounded(db, name=NAME, limit=60):
    """try_lock in a thread joined at most ``limit`` seconds: a try_lock that blocked
    would fail here instead of hanging the suite (a bound, not a timing assertion)."""
    answer = []
    worker = threading.Thread(target=lambda: answer.append(db.try_lock(name)), daemon=True)
    worker.start()
    worker.join(limit)
    assert answer, "try_lock blocked"
    return answer[0]


def eventually_locks(db, name=NAME, limit=60):
    """Whether ``db`` gets the lock within ``limit`` seconds: a server frees a dead
    session's locks when it notices the session is gone, a moment after the client
    ends (a bound against a hang, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not try_lock_bounded(db, name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_lock_is_exclusive_and_unlock_releases_it(db, other):
    assert try_lock_bounded(db) is True
    assert try_lock_bounded(other) is False
    assert try_lock_bounded(other) is False  # asking again changes nothing
    db.unlock(NAME)
    assert try_lock_bounded(other) is True
    assert try_lock_bounded(db) is False
    other.unlock(NAME)
    assert try_lock_bounded(db) is True


def test_unlock_is_idempotent(db, other):
    db.unlock(NAME)  # never locked
    assert db.try_lock(NAME)
    db.unlock(NAME)
    db.unlock(NAME)
    assert try_lock_bounded(other) is True
    db.unlock(NAME)  # someone else's now: not released by a stray unlock
    assert try_lock_bounded(db) is False


def test_asking_again_while_holding_it_then_one_unlock_releases_it(db, other):
    assert db.try_lock(NAME)
    assert db.try_lock(NAME)  # the holder may ask again
    db.unlock(NAME)
    assert try_lock_bounded(other) is True


def test_locks_are_per_name_and_per_database(engine, db, other):
    assert db.try_lock(NAME)
    assert try_lock_bounded(other, "app_") is True  # another history table: its own lock
    elsewhere = engine.open(engine.another_url())
    assert try_lock_bounded(elsewhere, NAME) is True  # another database: its own lock
    assert try_lock_bounded(engine.open(), NAME) is False


def test_closing_the_connection_releases_it(engine, other):
    holder = engine.open()
    assert holder.try_lock(NAME)
    assert try_lock_bounded(other) is False
    holder.close()
    assert eventually_locks(other)


def test_the_death_of_the_holder_s_process_releases_it(engine, other):
    process = subprocess.Popen([sys.executable, "-c", HOLDER, engine.url, NAME],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        assert try_lock_bounded(other) is False
        assert other.lock_held(NAME) is True
        process.kill()  # SIGKILL: no unlock, no close
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert eventually_locks(other)


def test_lock_holder_names_the_holder(engine, db, other):
    assert db.try_lock(NAME)
    said = other.lock_holder(NAME)
    assert isinstance(said, str) and said
    marks = engine.profile.holder_marks(db)
    assert any(mark in said for mark in marks), (said, marks)


def test_lock_held_tells_without_taking_it(db, other):
    assert other.lock_held(NAME) is False
    assert other.lock_held(NAME) is False  # asking twice took nothing
    assert try_lock_bounded(db) is True
    assert other.lock_held(NAME) is True
    assert db.lock_held(NAME) is True
    db.unlock(NAME)
    assert other.lock_held(NAME) is False
    assert try_lock_bounded(other) is True
