"""ferryman: versioned database migrations for Python services.

    import ferryman

    ferryman.status(database_url="sqlite:///app.db", migrations="migrations")
    ferryman.Migrator("sqlite:///app.db", "migrations").up()

Names are imported on first use, so that ``import ferryman`` (and ``ferryman
status``) stays cheap.
"""

from ._version import __version__
from .errors import (BlockedError, ConfigError, FerrymanError, InputError, MigrationError,
                     RollbackError, SourceError, StateError)

_LAZY = {
    "Migrator": "ferryman.api",
    "status": "ferryman.api",
    "migrate_on_startup": "ferryman.startup",
    "MigrationStatus": "ferryman.results",
    "RunResult": "ferryman.results",
    "HistoryEntry": "ferryman.results",
    "BackupInfo": "ferryman.results",
    "events": "ferryman.events",
    "NOTHING": "ferryman.core.plan",  # goto(NOTHING), or "none": nothing applied
}

__all__ = ["__version__", "FerrymanError", "InputError", "ConfigError", "SourceError",
           "MigrationError", "RollbackError", "StateError", "BlockedError", *_LAZY]


def __getattr__(name):
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ferryman' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(module_name)
    value = module if module_name.endswith(name) else getattr(module, name)
    globals()[name] = value
    return value
