"""MySQL and MariaDB: the pipeline's checks, maintenance and monitoring (see base.py,
checklist items 7 and 8), kept apart from the connection and the lock (mysql.py)."""

from .base import Catalog


class MySQLAdmin:
    """The catalog, maintenance and monitoring members of MySQLDialect."""

    def catalog(self, prefix="ferryman_"):
        return MySQLCatalog(self, prefix)


class MySQLCatalog(Catalog):
    """What the pipeline's checks ask a MySQL or MariaDB database."""

    def tables(self):
        return [r[0] for r in self.db.query(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME")
            if not r[0].startswith(self.prefix)]
