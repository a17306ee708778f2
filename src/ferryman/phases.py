"""The ten phases of the pipeline and the four strategies, written once.

    precheck -> backup -> core -> extended -> integrity -> indexes -> constraints
             -> views -> optimize -> validate

The migration phases take their migrations from their own folders; the check phases
run ferryman's own code. A strategy names the phases it runs. A leaf: the core (which
orders migrations by phase), the configuration, the pipeline, the CLI and the reports
all read these names from here.
"""

PHASES = ("precheck", "backup", "core", "extended", "integrity", "indexes", "constraints",
          "views", "optimize", "validate")
MIGRATION_PHASES = ("core", "extended", "indexes", "constraints", "views")
CHECK_PHASES = tuple(name for name in PHASES if name not in MIGRATION_PHASES)
# The default first: `unified` runs all ten, `coordinated` is unified for every service.
STRATEGIES = {
    "unified": PHASES,
    "safe": ("precheck", "backup", "core"),
    "extended": ("precheck", "backup", "core", "extended"),
    "coordinated": PHASES,
}
DEFAULT_STRATEGY = "unified"
