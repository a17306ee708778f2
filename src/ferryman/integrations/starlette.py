"""Starlette and FastAPI: migrate in the application's lifespan, before it serves.

    from fastapi import FastAPI
    from ferryman.integrations.starlette import lifespan

    app = FastAPI(lifespan=lifespan(database_url=URL, migrations="migrations"))

When the migrations fail, start-up fails (uvicorn exits with an error) and the
application never serves a request against a half-migrated database. The status is
left on ``app.state.ferryman``. ``then=`` chains the application's own lifespan.
"""

import asyncio
from contextlib import asynccontextmanager

from ..startup import migrate_on_startup


def lifespan(database_url=None, migrations=None, *, then=None, **options):
    """A lifespan function for ``Starlette(lifespan=...)`` / ``FastAPI(lifespan=...)``."""

    @asynccontextmanager
    async def run(app):
        # Blocking work (locks, pg_dump, DDL) off the event loop.
        status = await asyncio.to_thread(migrate_on_startup, database_url, migrations,
                                         **options)
        app.state.ferryman = status
        if then is None:
            yield
        else:
            async with then(app) as state:
                yield state

    return run
