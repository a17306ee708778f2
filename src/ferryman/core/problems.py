"""Problems in the migration files as objects: ``{file, files, line, kind, message,
hint}``, as ``ferryman validate`` lists them.

Every reader of the files (core/source.py, core/compile.py, core/formats.py) makes
each problem a core/formats.py ``Problem``: a text naming the file (and line), what is
wrong and the way forward, which keeps those parts. ``structured`` turns a list of
them into the objects ``validate --json`` prints; ``lines`` into the lines ``validate``
prints. Both make an up file and its down file with the same problem one entry
(``files`` lists both; the up file names it), and so the up and the down files of one
duplicate version. A text that is not a Problem is kept whole (kind ``other``).

Pure: problems in, dicts and texts out.
"""

import os
import re

_MARKERS = (".up.", ".down.", "_up.", "_down.")
_FLYWAY = re.compile(r"[VU](?=[0-9][0-9._]*__)")  # V1__x.sql and its undo U1__x.sql


def describe(problem):
    """The parts of one problem: {file, line, kind, message, hint}; a text that is not a
    Problem is its message, of kind ``other``."""
    if all(hasattr(problem, a) for a in ("file", "line", "kind", "message", "hint")):
        return {"file": problem.file, "line": problem.line, "kind": problem.kind,
                "message": problem.message, "hint": problem.hint or None}
    return {"file": None, "line": None, "kind": "other", "message": str(problem),
            "hint": None}


def structured(problems):
    """The problems as objects {file, files, line, kind, message, hint}, in order; an
    up file and its down file with the same problem (the same kind and message, apart
    from the file's name) one entry, named by the up file, whose ``files`` lists both;
    problems with the same ``key`` (a duplicate version's up and down files) one entry
    too."""
    out, entries = [], {}
    for problem in problems:
        item = describe(problem)
        item["files"] = list(getattr(problem, "files", None) or
                             ([item["file"]] if item["file"] else []))
        key = _merge_key(problem, item)
        if key is None or key not in entries:
            if key is not None:
                entries[key] = item
            out.append(item)
            continue
        _merge(entries[key], item)
    return out


def lines(problems):
    """One line per entry of ``structured``: the problem's own text, its other files
    named after the first (``/m/2_x.up.txt (and 2_x.down.txt): ...``)."""
    return [_line(item) for item in structured(problems)]


def _line(item):
    if item["file"] is None:
        return item["message"]
    where = item["file"] + (f":{item['line']}" if item["line"] else "")
    others = [os.path.basename(f) for f in item["files"]
              if f != item["file"] and f not in item["message"]]
    if others:
        where += f" (and {', '.join(others)})"
    return f"{where}: {item['message']}" + (f" ({item['hint']})" if item["hint"] else "")


def _merge_key(problem, item):
    if item["file"] is None:
        return None
    key = getattr(problem, "key", None)
    if key is not None:
        return item["kind"], key
    folder, name = os.path.split(item["file"])
    neutral, _direction = _pair_form(name)
    return (item["kind"], item["line"], folder, neutral,
            item["message"].replace(name, neutral))


def _merge(entry, item):
    """Fold ``item`` into ``entry``; the up file's problem names the entry."""
    if _is_down(entry["file"]) and not _is_down(item["file"]):
        lead, other = dict(item), dict(entry)
    else:
        lead, other = entry, item
    files = lead["files"] + [f for f in other["files"] if f not in lead["files"]]
    entry.update(lead)
    entry["files"] = files


def _is_down(path):
    return _pair_form(os.path.basename(path))[1] == "down"


def _pair_form(name):
    """(the name with its direction left out, "up", "down" or None): ``2_x.*.sql``
    for ``2_x.up.sql`` and ``2_x.down.sql``, ``*1__x.sql`` for Flyway's V and U."""
    at, marker = max((name.rfind(m), m) for m in _MARKERS)
    if at >= 0:
        direction = "down" if "down" in marker else "up"
        return (name[:at] + marker[0] + "*" + marker[-1] + name[at + len(marker):],
                direction)
    if _FLYWAY.match(name):
        return "*" + name[1:], "down" if name[0] == "U" else "up"
    return name, None
