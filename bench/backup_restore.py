"""Backup and restore of a ~1 GB database: ferryman against the plain tools.

    .venv/bin/python bench/backup_restore.py                 # 1 GB per engine, 3 repetitions
    .venv/bin/python bench/backup_restore.py --quick         # 50 MB, 1 repetition
    .venv/bin/python bench/backup_restore.py --databases sqlite --size-mb 256 --repeat 5

Issue: "backup and restore of a database of about 1 GB, against the plain tools
(`sqlite3 .backup`, `pg_dump`/`pg_restore`). Target: ferryman within 1.1x of them."

Every number is the wall time of a whole command in a new process (median of
--repeat). ferryman's commands run in a child that wraps a few of ferryman's internal
functions with stopwatches (nothing else changes: it calls the same `ferryman.cli.main`
as the console script), so the report can say where ferryman's time goes: the tool's
own step, fsync, sha256, verification, the safety backup of a restore. See
bench/EXTRA.md.
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import harness
from harness import PYTHON, REPO, Command, PostgresServer, Quiet

if __name__ == "__main__":
    harness.reexec_in_venv(__file__)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
PREFIX = "ferryextra_br_"  # not the main benchmark's ferrybench_ (it drops those)
FERRYMAN = REPO / ".venv" / "bin" / "ferryman"

# The child that runs ferryman's CLI with stopwatches around a few internal functions.
# Keys of the timings are paths of nested calls: "restore/verify/sha256".
CHILD = r'''
import json, sys, threading, time
TIMES = {}
LOCAL = threading.local()  # a restore takes its safety backup in a thread of its own

def wrap(owner, attr, label):
    original = getattr(owner, attr)
    def timed(*args, **kwargs):
        stack = LOCAL.__dict__.setdefault("stack", [])
        stack.append(label)
        key = "/".join(stack)
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent = time.perf_counter() - start
            stack.pop()
            entry = TIMES.setdefault(key, [0.0, 0])
            entry[0] += spent
            entry[1] += 1
    setattr(owner, attr, timed)

started = time.perf_counter()
from ferryman.safety import backups, postgresql as pg, rollback, sqlite as sq
wrap(backups.Backups, "create", "backup")
wrap(backups.Backups, "_prepare", "prepare")
wrap(backups.Backups, "require_verified", "verify")
wrap(backups.Backups, "restore", "restore")
wrap(backups, "sha256_file", "sha256")
wrap(backups, "fsync_file", "fsync")
wrap(sq.SQLiteBackup, "create", "tool")
wrap(sq.SQLiteBackup, "verify", "tool-verify")
wrap(sq.SQLiteBackup, "restore", "tool")
wrap(pg.PostgreSQLBackup, "create", "tool")
wrap(pg.PostgreSQLBackup, "verify", "tool-verify")
wrap(pg.PostgreSQLBackup, "restore", "tool")
wrap(pg.PostgreSQLBackup, "_run", "run")
wrap(pg.PostgreSQLBackup, "check", "check-tools")
wrap(pg, "_create_like", "createdb")
wrap(pg, "_rename_when_free", "rename")
wrap(pg, "_drop", "dropdb")
wrap(rollback._Background, "result", "wait-safety")
from ferryman.cli import main
imported = time.perf_counter()
code = main(sys.argv[2:])
done = time.perf_counter()
TIMES["(imports)"] = [imported - started, 1]
TIMES["(main)"] = [done - imported, 1]
with open(sys.argv[1], "w") as handle:
    json.dump(TIMES, handle)
sys.exit(code)
'''


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="ferryman backup/restore vs sqlite3 .backup/"
                                ".restore and pg_dump/pg_restore on a ~1 GB database")
    p.add_argument("--size-mb", type=int, help="database size to build (default 1024; "
                   "50 with --quick)")
    p.add_argument("--repeat", "-r", type=int, help="timed runs of each command (default 3; "
                   "1 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke run: --size-mb 50 --repeat 1")
    p.add_argument("--databases", default="sqlite,postgresql",
                   help="comma-separated: sqlite, postgresql (default both)")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG),
                   help=f"PostgreSQL server without a database name (default {DEFAULT_PG})")
    p.add_argument("--workdir", help="where the databases and backups go (default: a "
                   "temporary folder, removed at the end; needs ~5x --size-mb free)")
    p.add_argument("--quiet-timeout", type=float, default=30.0,
                   help="before each timed run wait up to this long for idle CPUs and no "
                        "busy PostgreSQL session (default 30; 0: do not wait)")
    p.add_argument("--json-out", help="JSON file (default bench/results/backup-restore-"
                   "<time>.json)")
    p.add_argument("--from-json", metavar="FILE", help="measure nothing: print the report "
                   "of an earlier run's JSON again (recomputed from its samples)")
    args = p.parse_args(argv)
    args.size_mb = args.size_mb or (50 if args.quick else 1024)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    for d in args.databases:
        if d not in ("sqlite", "postgresql"):
            p.error(f"unknown database {d!r}")
    return args


def log(message):
    print(f"[backup_restore {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr,
          flush=True)


# -- building the database ---------------------------------------------------------------
SQLITE_SCHEMA = """
CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
                       created_at TEXT NOT NULL);
