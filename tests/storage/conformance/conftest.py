"""The stores the conformance suite runs on, and the fixtures that open them.

How to add a store: append a `StoreFactory` to `FACTORIES` (a name, a function that opens
the store kept under a directory, and whether reopening that directory keeps what was
acknowledged). Every test of the suite then runs on it too. A store that needs a service
(a database server, object storage) gets it from a session fixture through `bind`, and that
fixture skips when the service is not available, so the suite stays runnable anywhere: the
DuckLake store below takes the tests' own PostgreSQL (tests/support/postgres.py).

The suite talks to a store only through `flowscope.storage.interfaces.Store` (its writer,
change feed, readers and lifecycle), never through SQL or cursors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flowscope.storage.changes import CommittedBatch
from flowscope.storage.duckdb.store import Store as DuckDBStore
from flowscope.storage.ducklake.store import LakeStore
from flowscope.storage.interfaces import Store

from tests.storage.conformance import dataset
from tests.storage.conformance.otlp import ACK_TIMEOUT, SpanSpec, traces, write
from tests.support.postgres import Postgres


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
    bind: Callable[[pytest.FixtureRequest], Callable[[Path], Store]] | None = None
    """For a store needing a service: `open` made from the session's fixtures (then `open`
    given above is never called)."""


def _unbound(place: Path) -> Store:
    raise AssertionError("opened before the factory fixture bound it to its service")


def _lake(postgres: Postgres, place: Path, inline_rows: int | None = None) -> Store:
    """A DuckLake store on a catalog database of its own (one per `place`: a reopen finds the
    same one) and a data path under `place`."""
    dbname = "lake_" + hashlib.sha1(str(place).encode()).hexdigest()[:16]
    conninfo = postgres.create_database(dbname)
    return LakeStore(f"ducklake:postgres:{conninfo}", place / "lake-data", inline_rows=inline_rows)


FACTORIES: list[StoreFactory] = [
    StoreFactory("duckdb-file", lambda place: DuckDBStore(place / "flowscope.duckdb"), persistent=True),
    StoreFactory("duckdb-memory", lambda place: DuckDBStore(":memory:"), persistent=False),
    StoreFactory(
        "ducklake-postgres",
        _unbound,
        persistent=True,
        bind=lambda request: lambda place: _lake(request.getfixturevalue("postgres"), place),
    ),
    # The suite's commits are small: on DuckLake's defaults most land as catalog rows
    # ("data inlining", up to 10 rows a table). This one writes every commit as Parquet files,
    # as ingest's batches are; duckdb issue 24994 (blob equality over DuckDB's own Parquet)
    # would show here.
    StoreFactory(
        "ducklake-parquet",
        _unbound,
        persistent=True,
        bind=lambda request: lambda place: _lake(request.getfixturevalue("postgres"), place, inline_rows=0),
    ),
]

OpenStore = Callable[[], Store]


# Session scope: pytest then runs every test of one store before the next store's, and the
# dataset is loaded once per store.
@pytest.fixture(scope="session", params=FACTORIES, ids=lambda f: f.name)
def factory(request: pytest.FixtureRequest) -> StoreFactory:
    chosen: StoreFactory = request.param
    if chosen.bind is not None:
        chosen = dataclasses.replace(chosen, open=chosen.bind(request))
    return chosen


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
def new_store(open_store: OpenStore) -> Store:
    """A new, empty, started store, for tests about the whole store (lifecycle, counters)."""
    return open_store()


@pytest.fixture(scope="session")
def shared(factory: StoreFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # One store for most tests: opening a new one costs more than a test (DuckDB migrates it).
    store = factory.open(tmp_path_factory.mktemp(f"{factory.name}-shared"))
    store.start()
    yield store
    store.close()


@pytest.fixture
def store(shared: Store) -> Store:
    """A started store shared with other tests: write only into `workspace` (or workspaces
    you create in the catalog). Every commit of earlier tests is announced before the test
    starts, so a subscription made now sees only the test's own commits."""
    _settle(shared)
    return shared


_numbers = itertools.count(1)


@pytest.fixture
def workspace() -> str:
    """A workspace id no other test writes to (telemetry needs no catalog entry)."""
    return f"ws-test-{next(_numbers)}"


def _settle(store: Store) -> None:
    """Return once every commit made so far was announced. Commits are announced in commit
    order, so it is enough to see the announcement of a marker written now (an ack may come
    before the announcement of its commit)."""
    trace_id = f"fe{next(_numbers):030x}"
    seen = threading.Event()

    def watch(batch: CommittedBatch) -> None:
        if batch.spans is not None and trace_id in batch.spans.column("trace_id").to_pylist():
            seen.set()

    unsubscribe = store.changes.subscribe(watch)
    try:
        write(store, traces([SpanSpec(trace_id, "fe00000000000001", "marker", 1, 2)]), "ws-feed-marker")
        assert seen.wait(ACK_TIMEOUT), "the change feed did not announce a commit"
    finally:
        unsubscribe()


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
