"""Benchmark ferryman against its peers and the raw-SQL limit, in one run.

    make bench                                  # or: .venv/bin/python bench/run.py
    make bench BENCH_ARGS="--quick"             # smoke run: 100 migrations, 1 repetition
    .venv/bin/python bench/run.py --repeat 9 --databases sqlite --tools ferryman,dbmate
    .venv/bin/python bench/run.py --databases mysql          # MySQL/MariaDB (not by default)

See bench/README.md for what is measured and how.
"""

import argparse
import contextlib
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def _in_project_venv():
    return Path(sys.prefix).resolve() == (REPO / ".venv").resolve()


if __name__ == "__main__" and not _in_project_venv() and VENV_PYTHON.exists():
    # Everything (peers, in-process checks, psycopg for the set-up) lives in .venv.
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), __file__, *sys.argv[1:]])

import harness  # noqa: E402  (after the re-exec)
import peers  # noqa: E402
import report  # noqa: E402
import tools  # noqa: E402
from harness import PYTHON, BenchError, MySQLServer, PostgresServer, SQLiteServer  # noqa: E402
from tools.ferryman import source_digest  # noqa: E402
from workload import write_workspace  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_MYSQL = "mysql://root@127.0.0.1:3306"
DATABASES = ["postgresql", "sqlite", "mysql"]
TARGET_MS = 5.0


def parse_args(argv=None):
    keys = [cls.key for cls in tools.ALL]
    p = argparse.ArgumentParser(
        description="ferryman vs Alembic, yoyo, dbmate and the raw-SQL limit: cold "
                    "`up` of N migrations and `status`, on PostgreSQL and SQLite (and "
                    "MySQL/MariaDB with --databases).")
    p.add_argument("--count", "-n", type=int, help="migrations to apply (default 1000; "
                   "100 with --quick)")
    p.add_argument("--repeat", "-r", type=int, help="timed applies per tool and database "
                   "(default 5; 1 with --quick)")
    p.add_argument("--status-repeat", type=int, help="timed status checks per tool and "
                   "database (default 20; 3 with --quick)")
    p.add_argument("--calls", type=int, default=200,
                   help="in-process Migrator.status() calls timed (default 200)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed runs of every command first (default 1: compiles "
                        "Alembic's revision scripts to .pyc, fills the page cache)")
    p.add_argument("--quiet-timeout", type=float, default=30.0,
                   help="before each timed run, wait up to this many seconds for the "
                        "machine to be quiet: CPUs mostly idle, no other PostgreSQL "
                        "session busy (default 30; 0: do not wait)")
    p.add_argument("--bytecode-cache", action=argparse.BooleanOptionalAction, default=True,
                   help="let Python cache bytecode (in the workspace, via "
                        "PYTHONPYCACHEPREFIX; the warm-up fills it): steady state. "
                        "--no-bytecode-cache: every process compiles every module it "
                        "imports, as on a first run (default: on)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: --count 100 --repeat 1 --status-repeat 3")
    # MySQL is asked for by name: `make bench` must not need a third server, and the
    # full run is long enough already (MySQL adds about five minutes).
    p.add_argument("--databases", default="postgresql,sqlite",
                   help="comma-separated: postgresql, sqlite, mysql (default "
                        "postgresql,sqlite)")
    p.add_argument("--tools", default=",".join(keys),
                   help=f"comma-separated subset of: {', '.join(keys)}")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
                   help=f"PostgreSQL server, without a database name (default {DEFAULT_PG}"
                        " or $BENCH_PG_URL); the user must be allowed to CREATE DATABASE")
    p.add_argument("--mysql-url", default=os.environ.get("BENCH_MYSQL_URL", DEFAULT_MYSQL),
                   help=f"MySQL or MariaDB server, without a database name (default "
                        f"{DEFAULT_MYSQL} or $BENCH_MYSQL_URL; a password is better in "
                        "$BENCH_MYSQL_PASSWORD); the user must be allowed to CREATE DATABASE")
    p.add_argument("--setup", action=argparse.BooleanOptionalAction, default=True,
                   help="install missing peers first: pip into .venv, npm into "
                        "bench/.node (default: on; idempotent)")
    p.add_argument("--results", type=Path, default=HERE / "results",
                   help="folder for the JSON record (default bench/results)")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary folder of generated migrations")
    args = p.parse_args(argv)
    args.count = args.count or (100 if args.quick else 1000)
    args.repeat = args.repeat or (1 if args.quick else 5)
    args.status_repeat = args.status_repeat or (3 if args.quick else 20)
    args.databases = _choices(p, "--databases", args.databases, DATABASES)
    args.tools = _choices(p, "--tools", args.tools, keys)
    if min(args.count, args.repeat, args.status_repeat, args.calls) < 1 or args.warmup < 0:
        p.error("counts must be positive")
    return args


