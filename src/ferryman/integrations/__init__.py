"""Ready helpers for the frameworks Python services use: migrations at start-up.

- ``ferryman.integrations.starlette.lifespan`` for Starlette and FastAPI;
- ``ferryman.integrations.flask.Ferryman`` for Flask.
"""
