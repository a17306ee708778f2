"""The OpenAPI 3.1 description of the app, built from the same table as its routes
(app.ENDPOINTS), so a route cannot exist without being described."""

from .._version import __version__

_SERVICE = {"name": "service", "in": "path", "required": True,
            "description": "a service of the configuration (one database: its name)",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"}}
_LIMIT = {"name": "limit", "in": "query", "required": False,
          "description": "at most this many entries, newest first (default 100)",
          "schema": {"type": "integer", "minimum": 1, "maximum": 10000}}
_VERSION = {"name": "version", "in": "query", "required": False,
            "description": "only the entries of this migration version",
            "schema": {"type": "integer", "minimum": 0}}
PARAMETERS = {"service": _SERVICE, "limit": _LIMIT, "version": _VERSION}

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(description, schema=None):
    return {"description": description,
            "content": {"application/json": {"schema": schema or {"type": "object"}}}}


# Responses every endpoint may give, besides its own.
COMMON = {
    "403": _json("the Host header (or a POST's Origin) is not an allowed host", _ERROR),
    "500": _json("an internal error; the body says nothing more", _ERROR),
}
PER_SERVICE = {
    "404": _json("no such service", _ERROR),
    "422": _json("a bad service name or parameter", _ERROR),
    "503": _json("the service's database cannot be reached", _ERROR),
}
AUTH = {
    "401": _json("no bearer token (WWW-Authenticate says which scheme)", _ERROR),
    "403": _json("a wrong bearer token, a bad Host, or a foreign Origin", _ERROR),
    "409": _json("something already changes the database, or it needs a person", _ERROR),
}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "hint": {"type": ["string", "null"]}, "exit_code": {"type": "integer"},
        "service": {"type": "string"}}},
    "ServiceStatus": {"type": "object", "required": ["name", "reachable"], "properties": {
        "name": {"type": "string"}, "reachable": {"type": "boolean"},
        "error": {"oneOf": [{"$ref": "#/components/schemas/Error"}, {"type": "null"}]},
        "database": {"type": ["string", "null"], "description": "the URL, redacted"},
        "depends_on": {"type": "array", "items": {"type": "string"}},
        "current_version": {"type": ["integer", "null"]},
        "head_version": {"type": ["integer", "null"]},
        "dirty": {"type": "boolean"}, "dirty_details": {"type": ["object", "null"]},
        "pending_count": {"type": "integer"},
        "pending": {"type": "array", "items": {"type": "object"}},
        "applied_count": {"type": "integer"},
        "last_backup": {"type": ["string", "null"]},
        "last_backup_at": {"type": ["string", "null"]},
        "lock_held": {"type": "boolean"},
        "running": {"type": "boolean",
                    "description": "a migration holds the lock, or runs in this process"},
        "progress": {"type": ["object", "null"]},
        "problems": {"type": "array", "items": {"type": "string"}},
        "hint": {"type": ["string", "null"],
                 "description": "the command a person should run next, e.g. `ferryman force`"},
        "stale": {"type": "boolean", "description": "the database was busy past the read "
                  "deadline: this is the last known state"},
        "stale_reason": {"type": ["string", "null"]},
        "as_of": {"type": "string", "format": "date-time",
                  "description": "when this state was read from the database"},
        "age_seconds": {"type": "number"}}},
}


def document(endpoints, *, root_path="", secured=False):
    """The OpenAPI document for ``endpoints`` (app.Endpoint), as served under
    ``root_path`` (where the app is mounted)."""
    paths = {}
    for e in endpoints:
        operation = {"operationId": e.name, "summary": e.summary,
                     "parameters": [PARAMETERS[p] for p in e.params],
                     "responses": _responses(e)}
        if e.changes:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(e.path, {})[e.method.lower()] = operation
    doc = {"openapi": "3.1.0",
           "info": {"title": "ferryman", "version": __version__,
                    "description": "Where every database stands, as JSON, a page and "
                                   "Prometheus metrics" + ("; with a bearer token, backup, "
                                                            "migrate and rollback"
                                                            if secured else "") + "."},
           "servers": [{"url": root_path or "/"}],
           "paths": paths,
           "components": {"schemas": SCHEMAS}}
    if secured:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http",
                                                           "scheme": "bearer"}}
    return doc


def _responses(e):
    if e.media_type == "application/json":
        ok = _json(e.answer, {"$ref": "#/components/schemas/ServiceStatus"}
                   if e.name == "status_service" else None)
    else:
        ok = {"description": e.answer, "content": {e.media_type: {"schema": {
            "type": "string"}}}}
    responses = {e.status: ok, **COMMON}
    if "service" in e.params:
        responses.update(PER_SERVICE)
    if e.changes:
        responses.update(AUTH)
    if e.name == "readyz":
        responses["503"] = _json("not ready: the reasons are listed")
    return responses
