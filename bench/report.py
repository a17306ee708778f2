"""Markdown tables and the JSON record of a run."""

import json
import statistics

# The columns' names; run.py names MySQL's after the server it found (MariaDB or MySQL).
NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite", "mysql": "MySQL"}
RAW_LIMIT = "raw-python-limit"
RAW_VARIANTS = ("raw-python-statements", "raw-python-files")


def _dialects(section):
    """(dialect, column name) of the engines in ``section``, in the tables' order."""
    return [(d, name) for d, name in NAMES.items() if d in section]


def summarize(samples):
    walls = [s.wall for s in samples]
    cpus = [s.cpu for s in samples]
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls),
            "samples": walls, "cpu_median": statistics.median(cpus), "cpu_samples": cpus,
            "not_quiet": sum(1 for s in samples if not s.quiet)}


def add_raw_limit(apply):
    """The raw Python limit: the faster (by median) of the two ways of sending SQL."""
    for dialect, rows in apply.items():
        variants = [(rows[k]["median"], k) for k in RAW_VARIANTS if k in rows]
        if variants:
            median, key = min(variants)
            rows[RAW_LIMIT] = {"median": median, "from": key}


def _seconds(value):
    if value is None:
        return "n/a"
    return f"{value:.3f}" if value >= 0.1 else f"{value:.4f}"


def _ratio(value, base):
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}×"


def _median(rows, key):
    row = rows.get(key)
    return row["median"] if row else None


def apply_table(results, labels, count, repeat):
    apply = results["apply"]
    dialects = _dialects(apply)
    head = [f"apply {count} migrations (median of {repeat}, cold process)"]
    for _, name in dialects:
        head += [f"{name} s", "× raw Python"]
    lines = _header(head)
    notes = []
    for d, name in dialects:
        chosen = apply[d].get(RAW_LIMIT, {}).get("from")
        if chosen:
            notes.append(f"{name}: {labels[chosen].split(', ', 1)[-1]}")
    keys = [RAW_LIMIT, *RAW_VARIANTS, "raw-python-history", "raw-cli", "ferryman",
            "ferryman-no-backup", "dbmate", "alembic", "yoyo"]
    for key in keys:
        if not any(key in apply[d] for d, _ in dialects):
            continue
        if key == RAW_LIMIT:
            label = "**raw Python limit** (the faster of the two below)"
        elif key in RAW_VARIANTS:
            label = f"· {labels[key]}"
        else:
            label = labels[key]
        cells = [label]
        for d, _ in dialects:
            value = _median(apply[d], key)
            cells += [_seconds(value), _ratio(value, _median(apply[d], RAW_LIMIT))]
        lines.append(_row(cells))
    if notes:
        lines += ["", "raw Python limit = " + "; ".join(notes) + "."]
    against = _against_dbmate(apply, dialects)
    if against:
        lines += ["", against]
    return "\n".join(lines)


def _against_dbmate(apply, dialects):
    """ferryman's apply as a multiple of dbmate's, per engine (> 1: slower than dbmate)."""
    parts = []
    for d, name in dialects:
        base = _median(apply[d], "dbmate")
        cells = [f"{label} {_ratio(_median(apply[d], key), base)}"
                 for key, label in (("ferryman", "`up`"),
                                    ("ferryman-no-backup", "`up --no-backup`"))
                 if base and key in apply[d]]
        if cells:
            parts.append(f"{name} " + ", ".join(cells))
    return ("ferryman ÷ dbmate (apply): " + "; ".join(parts) + ".") if parts else ""


def status_table(results, labels, count, repeat, calls):
    status = results["status"]
    dialects = _dialects(status)
    head = [f"status, {count} applied, none pending (median of {repeat})"]
    for _, name in dialects:
        head += [f"{name} s", "÷ Python floor", "÷ dbmate"]
    lines = _header(head)
    keys = ["ferryman", "dbmate", "alembic", "yoyo", "floor-python-driver", "floor-python"]
    for key in keys:
        if not any(key in status[d] for d, _ in dialects):
            continue
        cells = [labels[key]]
        for d, _ in dialects:
            value = _median(status[d], key)
            cells += [_seconds(value), _ratio(value, _median(status[d], "floor-python-driver")),
                      _ratio(value, _median(status[d], "dbmate"))]
        lines.append(_row(cells))
    inproc = results.get("inprocess", {})
    if inproc:
        cells = [f"ferryman in-process `Migrator.status()` (median of {calls} calls, ms)"]
        for d, _ in dialects:
            row = inproc.get(d)
            cells += [f"{row['median_ms']:.2f} ms" if row else "n/a", "", ""]
        lines.append(_row(cells))
    return "\n".join(lines)


def inprocess_summary(results, target_ms=5.0):
    parts = []
    for d, name in NAMES.items():
        row = results.get("inprocess", {}).get(d)
        if row:
            verdict = "meets" if row["median_ms"] < target_ms else "MISSES"
            parts.append(f"{name} median {row['median_ms']:.2f} ms (p90 {row['p90_ms']:.2f}, "
                         f"min {row['min_ms']:.2f}) {verdict} the < {target_ms:g} ms target")
    return "in-process status: " + "; ".join(parts) if parts else ""


def machine_lines(machine):
    lines = [f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['platform']}",
             f"- Python {machine['python']}",
             f"- PostgreSQL {machine.get('postgresql') or 'n/a'}; SQLite library "
             f"{machine['sqlite']} (Python), CLI {machine.get('sqlite_cli') or 'n/a'}"
             + (f"; {NAMES['mysql']} {machine['mysql']}" if machine.get("mysql") else ""),
             "- " + ", ".join(f"{k} {v}" for k, v in machine["tools"].items() if v),
             "- load average (1, 5, 15 min) at start {}, at end {}".format(
                 *(" / ".join(f"{x:.2f}" for x in machine[k])
                   for k in ("loadavg_start", "loadavg_end")))]
    start, end = machine["tools"].get("ferryman source"), machine.get("ferryman_source_at_end")
    if start and end and start != end:
        lines.append(f"- **src/ferryman changed during the run** ({start} at the start, {end} "
                     "at the end): ferryman's rows mix two versions of the code")
    quiet = machine.get("quiet")
    if quiet and quiet["timeout_s"] > 0:
        lines.append(
            f"- waited {quiet['waited_s']:g} s in all for a quiet machine before timed runs "
            f"({quiet['waits']} waits); {quiet['gave_up']} gave up after "
            f"{quiet['timeout_s']:g} s and ran alongside other load")
    return "\n".join(lines)


def _header(cells):
    return [_row(cells), _row(["---"] + ["---:"] * (len(cells) - 1))]


def _row(cells):
    return "| " + " | ".join(cells) + " |"


def write_json(path, document):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
