"""A store holding the crafted spans of tests/storage/conformance/span_metrics_data.py, and
the API on it in process (auth off, and auth on with tokens)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flowscope.api.auth import create_token
from flowscope.storage.duckdb.store import Store

from flowscope.settings import Settings
from tests.storage.conformance.dataset import WS_A
from tests.storage.conformance.otlp import traces, write
from tests.storage.conformance.span_metrics_data import BILLING, CHECKOUT, T, span
from tests.support.asgi import Get, api_getter

# Workspace B's `checkout`: one failed server call, so its answers differ from A's.
B_SPANS = (span(9, "GET /a", 20, 500, error=True),)


@dataclass(frozen=True)
class Loaded:
    store: Store
    ws_b: str


@pytest.fixture(scope="session")
def loaded() -> Iterator[Loaded]:
    store = Store(":memory:")
    store.start()
    ws_b = store.catalog.create_workspace("spm-b", "SPM B").id
    write(store, traces(CHECKOUT, service="checkout"), WS_A)
    write(store, traces(BILLING, service="billing"), WS_A)
    write(store, traces(B_SPANS, service="checkout"), ws_b)
    yield Loaded(store, ws_b)
    store.close()


@pytest.fixture(scope="session")
def get(loaded: Loaded) -> Get:
    """GET on the API (auth off): `get(path, params, headers)`."""
    return api_getter(Settings(), loaded.store)


@pytest.fixture(scope="session")
def get_with_auth(loaded: Loaded) -> Get:
    """GET on the API with token auth on."""
    return api_getter(Settings(auth="token"), loaded.store)


@pytest.fixture(scope="session")
def token_b(loaded: Loaded) -> str:
    """A viewer token of workspace B."""
    secret, _ = create_token(loaded.store.catalog, loaded.ws_b, "viewer")
    return secret


END_MS = (T + 30 * 10**9) // 10**6
"""The reference query (span_metrics_data.py): times T+10 s, T+20 s, T+30 s, 20 s windows."""
REFERENCE = {"endTs": END_MS, "lookback": 20_000, "step": 10_000, "ratePer": 20_000}
