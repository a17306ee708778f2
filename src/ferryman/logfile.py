"""The log file (``log_file`` / ``--log-file``): every event of every run, one line each,
so that ``tail -f migration.log`` shows a run as it happens."""

import os

from .text import now_iso


class LogFile:
    """An event consumer that appends one timestamped line per event."""

    def __init__(self, path):
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)

    def __call__(self, event):
        stamp = now_iso("seconds")
        parts = " ".join(f"{name}={value!r}" for name, value in event.fields())
        line = f"{stamp} pid={os.getpid()} {type(event).__name__} {parts}".rstrip() + "\n"
        # O_APPEND: lines from concurrent runners interleave whole, never mixed.
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
