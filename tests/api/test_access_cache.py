"""Pure logic of the access cache (api/access_cache.py) on a real store's catalog: what is
kept, and what a catalog change (a revocation) or the time-to-live forgets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowscope.api.access_cache import AccessCache
from flowscope.api.deps import RequestContext
from flowscope.storage.duckdb.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "flowscope.duckdb")
    yield opened
    opened.close()


def _revoke_one(store: Store) -> None:
    ws = store.catalog.create_workspace("team", "Team")
    token = store.catalog.add_token(ws.id, "a" * 64, "viewer", None)
    assert store.catalog.revoke_token(ws.id, token.id)


VIEWER = RequestContext("ws-1", "viewer", "tok-1")


def test_a_decision_is_kept_until_the_catalog_changes(store: Store) -> None:
    cache = AccessCache(store.catalog)
    generation = cache.generation()
    cache.put(("api", "viewer", "Bearer x"), VIEWER, generation)
    assert cache.get(("api", "viewer", "Bearer x")) == VIEWER
    assert cache.get(("api", "editor", "Bearer x")) is None  # another role: not decided
    _revoke_one(store)
    assert cache.get(("api", "viewer", "Bearer x")) is None


def test_a_decision_looked_up_while_the_catalog_changed_is_not_kept(store: Store) -> None:
    cache = AccessCache(store.catalog)
    generation = cache.generation()
    _revoke_one(store)  # during the lookup: it may concern the token looked up
    cache.put(("api", "viewer", "Bearer x"), VIEWER, generation)
    assert cache.get(("api", "viewer", "Bearer x")) is None


def test_decisions_expire_and_are_bounded(store: Store) -> None:
    cache = AccessCache(store.catalog, ttl_seconds=0.05, max_entries=2)
    for n in range(3):
        cache.put(("k", n), VIEWER, cache.generation())
    assert [cache.get(("k", n)) for n in range(3)] == [None, None, VIEWER]  # full: emptied, then the third
    deadline = time.monotonic() + 5
    while cache.get(("k", 2)) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get(("k", 2)) is None