def _choices(parser, flag, text, allowed):
    chosen = [c.strip() for c in text.split(",") if c.strip()]
    bad = [c for c in chosen if c not in allowed]
    if bad or not chosen:
        parser.error(f"{flag}: unknown {', '.join(bad) or '(empty)'}; "
                     f"choose from {', '.join(allowed)}")
    return chosen


def log(message):
    print(message, file=sys.stderr, flush=True)


# -- the two phases --------------------------------------------------------------------------
def _rotated(items, turn):
    """Every repetition starts with a different tool, so that drift (checkpoints,
    caches, a neighbour's load) does not always land on the same one."""
    if not items:
        return items
    k = turn % len(items)
    return items[k:] + items[:k]


def bench_apply(server, selected, args):
    """Time each tool's apply on a fresh database, ``repeat`` times, interleaved."""
    runs = [t for t in selected if t.apply(_probe(server)) is not None]
    samples = {t.key: [] for t in runs}
    total = args.warmup + args.repeat
    for turn in range(total):
        warm = turn < args.warmup
        for tool in _rotated(runs, turn):
            sample = _apply_once(server, tool, args.count, timed=not warm)
            tag = "warm-up" if warm else f"{turn - args.warmup + 1}/{args.repeat}"
            log(f"  apply  {server.label:<10} {tool.key:<22} {tag:>7}  {sample.wall:8.3f} s"
                f"  (client CPU {sample.cpu:.3f} s)")
            if not warm:
                samples[tool.key].append(sample)
    return {key: report.summarize(s) for key, s in samples.items()}


