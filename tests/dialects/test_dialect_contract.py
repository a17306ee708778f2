"""The suite covers the whole contract: every public member that dialects/base.py
declares on ``Dialect`` and ``Catalog`` is used by a test of this folder, so a member
added to the contract fails here until a conformance test asks every engine for it."""

import pathlib
import re

from ferryman.dialects.base import Catalog, Dialect

HERE = pathlib.Path(__file__).parent


def declared(cls):
    return sorted(name for name in vars(cls) if not name.startswith("_"))


def test_every_declared_member_is_exercised_by_the_suite():
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted(HERE.glob("test_*.py"))
                     if path.name != pathlib.Path(__file__).name)
    missing = [f"{cls.__name__}.{name}" for cls in (Dialect, Catalog)
               for name in declared(cls)
               if not re.search(rf"\b{re.escape(name)}\b", text)]
    assert not missing, f"no conformance test uses {missing}"
    assert declared(Dialect) and declared(Catalog)
