"""The splitter on every Python that requires-python admits (issue 8, item 11).

Python 3.11.0 to 3.11.4 loop forever on some possessive quantifiers and atomic
groups (CPython gh-106052); Debian 12's own python3 is 3.11.2. The splitter's
patterns therefore use neither, and the golden files are split on Debian's
interpreter too, in a child process with a deadline, so a hang fails the test
instead of the suite.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ferryman.core import splitter
from ferryman.core.splitter import SplitError, split

SRC = Path(splitter.__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "splitter"
DIALECTS = ("postgresql", "sqlite", "mysql")
# A quantifier followed by '+' is possessive; "(?>" opens an atomic group.
POSSESSIVE = re.compile(r"(?<!\\)(?:[*+?]|\})\+|\(\?>")

SPLIT_GOLDEN = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from ferryman.core.splitter import split
out = {}
for path in sorted(Path(sys.argv[2]).glob("*.sql")):
    sql = path.read_bytes().decode("utf-8")
    out[path.name] = [[s.text, s.line] for s in split(sql, path.name.split(".")[-2])]
print(json.dumps(out))
"""


def oldest_python():
    """Debian's interpreter when it differs from the one running the tests."""
    candidate = shutil.which("python3", path="/usr/bin")
    if candidate is None:
        pytest.skip("no /usr/bin/python3 on this machine")
    version = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:3])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return candidate, version


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_pattern_uses_a_regex_feature_broken_before_3_11_5(dialect):
    compiled = splitter._compiled(dialect)
    for pattern in (compiled.tokens, compiled.opening, compiled.first_words, compiled.scan):
        assert POSSESSIVE.search(pattern.pattern) is None, pattern.pattern[:200]


def test_golden_files_split_alike_on_the_oldest_python():
    python, version = oldest_python()
    done = subprocess.run([python, "-c", SPLIT_GOLDEN, str(SRC), str(GOLDEN)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"python {version}: {done.stderr[-2000:]}"
    theirs = json.loads(done.stdout)
    ours = {path.name: [[s.text, s.line] for s in split(
        path.read_bytes().decode("utf-8"), path.name.split(".")[-2])]
        for path in sorted(GOLDEN.glob("*.sql"))}
    assert theirs == ours
    assert len(ours) >= 25


# Inputs that make a backtracking pattern take exponential time when a run
# between two words, or a skipped run of code, can be given back and cut anew.
ADVERSARIAL = [
    "SELECT " + "1" * 5000 + ";",
    "SELECT " + "1a" * 3000,
    "CREATE " + "1 " * 5000,
    "SELECT " + "- " * 5000 + ";",
    "x " + "'a''" * 3000,
    "E'" + "\\'" * 5000,
    "SELECT $1" * 3000,
    "a" + " 1.2e3" * 5000 + " ;",
    "CREATE TRIGGER " + "x " * 3000 + "BEGIN " + "; " * 3000,
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_input_ends(sql, dialect):
    """Each ends (a hang here is the failure) with statements or a SplitError."""
    try:
        statements = split(sql, dialect)
    except SplitError as exc:
        assert "unterminated" in str(exc)
    else:
        assert all(s.text for s in statements)
