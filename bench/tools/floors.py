"""Floors of a cold status check: what any Python tool pays before doing anything."""

from harness import PYTHON, Command

from .base import Tool

PG_FLOOR = ("import psycopg; c = psycopg.connect({url!r}); "
            "c.execute('select 1').fetchall()")
SQLITE_FLOOR = ("import sqlite3; c = sqlite3.connect({path!r}); "
                "c.execute('select 1').fetchall()")


class PythonDriverFloor(Tool):
    key = "floor-python-driver"
    label = "Python floor: `python -c` import driver, connect, `select 1`"
    migrated_by = "raw-python-statements"

    def status(self, db):
        if db.dialect == "sqlite":
            code = SQLITE_FLOOR.format(path=str(db.path))
        else:
            code = PG_FLOOR.format(url=db.pg_url("postgresql"))
        return Command([PYTHON, "-c", code], cwd=self.ws.root)


class PythonFloor(Tool):
    key = "floor-python"
    label = "interpreter floor: `python -c pass`"
    migrated_by = "raw-python-statements"

    def status(self, db):
        return Command([PYTHON, "-c", "pass"], cwd=self.ws.root)
