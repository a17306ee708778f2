"""The migration coordinator: many services' databases, in dependency order and
in parallel, with progress (progress.py), one report (report.py) and a picture of the
dependency graph (graph.py)."""

from .run import POLICIES, CoordinatedError, CoordinatedResult, coordinate

__all__ = ["coordinate", "CoordinatedResult", "CoordinatedError", "POLICIES"]
