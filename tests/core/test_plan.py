"""Planning is pure: a Listing (what is on disk) and a State (what the database says)
in, steps out. No database here; files only where a checksum is read."""

import hashlib

import pytest

from ferryman.core.history import Applied, State
from ferryman.core.plan import (Step, check_state, pending, plan_down, plan_goto, plan_up)
from ferryman.core.source import Listing, Migration
from ferryman.errors import (ChecksumError, DatabaseAheadError, DirtyError, InputError,
                             MissingMigrationError, OutOfOrderError)


def migration(version, name=None, *, down=True, folder="/nowhere"):
    name = name or f"m{version}"
    path = f"{folder}/{version}_{name}.up.sql"
    down_path = f"{folder}/{version}_{name}.down.sql" if down else None
    return Migration(version, name, "core", "sql", path, down_path)


def listing(*versions, without_down=()):
    return Listing([migration(v, down=v not in without_down) for v in versions], [])


def applied(version, checksum="0" * 64, name=None):
    return Applied(version, name or f"m{version}", "core", "sql", checksum,
                   "2026-01-01T00:00:00.000Z", "run-1")


def state(*versions, dirty=None):
    return State([applied(v) for v in versions], dirty=dirty)


def plan(steps):
    return [(s.direction, s.version) for s in steps]


# -- up -----------------------------------------------------------------------------------
def test_up_applies_every_pending_migration_in_version_order():
    disk = listing(1, 2, 3)
    assert plan(plan_up(disk, State())) == [("up", 1), ("up", 2), ("up", 3)]
    assert plan(plan_up(disk, state(1))) == [("up", 2), ("up", 3)]


def test_up_with_nothing_pending_is_an_empty_plan():
    assert plan_up(listing(1, 2), state(1, 2)) == []
    assert plan_up(listing(), State()) == []


def test_up_to_a_target_stops_there_inclusive():
    disk = listing(1, 2, 3, 4)
    assert plan(plan_up(disk, state(1), target=3)) == [("up", 2), ("up", 3)]
    assert plan_up(disk, state(1, 2), target=2) == []
    assert plan_up(disk, state(1, 2), target=1) == []  # never goes down


def test_up_to_an_unknown_target_is_refused():
    with pytest.raises(InputError) as caught:
        plan_up(listing(1, 2), State(), target=5)
    assert caught.value.exit_code == 2
    assert "no migration with version 5" in caught.value.message


def test_a_pending_migration_below_the_current_version_is_out_of_order():
    disk = listing(1, 2, 3)
    with pytest.raises(OutOfOrderError) as caught:
        plan_up(disk, state(1, 3))
    error = caught.value
    assert error.exit_code == 2 and error.version == 2
    assert error.file == "/nowhere/2_m2.up.sql"
    assert "--allow-out-of-order" in error.hint
    assert plan(plan_up(disk, state(1, 3), allow_out_of_order=True)) == [("up", 2)]


def test_out_of_order_counts_only_what_the_plan_would_run():
    disk = listing(1, 2, 3, 4)
    # 2 is below the current version 3, but --target 1 leaves it out of the plan
    assert plan_up(disk, state(1, 3), target=1) == []
    with pytest.raises(OutOfOrderError):
        plan_up(disk, state(1, 3), target=4)


def test_pending_lists_what_is_not_applied():
    assert [m.version for m in pending(listing(1, 2, 3), state(2))] == [1, 3]


# -- down ---------------------------------------------------------------------------------
def test_down_undoes_the_newest_migration_by_default():
    assert plan(plan_down(listing(1, 2, 3), state(1, 2, 3))) == [("down", 3)]


def test_down_steps_undo_the_newest_first():
    disk = listing(1, 2, 3)
    assert plan(plan_down(disk, state(1, 2, 3), steps=2)) == [("down", 3), ("down", 2)]
    assert plan(plan_down(disk, state(1, 2, 3), steps=10)) == [
        ("down", 3), ("down", 2), ("down", 1)]


