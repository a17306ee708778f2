"""Floors of a cold status check: what any Python tool pays before doing anything."""

from harness import PYTHON, Command

from .base import Tool
from .raw import password_env

PG_FLOOR = ("import psycopg; c = psycopg.connect({url!r}); "
            "c.execute('select 1').fetchall()")
SQLITE_FLOOR = ("import sqlite3; c = sqlite3.connect({path!r}); "
                "c.execute('select 1').fetchall()")
# PyMySQL's defaults, as ferryman and the raw limit connect; the password (if any) from
# the environment, never the command line
MYSQL_FLOOR = ("import os, pymysql; c = pymysql.connect(host={host!r}, port={port}, "
               "user={user!r}, password=os.environ.get('BENCH_MYSQL_PASSWORD', ''), "
               "database={name!r}); k = c.cursor(); k.execute('select 1'); k.fetchall()")


class PythonDriverFloor(Tool):
    key = "floor-python-driver"
    label = "Python floor: `python -c` import driver, connect, `select 1`"
    migrated_by = "raw-python-statements"

    def status(self, db):
        env = {}
        if db.dialect == "sqlite":
            code = SQLITE_FLOOR.format(path=str(db.path))
        elif db.dialect == "mysql":
            code = MYSQL_FLOOR.format(host=db.host, port=db.port, user=db.user, name=db.name)
            env = password_env(db)
        else:
            code = PG_FLOOR.format(url=db.pg_url("postgresql"))
        return Command([PYTHON, "-c", code], env, cwd=self.ws.root)


class PythonFloor(Tool):
    key = "floor-python"
    label = "interpreter floor: `python -c pass`"
    migrated_by = "raw-python-statements"

    def status(self, db):
        return Command([PYTHON, "-c", "pass"], cwd=self.ws.root)
