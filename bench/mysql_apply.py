"""Apply N migrations on MySQL/MariaDB: ferryman against the Python driver's limit and
against dbmate, cold processes, medians of --repeat runs, one fresh database per run.

    .venv/bin/python bench/mysql_apply.py --count 1000 --repeat 3

The workload is the standard one (bench/workload.py: per migration, a table and an
index on it) with the indexed column a VARCHAR(100): MySQL cannot index a TEXT column
without a prefix length. The limit ("raw PyMySQL") is one Python process sending the
same statements one by one in autocommit (MySQL commits every DDL statement anyway):
no history, no lock, no checks. dbmate is npm's (make tools).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FERRYMAN = ROOT / ".venv" / "bin" / "ferryman"
DBMATE = ROOT / ".tools" / "node_modules" / ".bin" / "dbmate"
RAW = """
import sys, pymysql
conn = pymysql.connect(host=sys.argv[1], port=int(sys.argv[2]), user=sys.argv[3],
                       database=sys.argv[4], autocommit=True)
cur = conn.cursor()
for line in open(sys.argv[5], encoding="utf-8"):
    if line.strip():
        cur.execute(line)
conn.close()
"""


def statements(n):
    return (f"CREATE TABLE t{n} (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, "
            f"created_at TIMESTAMP NULL)", f"CREATE INDEX t{n}_name ON t{n} (name)")


def write_folders(root, count):
    ferryman, dbmate = root / "ferryman", root / "dbmate"
    ferryman.mkdir()
    dbmate.mkdir()
    flat = []
    for n in range(1, count + 1):
        version = f"2025{n:010d}"
        up = "".join(f"{s};\n" for s in statements(n))
        (ferryman / f"{version}_t{n}.up.sql").write_text(up)
        (ferryman / f"{version}_t{n}.down.sql").write_text(f"DROP TABLE t{n};\n")
        (dbmate / f"{version}_t{n}.sql").write_text(
            f"-- migrate:up\n{up}\n-- migrate:down\nDROP TABLE t{n};\n")
        flat.extend(statements(n))
    (root / "all.sql").write_text("\n".join(flat) + "\n")
    return ferryman, dbmate, root / "all.sql"


def admin(url_base, sql):
    import pymysql

    from ferryman.url import parse_url

    u = parse_url(url_base + "/x")
    conn = pymysql.connect(host=u.host, port=u.port or 3306, user=u.user or "root",
                           password=u.password or "", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(sql)
    conn.close()


def timed(argv, env=None, cwd=None):
    started = time.perf_counter()
    done = subprocess.run(argv, env={**os.environ, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed


def run_tool(tool, url, folders, tmp):
    ferryman, dbmate, flat = folders
    from ferryman.url import parse_url

    u = parse_url(url)
    if tool == "raw PyMySQL (the limit)":
        return timed([sys.executable, "-c", RAW, u.host, str(u.port or 3306),
                      u.user or "root", u.database, str(flat)])
    if tool == "ferryman":
        return timed([str(FERRYMAN), "up", "--no-backup"], cwd=tmp, env={
            "FERRYMAN_DATABASE_URL": url, "FERRYMAN_MIGRATIONS": str(ferryman)})
    if tool == "ferryman with its backup":
        return timed([str(FERRYMAN), "up", "--backup-dir", str(tmp / "backups")], cwd=tmp,
                     env={"FERRYMAN_DATABASE_URL": url, "FERRYMAN_MIGRATIONS": str(ferryman)})
    if tool == "dbmate":
        return timed([str(DBMATE), "--url", url, "--migrations-dir", str(dbmate),
                      "--no-dump-schema", "up"], cwd=tmp)
    raise ValueError(tool)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mysql-url", default="mysql://root@127.0.0.1:3306")
    parser.add_argument("--tools", default="raw PyMySQL (the limit),ferryman,"
                                           "ferryman with its backup,dbmate")
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if "dbmate" in tools and not DBMATE.exists():
        raise SystemExit(f"dbmate is missing at {DBMATE}: run `make tools`")
    results = {tool: [] for tool in tools}
    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        folders = write_folders(root, args.count)
        for turn in range(args.repeat):
            for tool in tools[turn % len(tools):] + tools[:turn % len(tools)]:
                name = f"ferryman_bench_{uuid.uuid4().hex[:10]}"
                admin(args.mysql_url, f"CREATE DATABASE `{name}`")
                work = root / name
                work.mkdir()
                try:
                    results[tool].append(run_tool(tool, f"{args.mysql_url}/{name}", folders,
                                                  work))
                finally:
                    admin(args.mysql_url, f"DROP DATABASE IF EXISTS `{name}`")
                print(f"  {tool}: {results[tool][-1]:.3f} s", file=sys.stderr)
    limit = statistics.median(results[tools[0]])
    dbmate = statistics.median(results["dbmate"]) if results.get("dbmate") else None
    print(f"| apply {args.count} migrations, MySQL/MariaDB | median of {args.repeat} | "
          f"× the limit | × dbmate |")
    print("| --- | --- | --- | --- |")
    for tool in tools:
        median = statistics.median(results[tool])
        print(f"| {tool} | {median:.3f} s | {median / limit:.2f}× | "
              + (f"{median / dbmate:.2f}× |" if dbmate else "– |"))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
