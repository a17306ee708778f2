"""The unified pipeline on the example project, against the core's plain `up`.

    .venv/bin/python bench/pipeline.py                  # 100k letters, 3 repetitions
    .venv/bin/python bench/pipeline.py --quick          # 5k letters, 1 repetition
    .venv/bin/python bench/pipeline.py --databases sqlite --letters 1000000 --repeat 5

Issue: "the unified pipeline on the example project (examples/penpal), with 100k
letters, against the core's plain `up` on the same database. Report what the extra
phases cost."

Set-up (untimed), per engine: a copy of examples/penpal; a database migrated with
`ferryman up --target 2 --no-backup` (users and letters exist), then filled with plain
SQL: --users pen pals and --letters letters (valid rows: existing senders and
recipients, statuses draft/sent/archived, every tenth soft-deleted). Every timed run
gets an identical copy of that database (SQLite: a copy of the file; PostgreSQL:
CREATE DATABASE ... TEMPLATE the prepared one) and applies the remaining eight
migrations (3, 4, 101, 102, 201, 301 and the two repeatables) in a new process:

- `ferryman up --no-backup` and `ferryman up`: the core runner alone;
- `ferryman migrate --strategy unified` (backup on, as by default), with
  `--skip-optimization`, with `--no-backup`, and on PostgreSQL with
  `--no-concurrent-indexes`.

Phase durations come from `ferryman migrate --json` (each phase's duration_ms); the
report file's duration_ms is the pipeline's own total; the wall time minus that is
start-up, configuration, connecting and writing the reports. See bench/EXTRA.md.
"""

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import time
import uuid

import harness
from harness import REPO, BenchError, Command, PostgresServer, Quiet

if __name__ == "__main__":
    harness.reexec_in_venv(__file__)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
PREFIX = "ferryextra_pl_"
FERRYMAN = REPO / ".venv" / "bin" / "ferryman"
EXAMPLE = REPO / "examples" / "penpal"
HEAD = 301
PHASES = ("precheck", "backup", "core", "extended", "integrity", "indexes", "constraints",
          "views", "optimize", "validate")

VARIANTS = {
    # key: (label, ferryman arguments, engines)
    "up-no-backup": ("`ferryman up --no-backup` (the core runner alone)",
                     ["up", "--no-backup", "--json"], ("sqlite", "postgresql")),
    "up": ("`ferryman up` (core runner, backup on)", ["up", "--json"],
           ("sqlite", "postgresql")),
    "unified": ("`ferryman migrate --strategy unified` (defaults: backup on)",
                ["migrate", "--strategy", "unified", "--json"], ("sqlite", "postgresql")),
    "unified-skip-opt": ("`migrate --strategy unified --skip-optimization`",
                         ["migrate", "--strategy", "unified", "--skip-optimization",
                          "--json"], ("sqlite", "postgresql")),
    "unified-no-backup": ("`migrate --strategy unified --no-backup`",
                          ["migrate", "--strategy", "unified", "--no-backup", "--json"],
                          ("sqlite", "postgresql")),
    "unified-no-concurrent": ("`migrate --strategy unified --no-concurrent-indexes`",
                              ["migrate", "--strategy", "unified", "--no-concurrent-indexes",
                               "--json"], ("postgresql",)),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="ferryman's unified pipeline vs plain `up` on "
                                "the pen-pal example with many letters")
    p.add_argument("--letters", type=int, help="letters to insert (default 100000; 5000 "
                   "with --quick)")
    p.add_argument("--users", type=int, help="pen pals to insert (default 1000; 100 with "
                   "--quick)")
    p.add_argument("--repeat", "-r", type=int, help="timed runs of each variant (default 3; "
                   "1 with --quick)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs of each variant "
                   "first (default 1: Python's bytecode cache, the page cache)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: --letters 5000 --users 100 --repeat 1")
    p.add_argument("--databases", default="sqlite,postgresql",
                   help="comma-separated: sqlite, postgresql (default both)")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help=f"comma-separated subset of: {', '.join(VARIANTS)}")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
                   help=f"PostgreSQL server without a database name (default {DEFAULT_PG})")
    p.add_argument("--quiet-timeout", type=float, default=30.0,
                   help="before each timed run wait up to this long for idle CPUs and no "
                        "busy PostgreSQL session (default 30; 0: do not wait)")
    p.add_argument("--json-out", help="JSON file (default bench/results/pipeline-<time>.json)")
    args = p.parse_args(argv)
    args.letters = args.letters or (5000 if args.quick else 100000)
    args.users = args.users or (100 if args.quick else 1000)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in args.variants:
        if v not in VARIANTS:
            p.error(f"unknown variant {v!r}")
    if "up-no-backup" not in args.variants:
        p.error("the variant up-no-backup is the baseline; keep it")
    return args


