"""Seed 000's unified migration strategy: ten phases, four strategies.

    precheck -> backup -> core -> extended -> integrity -> indexes -> constraints
             -> views -> optimize -> validate

- ``safe`` runs precheck, backup and core; ``extended`` adds extended; ``unified``
  runs all ten; ``coordinated`` is unified for every service (ferryman.coordinator).
- The migration phases take their migrations from their own folders ([phases]); the
  check phases run ferryman's own code (checks.py).
- ``Pipeline`` (run.py) runs them; every run writes a JSON, an HTML and a Markdown
  report (report.py).
"""

PHASES = ("precheck", "backup", "core", "extended", "integrity", "indexes", "constraints",
          "views", "optimize", "validate")
MIGRATION_PHASES = ("core", "extended", "indexes", "constraints", "views")
STRATEGIES = {
    "safe": ("precheck", "backup", "core"),
    "extended": ("precheck", "backup", "core", "extended"),
    "unified": PHASES,
    "coordinated": PHASES,
}
