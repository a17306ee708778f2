"""ferryman over HTTP: an ASGI app (Starlette) with the status of every service as
JSON, a live page and Prometheus metrics; with a token, backup, migrate and rollback.

    from ferryman.http import create_app

    app = create_app(config="ferryman.toml")          # uvicorn, or `ferryman serve`
    fastapi_app.mount("/ops", create_app(config="ferryman.toml", token=TOKEN))

The HTTP stack is imported here and in `ferryman serve` only, never on the path of
``import ferryman`` or ``ferryman status``. Needs ``pip install ferryman[web]``.
"""

from .app import create_app

__all__ = ["create_app"]