def _retrying(server, what, action, attempts=3):
    """``action()``, tried again when it fails on PostgreSQL: the server may be shared
    with a test suite that fills its lock table on purpose ("out of shared memory")."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except BenchError as exc:
            if server.dialect != "postgresql" or attempt == attempts:
                raise
            log(f"  {what} failed (attempt {attempt} of {attempts}); trying again when the "
                f"server is quiet: {str(exc).splitlines()[-1]}")
            server.wait_quiet()


def _migrate(server, tool, migrator, count, timed=False):
    """A fresh database migrated by ``migrator`` and checked: (database, sample)."""
    db = server.create(tool.key)
    try:
        quiet = server.settle() if timed else True
        sample = harness.run(migrator.apply(db))
        sample.quiet = quiet
        tables, indexes = server.count_objects(db)
        if (tables, indexes) != (count, count):
            raise BenchError(f"{migrator.key} on {server.label}: expected {count} tables "
                             f"and indexes, found {tables} and {indexes}")
    except BaseException:
        server.drop(db)
        raise
    return db, sample


def _apply_once(server, tool, count, timed=True):
    """One apply on a fresh database, checked, then dropped."""
    def action():
        db, sample = _migrate(server, tool, tool, count, timed=timed)
        server.drop(db)
        return sample

    return _retrying(server, f"{tool.key} apply", action)


def bench_status(server, selected, by_key, args):
    """Migrate one database per tool (untimed), then time its status command."""
    runs = [t for t in selected if t.status(_probe(server)) is not None]
    dbs, samples = {}, {t.key: [] for t in runs}
    inprocess = None
    try:
        server.settle()
        for tool in runs:
            migrator = by_key[tool.migrated_by] if tool.migrated_by else tool
            dbs[tool.key], _ = _retrying(server, f"{migrator.key} apply", lambda: _migrate(
                server, tool, migrator, args.count))
            output = _retrying(server, f"{tool.key} status",
                               lambda: harness.run(tool.check_command(dbs[tool.key]))).stdout
            problem = tool.check_status(output)
            if problem:
                raise BenchError(f"{tool.key} status on {server.label}: {problem}")
        for turn in range(args.warmup + args.status_repeat):
            quiet = server.settle() if turn >= args.warmup else True
            for tool in _rotated(runs, turn):
                sample = _retrying(server, f"{tool.key} status",
                                   lambda: harness.run(tool.status(dbs[tool.key])))
                sample.quiet = quiet
                if turn >= args.warmup:
                    samples[tool.key].append(sample)
        for tool in runs:
            s = report.summarize(samples[tool.key])
            log(f"  status {server.label:<10} {tool.key:<22} median {s['median']:.4f} s "
                f"(min {s['min']:.4f}, max {s['max']:.4f})")
        if "ferryman" in dbs:
            server.settle()
            inprocess = _retrying(server, "in-process status", lambda: bench_inprocess(
                by_key["ferryman"], dbs["ferryman"], args))
            log(f"  status {server.label:<10} {'ferryman in-process':<22} median "
                f"{inprocess['median_ms']:.3f} ms")
    finally:
        for db in dbs.values():
            server.drop(db)
    return {key: report.summarize(s) for key, s in samples.items()}, inprocess


def bench_inprocess(ferryman, db, args):
    script = HERE / "scripts" / "inprocess_status.py"
    # the URL in the environment: it may hold a password, a command line must not
    out = harness.run(harness.Command(
        [PYTHON, script, ferryman.migrations_dir(db), args.calls],
        {"BENCH_DATABASE_URL": ferryman.url(db)}, cwd=ferryman.ws.root)).stdout
    data = json.loads(out)
    if data["pending_count"] != 0 or data["dirty"]:
        raise BenchError(f"in-process status saw {data}")
    ms = sorted(t * 1000 for t in data["times"])
    return {"median_ms": statistics.median(ms), "min_ms": ms[0],
            "p90_ms": ms[int(0.9 * (len(ms) - 1))], "max_ms": ms[-1], "calls": len(ms),
            "samples_ms": ms}


def _probe(server):
    """A stand-in database, to ask a tool whether it has a command for this dialect."""
    port, user = (3306, "root") if server.dialect == "mysql" else (5432, "postgres")
    return harness.Database(server.dialect, "probe", path=Path("/nonexistent.db"),
                            host="127.0.0.1", port=port, user=user)


# -- the machine -----------------------------------------------------------------------------
def machine_info(servers, instances):
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu, "platform": platform.platform(), "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlite_cli": _first_word(["sqlite3", "--version"]),
        "psql": _first_word(["psql", "--version"], last=True),
        "tools": {},
        "loadavg_start": os.getloadavg(),
        "caller_PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
    }
    if "postgresql" in servers:
        info["postgresql"] = servers["postgresql"].version()
    if "mysql" in servers:
        info["mysql"] = servers["mysql"].version()
    for tool in instances:
        info["tools"].update(tool.versions())
    return info


def _redacted(key, value):
    """A configuration value for the JSON: paths as text, no password in a URL."""
    if isinstance(value, Path):
        return str(value)
    if key.endswith("_url") and value:
        parts = urlsplit(value)
        if parts.password:
            host = parts.netloc.rsplit("@", 1)[-1]
            return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
    return value


def _first_word(argv, last=False):
    try:
        out = subprocess.run(argv, capture_output=True, text=True).stdout.split()
    except OSError:
        return None
    return (out[-1] if last else out[0]) if out else None


# -- main ------------------------------------------------------------------------------------
def main(argv=None):
    args = parse_args(argv)
    if not _in_project_venv():
        raise BenchError(f"run this with the project's .venv ({VENV_PYTHON}): `make bench`")
    if args.setup:
        peers.ensure(log, python=bool({"alembic", "yoyo"} & set(args.tools)),
                      node="dbmate" in args.tools)

    wanted = set(args.tools)
    by_key, order = {}, []
    for cls in tools.ALL:
        if cls.key in wanted or any(c.migrated_by == cls.key and c.key in wanted
                                    for c in tools.ALL):
            order.append(cls)
    started = time.strftime("%Y%m%dT%H%M%S")
    if args.keep:
        workspace = contextlib.nullcontext(tempfile.mkdtemp(prefix="ferrybench-"))
    else:
        workspace = tempfile.TemporaryDirectory(prefix="ferrybench-")
    with workspace as tmp:
        root = Path(tmp)
        harness.set_bytecode_cache(root / "pycache", args.bytecode_cache)
        servers = {}
        quiet = harness.Quiet(args.quiet_timeout)
        if "postgresql" in args.databases:
            servers["postgresql"] = PostgresServer(args.pg_url, quiet)
            servers["postgresql"].drop_leftovers()
        if "sqlite" in args.databases:
            servers["sqlite"] = SQLiteServer(root / "db", quiet)
        if "mysql" in args.databases:
            password = os.environ.get("BENCH_MYSQL_PASSWORD")
            servers["mysql"] = MySQLServer(args.mysql_url, quiet, password)
            servers["mysql"].drop_leftovers()
            report.NAMES["mysql"] = servers["mysql"].label  # MariaDB or MySQL
        try:
            log(f"generating {args.count} migrations for {len(order)} tools in {root}"
                + (" (kept)" if args.keep else ""))
            ws = write_workspace(root, args.count, args.databases)
            for cls in order:
                by_key[cls.key] = tool = cls(ws)
                tool.prepare()
            selected = [by_key[k] for k in (c.key for c in tools.ALL) if k in wanted]
            machine = machine_info(servers, selected)
            results = {"apply": {}, "status": {}, "inprocess": {}}
            for dialect, server in servers.items():
                log(f"apply: {server.label}")
                results["apply"][dialect] = bench_apply(server, selected, args)
            for dialect, server in servers.items():
                log(f"status: {server.label}")
                results["status"][dialect], inproc = bench_status(server, selected, by_key,
                                                                  args)
                if inproc:
                    results["inprocess"][dialect] = inproc
        finally:
            for server in servers.values():
                server.close()
    report.add_raw_limit(results["apply"])
    machine["loadavg_end"] = os.getloadavg()
    if "ferryman" in by_key:
        machine["ferryman_source_at_end"] = source_digest()
    machine["quiet"] = quiet.summary()

    labels = {t.key: t.label for t in by_key.values()}
    status_labels = {t.key: t.status_label or t.label for t in by_key.values()}
    settings = (f"- {args.count} migrations; medians of {args.repeat} applies and "
                f"{args.status_repeat} status checks after {args.warmup} untimed warm-up; "
                f"Python bytecode cache {'on' if args.bytecode_cache else 'OFF'}")
    out = [f"## ferryman benchmark, {started}", "", settings, report.machine_lines(machine), "",
           report.apply_table(results, labels, args.count, args.repeat), "",
           report.status_table(results, status_labels, args.count, args.status_repeat,
                               args.calls)]
    summary = report.inprocess_summary(results, TARGET_MS)
    if summary:
        out += ["", summary]
    path = args.results / f"bench-{started}.json"
    report.write_json(path, {
        "started": started, "machine": machine,
        "config": {k: _redacted(k, v) for k, v in vars(args).items()},
        "labels": labels, "results": results})
    out += ["", f"JSON: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}"]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        log(f"bench: {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("bench: interrupted")
        sys.exit(130)
