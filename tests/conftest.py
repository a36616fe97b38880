from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flowscope.storage.ducklake import extensions

from tests.support.postgres import Postgres, PostgresMissing, start_postgres
from tests.support.server import RunningServer, start_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A fresh `flowscope serve` on ephemeral ports with its own database file."""
    srv = start_server(tmp_path / "flowscope.duckdb")
    yield srv
    srv.terminate()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for a whole test module (for read-only tests that can share data)."""
    srv = start_server(tmp_path_factory.mktemp("shared") / "flowscope.duckdb")
    yield srv
    srv.terminate()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of the session's own, in a temporary directory (the DuckLake
    store's catalog: tests/support/postgres.py); skips when PostgreSQL is not installed, or
    where the DuckLake store cannot run (the default .venv, on DuckDB 2: `make test` runs these
    tests again in .venv/lake, `-m lake`)."""
    if not extensions.available():
        pytest.skip("the DuckLake extensions are not in this environment: make lake-env (.venv/lake)")
    try:
        pg = start_postgres()
    except PostgresMissing as exc:
        pytest.skip(str(exc))
    yield pg
    pg.remove()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "lake: needs the DuckLake store (PostgreSQL + the lake extra): run in .venv/lake"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that open a lake: those taking the `postgres` fixture, and the
    conformance suite's lake factories (bound to it at run time)."""
    for item in items:
        lake_factory = "conformance" in item.nodeid and "[ducklake-" in item.nodeid
        if "postgres" in getattr(item, "fixturenames", ()) or lake_factory:
            item.add_marker(pytest.mark.lake)
