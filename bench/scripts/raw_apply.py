"""The raw-SQL limit from Python: run every up file of a folder in ONE transaction.

    raw_apply.py statements postgresql CONNINFO_URL FOLDER
    raw_apply.py files      postgresql CONNINFO_URL FOLDER
    raw_apply.py statements sqlite     PATH         FOLDER

``statements``: one execute() per statement (the files split on ';').
``files``: one execute() per file, its whole text (psycopg only; the sqlite3 module
executes one statement per call, and executescript() commits first).
No history table, no lock, no checks: what a migration tool cannot beat.
"""

import os
import sys


def main(mode, dialect, target, folder):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".up.sql"))
    texts = []
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            texts.append(handle.read())
    if mode == "files":
        batches = texts
    else:
        batches = [s for text in texts for s in text.split(";") if s.strip()]

    if dialect == "sqlite":
        import sqlite3

        conn = sqlite3.connect(target, isolation_level=None)  # we send BEGIN/COMMIT
        conn.execute("BEGIN")
        for sql in batches:
            conn.execute(sql)
        conn.execute("COMMIT")
    else:
        import psycopg

        conn = psycopg.connect(target)  # not autocommit: psycopg opens the transaction
        for sql in batches:
            conn.execute(sql)
        conn.commit()
    conn.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
