"""The dialect contract is written down: dialects/base.py declares, with its meaning,
every member that ferryman's other layers use on a dialect connection or its catalog,
and every engine adds nothing that the base class does not declare."""

import ast
import importlib
import inspect
import os

import pytest

import ferryman
from ferryman.dialects import DIALECTS
from ferryman.dialects.base import Catalog, Dialect

PACKAGE_DIR = os.path.dirname(os.path.abspath(ferryman.__file__))
# How code outside dialects/ names a dialect connection: a variable ``db``, an
# attribute ``.db`` or ``.dialect`` (an engine's).
DIALECT_NAMES = {"db", ".db", ".dialect"}
INSTANCE_ATTRIBUTES = {"url", "connection", "in_transaction"}  # set by Dialect.__init__


def _uses(names):
    """{member: [module path, ...]} for each ``X.member`` outside the dialects
    package where X is a variable in ``names``, or an attribute named there ".name"."""
    found = {}
    for folder, _dirs, files in os.walk(PACKAGE_DIR):
        if os.path.basename(folder) == "dialects":
            continue
        for name in (f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and _holder(node.value) in names:
                    found.setdefault(node.attr, []).append(os.path.relpath(path, PACKAGE_DIR))
    return found


def _holder(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return "." + node.attr
    return None


def _engines():
    return [getattr(importlib.import_module(module), name) for module, name in DIALECTS.values()]


def test_every_member_used_on_a_dialect_is_declared_on_the_base_class():
    used = _uses(DIALECT_NAMES)
    assert {"execute", "catalog", "maintenance_statements"} <= set(used)  # the scan works
    undeclared = {member: paths for member, paths in used.items()
                  if not hasattr(Dialect, member) and member not in INSTANCE_ATTRIBUTES}
    assert undeclared == {}


def test_every_catalog_member_the_pipeline_uses_is_declared():
    used = _uses({"catalog"})  # the pipeline's name for it
    assert "tables" in used  # the scan works
    assert {m: p for m, p in used.items() if not hasattr(Catalog, m)} == {}


@pytest.mark.parametrize("base", [Dialect, Catalog])
def test_each_declared_method_says_what_it_means(base):
    methods = [name for name, member in vars(base).items()
               if not name.startswith("_") and callable(getattr(base, name))]
    assert methods
    assert [name for name in methods if not inspect.getdoc(getattr(base, name))] == []


@pytest.mark.parametrize("engine", _engines(), ids=lambda cls: cls.name)
def test_an_engine_adds_no_public_member_the_base_class_does_not_declare(engine):
    catalog = type(engine.catalog(engine.__new__(engine), "ferryman_"))
    assert issubclass(catalog, Catalog)
    for cls, base in ((engine, Dialect), (catalog, Catalog)):
        assert [n for n in vars(cls) if not n.startswith("_") and not hasattr(base, n)] == []
