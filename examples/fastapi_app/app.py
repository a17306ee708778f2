"""A FastAPI service that migrates its database while it starts.

    DATABASE_URL=sqlite:///letters.db uvicorn app:app --app-dir examples/fastapi_app

It uses the pen-pal example's migrations. If they fail, uvicorn exits with an
error before serving anything; the database was rolled back or restored.
"""

import os
import sqlite3

from fastapi import FastAPI

from ferryman.integrations.starlette import lifespan

HERE = os.path.dirname(os.path.abspath(__file__))
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{os.path.join(HERE, 'letters.db')}")
MIGRATIONS = os.environ.get("MIGRATIONS", os.path.join(HERE, "..", "penpal", "migrations", "core"))

app = FastAPI(title="pen-pal letters",
              lifespan=lifespan(database_url=DATABASE_URL, migrations=MIGRATIONS,
                                backup_dir=os.environ.get("BACKUP_DIR",
                                                          os.path.join(HERE, "backups"))))


@app.get("/migration/status")
def migration_status():
    status = app.state.ferryman
    return {"current_version": status.current_version, "dirty": status.dirty,
            "pending_count": status.pending_count, "last_backup": status.last_backup}


@app.get("/letters")
def letters():
    rows = _query("SELECT id, title, status FROM letters ORDER BY id")
    return [{"id": i, "title": t, "status": s} for i, t, s in rows]


def _query(sql):
    if DATABASE_URL.startswith("sqlite"):
        path = DATABASE_URL.split("sqlite:///", 1)[1]
        with sqlite3.connect(path) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        return conn.execute(sql).fetchall()
