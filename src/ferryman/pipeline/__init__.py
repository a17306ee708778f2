"""The ten-phase migration pipeline and its four strategies.

    precheck -> backup -> core -> extended -> integrity -> indexes -> constraints
             -> views -> optimize -> validate

- ``safe`` runs precheck, backup and core; ``extended`` adds extended; ``unified``
  runs all ten; ``coordinated`` is unified for every service (ferryman.coordinator).
- The migration phases take their migrations from their own folders ([phases]); the
  check phases run ferryman's own code (checks.py).
- ``Pipeline`` (run.py) runs them; every run writes a JSON, an HTML and a Markdown
  report (report.py). The names are written once, in ferryman/phases.py.
"""

from ..phases import CHECK_PHASES, MIGRATION_PHASES, PHASES, STRATEGIES

__all__ = ["PHASES", "MIGRATION_PHASES", "CHECK_PHASES", "STRATEGIES"]
