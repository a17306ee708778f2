"""The raw-SQL limit from Python: run every up file of a folder, with no migration tool.

    raw_apply.py statements postgresql CONNINFO_URL FOLDER
    raw_apply.py files      postgresql CONNINFO_URL FOLDER
    raw_apply.py statements sqlite     PATH         FOLDER
    raw_apply.py statements mysql      MYSQL_URL    FOLDER   (password: $BENCH_MYSQL_PASSWORD)
    raw_apply.py history    mysql      MYSQL_URL    FOLDER

``statements``: one execute() per statement (the files split on ';').
``files``: one execute() per file, its whole text (psycopg only; the sqlite3 module
executes one statement per call, and executescript() commits first).
PostgreSQL and SQLite: everything in ONE transaction. MySQL: PyMySQL in autocommit, as
the server commits every DDL statement by itself anyway (an explicit transaction would
change nothing). No history table, no lock, no checks: what a migration tool cannot beat.

``history``: ``statements`` plus the least bookkeeping a migration tool needs: a history
table created if missing, the applied versions read from it, and one row written per
migration, after its statements (on MySQL each row is a commit of its own).
"""

import os
import sys


def main(mode, dialect, target, folder):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".up.sql"))
    files = []
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            text = handle.read()
        if mode == "files":
            files.append((name, [text]))
        else:
            files.append((name, [s for s in text.split(";") if s.strip()]))

    conn, mark = connect(dialect, target)
    cursor = conn.cursor()
    if dialect == "sqlite":
        cursor.execute("BEGIN")
    applied = set()
    if mode == "history":
        cursor.execute("CREATE TABLE IF NOT EXISTS raw_history (version BIGINT PRIMARY KEY)")
        cursor.execute("SELECT version FROM raw_history")
        applied = {row[0] for row in cursor.fetchall()}
    for name, batches in files:
        version = int(name.split("_", 1)[0])
        if version in applied:
            continue
        for sql in batches:
            cursor.execute(sql)
        if mode == "history":
            cursor.execute(f"INSERT INTO raw_history (version) VALUES ({mark})", (version,))
    if dialect == "sqlite":
        cursor.execute("COMMIT")
    elif dialect == "postgresql":
        conn.commit()
    conn.close()


def connect(dialect, target):
    """(connection, the driver's parameter mark)."""
    if dialect == "sqlite":
        import sqlite3

        return sqlite3.connect(target, isolation_level=None), "?"  # we send BEGIN/COMMIT
    if dialect == "mysql":
        from urllib.parse import unquote, urlsplit

        import pymysql

        url = urlsplit(target)
        # PyMySQL's defaults otherwise, as ferryman leaves them for a plain URL
        return pymysql.connect(host=url.hostname, port=url.port or 3306,
                               user=unquote(url.username or "root"),
                               password=os.environ.get("BENCH_MYSQL_PASSWORD", ""),
                               database=url.path.lstrip("/"), autocommit=True), "%s"
    import psycopg

    # not autocommit: psycopg opens the transaction
    return psycopg.connect(target), "%s"


if __name__ == "__main__":
    main(*sys.argv[1:])
