"""The layers hold: each imports only the layers below it, no modules import each other
round in a cycle, none reaches into another's underscored names, and the path of
``import ferryman`` and ``ferryman status`` stays light.

Imports are read with ``ast`` from src/ferryman: every import, also those inside
functions, so a lazy import that crosses a layer or closes a cycle counts as well.
"""

import ast
import functools
import os
import subprocess
import sys
import sysconfig

import pytest

import ferryman

PACKAGE_DIR = os.path.dirname(os.path.abspath(ferryman.__file__))
SRC_DIR = os.path.dirname(PACKAGE_DIR)

# -- the layers, from the bottom up ----------------------------------------------------
# A name holds that module, or that package and everything in it ("ferryman", the
# package's own __init__, holds only itself).
LAYERS = {
    # The words every layer speaks: the version, errors, events, times and sizes, the
    # phase names, the result types, database URLs.
    "base": ("ferryman._version", "ferryman.errors", "ferryman.events", "ferryman.text",
             "ferryman.phases", "ferryman.results", "ferryman.url"),
    # What is on disk, what to run, what the database says, running it. Knows a
    # dialect only as an object it is given.
    "core": ("ferryman.core",),
    # One module per database engine.
    "dialects": ("ferryman.dialects",),
    # One database's connection, lock, state, plan, run and history, for every layer
    # above it; and the status reader, which the engine's status uses (it stays off
    # the runner's imports, so `ferryman status` stays light).
    "engine": ("ferryman.engine", "ferryman.readonly"),
    # Backups, restore, rollback.
    "safety": ("ferryman.safety",),
    # The ten phases, the strategies, the reports.
    "pipeline": ("ferryman.pipeline",),
    # Many services in dependency order.
    "coordinator": ("ferryman.coordinator",),
    # What the faces share: settings, password warnings, the log file, maintenance and
    # inspection, project scaffolding.
    "tools": ("ferryman.config", "ferryman.exposure", "ferryman.logfile",
              "ferryman.maintenance", "ferryman.scaffold"),
    # The faces.
    "api": ("ferryman.api",),
    "startup": ("ferryman.startup",),
    "integrations": ("ferryman.integrations",),
    "http": ("ferryman.http",),
    "cli": ("ferryman.cli",),
    # `import ferryman` (its names are imported on first use, through importlib) and
    # `python -m ferryman`.
    "entry": ("ferryman", "ferryman.__main__"),
}
LIBRARY = ("base", "core", "dialects", "engine", "safety", "pipeline", "coordinator")
LOWER_FACES = set(LIBRARY) | {"tools"}
MAY_IMPORT = {
    **{layer: set(LIBRARY[:i + 1]) for i, layer in enumerate(LIBRARY)},
    "tools": {"base", "core", "dialects", "engine", "safety", "tools"},
    "api": LOWER_FACES | {"api"},
    "startup": LOWER_FACES | {"api", "startup"},
    "integrations": LOWER_FACES | {"api", "startup", "integrations"},
    "http": LOWER_FACES | {"api", "http"},
    "cli": LOWER_FACES | {"api", "http", "cli"},
    "entry": {"base", "cli", "entry"},
}
# Modules that import nothing of ferryman's: anything may import them.
LEAVES = ("ferryman._version", "ferryman.text", "ferryman.phases")

# Today's exceptions, each a strict xfail below: when one is fixed its xfail passes,
# which fails the run, and the line here goes.

# Underscored names that are public APIs of the standard library or of click.
PUBLIC_UNDERSCORED = {
    "_replace": "namedtuple's API (with _asdict, _fields, _make)",
    "_asdict": "namedtuple's API", "_fields": "namedtuple's API",
    "_make": "namedtuple's API",
    "_getframe": "sys._getframe, CPython's documented frame access",
    "_protected_args": "click 8.2 deprecates Context.protected_args and keeps the list as "
                       "_protected_args; cli.app.parse walks a command line as click does",
}


# -- reading the package ----------------------------------------------------------------
def module_name(path):
    relative = os.path.relpath(path, SRC_DIR)[:-3]
    parts = relative.split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@functools.cache
def modules():
    """{module name: path} for every module of the package."""
    found = {}
    for folder, _dirs, files in os.walk(PACKAGE_DIR):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found[module_name(path)] = path
    return found


@functools.cache
def tree_of(path):
    with open(path, encoding="utf-8") as handle:
        return ast.parse(handle.read(), filename=path)


def imported_by(name, tree, is_package):
    """Every ferryman module that the module ``name`` imports, wherever the import is."""
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
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in found if m in modules() and m != name}


def imports_of(name):
    path = modules()[name]
    return imported_by(name, tree_of(path), path.endswith("__init__.py"))


def within(module, package):
    if package == "ferryman":
        return module == "ferryman"
    return module == package or module.startswith(package + ".")


def layer_of(module):
    """The layer whose most specific name holds ``module``, or None."""
    matches = [(len(p), layer) for layer, names in LAYERS.items() for p in names
               if within(module, p)]
    return max(matches)[1] if matches else None


def violations():
    """"A imports B" for every import that is not to a layer A's layer may import."""
    found = set()
    for name in modules():
        allowed = MAY_IMPORT[layer_of(name)]
        found |= {f"{name} imports {target}" for target in imports_of(name)
                  if layer_of(target) not in allowed and target not in LEAVES}
    return found


