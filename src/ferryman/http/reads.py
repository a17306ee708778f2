"""One service's status reads under load: a deadline, the last known state, one thread.

Before, with 20 clients polling a SQLite service during a migration, every
status request took a thread of Starlette's pool and waited up to the busy timeout
(10 s) for the file's lock, one after the other behind one shared connection; ``/healthz``
queued behind them, and the migration's end closed that connection under a reader's
feet (a segfault). Here instead:

- **one thread per service** opens, uses and closes the service's read-only connection
  (a ``StatusReader`` kept in that thread's locals), so no connection is ever touched by
  two threads, and a locked database blocks one thread, never the server's pool;
- **single flight**: a request that comes while a read is under way waits for that read,
  so twenty clients cost one read, not twenty;
- **a deadline** (``deadline`` seconds, from the read's start): a request waits no longer;
  then, or when the database says it is locked, it gets the **last known state**,
  marked ``stale`` with its time and age; 503 only when nothing was ever read. Once a
  read has found the database busy, requests answer from the last known state at once
  until a read succeeds again (each request starts that read if none is under way).

No HTTP here: ``Services`` (services.py) builds the answers, ``app.py`` serves them.
"""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for_future
from typing import NamedTuple

from ..errors import BlockedError, DriverError, FerrymanError
from ..readonly import StatusReader
from ..text import iso

DEFAULT_DEADLINE = 1.0
# How long one SQLite read waits for the file's lock (the busy timeout) once a state is
# known. A commit holds the exclusive lock for milliseconds; a lock held longer is a
# migration writing (its page cache spilled), which holds it until its own commit
# (https://sqlite.org/lockingv3.html): waiting buys only a slow answer. A busy read
# waits about three times this (the reader tries a new connection, whose open checks
# for a hot journal), and the requests that came meanwhile with it.
SQLITE_BUSY_WAIT = 0.01
# Statement cancelled by our own statement timeout (PostgreSQL query_canceled; SQLite's
# progress handler): the database was busy, not broken.
_CANCELLED = ("57014", "SQLITE_INTERRUPT")


class Known(NamedTuple):
    """The last status read: the ``status --json`` dict, the lock, and when."""
    status: dict
    lock_held: bool
    at: float  # time.time() when the read ended
    at_monotonic: float


class Answer(NamedTuple):
    """What a request gets: a state (fresh or the last known one) and its freshness."""
    status: dict
    lock_held: bool
    stale: bool
    as_of: str  # ISO 8601, UTC
    age_seconds: float
    stale_reason: str | None


def busy(exc):
    """Whether a failed read means "the database is busy" (locked, or slower than our
    statement timeout) rather than "the database is unreachable or broken"."""
    if not isinstance(exc, DriverError) or exc.connection_lost:
        return False
    return exc.transient or exc.sqlstate in _CANCELLED