@pytest.mark.parametrize("steps", [0, -1])
def test_down_steps_below_one_are_refused(steps):
    with pytest.raises(InputError) as caught:
        plan_down(listing(1, 2), state(1, 2), steps=steps)
    assert caught.value.exit_code == 2 and f"--steps {steps}" in caught.value.message


def test_down_to_a_version_undoes_everything_above_it():
    disk = listing(1, 2, 3)
    assert plan(plan_down(disk, state(1, 2, 3), to=1)) == [("down", 3), ("down", 2)]
    assert plan(plan_down(disk, state(1, 2, 3), to=0)) == [
        ("down", 3), ("down", 2), ("down", 1)]
    assert plan_down(disk, state(1, 2, 3), to=3) == []
    assert plan_down(disk, State(), to=0) == []


def test_down_to_a_negative_version_is_refused():
    with pytest.raises(InputError) as caught:
        plan_down(listing(1), state(1), to=-1)
    assert caught.value.exit_code == 2


def test_down_on_an_empty_database_is_an_empty_plan():
    assert plan_down(listing(1, 2), State()) == []


def test_down_without_a_down_file_is_refused_naming_it():
    disk = listing(1, 2, 3, without_down=(2,))
    with pytest.raises(InputError) as caught:
        plan_down(disk, state(1, 2, 3), steps=2)
    error = caught.value
    assert "no down migration for 2 (2_m2.up.sql)" in error.message
    assert error.version == 2 and "force" in error.hint
    # the one above it can still go
    assert plan(plan_down(disk, state(1, 2, 3))) == [("down", 3)]


# -- goto ---------------------------------------------------------------------------------
def test_goto_a_higher_version_applies_up_to_it():
    assert plan(plan_goto(listing(1, 2, 3, 4), state(1), 3)) == [("up", 2), ("up", 3)]


def test_goto_a_lower_version_undoes_down_to_it():
    assert plan(plan_goto(listing(1, 2, 3, 4), state(1, 2, 3, 4), 2)) == [
        ("down", 4), ("down", 3)]


def test_goto_zero_undoes_everything():
    assert plan(plan_goto(listing(1, 2), state(1, 2), 0)) == [("down", 2), ("down", 1)]
    assert plan_goto(listing(1, 2), State(), 0) == []


def test_goto_the_current_version_is_an_empty_plan():
    assert plan_goto(listing(1, 2, 3), state(1, 2), 2) == []


def test_goto_an_unknown_version_is_refused():
    with pytest.raises(InputError) as caught:
        plan_goto(listing(1, 2), state(1), 7)
    assert "no migration with version 7" in caught.value.message


def test_goto_undoes_above_and_fills_a_gap_below():
    disk = listing(1, 2, 3)
    # 1 and 3 applied; 2 arrived later. goto 2: undo 3, then 2 is in order.
    assert plan(plan_goto(disk, state(1, 3), 2)) == [("down", 3), ("up", 2)]


def test_goto_refuses_out_of_order_unless_allowed():
    disk = listing(1, 2, 3, 4)
    with pytest.raises(OutOfOrderError):
        plan_goto(disk, state(1, 3), 4)
    assert plan(plan_goto(disk, state(1, 3), 4, allow_out_of_order=True)) == [
        ("up", 2), ("up", 4)]


def test_goto_down_without_a_down_file_is_refused():
    with pytest.raises(InputError) as caught:
        plan_goto(listing(1, 2, without_down=(2,)), state(1, 2), 1)
    assert caught.value.version == 2


def test_steps_compare_by_direction_and_version_and_invert():
    m = migration(4, "users")
    assert Step(m, "up") == Step(migration(4, "other"), "up")
    assert Step(m, "up") != Step(m, "down")
    assert Step(m, "up").inverse() == Step(m, "down")
    assert Step(m, "down").label == "4_users (down)" and Step(m, "up").label == "4_users"


