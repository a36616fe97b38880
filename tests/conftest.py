from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
    store's catalog: tests/support/postgres.py); skips when PostgreSQL is not installed."""
    try:
        pg = start_postgres()
    except PostgresMissing as exc:
        pytest.skip(str(exc))
    yield pg
    pg.stop()
