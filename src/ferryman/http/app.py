"""The ASGI app: the status interface over HTTP, for `ferryman serve` or to mount.

    from ferryman.http import create_app
    app.mount("/ops", create_app(config="ferryman.toml", token=os.environ["OPS_TOKEN"]))

Reads (JSON unless said): ``/migration/status``, ``/migration/status/{service}``,
``/migration/history/{service}``, ``/migration/backups/{service}``,
``/migration/runs/latest``, ``/healthz``, ``/readyz``, ``/metrics`` (Prometheus),
``/openapi.json`` and ``/`` (the status page). With a token configured (``token=`` or
FERRYMAN_API_TOKEN) and only then, ``POST /migration/backup|migrate|rollback/{service}``
exist, behind ``Authorization: Bearer``. Every request must name an allowed host (DNS
rebinding), and a POST that carries an Origin must come from one.

Thin: each handler is a few lines over ``Services`` and ``Runs`` (no HTTP there), which
are a few lines over the library. Under load, ``/healthz`` and the status reads
(status, page, metrics, readyz) are coroutines that never take a thread of Starlette's
pool: health touches nothing, and a status waits for its service's own reader thread
at most the read deadline, then answers the last known state, marked stale. The other
handlers are plain functions that Starlette runs in its thread pool, so their blocking
database calls never stall the event loop.
"""

import contextlib
import functools
import inspect
import hmac
import json
import logging
import re
import traceback
from typing import NamedTuple

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..config import load_settings
from ..errors import ConfigError, FerrymanError, redact, register_secret
from . import metrics, openapi, page
from .runs import Runs
from .reads import DEFAULT_DEADLINE
from .services import Services, UnknownService, error_body, graph_status, progress_snapshot

log = logging.getLogger("ferryman.http")

MIN_TOKEN_LENGTH = 16
DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")
SERVICE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
# exit code -> HTTP status: bad input, needs a person, the environment, a failed run
STATUS_OF_EXIT = {2: 422, 3: 409, 4: 503, 1: 500}


class Endpoint(NamedTuple):
    method: str
    path: str
    name: str
    summary: str
    answer: str
    params: tuple = ()
    changes: bool = False
    status: str = "200"
    media_type: str = "application/json"


READS = [
    Endpoint("GET", "/", "page", "The status page; it updates itself every second.",
             "an HTML page", media_type="text/html"),
    Endpoint("GET", "/migration/status", "status_all", "Every service's status and the "
             "progress of a run in this process.", "{services: [...], progress}"),
    Endpoint("GET", "/migration/status/{service}", "status_service", "One service's "
             "status: version, dirty, pending, last backup, running, progress. When the "
             "database is busy past the read deadline, its last known state, marked "
             "stale (503 if it was never read).", "the service's status", ("service",)),
    Endpoint("GET", "/migration/history/{service}", "history", "Every migration run on "
             "the service's database, newest first.", "a list of history entries",
             ("service", "limit", "version")),
    Endpoint("GET", "/migration/backups/{service}", "backups", "The service's backups, "
             "newest first.", "a list of backups", ("service",)),
    Endpoint("GET", "/migration/runs/latest", "runs_latest", "The latest run of each "
             "service (its ferryman_runs row) and of this process.",
             "{progress, services: {name: run or null}}"),
    Endpoint("GET", "/healthz", "healthz", "Liveness: the process answers. Touches no "
             "database.", '{"status": "ok"}'),
    Endpoint("GET", "/readyz", "readyz", "Readiness: every database answers, none is "
             "dirty, no migration runs.", '{"ready": true}'),
    Endpoint("GET", "/metrics", "metrics", "Prometheus metrics (text format 0.0.4).",
             "metrics", media_type="text/plain"),
    Endpoint("GET", "/openapi.json", "openapi", "This description.", "OpenAPI 3.1"),
]
CHANGES = [
    Endpoint("POST", "/migration/backup/{service}", "backup", "Take a backup now.",
             "the backup", ("service",), True, "201"),
    Endpoint("POST", "/migration/migrate/{service}", "migrate", "Run the service's "
             "pipeline in the background; follow it at /migration/runs/latest.",
             "the run, started", ("service",), True, "202"),
    Endpoint("POST", "/migration/rollback/{service}", "rollback", "Undo the service's "
             "last run (its down migrations, or else its backup).", "what was undone",
             ("service",), True),
]


class Refused(Exception):
    """A request refused before it reached the library: its response is ready."""

    def __init__(self, status, error, message, headers=None):
        super().__init__(message)
        self.response = json_response({"error": error, "message": message}, status, headers)


def json_response(data, status=200, headers=None):
    # default=str: dates and paths from the library's results become their text
    body = json.dumps(data, default=str, ensure_ascii=False)
    return Response(body, status, headers, media_type="application/json")