CREATE TABLE documents (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL,
                        title TEXT NOT NULL, body TEXT NOT NULL, category INTEGER NOT NULL,
                        created_at TEXT NOT NULL);
CREATE INDEX documents_account ON documents (account_id);
CREATE INDEX documents_category_created ON documents (category, created_at);
CREATE TABLE events (id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL,
                     kind TEXT NOT NULL, payload TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX events_document ON events (document_id);
CREATE INDEX events_kind_at ON events (kind, at);
"""

# Per batch: BATCH documents of ~700 random hex characters and 2*BATCH events of ~100.
BATCH = 20000


def build_sqlite(path, size_mb):
    target = size_mb * 1024 * 1024
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")  # 256 MiB
    conn.executescript(SQLITE_SCHEMA)
    conn.execute("BEGIN")
    conn.execute("""WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n
                    WHERE x < 10000)
                    INSERT INTO accounts SELECT x, 'user' || x, hex(randomblob(8)) ||
                    '@example.com', datetime(1700000000 + x * 60, 'unixepoch') FROM n""")
    conn.execute("COMMIT")
    start = 0
    while True:
        conn.execute("BEGIN")
        conn.execute(f"""WITH RECURSIVE n(x) AS (SELECT {start + 1} UNION ALL SELECT x + 1
                         FROM n WHERE x < {start + BATCH})
                         INSERT INTO documents SELECT x, 1 + abs(random()) % 10000,
                         hex(randomblob(16)), hex(randomblob(350)), abs(random()) % 50,
                         datetime(1700000000 + abs(random()) % 40000000, 'unixepoch')
                         FROM n""")
        conn.execute(f"""WITH RECURSIVE n(x) AS (SELECT {2 * start + 1} UNION ALL
                         SELECT x + 1 FROM n WHERE x < {2 * (start + BATCH)})
                         INSERT INTO events SELECT x, {start} + 1 + abs(random()) % {BATCH},
                         'kind' || (abs(random()) % 20), hex(randomblob(50)),
                         datetime(1700000000 + x, 'unixepoch') FROM n""")
        conn.execute("COMMIT")
        start += BATCH
        pages, page_size = (conn.execute("PRAGMA page_count").fetchone()[0],
                            conn.execute("PRAGMA page_size").fetchone()[0])
        if pages * page_size >= target:
            break
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    return {"documents": start, "events": 2 * start, "accounts": 10000,
            "bytes": os.path.getsize(path)}


def _md5s(count):
    return " || ".join(["md5(random()::text)"] * count)


PG_SCHEMA = """
CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL,
                       created_at timestamptz NOT NULL);
CREATE TABLE documents (id bigint PRIMARY KEY, account_id bigint NOT NULL,
                        title text NOT NULL, body text NOT NULL, category integer NOT NULL,
                        created_at timestamptz NOT NULL);
