"""ferryman's status from inside a running service: one Migrator, many .status() calls.

    BENCH_DATABASE_URL=... inprocess_status.py MIGRATIONS_FOLDER CALLS

(the URL in the environment: it may hold a password, which a command line must not)

Prints JSON: the seconds of each call (after one warm-up call) and what it returned.
"""

import json
import os
import sys
import time

import ferryman


def main(url, folder, calls):
    migrator = ferryman.Migrator(url, folder)
    first = migrator.status()  # warm-up: imports, first connection
    times = []
    for _ in range(int(calls)):
        start = time.perf_counter()
        migrator.status()
        times.append(time.perf_counter() - start)
    print(json.dumps({"times": times, "current_version": first.current_version,
                      "pending_count": first.pending_count, "dirty": first.dirty}))


if __name__ == "__main__":
    main(os.environ["BENCH_DATABASE_URL"], *sys.argv[1:])