def import_graph():
    """{module: the modules it imports}. An import of one's own enclosing package is
    left out: Python has always imported the package before any module in it."""
    return {name: {t for t in imports_of(name) if not name.startswith(t + ".")}
            for name in modules()}


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan's), sorted;
    a module importing itself is a component of one."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while not component or node not in component:
                component.add(stack.pop())
            on_stack.difference_update(component)
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found, key=sorted)


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def own_private_names(tree):
    """The underscored names a module defines itself: its module-level and class-level
    names, its classes' ``self.``/``cls.`` attributes and ``__slots__``."""
    names = set()
    bodies = [tree.body] + [n.body for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    for body in bodies:
        for statement in body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(statement.name)
            elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = getattr(statement, "targets", None) or [statement.target]
                names |= {n.id for t in targets for n in ast.walk(t)
                          if isinstance(n, ast.Name)}
                if any(isinstance(t, ast.Name) and t.id == "__slots__" for t in targets):
                    names |= {c.value for c in ast.walk(statement.value)
                              if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                and _is_self(node.value)):
            names.add(node.attr)
    return {n for n in names if is_private(n)}


def _is_self(node):
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    # super()._method(): the class's own family
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "super")


def reaches(name, tree, is_package=False):
    """Where the module ``name`` touches another module's or object's private names:
    ``from X import _y`` from another ferryman module, and ``something._y`` where
    something is not self or cls and ``_y`` is not a name the module defines."""
    own = own_private_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
                node.level or (node.module or "").split(".")[0] == "ferryman"):
            source = "." * node.level + (node.module or "")
            found += [f"{name}:{node.lineno} from {source} import {alias.name}"
                      for alias in node.names if is_private(alias.name)]
        elif (isinstance(node, ast.Attribute) and is_private(node.attr)
              and not _is_self(node.value) and node.attr not in own
              and node.attr not in PUBLIC_UNDERSCORED):
            found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    return found


def private_reaches():
    found = []
    for name, path in sorted(modules().items()):
        found += reaches(name, tree_of(path))
    return found


# -- the table itself -----------------------------------------------------------------
def test_every_module_has_a_layer():
    assert [name for name in sorted(modules()) if layer_of(name) is None] == []


def test_the_table_points_only_down():
    order = list(LAYERS)
    for layer, allowed in MAY_IMPORT.items():
        assert layer in allowed, layer
        assert all(order.index(other) <= order.index(layer) for other in allowed), layer
    assert set(MAY_IMPORT) == set(LAYERS)


def test_the_import_reader_sees_relative_and_lazy_imports():
    assert imports_of("ferryman.readonly") >= {
        "ferryman.dialects", "ferryman.core.history", "ferryman.core.source"}
    # cli/__init__.py imports cli.app inside a function
    assert "ferryman.cli.app" in imports_of("ferryman.cli")
    lazy = ast.parse("def status():\n    from .readonly import StatusReader\n")
    assert imported_by("ferryman.api", lazy, False) == {"ferryman.readonly"}
    # in a package's __init__, `.` is the package itself
    assert imported_by("ferryman.cli", ast.parse("from . import app"), True) == {
        "ferryman.cli.app"}


def test_the_layer_check_sees_an_upward_import():
    """A core module that imported the CLI lazily would be caught."""
    tree = ast.parse("def f():\n    from ..cli import main\n")
    targets = imported_by("ferryman.core.plan", tree, False)
    assert "ferryman.cli" in targets
    assert layer_of("ferryman.cli") not in MAY_IMPORT[layer_of("ferryman.core.plan")]


# -- imports go down --------------------------------------------------------------------
@pytest.mark.parametrize("layer", list(LAYERS))
def test_each_layer_imports_only_the_layers_below_it(layer):
    found = {v for v in violations() if layer_of(v.split()[0]) == layer}
    assert sorted(found) == []


def test_the_leaves_import_nothing_of_ferryman():
    assert {leaf: sorted(imports_of(leaf)) for leaf in LEAVES} == {
        leaf: [] for leaf in LEAVES}


# -- no cycles ----------------------------------------------------------------------------
def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "d"}, "e": set()}
    assert cycles(graph) == [frozenset("abc"), frozenset("d")]


def test_no_import_cycles():
    assert [sorted(c) for c in cycles(import_graph())] == []


# -- no reaching into another's private names -----------------------------------------
def test_the_private_name_scan_sees_what_it_forbids():
    tree = ast.parse(
        "from .runner import _ms\n"
        "from ._version import __version__\n"
        "_LIMIT = 3\n"
        "class Run:\n"
        "    __slots__ = ('_state',)\n"
        "    def go(self, other, migrator):\n"
        "        self._mine = other._state, self._mine, super()._go(), _LIMIT\n"
        "        migrator._connect()\n"
        "        self.engine._lock()\n"
        "        return other.__class__, row._replace(a=1)\n")
    found = [line.split(" ", 1)[1] for line in reaches("ferryman.core.x", tree)]
    assert sorted(found) == ["from .runner import _ms", "migrator._connect",
                             "self.engine._lock"]


def test_no_module_reaches_into_anothers_private_names():
    assert private_reaches() == []
