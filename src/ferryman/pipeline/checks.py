"""The check phases of the pipeline: precheck, integrity, optimize, validate.

Each takes what it needs and returns ``details`` (a JSON-ready dict for the report);
a check that fails raises ``CheckFailed`` with every problem it found, so that one
run names them all. The pipeline decides what a failure means (stop and roll back,
or report and go on).
"""

import os
import re

from ..errors import BlockedError, CheckFailed, FerrymanError


# -- precheck -------------------------------------------------------------------------------
def precheck(db, catalog, settings, *, backup):
    """The connection, the server version, extensions, disk, privileges. Raises
    BlockedError (exit 4): the environment, not the migrations, is in the way."""
    details = {"server_version": db.server_version(), "dialect": db.name,
               "server": db.product()}
    problems = []
    minimum = settings.min_server_version or db.min_server_version
    if minimum and _version_tuple(details["server_version"]) < _version_tuple(minimum):
        problems.append(f"the server runs {db.name} {details['server_version']}; ferryman "
                        f"needs {minimum} or newer here")
    details["min_server_version"] = minimum
    if settings.required_extensions:
        available = catalog.available_extensions()
        missing = [e for e in settings.required_extensions if e not in available]
        details["required_extensions"] = settings.required_extensions
        if missing:
            problems.append(f"required extension{'s' if len(missing) > 1 else ''} not "
                            f"available on the server: {', '.join(missing)}")
    size = catalog.database_size()
    details["database_size"] = size
    if backup:
        folder = _existing_parent(settings.backup_dir)
        stats = os.statvfs(folder)
        free = stats.f_bavail * stats.f_frsize
        details["backup_free_bytes"] = free
        if free < size * 1.1:
            problems.append(f"not enough free disk for the backup in {settings.backup_dir}: "
                            f"{free} bytes free, the database has {size}")
    ok, said = catalog.can_create()
    details["privileges"] = said
    if not ok:
        problems.append(f"insufficient privileges: {said}")
    if problems:
        raise BlockedError("the precheck phase failed; nothing was changed:\n  - "
                           + "\n  - ".join(problems),
                           hint="fix the environment, then run `ferryman migrate` again")
    return details


def _version_tuple(text):
    return tuple(int(part) for part in re.findall(r"\d+", str(text))[:3])


def _existing_parent(path):
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path or "."


# -- integrity ------------------------------------------------------------------------------
def integrity(db, catalog, settings, before=None, touched=None):
    """Required tables, foreign keys, the engine's own integrity checks, the check
    queries, and tables that lost rows though no migration touched them."""
    problems, warnings = [], []
    tables = catalog.tables()
    details = {"tables": len(tables)}
    missing = [t for t in settings.required_tables if t not in tables]
    if missing:
        problems.append(f"required table{'s' if len(missing) > 1 else ''} missing: "
                        + ", ".join(missing))
    problems += catalog.foreign_key_problems()
    problems += catalog.integrity_problems()
    checks = check_files(settings.check_queries)
    details["check_queries"] = [os.path.basename(path) for path in checks]
    for path in checks:
        problems += _check_query(db, path)
    if before is not None:
        counts = {t: catalog.row_count(t) for t in tables}
        details["row_counts"] = counts
        for table, count in sorted(counts.items()):
            was = before.get(table)
            if was is not None and count < was and touched is not None and table not in touched:
                warnings.append(f"{table} lost {was - count} row(s) ({was} -> {count}) though no "
                                "migration of this run touched it")
    details["warnings"] = warnings
    if problems:
        raise CheckFailed("integrity", problems)
    return details


def check_files(folder):
    if not folder:
        return []
    if not os.path.isdir(folder):
        raise BlockedError(f"the check queries folder {folder} does not exist")
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))
            if name.endswith(".sql") and not name.startswith(("_", "."))]


def _check_query(db, path):
    """A check query names a problem by returning rows; no rows is a pass."""
    rows = _run_file(db, path)
    if not rows:
        return []
    sample = "; ".join(", ".join(str(v) for v in row) for row in rows[:3])
    return [f"{os.path.basename(path)} returned {len(rows)} row(s), e.g. {sample}"]


def _run_file(db, path):
    with open(path, encoding="utf-8") as handle:
        statements = db.split(handle.read())
    rows = []
    # Inside the run's transaction a failing query would abort it; a savepoint keeps
    # the failure to the query (both engines have them).
    guarded = db.in_transaction
    for statement in statements:
        if guarded:
            db.execute("SAVEPOINT ferryman_check")
        try:
            rows = db.query(statement.text)
        except FerrymanError as exc:
            if guarded:
                db.execute("ROLLBACK TO SAVEPOINT ferryman_check")
            return [(f"the query failed: {exc.message}",)]
        if guarded:
            db.execute("RELEASE SAVEPOINT ferryman_check")
    return rows


# -- optimize -------------------------------------------------------------------------------
def optimize(db, catalog, settings, touched=None):
    """ANALYZE the tables the run touched, refresh materialized views, enable the
    configured extensions. Analyze and refresh are the dialect's, as ``ferryman
    maintain`` runs them (CONCURRENTLY where the view allows it)."""
    tables = catalog.tables()
    targets = [t for t in tables if touched is None or t in touched]
    details = {"analyzed": targets}
    _maintain(db, "analyze", targets)
    views = catalog.materialized_views()
    details["refreshed"] = views
    said = _maintain(db, "refresh", views)
    if said:
        details["refresh_note"] = said
    notes = []
    for extension in settings.optimize_extensions:
        said = catalog.enable_extension(extension)
        if said:
            notes.append(said)
    details["extensions"] = list(settings.optimize_extensions)
    if notes:
        raise CheckFailed("optimize", notes)
    return details


def _maintain(db, task, tables):
    """Run the dialect's statements of a maintenance task on ``tables`` (nothing when
    there are none); its note, if any."""
    if not tables:
        return None
    statements, note = db.maintenance_statements(task, tables)
    for sql in statements:
        db.execute(sql)
    return note


# -- validate -------------------------------------------------------------------------------
def validate(db, catalog, settings, status):
    """The health queries, and the final status: at head, not dirty."""
    problems = []
    health = check_files(settings.health_queries)
    details = {"health_queries": [os.path.basename(p) for p in health],
               "final_status": status}
    for path in health:
        rows = _run_file(db, path)
        if rows and rows[0] and rows[0][0] in (False, 0, "f", "false") and len(rows[0]) >= 1:
            problems.append(f"{os.path.basename(path)} answered {rows[0][0]!r}")
        elif rows and isinstance(rows[0][0], str) and rows[0][0].startswith("the query failed"):
            problems.append(f"{os.path.basename(path)}: {rows[0][0]}")
    if status["dirty"]:
        problems.append("the database is dirty")
    if problems:
        raise CheckFailed("validate", problems)
    return details
