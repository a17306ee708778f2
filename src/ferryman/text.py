"""How ferryman writes times, durations and sizes: one formatter of each, for every
layer (the history, backups, reports, the coordinator, the CLI, the HTTP app).

A leaf: it imports nothing of ferryman's and only ``time`` (``datetime`` when a time
is written), so it is free to use on the path of ``ferryman status``.
"""

import time


def iso(moment, timespec="milliseconds"):
    """``moment`` as ISO 8601 UTC text ending in ``Z``: ``2026-11-21T10:15:00.000Z``.

    ``moment`` is an aware datetime or seconds since the epoch (``time.time()``).
    None, and text (a driver that returns timestamps as text), come back unchanged.
    ``timespec`` is datetime's: ``"seconds"`` drops the fraction.
    """
    if moment is None or isinstance(moment, str):
        return moment
    from datetime import datetime, timezone

    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    elif moment.tzinfo is None:  # ferryman writes UTC; MySQL's DATETIME keeps no zone
        moment = moment.replace(tzinfo=timezone.utc)
    else:
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def now_iso(timespec="milliseconds"):
    """The current time, written as ``iso`` writes it."""
    return iso(time.time(), timespec)


def ms(seconds, digits=3):
    """A duration in seconds as milliseconds, rounded to ``digits`` places."""
    return round(seconds * 1000, digits)


def ms_since(started, digits=3):
    """The milliseconds since ``started``, a ``time.monotonic()`` reading."""
    return ms(time.monotonic() - started, digits)


def duration(milliseconds):
    """A duration for people: ``0.42 ms``, ``812.3 ms``, ``2.61 s``, ``3 min 5.0 s``."""
    if milliseconds < 1:
        return f"{milliseconds:.2f} ms"
    if milliseconds < 1000:
        return f"{milliseconds:.1f} ms"
    if milliseconds < 60_000:
        return f"{milliseconds / 1000:.2f} s"
    minutes, rest = divmod(milliseconds / 1000, 60)
    return f"{int(minutes)} min {rest:.1f} s"


def size(count):
    """A number of bytes for people, in powers of 1024: ``512 B``, ``1.5 KiB``, ``3.2 GiB``.
    A negative count (a change in size) keeps its sign."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return None  # not reached: the loop returns at TiB
