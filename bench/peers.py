"""Install the peers, idempotently: pip into the project's .venv, npm into bench/.node.

Nothing is installed when everything is already there at the pinned versions, so
`make bench` costs no network access after the first time.
"""

import importlib
import re
import shutil
import subprocess
import sys
from importlib import metadata

from harness import BENCH, PYTHON, BenchError

REQUIREMENTS = BENCH / "requirements.txt"
NODE_PREFIX = BENCH / ".node"
MAKE_TOOLS = BENCH.parent / ".tools"  # `make tools`: npm install --prefix .tools dbmate
DBMATE_NPM = "dbmate@2.36.0"


def _pins():
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip()] = version.strip()
    return pins


def _python_missing():
    missing = []
    for name, version in _pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            missing.append(f"{name}=={version}" + (f" (have {installed})" if installed else ""))
    return missing


def dbmate_binary():
    """The Go binary inside the platform package npm installed (not the node wrapper):
    bench/.node's, else the one `make tools` put in .tools (ensure() checks its version)."""
    for prefix in (NODE_PREFIX, MAKE_TOOLS):
        found = sorted((prefix / "node_modules" / "@dbmate").glob("*/bin/dbmate"))
        if found:
            return found[0]
    return None


def _dbmate_version(binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+\.\d+\.\d+)", out)
    return match.group(1) if match else None


def ensure(log=print, python=True, node=True):
    """Install whatever is missing (``python``: Alembic and yoyo; ``node``: dbmate);
    raise BenchError if that fails."""
    missing = _python_missing() if python else []
    if missing:
        log(f"setup: pip install into .venv: {', '.join(missing)}")
        _call([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "-r", REQUIREMENTS])
        importlib.invalidate_caches()  # let importlib.metadata see the new packages
        still = _python_missing()
        if still:
            raise BenchError(f"setup: still missing after pip install: {', '.join(still)}")

    binary = dbmate_binary()
    wanted = DBMATE_NPM.split("@", 1)[1]
    if node and (binary is None or _dbmate_version(binary) != wanted):
        npm = shutil.which("npm")
        if npm is None:
            raise BenchError("setup: npm is needed to install dbmate (or pass --tools "
                             "without dbmate)")
        log(f"setup: npm install --prefix {NODE_PREFIX} {DBMATE_NPM}")
        NODE_PREFIX.mkdir(exist_ok=True)
        _call([npm, "install", "--prefix", NODE_PREFIX, "--no-audit", "--no-fund",
               "--loglevel=error", DBMATE_NPM])
        if dbmate_binary() is None:
            raise BenchError("setup: npm installed dbmate but no @dbmate/<platform>/bin/dbmate "
                             "binary was found (unsupported platform?)")


def _call(argv):
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"setup: `{' '.join(str(a) for a in argv)}` failed:\n"
                         f"{proc.stderr.strip() or proc.stdout.strip()}")


if __name__ == "__main__":
    try:
        ensure()
    except BenchError as exc:
        sys.exit(str(exc))
