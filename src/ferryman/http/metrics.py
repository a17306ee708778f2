"""The services' status in Prometheus's text format, version 0.0.4.

https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format:
a HELP and a TYPE line per metric, then ``name{label="value"} number`` lines; in a
label value a backslash, a double quote and a line feed are escaped. A service whose
database does not answer (and was never read) reports only ``ferryman_up 0``: a made-up
version or dirty flag would look like a fact. One whose database was busy past the read
deadline reports its last known state, with ``ferryman_status_stale 1`` and its age.
"""

from .._version import __version__
from .services import timestamp

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# name: (help, the value from a reachable service's status, or None to leave it out)
PER_SERVICE = {
    "ferryman_up": ("1 if the service's database answered, else 0.", None),
    "ferryman_current_version": (
        "The highest applied migration version (-1: none applied; left out where "
        "versions are names or Flyway versions).",
        lambda s: _version_number(s["current_version"])),
    "ferryman_dirty": ("1 if a migration started and neither finished nor rolled back.",
                       lambda s: int(s["dirty"])),
    "ferryman_pending_migrations": ("Migrations not applied yet.",
                                    lambda s: s["pending_count"]),
    "ferryman_last_backup_timestamp_seconds": (
        "When the last backup recorded in the database was taken (Unix seconds).",
        lambda s: timestamp(s["last_backup_at"])),
    "ferryman_migration_running": (
        "1 while a migration holds the lock or runs in this process.",
        lambda s: int(s["running"])),
    "ferryman_status_stale": (
        "1 if these values are the last known state: the database was busy past the "
        "read deadline.", lambda s: int(s["stale"])),
    "ferryman_status_age_seconds": (
        "Seconds since these values were read from the database.",
        lambda s: s["age_seconds"]),
}


def render(statuses, progress):
    """The exposition text for ``statuses`` (Services.statuses()) and a progress
    snapshot (or None)."""
    lines = _metric("ferryman_info", "ferryman's version.",
                    [(f'version="{escape(__version__)}"', 1)])
    for name, (help_text, value_of) in PER_SERVICE.items():
        samples = []
        for s in statuses:
            label = f'service="{escape(s["name"])}"'
            if name == "ferryman_up":
                samples.append((label, int(s["reachable"])))
            elif s["reachable"] and value_of(s) is not None:
                samples.append((label, value_of(s)))
        lines += _metric(name, help_text, samples)
    if progress is not None:
        ratio = progress["percent"] / 100.0
        lines += _metric("ferryman_run_progress_ratio",
                         "Share of the migrations done in the latest run of this process.",
                         [("", ratio)])
    return "\n".join(lines) + "\n"


def _metric(name, help_text, samples):
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        lines.append(f"{name}{{{labels}}} {_number(value)}" if labels
                     else f"{name} {_number(value)}")
    return lines


def _number(value):
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return str(int(value))


def escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _version_number(version):
    """A version as a gauge's number: -1 for none applied (golang-migrate's NilVersion,
    since 0 is a version), None (left out) for a name or a Flyway version."""
    if version is None:
        return -1
    return version if isinstance(version, int) else None
