"""Problems in the migration files as objects: ``{file, line, kind, message, hint}``.

Every reader of the files (core/source.py, core/compile.py, core/formats.py) says a
problem as one text that names the file (and line), what is wrong and the way forward;
core/formats.py's ``Problem`` keeps those parts itself. ``structured`` turns a list of
either into the objects ``ferryman validate --json`` prints, and makes an up file and
its down file with the same problem one entry (``files`` lists both).

Pure: texts in, dicts out.
"""

import os
import re

# "{file}[:{line}]: {message}": the file is a path (it holds a separator, or ends
# like a migration file); a line number follows it when the problem is inside.
_WHERE = re.compile(r"([^\n]+?)(?::([0-9]+))?: ([^\n]*(?:\n[^\n]*)*)")
_HINT = re.compile(r"\(([^()]*)\)\s*$")
_DIRECTION = re.compile(r"([._])(up|down)([._])")
# (kind, words a problem of that kind says), first match wins.
_KINDS = (
    ("duplicate", ("is used by", "appears", "more than one migration", "down files")),
    ("name", ("name does not follow", "does not follow", "names are", "not printable",
              "is not a version", "prefixes are")),
    ("version", ("version ", "is above")),
    ("link", ("symbolic link",)),
    ("control", ("control character",)),
    ("directive", ("directive",)),
    ("encoding", ("not UTF-8",)),
    ("unreadable", ("cannot read",)),
    ("python", ("Python", "up(ctx)")),
    ("transaction", ("never committed", "transaction")),
    ("pairing", ("without an up migration", "has its down()")),
    ("unsupported", ("ferryman runs", "does not run", "cannot run", "placeholder")),
    ("section", ("migrate:up", "migrate:down")),
    ("annotation", ("+goose",)),
)


def describe(problem):
    """The parts of one problem: {file, line, kind, message, hint}."""
    if all(hasattr(problem, a) for a in ("file", "line", "kind", "message", "hint")):
        return {"file": problem.file, "line": problem.line, "kind": problem.kind,
                "message": problem.message, "hint": problem.hint or None}
    text = str(problem)
    file = line = None
    message = text
    where = _WHERE.fullmatch(text)
    if where and _is_path(where.group(1)):
        file, message = where.group(1), where.group(3)
        line = int(where.group(2)) if where.group(2) else None
    elif "used by" in text or "appears" in text:
        paths = text.rsplit(": ", 1)[-1].split(", ")
        file = paths[0] if paths and _is_path(paths[0]) else None
    hint = None
    found = _HINT.search(message)
    if found and found.start() > 0:
        hint, message = found.group(1), message[:found.start()].rstrip()
    return {"file": file, "line": line, "kind": _kind(message), "message": message,
            "hint": hint}


def structured(problems):
    """The problems as objects, an up file and its down file with the same problem
    (same kind and message) merged into one entry whose ``files`` lists both."""
    out, seen = [], {}
    for problem in problems:
        item = describe(problem)
        item["files"] = [item["file"]] if item["file"] else []
        if item["kind"] == "duplicate" and ": " in item["message"]:
            listed = item["message"].rsplit(": ", 1)[1].split(", ")
            item["files"] = [p for p in listed if _is_path(p)] or item["files"]
        key = (item["kind"], item["message"], item["line"], _pair_key(item["file"]))
        if item["file"] and key in seen:
            first = seen[key]
            first["files"].append(item["file"])
            if "down" in os.path.basename(first["file"] or ""):
                first["file"] = item["file"]  # the up file names the entry
            continue
        seen[key] = item
        out.append(item)
    return out


def _pair_key(path):
    if not path:
        return None
    folder, name = os.path.split(path)
    return folder, _DIRECTION.sub(r"\1*\3", name, count=1)


def _is_path(text):
    return os.sep in text or text.lower().endswith((".sql", ".py"))


def _kind(message):
    for kind, words in _KINDS:
        if any(word in message for word in words):
            return kind
    return "other"
