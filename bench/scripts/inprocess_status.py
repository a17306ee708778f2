"""ferryman's status from inside a running service: one Migrator, many .status() calls.

    inprocess_status.py DATABASE_URL MIGRATIONS_FOLDER CALLS

Prints JSON: the seconds of each call (after one warm-up call) and what it returned.
"""

import json
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
    main(*sys.argv[1:])
