"""Layers import only downward, and the start-up path stays light.

Imports are read with ``ast`` from src/ferryman (every import, also those inside
functions), so a lazy import that crosses a layer is caught as well.
"""

import ast
import os
import subprocess
import sys

import pytest

import ferryman

PACKAGE_DIR = os.path.dirname(os.path.abspath(ferryman.__file__))
HEAVY = ("click", "dataclasses", "typing", "logging", "pathlib")


def module_name(path):
    relative = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[:-3]
    parts = relative.split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules():
    """{module name: path} for every module of the package."""
    found = {}
    for folder, _dirs, files in os.walk(PACKAGE_DIR):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found[module_name(path)] = path
    return found


def imports_of(name, path):
    """Every ferryman module that ``name`` imports, absolute, wherever the import is."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=path)
    is_package = path.endswith("__init__.py")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from . import run` imports the submodule when there is one
            for alias in node.names:
                found.add(f"{target}.{alias.name}")
    known = modules()
    return {m for m in found if m in known and m != name}


def within(module, *packages):
    return any(module == p or module.startswith(p + ".") for p in packages)


def violations(owners, allowed):
    """Imports of modules in ``owners`` that fall outside ``allowed(module)``."""
    bad = []
    for name, path in sorted(modules().items()):
        if within(name, *owners):
            bad += [f"{name} imports {target}" for target in sorted(imports_of(name, path))
                    if not allowed(name, target)]
    return bad


def test_the_import_reader_sees_relative_and_lazy_imports():
    found = modules()
    assert imports_of("ferryman.readonly", found["ferryman.readonly"]) >= {
        "ferryman.dialects", "ferryman.core.history", "ferryman.core.source"}
    # api.py imports the status reader inside a method
    assert "ferryman.readonly" in imports_of("ferryman.api", found["ferryman.api"])
    # cli/__init__.py imports cli.app inside a function
    assert "ferryman.cli.app" in imports_of("ferryman.cli", found["ferryman.cli"])


def test_core_does_not_import_the_layers_above_it():
    """Dumb drivers, smart core: the core talks to a dialect object it is given."""
    assert violations(["ferryman.core"], lambda _n, target: not within(
        target, "ferryman.api", "ferryman.cli", "ferryman.config", "ferryman.dialects",
        "ferryman.safety", "ferryman.startup", "ferryman.integrations")) == []


def test_safety_does_not_import_the_faces():
    assert violations(["ferryman.safety"], lambda _n, target: not within(
        target, "ferryman.api", "ferryman.cli", "ferryman.startup",
        "ferryman.integrations")) == []


def test_errors_and_events_import_only_errors():
    assert violations(["ferryman.errors", "ferryman.events"],
                      lambda _n, target: target == "ferryman.errors") == []


def test_version_module_is_a_leaf():
    assert imports_of("ferryman._version", modules()["ferryman._version"]) == set()


def test_dialects_import_only_errors_and_core():
    # ferryman._version is a constant with no imports of its own (checked above); the
    # PostgreSQL dialect puts it in application_name.
    assert violations(["ferryman.dialects"], lambda _n, target: within(
        target, "ferryman.errors", "ferryman.core", "ferryman.dialects",
        "ferryman._version")) == []


def test_the_api_does_not_import_the_cli():
    assert violations(["ferryman.api"],
                      lambda _n, target: not within(target, "ferryman.cli")) == []


def loaded_after(code):
    """Which heavy modules are in sys.modules after running ``code`` in a fresh Python."""
    script = (f"{code}\nimport sys\n"
              f"print('loaded:', *sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip().splitlines()[-1].split()[1:]


def test_import_ferryman_stays_light():
    assert loaded_after("import ferryman") == []


def test_the_status_modules_stay_light():
    assert loaded_after("import ferryman.cli.fast, ferryman.config, ferryman.readonly, "
                        "ferryman.dialects.sqlite") == []


@pytest.mark.parametrize("with_config", [False, True])
def test_running_ferryman_status_stays_light(tmp_path, with_config):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "1_a.up.sql").write_text("CREATE TABLE a (id INTEGER);")
    args = ["status", "--json"]
    if with_config:
        (tmp_path / "ferryman.toml").write_text(
            'migrations = "migrations"\n[database]\nurl = "sqlite:///app.db"\n')
        args += ["--config", str(tmp_path / "ferryman.toml")]
    else:
        args += ["--database-url", f"sqlite:///{tmp_path / 'app.db'}",
                 "--migrations", str(tmp_path / "migrations")]
    code = ("import io, contextlib\nfrom ferryman.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            f"    code = main({args!r})\n"
            "assert code == 0 and '\"pending_count\": 1' in out.getvalue(), out.getvalue()")
    # With a file, the standard library's tomllib brings typing in (tomllib/_parser.py
    # imports it); ferryman itself adds none of them.
    allowed = {"typing"} if with_config else set()
    assert set(loaded_after(code)) <= allowed
    assert not (tmp_path / "app.db").exists()


def test_the_click_face_is_loaded_only_for_help(tmp_path):
    """The check above can fail: --help does go through click."""
    code = ("import io, contextlib\nfrom ferryman.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['status', '--help'])")
    assert "click" in loaded_after(code)
