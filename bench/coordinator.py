"""The coordinator: many services in dependency order, and status requests during a run.

    .venv/bin/python bench/coordinator.py              # 100 SQLite services and 20 PostgreSQL
                                                       # databases, 20 migrations each
    .venv/bin/python bench/coordinator.py --quick      # 10 and 5 services, 5 migrations
    .venv/bin/python bench/coordinator.py --databases sqlite --parallel 1,2 --repeat 5

Issue: "100 services of 20 migrations each on SQLite, and 20 PostgreSQL databases.
Report: the wall time, as a ratio to the time of the longest dependency chain run
alone; the time to answer a status request while a run is in progress. Target: under
50 ms."

The services form layers (--depth, default 5): every service of layer k depends on two
services of layer k-1, so every longest dependency chain has --depth services; the one
measured alone is the chain ferryman's own Graph.longest_chain() picks. Each migration
is a CREATE TABLE, a CREATE INDEX and a three-row INSERT (with a down migration).

1. Wall time (new process, median of --repeat) of `ferryman migrate --strategy
   coordinated --parallel N` for every N of --parallel, each time on fresh databases
   (SQLite: new files; PostgreSQL: new databases, dropped afterwards), and of the same
   with `--services` naming exactly the chain, on fresh databases too. Ratio = full /
   chain.
2. Status during a run: `ferryman serve --bind-port 0` on the same configuration, then
   a coordinated run (ferryman's default --parallel) in another process; meanwhile one
   thread requests GET /migration/status/{service} (cycling through the services) and
   GET /migration/status over HTTP (httpx, one kept-alive connection), and another runs
   `ferryman status --service NAME --json` in new processes. Only requests that started
   after the first service started and ended before the last service finished (from the
   run's own report) count as "during the run". The same requests on the idle server,
   before the run, are the baseline. See bench/EXTRA.md.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import harness
from harness import REPO, BenchError, Command, PostgresServer, Quiet

if __name__ == "__main__":
    harness.reexec_in_venv(__file__)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
PREFIX = "ferryextra_co_"
FERRYMAN = REPO / ".venv" / "bin" / "ferryman"
TARGET_MS = 50.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="ferryman's coordinated strategy: wall time vs "
                                "the longest dependency chain, and status latency during a run")
    p.add_argument("--services", type=int, help="SQLite services (default 100; 10 with --quick)")
    p.add_argument("--migrations", type=int, help="migrations per SQLite service (default 20; "
                   "5 with --quick)")
    p.add_argument("--pg-services", type=int, help="PostgreSQL services, one database each "
                   "(default 20; 5 with --quick)")
    p.add_argument("--pg-migrations", type=int, help="migrations per PostgreSQL service "
                   "(default 20; 5 with --quick)")
    p.add_argument("--depth", type=int, default=5, help="layers of the dependency graph, "
                   "i.e. services in the longest chain (default 5)")
    p.add_argument("--parallel", help="comma-separated --parallel values to time (default "
                   "1,2,4,8; 1,2 with --quick)")
    p.add_argument("--repeat", "-r", type=int, help="timed runs of each (default 3; 1 with "
                   "--quick)")
    p.add_argument("--status-interval", type=float, default=0.02,
                   help="pause between two HTTP status requests, seconds (default 0.02)")
    p.add_argument("--idle-requests", type=int, default=40,
                   help="status requests per server and client on the idle servers, "
                        "before the run (default 40)")
    p.add_argument("--quick", action="store_true", help="smoke run: --services 10 "
                   "--migrations 5 --pg-services 5 --pg-migrations 5 --parallel 1,2 --repeat 1")
    p.add_argument("--databases", default="sqlite,postgresql",
                   help="comma-separated: sqlite, postgresql (default both)")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
                   help=f"PostgreSQL server without a database name (default {DEFAULT_PG})")
    p.add_argument("--quiet-timeout", type=float, default=30.0,
                   help="before each timed run wait up to this long for idle CPUs and no "
                        "busy PostgreSQL session (default 30; 0: do not wait)")
    p.add_argument("--json-out", help="JSON file (default bench/results/coordinator-<time>.json)")
    args = p.parse_args(argv)
    q = args.quick
    args.services = args.services or (10 if q else 100)
    args.migrations = args.migrations or (5 if q else 20)
    args.pg_services = args.pg_services or (5 if q else 20)
    args.pg_migrations = args.pg_migrations or (5 if q else 20)
    args.parallel = [int(x) for x in (args.parallel or ("1,2" if q else "1,2,4,8")).split(",")]
    args.repeat = args.repeat or (1 if q else 3)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if args.depth < 1:
        p.error("--depth must be at least 1")
    return args


def log(message):
    print(f"[coordinator {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the services ---------------------------------------------------------------------------
def make_graph(count, depth):
    """{name: [dependencies]}: ``depth`` layers; layer k's service i depends on services
    i and i+1 (mod its size) of layer k-1."""
    sizes = [count // depth + (1 if k < count % depth else 0) for k in range(depth)]
    if min(sizes) < 1:
        raise BenchError(f"{count} services cannot fill {depth} layers")
    names = [[f"l{k}s{i:02d}" for i in range(size)] for k, size in enumerate(sizes)]
    graph = {}
    for k, layer in enumerate(names):
        for i, name in enumerate(layer):
            if k == 0:
                graph[name] = []
            else:
                below = names[k - 1]
                graph[name] = sorted({below[i % len(below)], below[(i + 1) % len(below)]})
    return graph


def write_migrations(folder, count):
    folder.mkdir(parents=True)
    for v in range(1, count + 1):
        stem = folder / f"{v:04d}_create_t{v}"
        Path(f"{stem}.up.sql").write_text(
            f"CREATE TABLE t{v} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            f"created_at TIMESTAMP);\n"
            f"CREATE INDEX t{v}_name ON t{v} (name);\n"
            f"INSERT INTO t{v} (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three');\n")
        Path(f"{stem}.down.sql").write_text(f"DROP TABLE t{v};\n")


def toml_string(value):
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string here


def write_config(path, graph, urls, migrations_root):
    lines = ["# generated by bench/coordinator.py", ""]
    for name, deps in graph.items():
        lines += [f"[services.{name}]", f"url = {toml_string(urls[name])}",
                  f"migrations = {toml_string(migrations_root / name)}",
                  f"depends_on = [{', '.join(toml_string(d) for d in deps)}]", ""]
    path.write_text("\n".join(lines))


class SQLiteSet:
    name, label = "sqlite", "SQLite"

    def __init__(self, quiet):
        self.quiet = quiet

    def create(self, trial, names):
        (trial / "dbs").mkdir()
        return {n: f"sqlite:///{trial / 'dbs' / n}.db" for n in names}

    def drop(self, trial, names):
        pass  # the trial folder goes, with its files

    def settle(self):
        os.sync()
        return self.quiet.wait()


class PostgresSet:
    name, label = "postgresql", "PostgreSQL"

    def __init__(self, server):
        self.server = server
        self.made = {}

    def create(self, trial, names):
        tag = uuid.uuid4().hex[:6]
        urls = {}
        made = []
        for n in names:
            db = f"{PREFIX}{tag}_{n}"
            self.server._admin(f'CREATE DATABASE "{db}"')
            made.append(db)
            auth = self.server.user + (f":{self.server.password}" if self.server.password
                                       else "")
            urls[n] = f"postgresql://{auth}@{self.server.host}:{self.server.port}/{db}"
        self.made[str(trial)] = made
        return urls

    def drop(self, trial, names):
        for db in self.made.pop(str(trial), []):
            self.server._admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    def settle(self):
        return self.server.settle()


class ExtraPostgres(PostgresServer):
    def __init__(self, url, quiet):
        super().__init__(url, quiet)
        self.prefix = PREFIX


class Workspace:
    """One engine's services: migration folders, and fresh trials (config + databases)."""

    def __init__(self, root, dbset, count, migrations, depth):
        self.root = root
        self.dbset = dbset
        self.graph = make_graph(count, depth)
        self.migrations_root = root / "migrations"
        for name in self.graph:
            write_migrations(self.migrations_root / name, migrations)
        from ferryman.coordinator.graph import Graph

        self.chain = Graph(self.graph).longest_chain()
        if len(self.chain) != depth:
            raise BenchError(f"the longest chain has {len(self.chain)} services, not {depth}")

    def trial(self, names):
        trial = self.root / f"trial-{uuid.uuid4().hex[:8]}"
        trial.mkdir()
        urls = self.dbset.create(trial, names)
        # every service is configured; only ``names`` have databases (the others are
        # never touched when --services leaves them out)
        for n in self.graph:
            if n not in urls:
                urls[n] = self._absent_url(trial, n)
        write_config(trial / "ferryman.toml", self.graph, urls, self.migrations_root)
        return trial

    def _absent_url(self, trial, name):
        if self.dbset.name == "sqlite":
            return f"sqlite:///{trial / 'dbs' / name}.db"
        return (f"postgresql://{self.dbset.server.user}@{self.dbset.server.host}:"
                f"{self.dbset.server.port}/{PREFIX}absent_{name}")

    def finish(self, trial, names):
        self.dbset.drop(trial, names)
        shutil.rmtree(trial, ignore_errors=True)


