"""A live progress display on a terminal: the phase, the migration, the count, the
elapsed time. Built on rich, imported only here and only when stdout is a terminal;
anywhere else the CLI prints plain lines (output.py)."""


class LiveProgress:
    """An event consumer that draws one live line under the printed ones."""

    def __init__(self, out):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                                   TextColumn, TimeElapsedColumn)

        self.out = out
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=Console(file=out.stdout), transient=True)
        self.task = None
        self.phase = None

    def print(self, text):
        self.progress.console.print(text, markup=False, highlight=False)

    def start(self):
        self.progress.start()
        self.out.live = self

    def stop(self):
        if self.out.live is self:
            self.out.live = None
            self.progress.stop()

    def __call__(self, event):
        name = type(event).__name__
        if name == "ServiceEvent":
            self._service(event.service, event.event)
            return
        if self.out.live is None and name in ("RunStarted", "PhaseStarted"):
            self.start()
        if name == "RunStarted":
            self._task(f"{event.command}: starting", len(event.steps))
        elif name == "PhaseStarted":
            self.phase = event.name
            self._task(f"phase {event.index}/{event.total} {event.name}", None)
        elif name == "StepStarted":
            where = f"{self.phase}: " if self.phase else ""
            label = event.version if event.version is not None else "R"
            self._task(f"{where}{event.direction} {label} {event.name}", event.total,
                       completed=event.index)
        elif name == "StepFinished" and self.task is not None:
            self.progress.advance(self.task)

    def _service(self, service, event):
        """A coordinated run: one bar per service, kept in step with its events."""
        if self.out.live is None:
            self.start()
        from ..coordinator.progress import current

        run = current()
        if run is not None:
            snap = run.snapshot()
            if self.task is None:
                self.task = self.progress.add_task("overall", total=snap["total"] or None)
            self.progress.update(self.task, completed=snap["done"], total=snap["total"] or None,
                                 description=f"overall {snap['percent']:.0f}%")
        tasks = self.__dict__.setdefault("services", {})
        if service not in tasks:
            tasks[service] = self.progress.add_task(f"[{service}] waiting", total=None)
        task = tasks[service]
        name = type(event).__name__
        if name == "RunStarted":
            self.progress.update(task, total=len(event.steps) or None)
        elif name == "PhaseStarted":
            self.progress.update(task, description=f"[{service}] {event.name}")
        elif name == "StepStarted":
            label = event.version if event.version is not None else "R"
            self.progress.update(task, description=f"[{service}] {event.direction} {label} "
                                                   f"{event.name}", total=event.total)
        elif name == "StepFinished":
            self.progress.advance(task)
        elif name == "PhaseFinished" and event.name == "validate":
            self.progress.update(task, description=f"[{service}] done")

    def _task(self, description, total, completed=None):
        if self.task is None:
            self.task = self.progress.add_task(description, total=total)
        else:
            self.progress.update(self.task, description=description,
                                 **({"total": total} if total is not None else {}),
                                 **({"completed": completed} if completed is not None else {}))


def live_progress(out):
    """A LiveProgress when it makes sense (a terminal, people reading), else None."""
    if out.json or out.quiet or not getattr(out.stdout, "isatty", lambda: False)():
        return None
    try:
        return LiveProgress(out)
    except ImportError:  # rich is an optional nicety
        return None
