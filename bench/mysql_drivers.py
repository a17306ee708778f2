"""Compare the Python drivers for MySQL/MariaDB: PyMySQL, mysqlclient (MySQLdb) and
MariaDB Connector/Python (mariadb), on the same server with the same workloads.

    python bench/mysql_drivers.py --drivers pymysql,mysqldb,mariadb --repeat 5
    python bench/mysql_drivers.py --features        # what each driver does, no timing

Standalone: it needs only the drivers, in whatever venv runs it (a driver that does
not import is skipped with a line saying so). The server is --host/--port/--user
(or --socket); a password is read from $BENCH_MYSQL_PASSWORD, never from the command
line, and never printed.

Every sample runs in a new Python process (the interpreter that runs this script),
after one untimed warm-up run per driver (page cache and bytecode cache filled), the
drivers taken in turn so that a drift of the machine falls on all of them alike.
Each workload makes its own database (bench_drv_<random>) and drops it. Medians.

1. import: `-X importtime`'s cumulative figure for the driver's top module, and the
   wall time of `python -c "import X"` less that of `python -c pass`.
2. connect: a new process imports the driver, connects, runs SELECT 1, closes; its
   wall time less `python -c pass`, and the connect-to-close part timed inside it;
   that part again with PyMySQL's ssl_disabled=True: PyMySQL >= 1.2 tries TLS by
   default and builds an SSL context (the system's CA store) for every connection,
   even to a server without TLS. The C drivers' libmariadb tries none unless asked.
3. migrations: N migrations, each CREATE TABLE t_i (id INT PRIMARY KEY, name
   VARCHAR(100)), INSERT INTO t_i VALUES (1, 'x') and a parameterised INSERT into a
   history table (id, version, applied_at), one statement per call, in autocommit;
   then the same with the two INSERTs in BEGIN ... COMMIT. Timed inside the process,
   from the connection (made) to the last statement; the client's CPU time beside it.
4. inserts: M parameterised single-row INSERTs (execute, not executemany) in one
   transaction: the cost of binding and of one round trip per statement.

Every driver connects with autocommit on, utf8mb4 and one statement per call
(mysqlclient is given multi_statements=False: its default is on). The workloads check
their result (tables and rows counted) so a driver that drops statements cannot win.
A benchmark program, not a test: nothing asserts a timing.

--features runs no timing: for each driver it shows its defaults (autocommit,
multi-statements), how it exposes the server's in-transaction flag, the error number
and SQLSTATE of a few errors (missing table, duplicate key, bad password, closed
port), KILL QUERY sent from another thread (to a SLEEP and to an ALTER waiting for a
metadata lock), read_timeout, the Unix socket, and TLS with verification demanded of
a server that may not offer it (refused, or connected in clear?).
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

DRIVERS = ("pymysql", "mysqldb", "mariadb")
MODULES = {"pymysql": "pymysql", "mysqldb": "MySQLdb", "mariadb": "mariadb"}

# The code of every child process: only the standard library and one driver.
CHILD = r'''
import json, os, resource, sys, threading, time

TASK, DRIVER, CONF = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
started = time.perf_counter()
if DRIVER == "pymysql":
    import pymysql as drv
    PH = "%s"
elif DRIVER == "mysqldb":
    import MySQLdb as drv
    PH = "%s"
else:
    import mariadb as drv
    PH = "?"
imported = time.perf_counter()


def connect(database=None, autocommit=True, defaults=False, **extra):
    """Same arguments for all three; mysqlclient's multi-statements turned off (its
    default is on) unless defaults=True asks for the driver's own defaults."""
    args = {"user": CONF["user"], "password": os.environ.get("BENCH_MYSQL_PASSWORD", "")}
    if CONF.get("socket"):
        args["unix_socket"] = CONF["socket"]
    else:
        args["host"], args["port"] = CONF["host"], CONF["port"]
    if database:
        args["database"] = database
    if not defaults:
        args["autocommit"] = autocommit
        if DRIVER != "mariadb":  # mariadb speaks utf8mb4 only
            args["charset"] = "utf8mb4"
        if DRIVER == "mysqldb":
            args["multi_statements"] = False
        if DRIVER == "pymysql" and CONF.get("no_tls"):
            args["ssl_disabled"] = True  # else PyMySQL >= 1.2 tries TLS ("preferred")
    args.update(extra)
    return drv.connect(**args)