# -- state checks -------------------------------------------------------------------------
def test_a_clean_state_passes_the_check(tmp_path):
    (tmp_path / "1_a.up.sql").write_text("CREATE TABLE a (id INTEGER);\n")
    disk = Listing([migration(1, "a", folder=str(tmp_path), down=False)], [])
    good = hashlib.sha256(b"CREATE TABLE a (id INTEGER);\n").hexdigest()
    check_state(disk, State([applied(1, good)]))
    check_state(disk, State())


def test_a_dirty_database_is_refused_with_the_next_command():
    dirty = {"version": 3, "name": "index", "file": "/m/3_index.up.sql",
             "reason": "a no-transaction migration failed part way",
             "statement_index": 1, "statements": 2, "statement": "CREATE INDEX x ON y (z)",
             "error": "no such table: y", "previous_version": 2}
    with pytest.raises(DirtyError) as caught:
        check_state(listing(1, 2, 3), state(1, 2, dirty=dirty))
    error = caught.value
    assert error.exit_code == 3
    assert error.version == 3 and error.file == "/m/3_index.up.sql"
    assert "statement 2 of 2" in error.message
    assert error.statement == "CREATE INDEX x ON y (z)" and error.db_message == "no such table: y"
    assert "ferryman force 3" in error.hint and "ferryman force 2" in error.hint


def test_dirty_is_checked_before_anything_else():
    with pytest.raises(DirtyError):
        check_state(listing(), state(1, dirty={"version": 1, "reason": "x"}))


def test_an_applied_migration_missing_from_the_folder():
    with pytest.raises(MissingMigrationError) as caught:
        check_state(listing(2, 3), state(1, 2), verify_checksums=False)
    error = caught.value
    assert not isinstance(error, DatabaseAheadError)
    assert error.exit_code == 3 and error.version == 1
    assert "1 (m1)" in error.message


def test_a_database_ahead_of_the_code():
    with pytest.raises(DatabaseAheadError) as caught:
        check_state(listing(1, 2), state(1, 2, 3, 4), verify_checksums=False)
    error = caught.value
    assert error.exit_code == 3
    assert "3 (m3), 4 (m4)" in error.message and "newest migration here is 2" in error.message
    with pytest.raises(DatabaseAheadError):
        check_state(listing(), state(1), verify_checksums=False)


def test_an_edited_applied_migration_names_both_checksums(tmp_path):
    (tmp_path / "1_a.up.sql").write_text("CREATE TABLE a (id INTEGER);\n")
    (tmp_path / "2_b.up.sql").write_text("CREATE TABLE b (id INTEGER, edited INTEGER);\n")
    disk = Listing([migration(1, "a", folder=str(tmp_path), down=False),
                    migration(2, "b", folder=str(tmp_path), down=False)], [])
    sha_a = hashlib.sha256(b"CREATE TABLE a (id INTEGER);\n").hexdigest()
    sha_b_then = hashlib.sha256(b"CREATE TABLE b (id INTEGER);\n").hexdigest()
    sha_b_now = hashlib.sha256(b"CREATE TABLE b (id INTEGER, edited INTEGER);\n").hexdigest()
    with pytest.raises(ChecksumError) as caught:
        check_state(disk, State([applied(1, sha_a), applied(2, sha_b_then)]))
    error = caught.value
    assert error.exit_code == 3 and error.version == 2
    assert error.file == str(tmp_path / "2_b.up.sql")
    assert sha_b_then in error.message and sha_b_now in error.message
    assert sha_a not in error.message
    # verify_checksums=False (status-like callers) does not read the files
    check_state(disk, State([applied(1, sha_a), applied(2, sha_b_then)]),
                verify_checksums=False)


def test_pending_migrations_are_not_checksummed():
    # their files do not exist; only applied ones are read
    check_state(listing(1, 2), State())