def log(message):
    print(f"[pipeline {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def copy_example(dest):
    dest.mkdir(parents=True)
    for name in ("ferryman.toml", "migrations", "checks", "health"):
        source = EXAMPLE / name
        if source.is_dir():
            shutil.copytree(source, dest / name)
        else:
            shutil.copy(source, dest / name)


# -- the data -----------------------------------------------------------------------------
def sqlite_fill(path, users, letters):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute(f"""WITH RECURSIVE n(x) AS (SELECT 4 UNION ALL SELECT x + 1 FROM n
                     WHERE x < {users + 3})
                     INSERT INTO users (id, username, email, school_code, created_at)
                     SELECT x, 'pal' || x, 'Pal' || x || '@Example.COM',
                     CASE WHEN x % 4 = 0 THEN NULL ELSE 'S' || (x % 50) END,
                     datetime(1700000000 + x * 3600, 'unixepoch') FROM n""")
    conn.execute(f"""WITH RECURSIVE n(x) AS (SELECT 4 UNION ALL SELECT x + 1 FROM n
                     WHERE x < {letters + 3})
                     INSERT INTO letters (id, sender_id, recipient_id, title, body, status,
                                          sent_at, deleted_at)
                     SELECT x, 1 + (x * 7919) % {users + 3},
                     CASE WHEN x % 3 = 0 AND x % 2 = 0 THEN NULL
                          ELSE 1 + (x * 104729) % {users + 3} END,
                     'Letter ' || x || ' ' || hex(randomblob(6)),
                     'Dear friend, ' || hex(randomblob(90)),
                     CASE x % 3 WHEN 0 THEN 'draft' WHEN 1 THEN 'sent' ELSE 'archived' END,
                     CASE WHEN x % 3 = 1 THEN datetime(1700000000 + x * 60, 'unixepoch') END,
                     CASE WHEN x % 10 = 0 THEN datetime(1710000000 + x * 60, 'unixepoch') END
                     FROM n""")
    conn.execute("COMMIT")
    counts = (conn.execute("SELECT count(*) FROM users").fetchone()[0],
              conn.execute("SELECT count(*) FROM letters").fetchone()[0])
    conn.close()
    return counts


def pg_fill(params, users, letters):
    import psycopg

    with psycopg.connect(**params, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(f"""INSERT INTO users (id, username, email, school_code, created_at)
                             SELECT x, 'pal' || x, 'Pal' || x || '@Example.COM',
                             CASE WHEN x % 4 = 0 THEN NULL ELSE 'S' || (x % 50) END,
                             timestamp '2024-01-01' + x * interval '1 hour'
                             FROM generate_series(4, {users + 3}) x""")
            conn.execute(f"""INSERT INTO letters (id, sender_id, recipient_id, title, body,
                                                  status, sent_at, deleted_at)
                             SELECT x, 1 + (x::bigint * 7919) % {users + 3},
                             CASE WHEN x % 3 = 0 AND x % 2 = 0 THEN NULL
                                  ELSE 1 + (x::bigint * 104729) % {users + 3} END,
                             'Letter ' || x || ' ' || left(md5(random()::text), 12),
                             'Dear friend, ' || md5(random()::text) || md5(random()::text)
                                 || md5(random()::text) || md5(random()::text)
                                 || md5(random()::text) || md5(random()::text),
                             CASE x % 3 WHEN 0 THEN 'draft' WHEN 1 THEN 'sent'
                                        ELSE 'archived' END,
                             CASE WHEN x % 3 = 1 THEN timestamp '2024-01-01'
                                  + x * interval '1 minute' END,
                             CASE WHEN x % 10 = 0 THEN timestamp '2024-06-01'
                                  + x * interval '1 minute' END
                             FROM generate_series(4, {letters + 3}) x""")
        conn.execute("VACUUM ANALYZE")
        return (conn.execute("SELECT count(*) FROM users").fetchone()[0],
                conn.execute("SELECT count(*) FROM letters").fetchone()[0])


# -- engines ------------------------------------------------------------------------------
class SQLiteEngine:
    name, label = "sqlite", "SQLite"

    def __init__(self, root, quiet):
        self.root = root
        self.quiet = quiet
        self.prepared = root / "prepared.db"

    def prepare_url(self):
        return f"sqlite:///{self.prepared}"

    def fill(self, users, letters):
        return sqlite_fill(self.prepared, users, letters)

    def copy(self, tag):
        path = self.root / f"{tag}-{uuid.uuid4().hex[:6]}.db"
        shutil.copy(self.prepared, path)
        return path, f"sqlite:///{path}"

    def drop(self, handle):
        for p in handle.parent.glob(handle.name + "*"):
            p.unlink()

    def settle(self):
        os.sync()
        return self.quiet.wait()

    def cleanup(self):
        pass


class PostgresEngine:
    name, label = "postgresql", "PostgreSQL"

    def __init__(self, root, server):
        self.root = root
        self.server = server
        self.db = server.create("prepared")

    def prepare_url(self):
        return self.db.pg_url()

    def fill(self, users, letters):
        params = {"host": self.server.host, "port": self.server.port,
                  "user": self.server.user, "dbname": self.db.name}
        if self.server.password:
            params["password"] = self.server.password
        return pg_fill(params, users, letters)

    def copy(self, tag):
        name = f"{PREFIX}{tag.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
        self.server._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.db.name}"')
        return name, self.db.pg_url().rsplit("/", 1)[0] + "/" + name

    def drop(self, name):
        self.server._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def settle(self):
        return self.server.settle()

    def cleanup(self):
        self.server.drop(self.db)


class ExtraPostgres(PostgresServer):
    def __init__(self, url, quiet):
        super().__init__(url, quiet)
        self.prefix = PREFIX


# -- one run --------------------------------------------------------------------------------
def one_run(engine, project, variant, timed=True):
    handle, url = engine.copy(variant)
    trial = project.parent / f"trial-{uuid.uuid4().hex[:6]}"
    trial.mkdir()
    env = {"FERRYMAN_DATABASE_URL": url, "FERRYMAN_BACKUP_DIR": trial / "backups"}
    argv = [FERRYMAN, "-c", project / "ferryman.toml", *VARIANTS[variant][1]]
    if argv[3] == "migrate":
        argv += ["--reports-dir", trial / "reports"]
    try:
        quiet = engine.settle() if timed else True
        sample = harness.run(Command(argv, env=env, cwd=project))
        out = json.loads(sample.stdout)
        record = {"wall": sample.wall, "cpu": sample.cpu, "quiet": quiet}
        if variant.startswith("up"):
            if out.get("to_version") != HEAD:
                raise BenchError(f"{variant}: ended at {out.get('to_version')}, not {HEAD}")
            record["steps_ms"] = sum(s["duration_ms"] or 0 for s in out["steps"])
            record["steps"] = {_key(s): s["duration_ms"] for s in out["steps"]}
        else:
            if out.get("status") != "ok" or out.get("to_version") != HEAD:
                raise BenchError(f"{variant}: status {out.get('status')}, version "
                                 f"{out.get('to_version')}")
            record["phases"] = {p["name"]: {"status": p["status"],
                                            "duration_ms": p["duration_ms"]}
                                for p in out["phases"]}
            record["migrations"] = {_key(m): m["duration_ms"] for m in out["migrations"]}
            with open(out["report_paths"]["json"]) as handle_:
                report = json.load(handle_)
            record["pipeline_ms"] = report["duration_ms"]
            record["report_bytes"] = {k: os.path.getsize(v)
                                      for k, v in out["report_paths"].items()}
        backups = list((trial / "backups").glob("*")) if (trial / "backups").exists() else []
        record["backup_bytes"] = sum(p.stat().st_size for p in backups
                                     if not p.name.endswith(".json"))
        return record
    finally:
        engine.drop(handle)
        shutil.rmtree(trial, ignore_errors=True)


def _key(step):
    """A migration's row label: its version, or R for a repeatable, and its name."""
    return f"{'R' if step['version'] is None else step['version']} {step['name']}"


def measure(engine, project, args, variants):
    for _ in range(args.warmup):
        for variant in variants:
            log(f"{engine.label}: warm-up {variant}")
            one_run(engine, project, variant, timed=False)
    samples = {v: [] for v in variants}
    for n in range(args.repeat):
        order = variants[n % len(variants):] + variants[:n % len(variants)]
        for variant in order:
            log(f"{engine.label}: {variant} {n + 1}/{args.repeat}")
            samples[variant].append(one_run(engine, project, variant))
    return samples


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(samples):
    walls = [s["wall"] for s in samples]
    out = {"median": median(walls), "min": min(walls), "max": max(walls), "samples": walls,
           "cpu_median": median([s["cpu"] for s in samples]),
           "not_quiet": sum(1 for s in samples if not s["quiet"])}
    if "phases" in samples[0]:
        out["phases_ms"] = {name: median([s["phases"].get(name, {}).get("duration_ms")
                                          for s in samples]) for name in PHASES}
        out["phase_status"] = {name: samples[0]["phases"].get(name, {}).get("status")
                               for name in PHASES}
        out["pipeline_ms"] = median([s["pipeline_ms"] for s in samples])
        keys = samples[0]["migrations"].keys()
        out["migrations_ms"] = {k: median([s["migrations"].get(k) for s in samples])
                                for k in keys}
        out["migrations_total_ms"] = sum(v or 0 for v in out["migrations_ms"].values())
    else:
        out["steps_ms"] = median([s["steps_ms"] for s in samples])
        keys = samples[0]["steps"].keys()
        out["migrations_ms"] = {k: median([s["steps"].get(k) for s in samples]) for k in keys}
    out["backup_bytes"] = samples[0]["backup_bytes"]
    return out


# -- report ---------------------------------------------------------------------------------
def fs(value):
    return "n/a" if value is None else (f"{value:.3f}" if value < 10 else f"{value:.2f}")


def fms(value):
    if value is None:
        return "—"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(rows):
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def report(results, args, env):
    lines = [f"## The unified pipeline vs plain `up`: examples/penpal with "
             f"{args.letters:,} letters and {args.users:,} pen pals "
             f"(median of {args.repeat}, cold process)", ""]
    for name, res in results.items():
        s = res["summary"]
        base = s["up-no-backup"]["median"]
        lines += [f"### {res['label']} (database after set-up: {res['rows'][0]:,} users, "
                  f"{res['rows'][1]:,} letters; {res['size_mib']:.0f} MiB)", ""]
        rows = [["command", "wall s", "overhead vs `up --no-backup` s", "ratio",
                 "pipeline's own total s", "migrations s", "backup file"]]
        for key in args.variants:
            if key not in s:
                continue
            v = s[key]
            own = v.get("pipeline_ms")
            mig = v.get("migrations_total_ms", v.get("steps_ms"))
            rows.append([VARIANTS[key][0], fs(v["median"]),
                         "—" if key == "up-no-backup" else f"{v['median'] - base:+.3f}",
                         "1.00×" if key == "up-no-backup" else f"**{v['median'] / base:.2f}×**",
                         fs(own / 1000) if own is not None else "—",
                         fs(mig / 1000) if mig is not None else "—",
                         f"{v['backup_bytes'] / 1048576:.1f} MiB" if v["backup_bytes"]
                         else "none"])
        lines += [table(rows), ""]
        diffs = [("the whole pipeline over the core runner", "unified", "up-no-backup"),
                 ("its backup phase (unified − unified --no-backup)", "unified",
                  "unified-no-backup"),
                 ("its optimize phase (unified − --skip-optimization)", "unified",
                  "unified-skip-opt"),
                 ("everything but the backup (unified --no-backup − up --no-backup)",
                  "unified-no-backup", "up-no-backup"),
                 ("for comparison: plain up's backup (up − up --no-backup)", "up",
                  "up-no-backup"),
                 ("concurrent index builds (unified − --no-concurrent-indexes)", "unified",
                  "unified-no-concurrent")]
        rows = [["what the extra phases cost (difference of median walls)", "s", "ratio"]]
        for label, a, b in diffs:
            if a in s and b in s:
                rows.append([label, f"{s[a]['median'] - s[b]['median']:+.3f}",
                             f"{s[a]['median'] / s[b]['median']:.2f}×"])
        lines += [table(rows), ""]
        migrate_keys = [k for k in args.variants if k in s and k.startswith("unified")]
        rows = [["phase (ms, median)"] + [k for k in migrate_keys]]
        for phase in PHASES:
            cells = [phase]
            for k in migrate_keys:
                status = s[k]["phase_status"].get(phase)
                value = s[k]["phases_ms"].get(phase)
                cells.append(fms(value) if status != "skipped" else f"skipped ({fms(value)})")
            rows.append(cells)
        rows.append(["sum of phases"] + [fms(sum(v or 0 for v in s[k]["phases_ms"].values()))
                                         for k in migrate_keys])
        rows.append(["between phases (pipeline total − sum of phases)"]
                    + [fms(s[k]["pipeline_ms"] - sum(v or 0 for v in s[k]["phases_ms"].values()))
                       for k in migrate_keys])
        rows.append(["pipeline total (report duration_ms)"]
                    + [fms(s[k]["pipeline_ms"]) for k in migrate_keys])
        rows.append(["wall − pipeline total (start-up, config, connect, reports)"]
                    + [fms(1000 * s[k]["median"] - s[k]["pipeline_ms"]) for k in migrate_keys])
        lines += [table(rows), ""]
        # the migrations themselves, up vs unified
        if "unified" in s:
            rows = [["migration (ms, median)", "`up --no-backup`", "unified"]]
            for key in s["unified"]["migrations_ms"]:
                rows.append([key, fms(s["up-no-backup"]["migrations_ms"].get(key)),
                             fms(s["unified"]["migrations_ms"][key])])
            lines += [table(rows), ""]
    lines.append(harness.machine_line(env, harness.not_quiet(results),
                                      f". Warm-up runs per variant: {args.warmup}"))
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    quiet = Quiet(timeout=args.quiet_timeout)
    env = harness.environment()
    results = {}
    with harness.Scratch("ferryextra-pl-", env,
                         lambda: ExtraPostgres(args.pg_url, quiet)) as scratch:
        for name in args.databases:
            root = scratch.path / name
            root.mkdir()
            project = root / "penpal"
            copy_example(project)
            if name == "sqlite":
                engine = SQLiteEngine(root, quiet)
            else:
                server = scratch.postgres()
                engine = PostgresEngine(root, server)
            try:
                log(f"{engine.label}: migrating to version 2, then {args.letters:,} letters")
                harness.run(Command([FERRYMAN, "-c", project / "ferryman.toml", "up",
                                     "--target", "2", "--no-backup", "-q"],
                                    env={"FERRYMAN_DATABASE_URL": engine.prepare_url()},
                                    cwd=project))
                rows = engine.fill(args.users, args.letters)
                if name == "sqlite":
                    size = engine.prepared.stat().st_size
                else:
                    size = server._admin("SELECT pg_database_size(%s)", (engine.db.name,))[0][0]
                variants = [v for v in args.variants if name in VARIANTS[v][2]]
                samples = measure(engine, project, args, variants)
                results[name] = {"label": engine.label, "rows": rows,
                                 "size_mib": size / 1048576, "samples": samples,
                                 "summary": {k: summarize(v) for k, v in samples.items()}}
            finally:
                engine.cleanup()
    return harness.conclude("pipeline", results, args, env, report, log)


if __name__ == "__main__":
    harness.main_guard("pipeline", main)
