"""The API on a store, in process: GET requests through httpx's ASGI transport (no server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from flowscope.api.app import create_app
from flowscope.engine.config import EngineConfig
from flowscope.storage.interfaces import Store
from prometheus_client import CollectorRegistry

from flowscope.compose import app_context, auth_throttle
from flowscope.settings import Settings

Get = Callable[..., httpx.Response]
"""`get(path, params=None, headers=None)`: the API's answer."""


def api_getter(settings: Settings, store: Store) -> Get:
    """GET on the app `settings` compose on `store` (the store is the caller's to close)."""
    app = create_app(
        app_context(settings, store, CollectorRegistry(), auth_throttle(settings), EngineConfig())
    )

    async def fetch(path: str, params: object, headers: dict[str, str] | None) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://flowscope") as client:
            return await client.get(path, params=params, headers=headers)  # type: ignore[arg-type]

    def get(path: str, params: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return asyncio.run(fetch(path, params, headers))

    return get