class ServiceReads:
    """The status reads of one service (see the module's docstring)."""

    def __init__(self, name, settings, deadline=DEFAULT_DEADLINE):
        self.name = name
        self.settings = settings
        self.deadline = deadline
        self._executor = ThreadPoolExecutor(max_workers=1,
                                            thread_name_prefix=f"ferryman-status-{name}")
        self._local = threading.local()  # the worker thread's StatusReader
        self._lock = threading.Lock()
        self._flight = None  # the read under way (a concurrent.futures.Future)
        self._started = 0.0  # its time.monotonic() start
        self._last = None  # Known
        self._held = None  # (lock held, monotonic time) of the latest read, even a failed one
        self._busy = None  # why the latest read gave no state, while the database is busy

    # -- requests (any thread, or the event loop) ----------------------------------------
    def read(self):
        """An Answer, waiting at most the deadline; from a thread that may block."""
        flight, wait = self._join()
        wait_for_future([flight], timeout=wait)
        return self._answer(flight)

    async def read_async(self):
        """An Answer, waiting at most the deadline without blocking the event loop."""
        flight, wait = self._join()
        if not flight.done() and wait > 0:
            await _done(flight, wait)
        return self._answer(flight)

    def start(self):
        """Start a read if none is under way; wait for nothing."""
        self._join()

    def _join(self):
        """(the read to wait for, how long): the read under way, or a new one."""
        with self._lock:
            now = time.monotonic()
            if self._flight is None or self._flight.done():
                self._flight = self._executor.submit(self._work)
                self._started = now
            if self._busy is not None and self._last is not None:
                return self._flight, 0.0  # busy: the read goes on, the answer is now
            # The deadline is the read's: a request that joins late waits what is left.
            return self._flight, max(0.0, self._started + self.deadline - now)

    def _answer(self, flight):
        if flight.done() and flight.exception() is not None:
            raise flight.exception()  # unreachable, damaged, a bug: the caller says so
        with self._lock:
            if not flight.done() and self._flight is flight and self._busy is None:
                self._busy = (f"the database did not answer within {self.deadline:g}s "
                              "(busy, e.g. a migration holding its lock)")
            last, reason, held = self._last, self._busy, self._held
        if last is None:
            raise BlockedError(
                f"the status of {self.name} could not be read: {reason}, and it was "
                "never read before", hint="try again; a migration holding the database's "
                "lock ends with its commit")
        now_wall = time.time()
        stale = reason is not None or not flight.done()
        if not stale or held is None or held[1] < last.at_monotonic:
            held = (last.lock_held, last.at_monotonic)
        return Answer(last.status, held[0], stale, iso(last.at),
                      round(max(0.0, now_wall - last.at), 3), reason if stale else None)

    # -- the worker thread -----------------------------------------------------------
    def _work(self):
        """One read, in the service's own thread; what it found goes to the shared state."""
        first = self._last is None
        while True:
            try:
                reader = self._reader()
                held = reader.lock_held()  # a flock or pg_locks: never waits on the data
                with self._lock:
                    self._held = (held, time.monotonic())
                status = reader.read(raw=True)
            except FerrymanError as exc:
                if not busy(exc):
                    with self._lock:
                        self._busy = None  # not busy: the next request waits for a read
                    raise
                # Nothing known yet: keep trying until the deadline, as the 503 waits.
                if first and time.monotonic() + 0.05 < self._started + self.deadline:
                    time.sleep(0.05)
                    continue
                with self._lock:
                    self._busy = f"the database is busy: {exc.message}"
                return
            with self._lock:
                self._last = Known(status, held, time.time(), time.monotonic())
                self._busy = None
            return

    def _reader(self):
        s = self.settings
        sqlite = s.url.dialect == "sqlite"
        # SQLite: ``timeout`` is the busy timeout. The first read may wait the whole
        # deadline (there is nothing else to answer); later ones a moment, then answer
        # from the last known state. PostgreSQL: it is the connect timeout, and a
        # statement timeout bounds a read queued behind a table lock (statement_timeout
        # counts lock waits: https://www.postgresql.org/docs/current/runtime-config-client.html).
        timeout = (min(s.connect_timeout, self.deadline if self._last is None
                       else SQLITE_BUSY_WAIT) if sqlite else s.connect_timeout)
        reader = getattr(self._local, "reader", None)
        if reader is not None and reader.timeout != timeout:
            self._close_reader()
            reader = None
        if reader is None:
            reader = StatusReader(s.url, s.require_phases(), format=s.format,
                                  prefix=s.table_prefix,
                                  password=s.password, timeout=timeout,
                                  statement_timeout=None if sqlite else max(1.0, self.deadline))
            self._local.reader = reader
        return reader

    def _close_reader(self):
        reader = getattr(self._local, "reader", None)
        self._local.reader = None
        if reader is not None:
            reader.close()

    def forget_connection(self):
        """Close the kept connection (in its own thread) after the current read."""
        try:
            self._executor.submit(self._close_reader)
        except RuntimeError:
            pass  # already shut down

    def close(self):
        """Close the connection in its thread and let the thread end (no waiting)."""
        self.forget_connection()
        self._executor.shutdown(wait=False)


async def _done(flight, timeout):
    """Wait until the concurrent future ``flight`` is done, at most ``timeout`` seconds.
    Nothing is cancelled: the read goes on for the requests that come next."""
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def wake(_):
        try:
            loop.call_soon_threadsafe(_settle, waiter)
        except RuntimeError:
            pass  # the loop has closed: nobody is waiting any more

    flight.add_done_callback(wake)
    try:
        await asyncio.wait_for(waiter, timeout)
    except TimeoutError:
        pass


def _settle(waiter):
    if not waiter.done():
        waiter.set_result(None)
