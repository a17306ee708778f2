"""One module per database engine, the same names inside each (see base.py)."""

from ..errors import ConfigError

DIALECTS = {
    "sqlite": ("ferryman.dialects.sqlite", "SQLiteDialect"),
    "postgresql": ("ferryman.dialects.postgresql", "PostgreSQLDialect"),
    "mysql": ("ferryman.dialects.mysql", "MySQLDialect"),
}


def dialect_class(name):
    """The dialect class for a URL's dialect name, imported on first use."""
    return registered(DIALECTS, name, lambda: ConfigError(
        f"ferryman does not support {name} yet (supported: PostgreSQL 12+, MySQL 5.7+, MariaDB and SQLite)"))


def registered(registry, name, missing):
    """The class ``registry`` names for ``name`` ({name: (module, class)}), imported on
    first use; ``missing()`` is the error raised when none is registered. The dialects
    and the safety layer's backup providers are registered this way."""
    try:
        module_name, class_name = registry[name]
    except KeyError:
        raise missing() from None
    import importlib

    return getattr(importlib.import_module(module_name), class_name)


def connect(url, *, readonly=False, timeout=10.0, password=None, statement_timeout=None,
            table_lock_timeout=None):
    """Open a connection to ``url`` through its dialect. The timeouts (seconds) bound
    each statement, and each wait for a table lock where the engine can tell."""
    return dialect_class(url.dialect).open(
        url, readonly=readonly, timeout=timeout, password=password,
        statement_timeout=statement_timeout, table_lock_timeout=table_lock_timeout)
