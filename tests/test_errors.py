"""Every error in one module, each exit code set where the error is made.

Read with ``ast`` from src/ferryman: an error class defined elsewhere, or an exit code
changed on an error after it was made, is caught wherever it is written.
"""

import ast
import os

import pytest

import ferryman
from ferryman import errors

PACKAGE_DIR = os.path.dirname(os.path.abspath(ferryman.__file__))
ERRORS_PY = os.path.join(PACKAGE_DIR, "errors.py")
ERROR_NAMES = {name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, errors.FerrymanError)}


def sources():
    """(path relative to the package, parsed tree) of every module but errors.py."""
    for folder, _dirs, files in os.walk(PACKAGE_DIR):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".py") and path != ERRORS_PY:
                with open(path, encoding="utf-8") as handle:
                    yield os.path.relpath(path, PACKAGE_DIR), ast.parse(handle.read(), path)


def base_name(node):
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)


def exit_code_writes(tree):
    """(line, the innermost enclosing function's name, the object's text) of every write
    of an ``exit_code`` attribute: assignments and ``setattr(x, "exit_code", ...)``."""
    found = []

    def visit(node, owner):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            owner = node.name
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr"
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and node.args[1].value == "exit_code"):
            found.append((node.lineno, owner, ast.unparse(node.args[0])))
        for target in targets:
            for part in ast.walk(target):
                if isinstance(part, ast.Attribute) and part.attr == "exit_code":
                    found.append((node.lineno, owner, ast.unparse(part.value)))
        for child in ast.iter_child_nodes(node):
            visit(child, owner)

    visit(tree, "<module>")
    return found


def test_every_error_class_is_defined_in_errors_py():
    elsewhere = [f"{path}:{node.lineno} class {node.name}"
                 for path, tree in sources() for node in ast.walk(tree)
                 if isinstance(node, ast.ClassDef)
                 and any(base_name(b) in ERROR_NAMES for b in node.bases)]
    assert elsewhere == []


def test_no_exit_code_is_changed_on_an_error_after_it_was_made():
    """Outside errors.py, ``exit_code`` is written only as a constructor's own field
    (``self.exit_code`` in an ``__init__``: the signal handler's stop request, which is
    no FerrymanError, per the test above)."""
    writes = [f"{path}:{line} {target}.exit_code = ... in {owner}"
              for path, tree in sources()
              for line, owner, target in exit_code_writes(tree)
              if not (owner == "__init__" and target == "self")]
    assert writes == []


def test_the_scan_sees_what_it_forbids():
    tree = ast.parse("def run(error):\n    error.exit_code = 3\n"
                     "def other(error):\n    setattr(error, 'exit_code', 4)\n"
                     "class StopRequested:\n    def __init__(self, code):\n"
                     "        self.exit_code = code\n")
    assert {(line, owner) for line, owner, _target in exit_code_writes(tree)} == {
        (2, "run"), (4, "other"), (7, "__init__")}


def test_errors_py_imports_nothing_and_lists_every_error():
    with open(ERRORS_PY, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert ERROR_NAMES <= set(errors.__all__)
    assert all(hasattr(errors, name) for name in errors.__all__)
    tree_text = errors.__doc__
    assert [n for n in sorted(ERROR_NAMES) if f" {n} " not in tree_text] == []


def test_moved_errors_are_still_importable_where_they_were():
    from ferryman.coordinator import CoordinatedError
    from ferryman.http.runs import Busy
    from ferryman.http.services import UnknownService
    from ferryman.pipeline.checks import CheckFailed
    from ferryman.safety.backups import BackupError, VerifyError
    from ferryman.safety.postgresql import RestoreError
    from ferryman.startup import StartupError

    assert (CoordinatedError, Busy, UnknownService, CheckFailed, BackupError, VerifyError,
            RestoreError, StartupError) == (
        errors.CoordinatedError, errors.Busy, errors.UnknownService, errors.CheckFailed,
        errors.BackupError, errors.VerifyError, errors.RestoreError, errors.StartupError)


@pytest.mark.parametrize("error, code", [
    (errors.CheckFailed("integrity", ["orphans"]), 1),
    (errors.CheckFailed("validate", ["health.sql answered 0"], after_commit=True,
                        committed_version=7), 3),
    (errors.StartupError("start-up failed", errors.LockTimeout("lock held")), 4),
    (errors.StartupError("start-up failed", errors.DirtyError("dirty")), 3),
    (errors.Interrupted("stopped", signal_name="SIGTERM", exit_code=143), 143),
    (errors.BlockedError("blocked", exit_code=None), 4),
])
def test_an_exit_code_is_the_class_or_the_constructors(error, code):
    assert error.exit_code == code and error.to_dict()["exit_code"] == code


def test_an_error_after_the_commit_needs_a_person_and_says_what_committed():
    cause = errors.DriverError("division by zero", db_message="division by zero",
                               statement="REFRESH MATERIALIZED VIEW order_prices")
    error = errors.after_commit(cause, "optimize", 12)
    assert isinstance(error, errors.StateError) and error.exit_code == 3
    assert error.message.startswith("the migrations are committed: the database is at "
                                    "version 12; then the optimize phase failed")
    assert error.statement == cause.statement and error.cause is cause
    checked = errors.after_commit(errors.CheckFailed("validate", ["a.sql answered 0"]),
                                  "validate", 12)
    assert isinstance(checked, errors.CheckFailed) and checked.exit_code == 3
    assert "version 12" in checked.message and checked.problems == ["a.sql answered 0"]
    assert errors.after_commit(checked, "validate", 12) is checked