CREATE INDEX documents_account ON documents (account_id);
CREATE INDEX documents_category_created ON documents (category, created_at);
CREATE TABLE events (id bigint PRIMARY KEY, document_id bigint NOT NULL,
                     kind text NOT NULL, payload text NOT NULL, at timestamptz NOT NULL);
CREATE INDEX events_document ON events (document_id);
CREATE INDEX events_kind_at ON events (kind, at);
"""


def build_postgresql(params, size_mb):
    import psycopg

    target = size_mb * 1024 * 1024
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(PG_SCHEMA)
        conn.execute("""INSERT INTO accounts SELECT g, 'user' || g, md5(g::text) ||
                        '@example.com', timestamptz '2024-01-01' + g * interval '1 minute'
                        FROM generate_series(1, 10000) g""")
        start = 0
        while True:
            # body: 22 md5s = 704 hex characters (below the TOAST threshold: stored as is)
            conn.execute(f"""INSERT INTO documents SELECT g, 1 + (random() * 9999)::int,
                             md5(random()::text), {_md5s(22)}, (random() * 49)::int,
                             timestamptz '2024-01-01' + random() * interval '400 days'
                             FROM generate_series({start + 1}, {start + BATCH}) g""")
            conn.execute(f"""INSERT INTO events SELECT g, {start} + 1 +
                             (random() * {BATCH - 1})::int, 'kind' || (random() * 19)::int,
                             {_md5s(3)}, timestamptz '2024-01-01' + g * interval '1 second'
                             FROM generate_series({2 * start + 1}, {2 * (start + BATCH)}) g""")
            start += BATCH
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            if size >= target:
                break
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {"documents": start, "events": 2 * start, "accounts": 10000, "bytes": size}


# -- the engines --------------------------------------------------------------------------
class Engine:
    """One engine's database, the plain tools' commands and ferryman's environment."""

    def __init__(self, root):
        self.root = Path(root)
        self.backup_dir = self.root / "ferryman-backups"
        self.migrations = self.root / "migrations"  # empty: backups need no migrations
        self.plain_dir = self.root / "plain"
        for folder in (self.backup_dir, self.migrations, self.plain_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def ferryman_env(self):
        return {"FERRYMAN_DATABASE_URL": self.url, "FERRYMAN_MIGRATIONS": self.migrations,
                "FERRYMAN_BACKUP_DIR": self.backup_dir}

    def ferryman(self, args, times_file):
        return Command([PYTHON, "-c", CHILD, times_file, *args], env=self.ferryman_env())

    def ferryman_backups(self):
        out = harness.run(Command([FERRYMAN, "backup", "list", "--json"],
                                  env=self.ferryman_env())).stdout
        return json.loads(out)

    def delete_backup(self, manifest):
        for path in (manifest["path"], str(Path(manifest["path"]).with_suffix(".json"))):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


class SQLiteEngine(Engine):
    name = "sqlite"
    label = "SQLite"
    plain_backup_label = "`sqlite3 DB \".backup OUT\"`"
    plain_restore_label = "`sqlite3 DB \".restore BACKUP\"`"

    def __init__(self, root, quiet):
        super().__init__(root)
        self.quiet = quiet
        self.path = self.root / "big.db"
        self.url = f"sqlite:///{self.path}"

    def build(self, size_mb):
        return build_sqlite(self.path, size_mb)

    def size(self):
        return self.path.stat().st_size

    def settle(self):
        os.sync()
        return self.quiet.wait()

    def plain_backup(self, out):
        return Command(["sqlite3", self.path, f".backup '{out}'"])

    def plain_backup_path(self, n):
        return self.plain_dir / f"plain-{n}.db"

    def plain_restore(self, source):
        return Command(["sqlite3", self.path, f".restore '{source}'"])

    def after_plain_restore(self):
        pass

    def drop_plain_output(self, path):
        Path(path).unlink(missing_ok=True)

    def cleanup(self):
        pass


class PostgresEngine(Engine):
    name = "postgresql"
    label = "PostgreSQL"
    plain_backup_label = "`pg_dump --format=custom -f OUT`"
    plain_restore_label = "`createdb NEW && pg_restore -d NEW`"

    def __init__(self, root, server):
        super().__init__(root)
        self.server = server
        self.db = server.create("big")
        self.url = self.db.pg_url()
        self.conn_args = ["-h", server.host, "-p", str(server.port), "-U", server.user]
        self.restored = []

    def params(self):
        return {"host": self.server.host, "port": self.server.port, "user": self.server.user,
                "dbname": self.db.name, **({"password": self.server.password}
                                           if self.server.password else {})}

    def build(self, size_mb):
        return build_postgresql(self.params(), size_mb)

    def size(self):
        return self.server._admin("SELECT pg_database_size(%s)", (self.db.name,))[0][0]

    def settle(self):
        return self.server.settle()

    def _env(self):
        return {"PGPASSWORD": self.server.password} if self.server.password else {}

    def plain_backup(self, out):
        return Command(["pg_dump", "--format=custom", "--no-password", *self.conn_args,
                        "-f", out, self.db.name], env=self._env())

    def plain_backup_path(self, n):
        return self.plain_dir / f"plain-{n}.dump"

    def plain_restore(self, source):
        import uuid

        name = f"{PREFIX}restored_{uuid.uuid4().hex[:8]}"
        self.restored.append(name)
        args = " ".join(self.conn_args)
        script = (f"createdb {args} {name} && pg_restore --exit-on-error --no-password "
                  f"{args} -d {name} '{source}'")
        return Command(["sh", "-c", script], env=self._env())

    def after_plain_restore(self):
        while self.restored:
            self.server._admin(f'DROP DATABASE IF EXISTS "{self.restored.pop()}" WITH (FORCE)')

    def drop_plain_output(self, path):
        Path(path).unlink(missing_ok=True)

    def cleanup(self):
        self.after_plain_restore()
        self.server.drop(self.db)


class ExtraPostgres(PostgresServer):
    def __init__(self, url, quiet):
        super().__init__(url, quiet)
        self.prefix = PREFIX


# -- measuring ----------------------------------------------------------------------------
def timed(engine, command, times_file=None):
    quiet = engine.settle()
    sample = harness.run(command)
    times = None
    if times_file is not None:
        with open(times_file) as handle:
            times = json.load(handle)
    return {"wall": sample.wall, "cpu": sample.cpu, "quiet": quiet, "times": times,
            "stdout": sample.stdout}


def measure(engine, args, workspace):
    """Every timed sample of one engine: plain and ferryman, backup and restore."""
    samples = {"plain_backup": [], "ferryman_backup": [], "plain_restore": [],
               "ferryman_restore": []}
    sizes = {}
    times_file = Path(workspace) / f"times-{engine.name}.json"
    keep_plain = keep_ferryman = None  # the backups the restores start from
    for n in range(args.repeat):
        # -- backup: the order alternates so that drift does not always hit the same one
        order = ["plain", "ferryman"] if n % 2 == 0 else ["ferryman", "plain"]
        for who in order:
            if who == "plain":
                out = engine.plain_backup_path(n)
                log(f"{engine.label}: plain backup {n + 1}/{args.repeat}")
                s = timed(engine, engine.plain_backup(out))
                sizes["plain_backup"] = out.stat().st_size
                samples["plain_backup"].append(s)
                if keep_plain is None:
                    keep_plain = out
                else:
                    engine.drop_plain_output(out)
            else:
                log(f"{engine.label}: ferryman backup create {n + 1}/{args.repeat}")
                s = timed(engine, engine.ferryman(["backup", "create", "--json"],
                                                  times_file), times_file)
                manifest = json.loads(s.pop("stdout"))
                sizes["ferryman_backup"] = manifest["size"]
                samples["ferryman_backup"].append(s)
                if keep_ferryman is None:
                    keep_ferryman = manifest
                else:
                    engine.delete_backup(manifest)
        # -- restore
        order = ["plain", "ferryman"] if n % 2 == 0 else ["ferryman", "plain"]
        for who in order:
            if who == "plain":
                log(f"{engine.label}: plain restore {n + 1}/{args.repeat}")
                s = timed(engine, engine.plain_restore(keep_plain))
                s.pop("stdout")
                samples["plain_restore"].append(s)
                engine.after_plain_restore()
            else:
                log(f"{engine.label}: ferryman backup restore {n + 1}/{args.repeat}")
                before = {m["id"] for m in engine.ferryman_backups()}
                s = timed(engine, engine.ferryman(["backup", "restore", keep_ferryman["id"],
                                                   "--yes"], times_file), times_file)
                s.pop("stdout")
                samples["ferryman_restore"].append(s)
                for manifest in engine.ferryman_backups():  # the safety backup
                    if manifest["id"] not in before:
                        sizes["ferryman_safety_backup"] = manifest["size"]
                        engine.delete_backup(manifest)
        for s in samples["plain_backup"] + samples["ferryman_backup"]:
            s.pop("stdout", None)
    return samples, sizes


def median(values):
    return statistics.median(values) if values else None


def summarize(samples):
    walls = [s["wall"] for s in samples]
    return {"median": median(walls), "min": min(walls), "max": max(walls), "samples": walls,
            "cpu_median": median([s["cpu"] for s in samples]),
            "not_quiet": sum(1 for s in samples if not s["quiet"])}


TOP_LEVEL = ("verify", "backup", "restore")  # the timed calls directly under main()


def with_remainders(sample):
    """The sample's timings plus, computed per sample, "(other)": main() minus the
    top-level timed calls, and "(startup)": the wall time minus what ran in-process."""
    times = dict(sample["times"] or {})
    if "(main)" in times:
        inside = times["(main)"][0]
        # A restore's safety backup ("backup") runs in a thread of its own, inside the
        # time of "restore" (which waits for it): only the main thread's calls count here.
        top = [k for k in TOP_LEVEL if k in times and not (k == "backup" and "restore" in times)]
        times["(other)"] = [inside - sum(times[k][0] for k in top), 1]
        times["(startup)"] = [sample["wall"] - inside - times.get("(imports)", [0.0])[0], 1]
    return times


def step_medians(samples):
    """{path: (median seconds, calls)} over the samples' ferryman timings."""
    timings = [with_remainders(s) for s in samples]
    keys = {k for t in timings for k in t}
    out = {}
    for key in sorted(keys):
        values = [t.get(key, [0.0, 0]) for t in timings]
        out[key] = (median([v[0] for v in values]), max(v[1] for v in values))
    return out


def derive(result):
    """Headline numbers: the ratios, and ferryman's restore without its safety backup."""
    b, r = result["summary"], result["steps"]
    get = lambda key, path: r[key].get(path, (0.0, 0))[0]  # noqa: E731
    out = {}
    out["backup_ratio"] = b["ferryman_backup"]["median"] / b["plain_backup"]["median"]
    out["restore_ratio"] = b["ferryman_restore"]["median"] / b["plain_restore"]["median"]
    # The safety backup runs in a thread, alongside the restore; the restore waits for it
    # (inside the provider's restore, before it touches the live database).
    waited = get("ferryman_restore", "restore/tool/wait-safety")
    out["safety_wait"] = waited
    out["restore_without_safety"] = b["ferryman_restore"]["median"] - waited
    out["restore_without_safety_ratio"] = (out["restore_without_safety"]
                                           / b["plain_restore"]["median"])
    tool = get("ferryman_restore", "restore/tool") - waited
    out["restore_step"] = tool
    out["restore_step_ratio"] = tool / b["plain_restore"]["median"]
    out["backup_tool_step"] = get("ferryman_backup", "backup/tool")
    return out


# -- report -------------------------------------------------------------------------------
def fmt_s(value):
    if value is None:
        return "n/a"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def fmt_ratio(value):
    return "n/a" if value is None else f"{value:.2f}×"


def mib(n):
    return f"{n / 1048576:.0f} MiB" if n is not None else "n/a"


def table(rows):
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


STEP_LABELS = [
    # (timings key, label) for the breakdown, per command
    ("ferryman_backup", [
        ("(imports)", "interpreter start-up to CLI ready (imports), in-process part"),
        ("backup", "`Backups.create` as a whole"),
        ("backup/prepare", "· checks before writing (tools, free disk vs size estimate)"),
        ("backup/prepare/check-tools", "· · `pg_dump --version` and server version"),
        ("backup/tool", "· **the tool's own step** (SQLite backup API / pg_dump)"),
        ("backup/fsync", "· fsync of the backup file"),
        ("backup/sha256", "· sha256 of the backup file"),
    ]),
    ("ferryman_restore", [
        ("verify", "verify before asking (sha256 + tool check)"),
        ("verify/sha256", "· sha256"),
        ("verify/tool-verify", "· tool check (copy + `PRAGMA integrity_check` / "
                               "`pg_restore --list`)"),
        ("backup", "safety backup of the live database (whole; in a thread of its own)"),
        ("backup/tool", "· its tool step"),
        ("backup/sha256", "· its sha256"),
        ("backup/fsync", "· its fsync"),
        ("restore/tool", "**the restore itself**"),
        ("restore/tool/wait-safety", "· waiting for the safety backup to finish"),
        ("restore/tool/createdb", "· CREATE DATABASE (fresh, from template0)"),
        ("restore/tool/run", "· pg_restore into it"),
        ("restore/tool/rename", "· swap: rename live -> retired (ends its sessions)"),
        ("restore/tool/dropdb", "· drop the retired database"),
    ]),
]


def report(results, args, env):
    lines = [f"## Backup and restore of a ~{args.size_mb} MiB database "
             f"(median of {args.repeat}, cold process)", ""]
    rows = [["engine", "operation", "plain tool", "plain s", "ferryman command",
             "ferryman s", "ferryman / plain"]]
    for name, res in results.items():
        eng = res["label"]
        s, d = res["summary"], res["derived"]
        rows.append([eng, "backup", res["plain_backup_label"], fmt_s(s["plain_backup"]["median"]),
                     "`ferryman backup create`", fmt_s(s["ferryman_backup"]["median"]),
                     f"**{fmt_ratio(d['backup_ratio'])}**"])
        rows.append([eng, "restore (full command)", res["plain_restore_label"],
                     fmt_s(s["plain_restore"]["median"]),
                     "`ferryman backup restore ID --yes`: verify, safety backup, restore"
                     + (" (the safety backup runs alongside pg_restore), swap by rename, "
                        "drop old" if name == "postgresql" else ""),
                     fmt_s(s["ferryman_restore"]["median"]),
                     f"**{fmt_ratio(d['restore_ratio'])}**"])
        rows.append([eng, "restore without the safety backup", "", "",
                     "the same minus the wait for the safety backup",
                     fmt_s(d["restore_without_safety"]),
                     fmt_ratio(d["restore_without_safety_ratio"])])
        rows.append([eng, "restore step alone", "", "",
                     "the provider's restore only, without the wait" +
                     (" (createdb, pg_restore, rename, drop)"
                                                      if name == "postgresql" else
                                                      " (backup API into the live file)"),
                     fmt_s(d["restore_step"]), fmt_ratio(d["restore_step_ratio"])])
    lines.append(table(rows))
    lines.append("")
    size_rows = [["engine", "database", "plain backup file", "ferryman backup file",
                  "rows (documents / events / accounts)"]]
    for name, res in results.items():
        b = res["built"]
        size_rows.append([res["label"], mib(res["database_bytes"]),
                          mib(res["sizes"].get("plain_backup")),
                          mib(res["sizes"].get("ferryman_backup")),
                          f"{b['documents']:,} / {b['events']:,} / {b['accounts']:,}"])
    lines += [table(size_rows), ""]
    lines.append(f"### Where ferryman's time goes (medians of {args.repeat}; from stopwatches "
                 "around ferryman's internal functions, nested rows are part of the row "
                 "above)")
    lines.append("")
    rows = [["engine", "command", "step", "s", "calls", "share of the command"]]
    for name, res in results.items():
        for key, labels in STEP_LABELS:
            total = res["summary"][key]["median"]
            command = "backup create" if key == "ferryman_backup" else "backup restore"
            rows.append([res["label"], command, "whole command (wall, parent's stopwatch)",
                         fmt_s(total), "", "100%"])
            steps = res["steps"][key]
            for path, label in labels:
                if path not in steps:
                    continue
                value, calls = steps[path]
                rows.append([res["label"], command, label, fmt_s(value), calls,
                             f"{100 * value / total:.0f}%"])
            for path, label in (
                    ("(other)", "everything else in-process: connect (and import psycopg), "
                                "lock, ferryman's tables, recording the backup, manifest, "
                                "prune"),
                    ("(startup)", "process start-up and exit (wall − in-process)")):
                if path in steps:
                    value = steps[path][0]
                    rows.append([res["label"], command, label, fmt_s(value), "",
                                 f"{100 * value / total:.0f}%"])
    lines.append(table(rows))
    lines.append("")
    lines.append(harness.machine_line(env, harness.not_quiet(results),
                                      f", {env.get('pg_dump', '')}"))
    return "\n".join(lines)


def rerender(path):
    with open(path) as handle:
        data = json.load(handle)
    args = argparse.Namespace(**data["args"])
    for res in data["results"].values():
        res["summary"] = {k: summarize(v) for k, v in res["samples"].items()}
        res["steps"] = {k: step_medians(v) for k, v in res["samples"].items()
                        if k.startswith("ferryman")}
        res["derived"] = derive(res)
    print(report(data["results"], args, data["environment"]))
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.from_json:
        return rerender(args.from_json)
    quiet = Quiet(timeout=args.quiet_timeout)
    results = {}
    env = harness.environment(size_mb=args.size_mb, repeat=args.repeat)
    with harness.Scratch("ferryextra-br-", env, lambda: ExtraPostgres(args.pg_url, quiet),
                         dir=args.workdir) as scratch:
        workspace = scratch.path
        # compile ferryman's modules once, untimed (the bytecode cache starts empty)
        harness.run(Command([PYTHON, "-c", CHILD, workspace / "warm.json", "status"],
                            env={"FERRYMAN_DATABASE_URL": f"sqlite:///{workspace}/warm.db",
                                 "FERRYMAN_MIGRATIONS": workspace}))
        for name in args.databases:
            root = workspace / name
            if name == "sqlite":
                engine = SQLiteEngine(root, quiet)
            else:
                server = scratch.postgres()
                if "pg_dump" not in env:
                    env["pg_dump"] = subprocess.run(["pg_dump", "--version"],
                                                    capture_output=True, text=True).stdout.strip()
                engine = PostgresEngine(root, server)
            try:
                log(f"{engine.label}: building a {args.size_mb} MiB database")
                start = time.monotonic()
                built = engine.build(args.size_mb)
                log(f"{engine.label}: built {mib(engine.size())} in "
                    f"{time.monotonic() - start:.0f} s")
                database_bytes = engine.size()
                samples, sizes = measure(engine, args, workspace)
                res = {"label": engine.label, "built": built, "database_bytes": database_bytes,
                       "sizes": sizes, "plain_backup_label": engine.plain_backup_label,
                       "plain_restore_label": engine.plain_restore_label,
                       "samples": samples,
                       "summary": {k: summarize(v) for k, v in samples.items()},
                       "steps": {k: step_medians(v) for k, v in samples.items()
                                 if k.startswith("ferryman")}}
                res["derived"] = derive(res)
                results[name] = res
            finally:
                engine.cleanup()
    return harness.conclude("backup-restore", results, args, env, report, log)


if __name__ == "__main__":
    harness.main_guard("backup_restore", main)
