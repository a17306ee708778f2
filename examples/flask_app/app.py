"""A Flask service that migrates its database while it starts.

    DATABASE_URL=sqlite:///letters.db flask --app examples/flask_app/app.py run

It uses the pen-pal example's migrations. ``create_app`` raises
ferryman.MigrationError when they fail, so the server never starts serving.
"""

import os
import sqlite3

from flask import Flask, jsonify

from ferryman.integrations.flask import Ferryman

HERE = os.path.dirname(os.path.abspath(__file__))


def create_app():
    app = Flask(__name__)
    app.config["FERRYMAN_DATABASE_URL"] = os.environ.get(
        "DATABASE_URL", f"sqlite:///{os.path.join(HERE, 'letters.db')}")
    app.config["FERRYMAN_MIGRATIONS"] = os.environ.get(
        "MIGRATIONS", os.path.join(HERE, "..", "penpal", "migrations", "core"))
    app.config["FERRYMAN_BACKUP_DIR"] = os.environ.get("BACKUP_DIR",
                                                       os.path.join(HERE, "backups"))
    ferryman = Ferryman(app)

    @app.get("/migration/status")
    def migration_status():
        status = ferryman.status
        return jsonify(current_version=status.current_version, dirty=status.dirty,
                       pending_count=status.pending_count, last_backup=status.last_backup)

    @app.get("/letters")
    def letters():
        url = app.config["FERRYMAN_DATABASE_URL"]
        rows = _query(url, "SELECT id, title, status FROM letters ORDER BY id")
        return jsonify([{"id": i, "title": t, "status": s} for i, t, s in rows])

    return app


def _query(url, sql):
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("sqlite:///", 1)[1]) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()

