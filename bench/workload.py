"""The workload: N migrations, each creating one table and one index.

Every tool gets the same statements in the same order under the same versions; only
the file format differs. The shared golang-migrate folder (``{version}_{name}.up.sql``
and ``.down.sql``) is ferryman's own format, and the raw-SQL limits read it too.

MySQL/MariaDB gets its own spelling of the same statements (a variant, with its own
folders): the indexed column is a ``VARCHAR(100)``, since MySQL cannot index a ``TEXT``
column without a prefix length, and ``TIMESTAMP NULL`` keeps the column plain whatever
the server's ``explicit_defaults_for_timestamp`` (when it is off, a bare first
``TIMESTAMP`` column becomes ``NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE ...``).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

_EPOCH = datetime(2025, 1, 1)


@dataclass(frozen=True)
class Migration:
    n: int
    version: str  # a 14-digit UTC timestamp, as dbmate and `ferryman new` make them
    name: str
    up: tuple[str, ...]
    down: tuple[str, ...]

    @property
    def up_sql(self):
        return sql_text(self.up)

    @property
    def down_sql(self):
        return sql_text(self.down)


# The dialects whose SQL differs from the standard workload's (PostgreSQL, SQLite).
VARIANTS = ("mysql",)
_COLUMNS = {
    "standard": "id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TIMESTAMP",
    "mysql": "id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, created_at TIMESTAMP NULL",
}


def variant(dialect):
    """The name of the workload's spelling for ``dialect``: "standard" or "mysql"."""
    return dialect if dialect in VARIANTS else "standard"


def migrations(count, dialect="postgresql"):
    """The N migrations of the benchmark, oldest first, spelled for ``dialect``."""
    columns = _COLUMNS[variant(dialect)]
    result = []
    for n in range(1, count + 1):
        version = (_EPOCH + timedelta(seconds=n)).strftime("%Y%m%d%H%M%S")
        up = (f"CREATE TABLE t{n} ({columns})", f"CREATE INDEX t{n}_name ON t{n} (name)")
        result.append(Migration(n, version, f"create_t{n}", up, (f"DROP TABLE t{n}",)))
    return result


def sql_text(statements):
    return "".join(f"{s};\n" for s in statements)


@dataclass(frozen=True)
class Workspace:
    """The temporary folder every tool generates its files in."""

    root: Path
    migrations: tuple[Migration, ...]  # the standard workload
    variants: tuple[str, ...] = ()  # the VARIANTS written too (their own folders)

    @property
    def count(self):
        return len(self.migrations)

    @property
    def sql_dir(self):
        """golang-migrate files: ferryman's migrations, read by the raw Python limit."""
        return self.root / "sql"

    def migrations_for(self, dialect):
        """The migrations as ``dialect`` spells them."""
        if variant(dialect) == "standard":
            return self.migrations
        return tuple(migrations(self.count, dialect))

    def sql_dir_for(self, dialect):
        """``sql_dir``, or its variant's folder (``sql-mysql``)."""
        name = variant(dialect)
        return self.sql_dir if name == "standard" else self.root / f"sql-{name}"

    def dir_for(self, name, dialect):
        """A tool's folder ``name``, or ``name-<variant>`` for a variant's files."""
        suffix = variant(dialect)
        return self.dir(name if suffix == "standard" else f"{name}-{suffix}")

    def all_sql_for(self, dialect):
        """``all_sql``, or its variant's (``all-mysql.sql``)."""
        name = variant(dialect)
        return self.all_sql if name == "standard" else self.root / f"all-{name}.sql"

    @property
    def all_sql(self):
        """Every up statement in one file, for `psql -1 -f`."""
        return self.root / "all.sql"

    @property
    def all_sql_tx(self):
        """The same wrapped in BEGIN/COMMIT, for `sqlite3 db < file`."""
        return self.root / "all_tx.sql"

    def dir(self, name):
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def write_workspace(root, count, dialects=("postgresql", "sqlite")):
    """Write the shared files, and those of the variants among ``dialects``; each tool
    writes its own format in ``prepare`` (for ``ws.variants`` too)."""
    wanted = tuple(v for v in VARIANTS if v in dialects)
    ws = Workspace(Path(root), tuple(migrations(count)), wanted)
    everything = _write_sql(ws.sql_dir, ws.migrations)
    ws.all_sql.write_text(everything)
    ws.all_sql_tx.write_text(f"BEGIN;\n{everything}COMMIT;\n")
    for name in wanted:
        ws.all_sql_for(name).write_text(_write_sql(ws.sql_dir_for(name),
                                                   ws.migrations_for(name)))
    return ws


def _write_sql(folder, items):
    """The golang-migrate files of ``items`` in ``folder``; every up statement, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    for m in items:
        (folder / f"{m.version}_{m.name}.up.sql").write_text(m.up_sql)
        (folder / f"{m.version}_{m.name}.down.sql").write_text(m.down_sql)
    return "".join(m.up_sql for m in items)
