"""Flask: migrate when the extension is initialised, before the app serves.

    from flask import Flask
    from ferryman.integrations.flask import Ferryman

    app = Flask(__name__)
    app.config["FERRYMAN_DATABASE_URL"] = "sqlite:///app.db"
    app.config["FERRYMAN_MIGRATIONS"] = "migrations"
    Ferryman(app)        # raises ferryman.MigrationError when it cannot migrate

Any other ``FERRYMAN_<SETTING>`` key of ``app.config`` becomes a setting (e.g.
``FERRYMAN_BACKUP_DIR``). The status is kept in ``app.extensions["ferryman"]``.
"""

from ..config import SETTINGS
from ..startup import migrate_on_startup


class Ferryman:
    def __init__(self, app=None, **options):
        self.options = options
        self.status = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        options = dict(self.options)
        for name in SETTINGS:
            key = f"FERRYMAN_{name.upper()}"
            if key in app.config and name not in options:
                options[name] = app.config[key]
        self.status = migrate_on_startup(logger=app.logger, **options)
        app.extensions["ferryman"] = self
        return self.status
