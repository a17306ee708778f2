"""The HTTP status service under load while a migration holds the database.

    .venv/bin/python bench/http_load.py                  # SQLite and PostgreSQL, 3 repetitions
    .venv/bin/python bench/http_load.py --quick          # 1 repetition of 500 requests
    .venv/bin/python bench/http_load.py --databases sqlite --repeat 5 --hold 5

Issue 8, item 20: "GET /migration/status/{service} with 20 concurrent clients during a
migration: 20-60 of 1,500-2,000 requests hit a 10 s timeout ... /healthz took 17.6 s.
Add a load test (bounded: 2,000 requests, 20 clients, on 127.0.0.1) during a SQLite and
a PostgreSQL migration: zero errors, p99 under 250 ms. Put the figures in the README."
The test (tests/http/test_http_load.py) checks the zero errors; this program measures.

Each repetition, on a fresh database where migration 1 is applied:

1. `ferryman serve --bind-port 0` in a process of its own (the real command).
2. idle: --requests GET /migration/status/{service} from --clients clients, nothing else
   running: the baseline.
3. during: `ferryman up --no-backup` in another process applies migration 2, a Python
   migration that holds its transaction open for --hold seconds: on SQLite after writing
   enough rows to spill its page cache, so that it holds the file's exclusive lock and
   no reader gets in until its commit (https://sqlite.org/lockingv3.html); on PostgreSQL
   in pg_sleep. Once it holds on (it writes a marker file), the clients send --requests
   requests, and one more client asks /healthz every 20 ms until they are done.

A client is an asyncio task with its own httpx connection, kept alive; a request's
latency is from sending it to having read its body, in the client (a process of its
own, apart from the server). An error is a response other than 200 or a body without
the status fields. Reported per engine and phase: the medians over the repetitions of
p50, p90, p99 and max, the worst p99, errors, the answers marked stale (the last known
state, served when the database was busy past the read deadline), the requests sent
before `ferryman up` exited, and /healthz's slowest answer. Every sample is in the
JSON (bench/results/http_load-<time>.json). Nothing here is a test: nothing asserts.
"""

import argparse
import asyncio
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import harness
from harness import REPO, BenchError, PostgresServer, Quiet, SQLiteServer

if __name__ == "__main__":
    harness.reexec_in_venv(__file__)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
PREFIX = "ferryextra_hl_"
FERRYMAN = REPO / ".venv" / "bin" / "ferryman"
TARGET_P99_MS = 250.0

HOLD = '''"""Holds its transaction open for a while, as a long data migration does."""
import time

MARKER, HOLD = {marker!r}, {hold!r}


def up(ctx):
    blob = "BLOB" if ctx.dialect == "sqlite" else "BYTEA"
    ctx.execute(f"CREATE TABLE payload (id INTEGER PRIMARY KEY, body {{blob}})")
    if ctx.dialect == "sqlite":
        # 8 pages of cache: the rows spill to the file, so the writer holds the
        # exclusive lock from now to its commit.
        ctx.execute("PRAGMA cache_size = 8")
        ctx.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                    "WHERE x < 2000) INSERT INTO payload SELECT x, randomblob(1000) FROM c")
    else:
        ctx.execute("INSERT INTO payload SELECT g, convert_to(md5(g::text), 'UTF8') "
                    "FROM generate_series(1, 2000) AS g")
    open(MARKER, "w").close()
    if ctx.dialect == "sqlite":
        time.sleep(HOLD)
    else:
        ctx.execute("SELECT pg_sleep(%s)", (HOLD,))


def down(ctx):
    ctx.execute("DROP TABLE payload")
'''
STATUS_FIELDS = ("name", "current_version", "dirty", "running", "stale", "as_of",
                 "age_seconds")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="ferryman serve: status latency under load "
                                "while a migration holds the database")
    p.add_argument("--requests", type=int, help="status requests per phase (default 2000; "
                   "500 with --quick)")
    p.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    p.add_argument("--hold", type=float, default=1.5, help="seconds the migration holds its "
                   "transaction open (default 1.5: about half the requests of the default "
                   "size come while it holds on, the rest during and after its commit)")
    p.add_argument("--repeat", "-r", type=int, help="repetitions (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: --requests 500 --repeat 1")
    p.add_argument("--databases", default="sqlite,postgresql",
                   help="comma-separated: sqlite, postgresql (default both)")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
                   help=f"PostgreSQL server without a database name (default {DEFAULT_PG})")
    p.add_argument("--quiet-timeout", type=float, default=30.0,
                   help="before each timed phase wait up to this long for idle CPUs and no "
                        "busy PostgreSQL session (default 30; 0: do not wait)")
    p.add_argument("--json-out", help="JSON file (default bench/results/http_load-<time>.json)")
    args = p.parse_args(argv)
    args.requests = args.requests or (500 if args.quick else 2000)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if args.clients < 1 or args.requests < args.clients or args.hold <= 0:
        p.error("--clients must be at least 1, --requests at least --clients, --hold above 0")
    return args


