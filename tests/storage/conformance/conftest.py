"""The stores the conformance suite runs on, and the fixtures that open them.

How to add a store: append a `StoreFactory` to `FACTORIES` (a name, a function that opens
the store kept under a directory, and whether reopening that directory keeps what was
acknowledged). Every test of the suite then runs on it too. A store that needs a service
(a database server, object storage) should `pytest.skip(...)` inside `open` when the service
is not configured, so the suite stays runnable anywhere; for example:

    def _scale_out(place: Path) -> Store:
        dsn = os.environ.get("FLOWSCOPE_TEST_PG") or pytest.skip("FLOWSCOPE_TEST_PG not set")
        return ScaleOutStore(dsn, data_path=place / "data")

    FACTORIES.append(StoreFactory("scale-out", _scale_out, persistent=True))

The suite talks to a store only through `flowscope.storage.interfaces.Store` (its writer,
change feed, readers and lifecycle), never through SQL or cursors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.duckdb.store import Store as DuckDBStore
from flowscope.storage.interfaces import Store

from tests.storage.conformance import dataset


@dataclass(frozen=True)
class StoreFactory:
    name: str
    open: Callable[[Path], Store]
    """Open the store kept under `place` (a directory private to one test, or to the shared
    dataset), not started yet. Called again after `close` to reopen it."""
    persistent: bool
    """Whether a store opened again on the same `place` holds everything acknowledged before
    it was closed. For an in-memory store (False), a durable ack means every reader sees the
    rows once `submit`'s future resolved."""


FACTORIES: list[StoreFactory] = [
    StoreFactory("duckdb-file", lambda place: DuckDBStore(place / "flowscope.duckdb"), persistent=True),
    StoreFactory("duckdb-memory", lambda place: DuckDBStore(":memory:"), persistent=False),
]

OpenStore = Callable[[], Store]


# Session scope: pytest then runs every test of one store before the next store's, and the
# dataset is loaded once per store.
@pytest.fixture(scope="session", params=FACTORIES, ids=lambda f: f.name)
def factory(request: pytest.FixtureRequest) -> StoreFactory:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def open_store(factory: StoreFactory, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens and starts this test's store (again, after a `close`, on the same place);
    every store opened is closed at teardown."""
    opened: list[Store] = []

    def open_() -> Store:
        store = factory.open(tmp_path)
        opened.append(store)
        store.start()
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> Store:
    """A new, empty, started store."""
    return open_store()


@pytest.fixture
def feed(store: Store) -> Iterator[list[CommittedBatch]]:
    """Every batch `store` commits from now on (call `store.changes.flush()` before reading)."""
    batches: list[CommittedBatch] = []
    unsubscribe = store.changes.subscribe(batches.append)
    yield batches
    unsubscribe()


@pytest.fixture(scope="session")
def loaded(factory: StoreFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store holding the fixed dataset (`dataset.py`), shared by the tests that only read."""
    store = factory.open(tmp_path_factory.mktemp(factory.name))
    store.start()
    dataset.load(store)
    yield store
    store.close()
