"""SIGINT and SIGTERM while a command runs migrations.

What happens: the running statement is cancelled (PostgreSQL's cancel request, SQLite's
``interrupt()``), the run rolls back as for a failure, the error says so ("interrupted
by SIGTERM during 2_slow: rolled back to version 1, where the run started") and the
exit code is 128 + the signal's number, as a shell reports a process that a signal
ended: 130 for SIGINT, 143 for SIGTERM. A run that cannot be brought back exits 3.

Why a thread: Python runs a signal's handler in the main thread, between bytecodes.
While the main thread waits in the driver (SQLite's sqlite3_step, a PostgreSQL query)
the handler would run when the statement ends, hours later perhaps. The C-level handler
also writes the signal's number to the wake-up fd (``signal.set_wakeup_fd``) at once;
a watcher thread reads it and asks the runs to stop (``core.runner.request_stop``).
The Python-level handler raises ``StopRequested`` only where nothing can be left half
written: before or after a run, or inside a migration's own Python code.
"""

import signal
import socket
import threading

from ..core.runner import StopRequested, clear_stop, request_stop, stop_here

SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAG_EVERY = 0.25  # seconds between two cancels while a run has yet to notice the first


def describe(signum):
    """(name, exit code): ("SIGTERM", 143)."""
    return signal.Signals(signum).name, 128 + signum


class SignalGuard:
    """Installed for the length of one command (``install``/``uninstall``)."""

    def __init__(self):
        self.received = None  # (name, exit code) of the first signal
        self._raised = False  # StopRequested is raised once: later signals only cancel
        self._closing = False
        self._old = {}
        self._old_fd = -1
        self._thread = None

    def install(self):
        """True when installed; a command run outside the main thread (an application
        calling ``cli.main`` from a worker) keeps the process's handlers."""
        if threading.current_thread() is not threading.main_thread():
            return False
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        clear_stop()
        for signum in SIGNALS:
            self._old[signum] = signal.signal(signum, self._handler)
        self._thread = threading.Thread(target=self._watch, name="ferryman-signals",
                                        daemon=True)
        self._thread.start()
        return True

    def uninstall(self):
        self._closing = True  # the command is over: the CLI reports a signal from here
        for signum, handler in self._old.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._old_fd)
        try:
            self._writer.send(b"\0")  # no signal has number 0: the watcher's cue to end
        except OSError:
            pass
        self._thread.join(5)
        self._reader.close()
        self._writer.close()
        clear_stop()

    def error(self):
        """The Interrupted error for a signal that came while the command ran, or None.
        A command can end without raising it: the run had committed when it came."""
        return StopRequested(*self.received).error() if self.received else None

    def _handler(self, signum, _frame):
        """The Python-level handler (main thread). The watcher has asked, or will ask,
        the runs to stop; this asks too, so a run knows why before StopRequested may
        reach its migration's code."""
        stop = describe(signum)
        self.received = self.received or stop
        request_stop(*stop)
        if not (self._raised or self._closing) and stop_here(threading.get_ident()):
            self._raised = True
            raise StopRequested(*stop)

    def _watch(self):
        stop, nagging = None, False
        while True:
            self._reader.settimeout(NAG_EVERY if nagging else None)
            try:
                data = self._reader.recv(64)
            except TimeoutError:
                data = b""
            except OSError:
                return
            else:
                if not data or 0 in data:
                    return
            for signum in data:
                if signum in SIGNALS and stop is None:
                    stop = describe(signum)
            if stop is not None:
                # Again until every run noticed: a cancel that came just before a
                # statement began stops nothing.
                nagging = request_stop(*stop)
