"""What the CLI prints: plain lines for people, one JSON document with --json.

Progress comes from the runner's events (ferryman.events). Errors go to stderr,
with the facts a person needs; with --json the error is also printed as JSON on
stdout so that a script reads one document either way.
"""

import sys

from ..text import duration


class Output:
    def __init__(self, *, json=False, verbose=False, quiet=False, stdout=None, stderr=None):
        self.json = json
        self.verbose = verbose
        self.quiet = quiet
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.live = None  # a live progress display that lines must go above (progress.py)
        self.prefix = ""  # a service's name, while printing its events

    def _print(self, text, stream):
        text = self.prefix + text if self.prefix and text else text
        if self.live is not None and stream is self.stdout:
            self.live.print(text)
        else:
            print(text, file=stream)

    def line(self, text=""):
        if not self.json:
            self._print(text, self.stdout)

    def info(self, text):
        if not self.json and not self.quiet:
            self._print(text, self.stdout)

    def note(self, text):
        """Progress and notes: to stderr under --json, so stdout stays one document."""
        if self.quiet:
            return
        self._print(text, self.stderr if self.json else self.stdout)

    def detail(self, text):
        if self.verbose:
            self.note(text)

    def document(self, data):
        import json

        print(json.dumps(data, indent=2, default=str), file=self.stdout)

    def error(self, exc):
        print(f"ferryman: error: {exc.details()}", file=self.stderr)
        if self.json:
            self.document(exc.to_dict())

    # -- events -----------------------------------------------------------------------
    def __call__(self, event):
        handler = getattr(self, "on_" + type(event).__name__, None)
        if handler is not None:
            handler(event)

    def on_LockWaiting(self, event):
        holder = f" (held by {event.holder})" if event.holder else ""
        self.note(f"waiting for the migration lock{holder}")

    def on_LockAcquired(self, event):
        self.detail(f"got the migration lock after {event.waited:.1f}s")

    def on_PhaseStarted(self, event):
        self._phase_index = (event.index, event.total)
        self.detail(f"phase {event.index}/{event.total} {event.name} ...")

    def on_PhaseFinished(self, event):
        index, total = getattr(self, "_phase_index", (0, 0))
        summary = f": {event.summary}" if event.summary else ""
        took = duration(event.duration_ms)
        self.note(f"phase {event.name:<11} {event.status:<7} ({took}){summary}")

    def on_RunStarted(self, event):
        self.detail(f"run {event.run_id}: {event.command} on {event.database}, "
                    f"{len(event.steps)} step{'s' if len(event.steps) != 1 else ''}")

    def on_StepFinished(self, event):
        arrow = "up  " if event.direction == "up" else "down"
        label = event.version if event.version is not None else "R"  # a repeatable
        self.note(f"  {arrow} {label} {event.name} ({duration(event.duration_ms)})")

    def on_StepFailed(self, event):
        print(f"  FAILED {event.version} {event.name}", file=self.stderr)

    def on_ChunkCommitted(self, event):
        self.detail(f"  committed {event.steps} migration{'s' if event.steps != 1 else ''}: "
                    f"{event.reason}")

    def on_ChunkSplit(self, event):
        self.note(f"  rolled back a chunk and retrying in chunks of {event.size}: "
                  f"{event.reason}")

    def on_RollbackStarted(self, event):
        self.note(f"rolling back {event.steps} migration{'s' if event.steps != 1 else ''} "
                  "committed earlier in this run")

    def on_BackupCreated(self, event):
        self.detail(f"backup {event.id}: {event.path} ({event.size} bytes, "
                    f"{duration(event.duration_ms)})")

    def on_BackupRestored(self, event):
        self.note(f"restored backup {event.id} ({duration(event.duration_ms)})")

    def on_ServiceEvent(self, event):
        """A service's event in a coordinated run: its lines carry its name."""
        import threading

        lock = self.__dict__.setdefault("_service_lock", threading.Lock())
        with lock:
            self.prefix = f"[{event.service}] "
            try:
                self(event.event)
            finally:
                self.prefix = ""

    def on_Message(self, event):
        self.note(f"{event.level}: {event.text}")



def version_label(version):
    return "none (nothing applied)" if version is None else str(version)
