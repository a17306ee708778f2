"""The closed set of events a run reports, in the order they can happen.

The runner reports progress only through these; the terminal, the log file, the
HTTP app and the reports all consume the same events. A consumer is any callable
taking one event; it must not raise (a failing consumer is ignored, see ``emit``).

Each event lists its fields in ``__slots__``; the comment under it gives their types.
"""


class Event:
    """An immutable record; its fields are its ``__slots__``, given by position or name.

    Plain classes rather than dataclasses: a run builds thousands of events, and
    ``ferryman up`` should not pay the dataclass machinery's start-up cost (it
    compiles every generated method) before its first statement.
    """

    __slots__ = ()
    _defaults = {}

    def __init__(self, *args, **kwargs):
        names = self.__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes {len(names)} fields")
        values = dict(zip(names, args))
        values.update(kwargs)
        for name in names:
            if name in values:
                object.__setattr__(self, name, values.pop(name))
            elif name in self._defaults:
                object.__setattr__(self, name, self._defaults[name])
            else:
                raise TypeError(f"{type(self).__name__} needs {name}")
        if values:
            raise TypeError(f"{type(self).__name__} has no field {next(iter(values))}")

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other):
        return type(self) is type(other) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __hash__(self):
        return hash((type(self).__name__,) + tuple(repr(getattr(self, n))
                                                   for n in self.__slots__))

    def __repr__(self):
        parts = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({parts})"

    def fields(self):
        """(name, value) pairs, in order."""
        return [(n, getattr(self, n)) for n in self.__slots__]


class LockWaiting(Event):
    __slots__ = ("holder", "waited")  # str | None, seconds


class LockAcquired(Event):
    __slots__ = ("waited",)  # seconds


class RunStarted(Event):
    __slots__ = ("run_id", "command", "database", "steps")
    # steps: ((version, name, direction), ...) for each planned step
    _defaults = {"steps": ()}


class StepStarted(Event):
    __slots__ = ("version", "name", "phase", "direction", "index", "total")
    # version: int, or None for a repeatable migration; index: 0-based in the run


class StepFinished(Event):
    __slots__ = ("version", "name", "direction", "duration_ms")


class StepFailed(Event):
    __slots__ = ("version", "name", "direction", "message")


class ChunkCommitted(Event):
    __slots__ = ("steps", "reason")


class ChunkSplit(Event):
    __slots__ = ("size", "reason")


class RollbackStarted(Event):
    __slots__ = ("steps",)


class RunFinished(Event):
    __slots__ = ("run_id", "outcome", "from_version", "to_version", "steps", "duration_ms")
    # outcome: ok, rolled_back, restored, failed, dirty


class PhaseStarted(Event):
    """A phase of the pipeline (ferryman migrate) began."""

    __slots__ = ("name", "index", "total")  # index: 1-based among the strategy's phases


class PhaseFinished(Event):
    __slots__ = ("name", "status", "duration_ms", "summary")  # status: ok, skipped, failed
    _defaults = {"summary": ""}


class BackupCreated(Event):
    __slots__ = ("id", "path", "size", "duration_ms")


class BackupRestored(Event):
    __slots__ = ("id", "duration_ms")


class ServiceEvent(Event):
    """An event of one service's run, in a coordinated run of many."""

    __slots__ = ("service", "event")


class Message(Event):
    """A line for a person: a warning or a note the run wants shown."""

    __slots__ = ("level", "text")  # level: info, warning


def emit(consumers, event):
    """Give ``event`` to every consumer; a consumer that raises is dropped, not fatal."""
    for consumer in tuple(consumers):
        try:
            consumer(event)
        except Exception:  # a broken progress display must not break a migration
            consumers.remove(consumer)