class Api:
    """The handlers. ``token`` None: the routes that change things do not exist."""

    def __init__(self, services, token):
        self.services = services
        self.runs = Runs(services)
        self.token = token

    def endpoints(self):
        return READS + (CHANGES if self.token else [])

    def routes(self):
        return [Route(e.path, self._handler(e), methods=[e.method], name=e.name)
                for e in self.endpoints()]

    def _handler(self, endpoint):
        method = getattr(self, endpoint.name)
        coroutine = inspect.iscoroutinefunction(method)

        @functools.wraps(method)
        async def handle(request):
            service = request.path_params.get("service")
            try:
                if endpoint.changes:
                    self._authorize(request)
                args = (request,) if service is None else (request, _checked(service))
                if coroutine:
                    return await method(*args)
                return await run_in_threadpool(method, *args)  # it blocks on a database
            except Refused as refused:
                return refused.response
            except UnknownService as exc:
                return json_response({"error": "not_found", "message": exc.message}, 404)
            except FerrymanError as exc:
                body = dict(error_body(exc), service=service)
                return json_response(body, STATUS_OF_EXIT.get(exc.exit_code, 500))
            except Exception:  # a bug: the log has it (redacted), the response does not
                log.error("internal error in %s %s:\n%s", request.method, request.url.path,
                          redact(traceback.format_exc()))
                return json_response({"error": "internal", "message": "internal error; "
                                      "the server's log has the details"}, 500)

        return handle

    def _authorize(self, request):
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Refused(401, "unauthorized", "this route needs Authorization: Bearer "
                          "<token>", {"WWW-Authenticate": 'Bearer realm="ferryman"'})
        # Constant time, so the answer's timing says nothing about the token.
        if not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise Refused(403, "forbidden", "the bearer token is not the right one",
                          {"WWW-Authenticate": 'Bearer realm="ferryman", '
                                               'error="invalid_token"'})

    # -- reading ----------------------------------------------------------------------
    async def page(self, request):
        statuses = await self.services.statuses()
        graph = self.services.graph.svg({s["name"]: graph_status(s) for s in statuses})
        url = request.scope.get("root_path", "") + "/migration/status"
        html = page.render(statuses, progress_snapshot(), graph, url)
        return HTMLResponse(html, headers={"Content-Security-Policy": page.CSP})

    async def status_all(self, request):
        return json_response({"services": await self.services.statuses(),
                              "progress": progress_snapshot()})

    async def status_service(self, request, name):
        return json_response(await self.services.status_async(name))

    def history(self, request, name):
        limit = _positive_int(request, "limit", 100, most=10000)
        version = _positive_int(request, "version", None, least=0)
        entries = self.services.migrator(name).history(limit, version)
        return json_response([e.to_dict() for e in entries])

    def backups(self, request, name):
        return json_response([b.to_dict() for b in self.services.migrator(name).backups()])

    def runs_latest(self, request):
        latest = {}
        for name in self.services.names:
            try:
                latest[name] = self.services.latest_run(name)
            except FerrymanError as exc:
                latest[name] = {"error": error_body(exc)}
        return json_response({"progress": progress_snapshot(), "services": latest})

    async def healthz(self, request):
        # A coroutine on the event loop: no database, no thread of a pool that blocked
        # reads could fill, so a liveness probe never kills the pod mid-migration.
        return json_response({"status": "ok"})

    async def readyz(self, request):
        ready, reasons = self.services.readiness(await self.services.statuses())
        if ready:
            return json_response({"ready": True})
        return json_response({"ready": False, "reasons": reasons}, 503)

    async def metrics(self, request):
        text = metrics.render(await self.services.statuses(), progress_snapshot())
        return Response(text, media_type=metrics.CONTENT_TYPE)

    def openapi(self, request):
        return json_response(openapi.document(
            self.endpoints(), root_path=request.scope.get("root_path", ""),
            secured=bool(self.token)))

    # -- changing (only with a token) --------------------------------------------------
    def backup(self, request, name):
        migrator = self.services.migrator(name)
        info = self.runs.run_exclusive(name, "backup", lambda: migrator.backup("api"))
        return json_response({"backup": info.to_dict()}, 201)

    def migrate(self, request, name):
        progress = self.runs.start_migration(name)
        location = request.scope.get("root_path", "") + "/migration/runs/latest"
        return json_response({"run": progress.snapshot()}, 202, {"Location": location})

    def rollback(self, request, name):
        migrator = self.services.migrator(name)
        result = self.runs.run_exclusive(name, "rollback",
                                         lambda: migrator.rollback(yes=True))
        return json_response({"result": result.to_dict()})


