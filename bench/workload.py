"""The workload: N migrations, each creating one table and one index.

Every tool gets the same statements in the same order under the same versions; only
the file format differs. The shared golang-migrate folder (``{version}_{name}.up.sql``
and ``.down.sql``) is ferryman's own format, and the raw-SQL limits read it too.
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


def migrations(count):
    """The N migrations of the benchmark, oldest first."""
    result = []
    for n in range(1, count + 1):
        version = (_EPOCH + timedelta(seconds=n)).strftime("%Y%m%d%H%M%S")
        up = (f"CREATE TABLE t{n} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
              f"created_at TIMESTAMP)",
              f"CREATE INDEX t{n}_name ON t{n} (name)")
        result.append(Migration(n, version, f"create_t{n}", up, (f"DROP TABLE t{n}",)))
    return result


def sql_text(statements):
    return "".join(f"{s};\n" for s in statements)


@dataclass(frozen=True)
class Workspace:
    """The temporary folder every tool generates its files in."""

    root: Path
    migrations: tuple[Migration, ...]

    @property
    def count(self):
        return len(self.migrations)

    @property
    def sql_dir(self):
        """golang-migrate files: ferryman's migrations, read by the raw Python limit."""
        return self.root / "sql"

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


def write_workspace(root, count):
    """Write the shared files; each tool writes its own format in ``prepare``."""
    ws = Workspace(Path(root), tuple(migrations(count)))
    folder = ws.dir("sql")
    for m in ws.migrations:
        (folder / f"{m.version}_{m.name}.up.sql").write_text(m.up_sql)
        (folder / f"{m.version}_{m.name}.down.sql").write_text(m.down_sql)
    everything = "".join(m.up_sql for m in ws.migrations)
    ws.all_sql.write_text(everything)
    ws.all_sql_tx.write_text(f"BEGIN;\n{everything}COMMIT;\n")
    return ws