# -- timing a coordinated run ---------------------------------------------------------------
def epoch(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def check_result(out, expected):
    if out.get("status") != "ok":
        raise BenchError(f"coordinated run status {out.get('status')}")
    names = [s["name"] for s in out["services"]]
    if sorted(names) != sorted(expected) or any(s["status"] != "ok" for s in out["services"]):
        bad = [(s["name"], s["status"]) for s in out["services"] if s["status"] != "ok"]
        raise BenchError(f"coordinated run: services not ok: {bad[:5]}")


def service_facts(out):
    starts = [epoch(s["started_at"]) for s in out["services"]]
    ends = [epoch(s["finished_at"]) for s in out["services"]]
    durations = [e - s for s, e in zip(starts, ends)]
    return {"first_start": min(starts), "last_end": max(ends),
            "service_median_s": statistics.median(durations),
            "service_sum_s": sum(durations)}


def coordinated_argv(trial, parallel=None, services=None):
    argv = [FERRYMAN, "-c", trial / "ferryman.toml", "migrate", "--strategy", "coordinated",
            "--json"]
    if parallel:
        argv += ["--parallel", str(parallel)]
    if services:
        argv += ["--services", ",".join(services)]
    return argv


def timed_run(ws, names, parallel=None, services=None):
    trial = ws.trial(names)
    try:
        quiet = ws.dbset.settle()
        sample = harness.run(Command(coordinated_argv(trial, parallel, services), cwd=trial))
        out = json.loads(sample.stdout)
        check_result(out, names)
        facts = service_facts(out)
        return {"wall": sample.wall, "cpu": sample.cpu, "quiet": quiet,
                "parallel_used": out.get("parallel"), **facts}
    finally:
        ws.finish(trial, names)


# -- status during a run ----------------------------------------------------------------------
# The ASGI app under uvicorn's own listening socket (uvicorn.run(host=, port=)), in a
# process of its own: the same app as `ferryman serve`, for comparison (see EXTRA.md:
# `ferryman serve` binds its socket itself, and its connections lack TCP_NODELAY).
UVICORN_CHILD = r"""
import socket, sys, uvicorn
from ferryman.http import create_app
app = create_app(config=sys.argv[1])
print("ready", flush=True)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def start_serve(trial):
    """`ferryman serve --bind-port 0`; returns (process, base URL)."""
    proc = subprocess.Popen([str(FERRYMAN), "-c", str(trial / "ferryman.toml"), "serve",
                             "--bind-port", "0"], cwd=trial, env=harness._environment({}),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if " on http://" not in line:
        proc.terminate()
        raise BenchError(f"ferryman serve said {line!r}")
    return proc, line.split(" on ", 1)[1].split()[0].rstrip("/")


def start_uvicorn(trial):
    import socket

    with socket.socket() as probe:  # a free port (uvicorn binds it itself)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([str(harness.PYTHON), "-c", UVICORN_CHILD,
                             str(trial / "ferryman.toml"), str(port)], cwd=trial,
                            env=harness._environment({}), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}"


class KeptAlive:
    """httpx, one connection kept alive (as a status page or a poller would)."""

    def __init__(self, base):
        import httpx

        self.client = httpx.Client(base_url=base, timeout=30)

    def get(self, path):
        response = self.client.get(path)
        return response.status_code, (response.json() if response.status_code == 200 else {})

    def close(self):
        self.client.close()


class NewConnection:
    """urllib, a new TCP connection per request (as curl or a probe would)."""

    def __init__(self, base):
        self.base = base

    def get(self, path):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, {}

    def close(self):
        pass


TARGETS = (("serve-keepalive", "`ferryman serve`, kept-alive connection (httpx)"),
           ("serve-newconn", "`ferryman serve`, new connection per request (urllib)"),
           ("uvicorn-keepalive", "the same ASGI app under `uvicorn.run(host, port)`, "
                                 "kept-alive connection (httpx)"))


def http_loop(clients, names, stop, records, interval, limit=None):
    """Round robin over the clients; per client: GET /migration/status/{name}, and every
    fourth request GET /migration/status."""
    import random

    pick = random.Random(42)
    i = 0
    keys = list(clients)
    name = None
    while not stop.is_set() and (limit is None or i < limit):
        target = keys[i % len(keys)]
        j = i // len(keys)
        if i % len(keys) == 0:
            name = pick.choice(names)  # the same service through every client in a round
        if j % 4 == 3:
            kind, path = "all", "/migration/status"
        else:
            kind, path = "service", f"/migration/status/{name}"
        w0, t0 = time.time(), time.perf_counter()
        code, body = clients[target].get(path)
        ms = (time.perf_counter() - t0) * 1000
        running = body.get("running") if kind == "service" else \
            sum(1 for s in body.get("services", []) if s.get("running"))
        records.append({"target": target, "kind": kind, "start": w0, "end": w0 + ms / 1000,
                        "ms": ms, "code": code, "running": running,
                        "name": name if kind == "service" else None})
        i += 1
        if interval:
            stop.wait(interval)


def cli_loop(trial, names, stop, records, limit=None):
    i = 0
    while not stop.is_set() and (limit is None or i < limit):
        name = names[(i * 7) % len(names)]
        w0 = time.time()
        sample = harness.run(Command([FERRYMAN, "-c", trial / "ferryman.toml", "status",
                                      "--service", name, "--json"], cwd=trial))
        records.append({"target": "cli", "kind": "cli", "start": w0, "end": w0 + sample.wall,
                        "ms": sample.wall * 1000, "code": 0, "running": None, "name": name})
        i += 1


def latency(records):
    values = sorted(r["ms"] for r in records)
    if not values:
        return {"count": 0}
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return {"count": len(values), "median": statistics.median(values), "p90": p90,
            "max": values[-1], "min": values[0],
            "errors": sum(1 for r in records if r["code"] not in (0, 200))}


def latencies(records):
    out = {}
    for target, _ in TARGETS:
        for kind in ("service", "all"):
            out[f"{target}/{kind}"] = latency([r for r in records if r["target"] == target
                                               and r["kind"] == kind])
    for target in ("serve-keepalive-burst", "uvicorn-keepalive-burst"):
        out[target] = latency([r for r in records if r["target"] == target
                               and r["kind"] == "service"])
    out["cli"] = latency([r for r in records if r["kind"] == "cli"])
    return out


def status_once(ws, args):
    """One run under status requests: (idle records, during records, the run's facts)."""
    names = list(ws.graph)
    trial = ws.trial(names)
    servers, clients = [], {}
    try:
        serve, serve_base = start_serve(trial)
        servers.append(serve)
        app, app_base = start_uvicorn(trial)
        servers.append(app)
        harness.wait_ready(serve_base, poll=0.1)
        harness.wait_ready(app_base, poll=0.1)
        clients = {"serve-keepalive": KeptAlive(serve_base),
                   "serve-newconn": NewConnection(serve_base),
                   "uvicorn-keepalive": KeptAlive(app_base)}
        # baseline on the idle servers (every migration pending)
        ws.dbset.settle()
        idle = []
        http_loop(clients, names, threading.Event(), idle, args.status_interval,
                  limit=len(clients) * args.idle_requests)
        cli_loop(trial, names, threading.Event(), idle, limit=5)
        # back to back on one kept-alive connection, no pause: a tight poller
        for target in ("serve-keepalive", "uvicorn-keepalive"):
            burst = []
            http_loop({target: clients[target]}, names, threading.Event(), burst, 0,
                      limit=args.idle_requests)
            for r in burst:
                r["target"] = f"{target}-burst"
            idle += burst
        # the run, with requests all along
        ws.dbset.settle()
        stop = threading.Event()
        during = []
        out_file = trial / "run.json"
        with open(out_file, "w") as handle:
            run_start = time.time()
            run = subprocess.Popen([str(a) for a in coordinated_argv(trial)], cwd=trial,
                                   env=harness._environment({}), stdout=handle,
                                   stderr=subprocess.DEVNULL)
            threads = [threading.Thread(target=http_loop, args=(
                           clients, names, stop, during, args.status_interval)),
                       threading.Thread(target=cli_loop, args=(trial, names, stop, during))]
            for t in threads:
                t.start()
            code = run.wait()
            run_end = time.time()
            stop.set()
            for t in threads:
                t.join()
        if code != 0:
            raise BenchError(f"the coordinated run under status load exited with {code}")
        out = json.loads(out_file.read_text())
        check_result(out, names)
        facts = service_facts(out)
    finally:
        for client in clients.values():
            client.close()
        for proc in servers:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        ws.finish(trial, names)
    facts.update(run_wall=run_end - run_start, parallel_used=out.get("parallel"),
                 windows={s["name"]: (epoch(s["started_at"]), epoch(s["finished_at"]))
                          for s in out["services"]})
    return idle, during, facts


def status_during_runs(ws, args):
    """--repeat runs under status requests, on fresh databases each; the requests pooled.
    Only requests that started after the run's first service started and ended before
    its last service finished count as "during the run"."""
    idle, inside, runs = [], [], []
    for n in range(args.repeat):
        log(f"{ws.dbset.label}: status requests during a run {n + 1}/{args.repeat}")
        idle_n, during_n, facts = status_once(ws, args)
        lo, hi = facts["first_start"], facts["last_end"]
        idle += idle_n
        for r in during_n:
            r["run"] = n
            if r["start"] >= lo and r["end"] <= hi:
                inside.append(r)
                if r.get("name"):  # was that service's pipeline running meanwhile?
                    a, b = facts["windows"][r["name"]]
                    r["service_running"] = a <= r["start"] and r["end"] <= b
                    r["service_overlap"] = r["start"] < b and a < r["end"]
        runs.append({"run_wall": facts["run_wall"], "window_s": hi - lo,
                     "parallel_used": facts["parallel_used"],
                     "requests_total": sum(1 for r in during_n if r["kind"] != "cli"),
                     "requests_inside": sum(1 for r in during_n if r["kind"] != "cli"
                                            and r["start"] >= lo and r["end"] <= hi),
                     "windows": facts["windows"]})
    service_inside = [r for r in inside if r["kind"] == "service"]
    while_running = [r for r in service_inside if r["service_running"]]
    return {
        "runs": runs,
        "run_wall": statistics.median(r["run_wall"] for r in runs),
        "window_s": statistics.median(r["window_s"] for r in runs),
        "parallel_used": runs[0]["parallel_used"],
        "requests_total": sum(r["requests_total"] for r in runs),
        "requests_inside": sum(r["requests_inside"] for r in runs),
        "idle": latencies(idle), "during": latencies(inside),
        "service_answers": len(service_inside),
        "service_answers_running": sum(1 for r in service_inside if r["running"]),
        "service_while_running": len(while_running),
        "service_while_running_said_running": sum(1 for r in while_running if r["running"]),
        "service_not_running_said_running": sum(
            1 for r in service_inside if r["running"] and not r["service_overlap"]),
        "all_answers": sum(1 for r in inside if r["kind"] == "all"),
        "all_answers_with_running": sum(1 for r in inside if r["kind"] == "all"
                                        and r["running"]),
        "records": {"idle": idle, "inside": inside},
    }


# -- the whole engine -------------------------------------------------------------------------
def measure(ws, args):
    names = list(ws.graph)
    log(f"{ws.dbset.label}: warm-up (untimed)")
    timed_run(ws, ws.chain, services=ws.chain)
    samples = {f"parallel-{n}": [] for n in args.parallel}
    samples["chain"] = []
    for r in range(args.repeat):
        keys = list(samples)
        keys = keys[r % len(keys):] + keys[:r % len(keys)]
        for key in keys:
            log(f"{ws.dbset.label}: {key} {r + 1}/{args.repeat}")
            if key == "chain":
                samples[key].append(timed_run(ws, ws.chain, services=ws.chain))
            else:
                samples[key].append(timed_run(ws, names, parallel=int(key.split("-")[1])))
    status = status_during_runs(ws, args)
    return samples, status


def summarize(samples):
    walls = [s["wall"] for s in samples]
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls),
            "samples": walls, "cpu_median": statistics.median([s["cpu"] for s in samples]),
            "service_median_s": statistics.median([s["service_median_s"] for s in samples]),
            "service_sum_s": statistics.median([s["service_sum_s"] for s in samples]),
            "span_s": statistics.median([s["last_end"] - s["first_start"] for s in samples]),
            "not_quiet": sum(1 for s in samples if not s["quiet"])}


