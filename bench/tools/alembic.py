"""Alembic: one revision script per migration, chained by down_revision.

The environment is Alembic's default template with the parts this benchmark does
not use taken out (offline mode, logging set-up, metadata): a NullPool engine, one
connection, ``context.configure(connection=...)`` with Alembic's defaults, and
``run_migrations()`` inside ``begin_transaction()``. With the default
``transaction_per_migration=False`` the whole upgrade is one transaction on
PostgreSQL (transactional DDL); on SQLite, Alembic's default (no transactional DDL)
leaves the pysqlite driver to commit each DDL statement by itself.
"""

from harness import VENV_BIN, Command

from .base import Tool, dist_version

INI = """\
[alembic]
script_location = %(here)s
path_separator = os
"""

ENV_PY = '''\
import os

from alembic import context
from sqlalchemy import create_engine, pool

engine = create_engine(os.environ["BENCH_DATABASE_URL"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
'''

REVISION = '''\
"""{name}

Revision ID: {revision}
Revises: {down_revision}
"""
from alembic import op

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
'''


def _body(statements):
    return "\n".join(f"    op.execute({s!r})" for s in statements)


class Alembic(Tool):
    key = "alembic"
    label = "Alembic"
    status_label = "`alembic current`"

    def prepare(self):
        folder = self.ws.dir("alembic")
        (folder / "alembic.ini").write_text(INI)
        (folder / "env.py").write_text(ENV_PY)
        versions = self.ws.dir("alembic/versions")
        previous = None
        for m in self.ws.migrations:
            revision = f"r{m.version}"
            (versions / f"{revision}_{m.name}.py").write_text(REVISION.format(
                name=m.name, revision=revision, down_revision=previous,
                upgrade=_body(m.up), downgrade=_body(m.down)))
            previous = revision
        self.folder = folder

    def _command(self, db, *args):
        return Command([VENV_BIN / "alembic", "-c", self.folder / "alembic.ini", *args],
                       {"BENCH_DATABASE_URL": db.sqlalchemy_url("psycopg")}, cwd=self.folder)

    # Not on MySQL: its revision scripts are written in the standard spelling only.
    def apply(self, db):
        return self._command(db, "upgrade", "head") if db.dialect in self.dialects else None

    def status(self, db):
        return self._command(db, "current") if db.dialect in self.dialects else None

    def check_status(self, output):
        head = f"r{self.ws.migrations[-1].version} (head)"
        if output.strip() != head:
            return f"expected {head!r}, got {output!r}"

    def versions(self):
        return {"alembic": dist_version("alembic"), "SQLAlchemy": dist_version("SQLAlchemy")}
