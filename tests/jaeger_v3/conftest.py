"""A store holding tests/jaeger_v3/data.py's traces, and the API on it in process: auth off,
auth on, and with a span cap of 3."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flowscope.api.auth import create_token
from flowscope.storage.duckdb.store import Store

from flowscope.settings import Settings
from tests.jaeger_v3 import data
from tests.support.asgi import Get, api_getter


@dataclass(frozen=True)
class Loaded:
    store: Store
    ws_b: str


@pytest.fixture(scope="session")
def loaded() -> Iterator[Loaded]:
    store = Store(":memory:")
    store.start()
    ws_b = data.load(store)
    yield Loaded(store, ws_b)
    store.close()


@pytest.fixture(scope="session")
def get(loaded: Loaded) -> Get:
    """GET on the API (auth off): `get(path, params, headers)`."""
    return api_getter(Settings(), loaded.store)


@pytest.fixture(scope="session")
def get_capped(loaded: Loaded) -> Get:
    """GET on the API with FLOWSCOPE_JAEGER_MAX_TRACE_SPANS=3."""
    return api_getter(Settings(jaeger_max_trace_spans=3), loaded.store)


@pytest.fixture(scope="session")
def get_with_auth(loaded: Loaded) -> Get:
    """GET on the API with token auth on."""
    return api_getter(Settings(auth="token"), loaded.store)


@pytest.fixture(scope="session")
def token_b(loaded: Loaded) -> str:
    """A viewer token of workspace B."""
    secret, _ = create_token(loaded.store.catalog, loaded.ws_b, "viewer")
    return secret