def _checked(name):
    """A service name as the configuration allows them; anything else (a slash, a
    dot, a NUL, a percent-decoded path) is refused before any lookup."""
    if not SERVICE_NAME.fullmatch(name):
        raise Refused(422, "invalid", "a service name is 1 to 100 letters, digits, - and _")
    return name


def _positive_int(request, key, default, *, least=1, most=None):
    text = request.query_params.get(key)
    if text is None:
        return default
    # Twelve digits at most: int() of thousands of digits is slow, then refused.
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None
    if value is None or value < least or (most is not None and value > most):
        bounds = f"from {least}" + (f" to {most}" if most else "")
        raise Refused(422, "invalid", f"{key} must be a whole number {bounds}")
    return value


# -- DNS rebinding, security headers, errors outside the handlers ------------------------
class Guard:
    """Refuses a request whose Host is not an allowed host (a DNS-rebinding page names
    its own domain there) and a request that changes things from a foreign Origin;
    adds the security headers to every response. 403 rather than 421, which Chromium
    answers by retrying on a new connection."""

    SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"),
               (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]

    def __init__(self, app, hosts):
        self.app = app
        self.hosts = {h.lower().strip("[]") for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        problem = self.problem(scope)
        if problem:
            response = json_response({"error": "forbidden", "message": problem}, 403)
            return await response(scope, receive, self._with_headers(send))
        await self.app(scope, receive, self._with_headers(send))

    def problem(self, scope):
        headers = Headers(scope=scope)
        host = _hostname(headers.get("host", ""))
        if not self.allowed(host):
            return "the Host header does not name an allowed host"
        origin = headers.get("origin")
        if origin is not None and scope["method"] not in self.SAFE_METHODS:
            match = re.fullmatch(r"https?://(\[[^\]]*\]|[^/:]+)(:\d{1,5})?", origin)
            if not match or not self.allowed(match.group(1).strip("[]").lower()):
                return "the Origin is not an allowed host"
        return None

    def allowed(self, host):
        return bool(host) and ("*" in self.hosts or host in self.hosts)

    def _with_headers(self, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        return sending


def _hostname(value):
    """The host of a Host header: ``name``, ``name:port``, ``[v6]`` or ``[v6]:port``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else ""
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def _http_error(request, exc):
    """Starlette's own 404 (no route) and 405 (wrong method), as JSON."""
    error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    return json_response({"error": error, "message": exc.detail}, exc.status_code,
                         getattr(exc, "headers", None))


async def _internal(request, exc):
    log.error("internal error:\n%s", redact("".join(traceback.format_exception(exc))))
    return json_response({"error": "internal", "message": "internal error"}, 500)


def create_app(settings=None, *, config=None, token=None, allowed_hosts=None,
               status_deadline=None):
    """The ASGI app for ``settings`` (or the configuration ``config`` names, or the one
    found as the CLI finds it). ``token`` (default: the ``api_token`` setting,
    FERRYMAN_API_TOKEN) enables the routes that change things. ``allowed_hosts`` adds
    to the hosts a request may name (127.0.0.1, localhost, ::1); ``"*"`` allows any,
    for an app behind a proxy that checks Host itself. ``status_deadline`` (seconds;
    default: the ``status_deadline`` setting if there is one, else 1) is the longest a
    status request waits for a database before it answers the last known state."""
    settings = settings or load_settings(config)
    token = token if token is not None else settings.api_token
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"the API token must be at least {MIN_TOKEN_LENGTH} characters",
                          hint="python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    register_secret(token)
    api = Api(Services(settings, _deadline(status_deadline, settings)), token or None)
    hosts = [*DEFAULT_HOSTS, *(allowed_hosts or [])]
    app = Starlette(routes=api.routes(), middleware=[Middleware(Guard, hosts=hosts)],
                    exception_handlers={HTTPException: _http_error, Exception: _internal},
                    lifespan=_lifespan)
    app.state.ferryman = api
    return app


def _deadline(given, settings):
    value = given if given is not None else getattr(settings, "status_deadline", None)
    if value is None:
        return DEFAULT_DEADLINE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        raise ConfigError(f"status_deadline must be a number of seconds above 0 (at most "
                          f"3600), not {value!r}")
    return float(value)


@contextlib.asynccontextmanager
async def _lifespan(app):
    """Under a server (``ferryman serve``, uvicorn): at start-up, every service's first
    status read starts (nobody waits for it), so the first requests find a state to
    answer with; at shutdown, each service's thread closes its kept connection.
    Mounted in another app, this does not run; the threads close theirs when the app
    is dropped or the process ends."""
    services = app.state.ferryman.services
    services.prefetch()
    yield
    services.close()