def log(message):
    print(f"[http_load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class ExtraPostgres(PostgresServer):
    def __init__(self, url, quiet):
        super().__init__(url, quiet)
        self.prefix = PREFIX


# -- one repetition ----------------------------------------------------------------------------
class Trial:
    """A fresh database at version 1, its configuration, and the two processes."""

    def __init__(self, root, dbset, hold):
        self.dir = Path(tempfile.mkdtemp(prefix="trial-", dir=root))
        self.dbset = dbset
        self.db = dbset.create("http")
        self.marker = self.dir / "holding"
        folder = self.dir / "migrations"
        folder.mkdir()
        (folder / "1_create_users.up.sql").write_text("CREATE TABLE users (id INTEGER);\n")
        (folder / "1_create_users.down.sql").write_text("DROP TABLE users;\n")
        (folder / "2_hold.py").write_text(HOLD.format(marker=str(self.marker), hold=hold))
        url = f"sqlite:///{self.db.path}" if self.db.dialect == "sqlite" else self.db.pg_url()
        self.service = self.db.path.stem if self.db.dialect == "sqlite" else self.db.name
        self.config = self.dir / "ferryman.toml"
        self.config.write_text(f'migrations = "{folder}"\nbackup_dir = "{self.dir / "b"}"\n'
                               f'[database]\nurl = "{url}"\n')
        self.ferryman("up", "--target", "1", "--no-backup")
        self.server = None

    def ferryman(self, *args):
        done = subprocess.run([str(FERRYMAN), "-c", str(self.config), *args], cwd=self.dir,
                              env=harness._environment({}), capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"ferryman {' '.join(args)} exited {done.returncode}: "
                             f"{done.stderr.strip()[-2000:]}")

    def serve(self):
        """`ferryman serve --bind-port 0`; the base URL."""
        self.server = subprocess.Popen(
            [str(FERRYMAN), "-c", str(self.config), "serve", "--bind-port", "0"],
            cwd=self.dir, env=harness._environment({}), stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        line = self.server.stdout.readline()
        if " on http://" not in line:
            raise BenchError(f"ferryman serve said {line!r}")
        base = line.split(" on ", 1)[1].split()[0].rstrip("/")
        harness.wait_ready(base)
        return base

    def migrate(self):
        """`ferryman up` in the background; returns once migration 2 holds on, with the
        process and a dict that gets its end time (monotonic) when it exits."""
        proc = subprocess.Popen([str(FERRYMAN), "-c", str(self.config), "up", "--no-backup"],
                                cwd=self.dir, env=harness._environment({}),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ended = {}
        threading.Thread(target=lambda: ended.setdefault("at", _wait_end(proc)),
                         daemon=True).start()
        while not self.marker.exists():
            if proc.poll() is not None:
                raise BenchError(f"ferryman up exited {proc.returncode} before holding on: "
                                 f"{proc.stderr.read()[-2000:]}")
            time.sleep(0.005)
        return proc, ended

    def close(self):
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn shuts down cleanly
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        self.dbset.drop(self.db)
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_end(proc):
    proc.wait()
    return time.monotonic()


# -- the load ----------------------------------------------------------------------------------
async def load(base, service, requests, clients, health=False):
    """``requests`` status requests from ``clients`` clients; with ``health``, /healthz
    asked every 20 ms alongside. Returns (samples, health samples): (start, seconds,
    status code, error or None, stale) and (start, seconds, status code)."""
    import httpx

    counter = iter(range(requests))
    samples, health_samples = [], []
    done = asyncio.Event()

    async def client(http):
        async with http:
            for _ in counter:
                started = time.monotonic()
                try:
                    response = await http.get(f"/migration/status/{service}")
                    code, error, stale = response.status_code, None, None
                    if code == 200:
                        body = response.json()
                        missing = [f for f in STATUS_FIELDS if f not in body]
                        error = f"missing {missing}" if missing else None
                        stale = body.get("stale")
                    else:
                        error = response.text[:200]
                except httpx.HTTPError as exc:
                    code, error, stale = None, repr(exc), None
                samples.append((started, time.monotonic() - started, code, error, stale))

    async def prober(http):
        async with http:
            while not done.is_set():
                started = time.monotonic()
                try:
                    code = (await http.get("/healthz")).status_code
                except httpx.HTTPError:
                    code = None
                health_samples.append((started, time.monotonic() - started, code))
                await asyncio.sleep(0.02)

    # Made before the clock starts: each client builds an SSL context (~20 ms of CPU),
    # which would otherwise delay the first requests of the others.
    https = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(clients + 1)]
    probe = asyncio.create_task(prober(https.pop())) if health else None
    await asyncio.gather(*(client(http) for http in https))
    done.set()
    if probe is not None:
        await probe
    return samples, health_samples


def percentile(values, p):
    """Nearest-rank percentile of ``values`` (seconds) in milliseconds."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


def summarize_phase(samples, health, migration=None):
    seconds = [s[1] for s in samples]
    errors = [s for s in samples if s[2] != 200 or s[3] is not None]
    held_until = migration.get("at") if migration is not None else None
    return {
        "n": len(samples), "errors": len(errors),
        "error_examples": [s[3] or s[2] for s in errors[:3]],
        "stale": sum(1 for s in samples if s[4]),
        "during_migration": (sum(1 for s in samples if held_until is None or s[0] < held_until)
                             if migration is not None else 0),
        "p50_ms": percentile(seconds, 50), "p90_ms": percentile(seconds, 90),
        "p99_ms": percentile(seconds, 99), "max_ms": max(seconds) * 1000,
        "health_n": len(health),
        "health_errors": sum(1 for h in health if h[2] != 200),
        "health_max_ms": max((h[1] for h in health), default=0.0) * 1000,
    }


def repetition(dbset, root, args, quiet_wait):
    trial = Trial(root, dbset, args.hold)
    try:
        base = trial.serve()
        quiet_wait()
        idle, _ = asyncio.run(load(base, trial.service, args.requests, args.clients))
        quiet_wait()
        proc, ended = trial.migrate()
        during, health = asyncio.run(load(base, trial.service, args.requests, args.clients,
                                          health=True))
        if proc.wait(timeout=args.hold + 120) != 0:
            raise BenchError(f"ferryman up exited {proc.returncode}: "
                             f"{proc.stderr.read()[-2000:]}")
        return {"idle": (idle, []), "during": (during, health, ended)}
    finally:
        trial.close()


def measure(dbset, root, args):
    phases = {"idle": [], "during": []}
    samples = {"idle": [], "during": []}
    for i in range(args.repeat):
        log(f"{dbset.label}: repetition {i + 1} of {args.repeat}")
        quiet = {"ok": True}

        def quiet_wait():
            quiet["ok"] = dbset.wait_quiet() and quiet["ok"]

        result = repetition(dbset, root, args, quiet_wait)
        idle, _ = result["idle"]
        during, health, ended = result["during"]
        phases["idle"].append(dict(summarize_phase(idle, []), quiet=quiet["ok"]))
        phases["during"].append(dict(summarize_phase(during, health, ended),
                                     quiet=quiet["ok"]))
        samples["idle"].append([s[:3] for s in idle])
        samples["during"].append({"status": [s[:3] + (s[4],) for s in during],
                                  "healthz": health, "migration_ended": ended.get("at")})
        last = phases["during"][-1]
        log(f"  during: p50 {last['p50_ms']:.1f} ms, p99 {last['p99_ms']:.1f} ms, "
            f"errors {last['errors']}, stale {last['stale']}, /healthz max "
            f"{last['health_max_ms']:.1f} ms")
    summary = {}
    for phase, runs in phases.items():
        summary[phase] = {key: statistics.median(r[key] for r in runs)
                          for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "health_max_ms")}
        summary[phase].update(
            worst_p99_ms=max(r["p99_ms"] for r in runs),
            errors=sum(r["errors"] for r in runs), requests=sum(r["n"] for r in runs),
            stale=sum(r["stale"] for r in runs),
            during_migration=sum(r["during_migration"] for r in runs),
            health_n=sum(r["health_n"] for r in runs),
            health_errors=sum(r["health_errors"] for r in runs),
            not_quiet=sum(1 for r in runs if not r["quiet"]))
    return {"runs": phases, "summary": summary, "samples": samples}


# -- the report ----------------------------------------------------------------------------
def report(results, args, env):
    lines = [f"## The status service under load: {args.requests} requests from "
             f"{args.clients} clients, {args.repeat} repetition(s)", "",
             f"GET /migration/status/{{service}} against `ferryman serve` on 127.0.0.1; "
             f"\"during\": while `ferryman up` holds migration 2's transaction open for "
             f"{args.hold:g} s (SQLite: with the file's exclusive lock) and then commits. "
             f"Medians over the repetitions; target p99 under {TARGET_P99_MS:g} ms.", ""]
    rows = [["engine", "phase", "requests", "errors", "stale", "sent during up", "p50 ms",
             "p90 ms", "p99 ms", "worst p99 ms", "max ms", "/healthz max ms"]]
    for name, result in results.items():
        for phase in ("idle", "during"):
            s = result["summary"][phase]
            rows.append([result["label"], phase, str(s["requests"]), str(s["errors"]),
                         str(s["stale"]),
                         str(s["during_migration"]) if phase == "during" else "-",
                         f"{s['p50_ms']:.1f}", f"{s['p90_ms']:.1f}", f"{s['p99_ms']:.1f}",
                         f"{s['worst_p99_ms']:.1f}", f"{s['max_ms']:.1f}",
                         f"{s['health_max_ms']:.1f} ({s['health_n']} asked, "
                         f"{s['health_errors']} failed)" if phase == "during" else "-"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if i == 0:
            lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    lines += ["", harness.machine_line(env, harness.not_quiet(results))]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    quiet = Quiet(timeout=args.quiet_timeout)
    env = harness.environment()
    results = {}
    with harness.Scratch("ferryextra-hl-", env,
                         lambda: ExtraPostgres(args.pg_url, quiet)) as scratch:
        for name in args.databases:
            if name == "sqlite":
                dbset = SQLiteServer(scratch.path / "sqlite", quiet)
            elif name == "postgresql":
                dbset = scratch.postgres()
            else:
                raise BenchError(f"unknown database {name!r}")
            root = scratch.path / name
            root.mkdir(exist_ok=True)
            results[name] = dict(measure(dbset, root, args), label=dbset.label)
    return harness.conclude("http_load", results, args, env, report, log)


if __name__ == "__main__":
    harness.main_guard("http_load", main)