def table(rows):
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def f2(x):
    return f"{x:.2f}"


def fms(x):
    return "n/a" if x is None else (f"{x:.1f}" if x < 100 else f"{x:.0f}")


def report(results, args, env):
    lines = [f"## Coordinated runs (median of {args.repeat}, cold process)", ""]
    rows = [["engine", "services × migrations", "run", "wall s", "× chain alone",
             "first start → last finish s", "one service s (median)",
             "sum over services s", "CPU s"]]
    for name, res in results.items():
        s = res["summary"]
        chain = s["chain"]["median"]
        for key, v in s.items():
            label = (f"chain alone: `--services {','.join(res['chain'])}`" if key == "chain"
                     else f"all, `--parallel {key.split('-')[1]}`")
            rows.append([res["label"], f"{res['count']} × {res['migrations']}", label,
                         f2(v["median"]), "1.00×" if key == "chain"
                         else f"**{v['median'] / chain:.2f}×**", f2(v["span_s"]),
                         f"{v['service_median_s']:.3f}", f2(v["service_sum_s"]),
                         f2(v["cpu_median"])])
    lines += [table(rows), ""]
    lines += [f"### Status while a coordinated run is in progress (target: under "
              f"{TARGET_MS:.0f} ms)", ""]
    rows = [["engine", "server and client", "request", "when", "n", "median ms", "p90 ms",
             "max ms", "errors"]]
    for name, res in results.items():
        st = res["status"]
        for target, label in TARGETS + (("cli", "`ferryman status --service NAME --json`, "
                                         "new process each"),):
            kinds = (("cli", "status of one service"),) if target == "cli" else (
                ("service", "GET /migration/status/{service}"),
                ("all", f"GET /migration/status (all {res['count']})"))
            for kind, request in kinds:
                key = "cli" if target == "cli" else f"{target}/{kind}"
                for when in ("idle", "during"):
                    lat = st[when][key]
                    if not lat["count"]:
                        rows.append([res["label"], label, request, when, 0, "", "", "", ""])
                        continue
                    med = fms(lat["median"])
                    if when == "during" and kind != "all":
                        med = f"**{med}**"
                    rows.append([res["label"], label, request,
                                 "idle" if when == "idle" else "during the run",
                                 lat["count"], med, fms(lat["p90"]), fms(lat["max"]),
                                 lat["errors"]])
    lines += [table(rows), ""]
    lines += ["Requests back to back on one kept-alive connection (no pause; idle servers; "
              "GET /migration/status/{service}):", ""]
    rows = [["engine", "server", "n", "median ms", "p90 ms", "max ms"]]
    for name, res in results.items():
        for target, label in (("serve-keepalive-burst", "`ferryman serve`"),
                              ("uvicorn-keepalive-burst", "the app under "
                               "`uvicorn.run(host, port)`")):
            lat = res["status"]["idle"][target]
            if lat["count"]:
                rows.append([res["label"], label, lat["count"], fms(lat["median"]),
                             fms(lat["p90"]), fms(lat["max"])])
    lines += [table(rows), ""]
    for name, res in results.items():
        st = res["status"]
        lines.append(
            f"- {res['label']}: {len(st['runs'])} runs under status load, each on fresh "
            f"databases (median {st['run_wall']:.2f} s wall; first service start to last "
            f"finish {st['window_s']:.2f} s; --parallel {st['parallel_used']}, ferryman's "
            f"default); {st['requests_inside']} of {st['requests_total']} HTTP requests fell "
            f"inside those windows. {st['service_answers_running']} of "
            f"{st['service_answers']} per-service answers said `running: true`; "
            f"{st['service_while_running']} of those requests fell entirely inside the "
            f"asked service's own run (its started_at..finished_at in the run's report), and "
            f"{st['service_while_running_said_running']} of these said `running: true` "
            f"(`running` is true while the migration lock is held: backup and migration "
            f"phases, not precheck, optimize, validate or the report); "
            f"{st['service_not_running_said_running']} said `running: true` for a service "
            f"not running. {st['all_answers_with_running']} of {st['all_answers']} "
            f"all-services answers listed at least one running service.")
    lines.append("")
    lines.append(harness.machine_line(
        env, harness.not_quiet(results), f". Dependency graph: {args.depth} layers, every "
        "service of a layer depends on two of the layer before"))
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    quiet = Quiet(timeout=args.quiet_timeout)
    env = harness.environment()
    results = {}
    with harness.Scratch("ferryextra-co-", env,
                         lambda: ExtraPostgres(args.pg_url, quiet)) as scratch:
        for name in args.databases:
            if name == "sqlite":
                dbset, count, migrations = SQLiteSet(quiet), args.services, args.migrations
            elif name == "postgresql":
                dbset, count, migrations = (PostgresSet(scratch.postgres()), args.pg_services,
                                            args.pg_migrations)
            else:
                raise BenchError(f"unknown database {name!r}")
            root = scratch.path / name
            root.mkdir()
            ws = Workspace(root, dbset, count, migrations, args.depth)
            samples, status = measure(ws, args)
            results[name] = {"label": dbset.label, "count": count, "migrations": migrations,
                             "chain": ws.chain, "graph": ws.graph, "samples": samples,
                             "summary": {k: summarize(v) for k, v in samples.items()},
                             "status": status}
    return harness.conclude("coordinator", results, args, env, report, log)


if __name__ == "__main__":
    harness.main_guard("coordinator", main)