def run(conn, sql, params=None):
    cur = conn.cursor()
    cur.execute(sql, params) if params is not None else cur.execute(sql)
    rows = cur.fetchall() if cur.description else None
    cur.close()
    return rows


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def with_database(work):
    name = "bench_drv_" + os.urandom(6).hex()
    admin = connect()
    run(admin, f"CREATE DATABASE `{name}`")
    try:
        conn = connect(name)
        try:
            return work(conn)
        finally:
            conn.close()
    finally:
        run(admin, f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def migrations(conn):
    count, grouped = CONF["count"], CONF["grouped"]
    run(conn, "CREATE TABLE history (id INT AUTO_INCREMENT PRIMARY KEY, "
              "version BIGINT NOT NULL, applied_at DATETIME(6) NOT NULL)")
    history = f"INSERT INTO history (version, applied_at) VALUES ({PH}, NOW(6))"
    cur = conn.cursor()
    t0, c0 = time.perf_counter(), cpu()
    for i in range(1, count + 1):
        cur.execute(f"CREATE TABLE t_{i} (id INT PRIMARY KEY, name VARCHAR(100))")
        if grouped:
            cur.execute("BEGIN")
        cur.execute(f"INSERT INTO t_{i} VALUES (1, 'x')")
        cur.execute(history, (20250000000000 + i,))
        if grouped:
            cur.execute("COMMIT")
    t1, c1 = time.perf_counter(), cpu()
    cur.close()
    tables = run(conn, "SELECT COUNT(*) FROM information_schema.tables "
                       "WHERE table_schema = DATABASE() AND table_name LIKE 't\\_%'")[0][0]
    rows = run(conn, "SELECT COUNT(*), COUNT(DISTINCT version) FROM history")[0]
    if (tables, rows[0], rows[1]) != (count, count, count):
        raise SystemExit(f"{DRIVER}: {tables} tables, {rows} history rows; expected {count}")
    return {"wall": t1 - t0, "cpu": c1 - c0}


def inserts(conn):
    count = CONF["count"]
    run(conn, "CREATE TABLE p (id INT PRIMARY KEY, name VARCHAR(100), n BIGINT, "
              "at DATETIME(6))")
    sql = f"INSERT INTO p (id, name, n, at) VALUES ({PH}, {PH}, {PH}, NOW(6))"
    cur = conn.cursor()
    t0, c0 = time.perf_counter(), cpu()
    cur.execute("BEGIN")
    for i in range(count):
        cur.execute(sql, (i, f"name {i} it's", i * 7))
    cur.execute("COMMIT")
    t1, c1 = time.perf_counter(), cpu()
    cur.close()
    got = run(conn, "SELECT COUNT(*), SUM(n), MAX(name) FROM p")[0]
    if got[0] != count or int(got[1]) != 7 * count * (count - 1) // 2:
        raise SystemExit(f"{DRIVER}: inserted {got}; expected {count} rows")
    return {"wall": t1 - t0, "cpu": c1 - c0}


def error_of(exc, conn=None):
    """How the driver exposes the server's error: number, SQLSTATE, message."""
    errno = getattr(exc, "errno", None)
    if errno is None and exc.args and isinstance(exc.args[0], int):
        errno = exc.args[0]
    sqlstate = getattr(exc, "sqlstate", None)
    where = "exc.sqlstate" if sqlstate else None
    if sqlstate is None and conn is not None and hasattr(conn, "sqlstate"):
        try:
            sqlstate, where = conn.sqlstate(), "conn.sqlstate()"
        except Exception:
            pass
    return {"type": type(exc).__module__ + "." + type(exc).__name__, "errno": errno,
            "sqlstate": sqlstate, "sqlstate_from": where, "args": repr(exc.args)[:120]}


def in_trans(conn):
    """The server's SERVER_STATUS_IN_TRANS flag (1), as the driver exposes it."""
    status = getattr(conn, "server_status", None)
    if callable(status):
        status = status()
    return "not exposed" if status is None else bool(status & 1)


def killed(conn, sql, delay=0.5):
    """Run sql on conn; from another thread, KILL QUERY it after delay seconds over a
    second connection. The outcome, and how long the statement took."""
    victim = run(conn, "SELECT CONNECTION_ID()")[0][0]

    def kill():
        time.sleep(delay)
        other = connect()
        try:
            run(other, f"KILL QUERY {int(victim)}")
        finally:
            other.close()
    thread = threading.Thread(target=kill)
    t0 = time.perf_counter()
    thread.start()
    try:
        rows = run(conn, sql)
        outcome = {"returned": repr(rows)}
    except drv.Error as exc:
        outcome = error_of(exc, conn)
    outcome["seconds"] = round(time.perf_counter() - t0, 2)
    thread.join()
    outcome["connection_still_usable"] = run(conn, "SELECT 1")[0][0] == 1
    return outcome


def attempt(fn):
    t0 = time.perf_counter()
    try:
        value = fn()
        return {"ok": value, "seconds": round(time.perf_counter() - t0, 2)}
    except drv.Error as exc:
        return {**error_of(exc), "seconds": round(time.perf_counter() - t0, 2)}
    except Exception as exc:  # a driver's own refusal (TypeError for an unknown option...)
        return {"type": type(exc).__name__, "args": repr(exc.args)[:120]}


def features(conn):
    out = {}
    # The driver's defaults: autocommit, and whether two statements go in one call.
    plain = connect(conn_db(conn), defaults=True)
    out["autocommit by default"] = run(plain, "SELECT @@autocommit")[0][0] == 1
    out["multi-statements by default"] = attempt(
        lambda: run(plain, "SELECT 1; SELECT 2") is not None and "accepted")
    plain.close()
    # The in-transaction flag: after BEGIN, after an INSERT, after COMMIT.
    run(conn, "CREATE TABLE k (id INT PRIMARY KEY)")
    flags = [in_trans(conn)]
    run(conn, "BEGIN")
    flags.append(in_trans(conn))
    run(conn, "INSERT INTO k VALUES (1)")
    flags.append(in_trans(conn))
    run(conn, "COMMIT")
    flags.append(in_trans(conn))
    out["in-trans flag: idle, BEGIN, INSERT, COMMIT"] = flags
    run(conn, "BEGIN")  # the query any driver can send instead (MariaDB only)
    out["SELECT @@in_transaction in a transaction"] = run(
        conn, "SELECT @@in_transaction")[0][0]
    run(conn, "ROLLBACK")
    # Errors: a missing table, a duplicate key, a bad password, a closed port.
    for label, fn in (("error: missing table", lambda: run(conn, "SELECT * FROM nosuch")),
                      ("error: duplicate key", lambda: run(conn, "INSERT INTO k VALUES (1)")),
                      ("error: bad password", lambda: connect(password="wrong-" + "x" * 8)),
                      ("error: closed port", lambda: drv.connect(
                          host="127.0.0.1", port=1, user="root", connect_timeout=3))):
        try:
            fn()
            out[label] = "no error"
        except drv.Error as exc:  # mysqlclient's conn.sqlstate() is the last statement's
            out[label] = error_of(exc, None if "error: b" in label or "port" in label else conn)
    # KILL QUERY from another thread: a sleep, and a DDL waiting for a metadata lock
    # (what ferryman cancels in practice). A driver that holds the GIL would block
    # the killer thread until the statement ends by itself.
    out["KILL QUERY: SELECT SLEEP(5)"] = killed(conn, "SELECT SLEEP(5)")
    holder = connect(conn_db(conn), autocommit=False)
    run(holder, "SELECT * FROM k")  # holds k's metadata lock until its transaction ends
    out["KILL QUERY: ALTER waiting on a lock"] = killed(
        conn, "ALTER TABLE k ADD COLUMN c INT")
    holder.rollback()
    holder.close()
    # Timeouts: a read timeout of 1 s on a 4 s statement.
    def read_timeout():
        c = connect(read_timeout=1)
        try:
            return run(c, "SELECT SLEEP(4)")
        finally:
            try:
                c.close()
            except Exception:
                pass
    out["read_timeout=1 on SELECT SLEEP(4)"] = attempt(read_timeout)
    out["connect_timeout, write_timeout accepted"] = attempt(
        lambda: connect(connect_timeout=5, write_timeout=5).close() or True)
    # The server's Unix socket, if there is one.
    sock = CONF.get("probe_socket")
    if sock and os.path.exists(sock):
        def by_socket():
            args = {"user": CONF["user"], "unix_socket": sock,
                    "password": os.environ.get("BENCH_MYSQL_PASSWORD", "")}
            c = drv.connect(**args)
            try:
                return run(c, "SELECT @@socket")[0][0]
            finally:
                c.close()
        out["unix_socket"] = attempt(by_socket)
    # TLS demanded, with a CA file and verification: what happens when the server does
    # not offer TLS (refused, or silently in clear?).
    ca = CONF.get("ca")
    if ca:
        tls = {"pymysql": {"ssl_ca": ca, "ssl_verify_cert": True},
               "mysqldb": {"ssl": {"ca": ca}, "ssl_mode": "VERIFY_CA"},
               "mariadb": {"ssl_ca": ca, "ssl_verify_cert": True}}[DRIVER]
        def tls_connect():
            c = connect(**tls)
            try:
                cipher = run(c, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")[0][1]
                return f"connected, Ssl_cipher={cipher!r}"
            finally:
                c.close()
        out["TLS verify demanded, server without TLS"] = attempt(tls_connect)
    return out


def conn_db(conn):
    return run(conn, "SELECT DATABASE()")[0][0]


if TASK == "connect":
    t0 = time.perf_counter()
    conn = connect()
    assert run(conn, "SELECT 1")[0][0] == 1
    conn.close()
    print(json.dumps({"import": imported - started, "connect": time.perf_counter() - t0}))
else:
    work = {"migrations": migrations, "inserts": inserts, "features": features}[TASK]
    print(json.dumps(with_database(work), default=str))
'''


def child(driver, task, conf, python=sys.executable):
    """Run one child; its wall time from spawn to exit and what it printed."""
    started = time.perf_counter()
    done = subprocess.run([python, "-c", CHILD, task, driver, json.dumps(conf)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{driver} {task} failed ({done.returncode}):\n"
                         f"{done.stdout}{done.stderr}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def wall(argv):
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - started


def importtime(module):
    """-X importtime's cumulative microseconds for the module itself."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          capture_output=True, text=True, check=True)
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1e6
    raise SystemExit(f"-X importtime printed no line for {module}")


def importable(driver):
    done = subprocess.run([sys.executable, "-c", f"import {MODULES[driver]}"],
                          capture_output=True, text=True)
    return done.returncode == 0, (done.stderr.strip().splitlines() or [""])[-1]


def version(driver):
    code = ("import importlib.metadata as m\n"
            "for n in ('PyMySQL', 'mysqlclient', 'mariadb'):\n"
            "    try: print(n, m.version(n))\n"
            "    except Exception: pass\n")
    names = {"pymysql": "PyMySQL", "mysqldb": "mysqlclient", "mariadb": "mariadb"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name, _, ver = line.partition(" ")
        if name == names[driver]:
            return ver
    return "?"


def measure(drivers, args):
    conf = {"host": args.host, "port": args.port, "user": args.user, "socket": args.socket}
    runs = {  # label -> (function of driver returning {column: seconds})
        "import": lambda d: {"importtime": importtime(MODULES[d]),
                             "import wall": wall([sys.executable, "-c",
                                                  f"import {MODULES[d]}"])},
        "connect": lambda d: (lambda w, r: {"connect process": w, "connect only": r["connect"]})(
            *child(d, "connect", conf)),
        "connect without TLS": lambda d: {"connect no tls": child(
            d, "connect", {**conf, "no_tls": True})[1]["connect"]},
        "migrations": lambda d: prefix("autocommit", child(
            d, "migrations", {**conf, "count": args.migrations, "grouped": False})[1]),
        "migrations grouped": lambda d: prefix("grouped", child(
            d, "migrations", {**conf, "count": args.migrations, "grouped": True})[1]),
        "inserts": lambda d: prefix("inserts", child(
            d, "inserts", {**conf, "count": args.inserts})[1]),
    }
    chosen = [w for w in runs if w.split()[0] in args.workloads]
    samples = {d: {} for d in drivers}
    baseline = []
    for work in chosen:
        for d in drivers:  # warm-up, untimed
            runs[work](d)
        for turn in range(args.repeat):
            baseline.append(wall([sys.executable, "-c", "pass"]))
            for d in drivers[turn % len(drivers):] + drivers[:turn % len(drivers)]:
                got = runs[work](d)
                for key, value in got.items():
                    samples[d].setdefault(key, []).append(value)
                print(f"  {work} {turn + 1}/{args.repeat} {d}: " + ", ".join(
                    f"{k} {v * 1000:.1f} ms" for k, v in got.items()), file=sys.stderr)
    return samples, statistics.median(baseline) if baseline else 0.0


def prefix(name, result):
    return {f"{name} wall": result["wall"], f"{name} cpu": result["cpu"]}


ROWS = (  # key, label, minus the `python -c pass` baseline
    ("importtime", "import: -X importtime cumulative (ms)", False),
    ("import wall", "import: cold `python -c 'import X'` − `python -c pass` (ms)", True),
    ("connect process", "connect+SELECT 1+close, cold process − `python -c pass` (ms)", True),
    ("connect only", "  of which connect+SELECT 1+close itself (ms)", False),
    ("connect no tls", "  the same, PyMySQL given ssl_disabled=True (ms)", False),
    ("autocommit wall", "{m} migrations, autocommit, 3 statements each (ms)", False),
    ("autocommit cpu", "  client CPU (ms)", False),
    ("grouped wall", "{m} migrations, INSERTs in BEGIN/COMMIT, 5 statements (ms)", False),
    ("grouped cpu", "  client CPU (ms)", False),
    ("inserts wall", "{i} parameterised INSERTs, one transaction (ms)", False),
    ("inserts cpu", "  client CPU (ms)", False),
)


def report(samples, baseline, drivers, args):
    versions = {d: version(d) for d in drivers}
    print(f"\nMedians of {args.repeat} runs; python {sys.version.split()[0]}; "
          f"`python -c pass` = {baseline * 1000:.1f} ms; server "
          f"{args.socket or f'{args.host}:{args.port}'}\n")
    print("| measure | " + " | ".join(f"{d} {versions[d]}" for d in drivers) + " |")
    print("| --- |" + " ---: |" * len(drivers))
    for key, label, minus in ROWS:
        if not any(key in samples[d] for d in drivers):
            continue
        cells = []
        for d in drivers:
            values = samples[d].get(key)
            if not values:
                cells.append("–")
                continue
            value = (statistics.median(values) - (baseline if minus else 0)) * 1000
            best = min(statistics.median(samples[o][key]) for o in drivers
                       if samples[o].get(key))
            ratio = statistics.median(values) / best if best else 1.0
            cells.append(f"{value:,.1f}" + (f" ({ratio:.2f}×)" if ratio >= 1.005 else ""))
        label = label.format(m=f"{args.migrations:,}", i=f"{args.inserts:,}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\n(×: the driver's median over the best median, before the baseline is "
          "subtracted)")


def show_features(drivers, args):
    conf = {"host": args.host, "port": args.port, "user": args.user, "socket": args.socket,
            "probe_socket": args.probe_socket, "ca": args.ca}
    for d in drivers:
        _, found = child(d, "features", conf)
        print(f"\n## {d} {version(d)}")
        for key, value in found.items():
            print(f"- {key}: {json.dumps(value, default=str)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drivers", default=",".join(DRIVERS),
                        help="comma-separated, among " + ", ".join(DRIVERS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3306)
    parser.add_argument("--user", default="root")
    parser.add_argument("--socket", help="connect by this Unix socket instead of TCP")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--migrations", type=int, default=1000)
    parser.add_argument("--inserts", type=int, default=10000)
    parser.add_argument("--workloads", default="import,connect,migrations,inserts")
    parser.add_argument("--features", action="store_true",
                        help="probe what each driver does (no timing) and stop")
    parser.add_argument("--probe-socket", default="/run/mysqld/mysqld.sock",
                        help="the Unix socket that --features tries")
    parser.add_argument("--ca", default="/etc/ssl/certs/ca-certificates.crt",
                        help="a CA file for --features' TLS probe")
    args = parser.parse_args(argv)
    args.workloads = {w.strip() for w in args.workloads.split(",")}
    wanted = [d.strip().lower() for d in args.drivers.split(",") if d.strip()]
    unknown = [d for d in wanted if d not in DRIVERS]
    if unknown:
        parser.error(f"unknown driver(s) {', '.join(unknown)}: choose among "
                     + ", ".join(DRIVERS))
    drivers = []
    for d in wanted:
        ok, why = importable(d)
        if ok:
            drivers.append(d)
        else:
            print(f"skipped {d}: `import {MODULES[d]}` fails in {sys.executable}: {why}")
    if not drivers:
        raise SystemExit("no driver to measure")
    if args.features:
        show_features(drivers, args)
        return
    samples, baseline = measure(drivers, args)
    report(samples, baseline, drivers, args)


if __name__ == "__main__":
    main()
