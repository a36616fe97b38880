from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.client import Api
from tests.support.server import RunningServer, start_server

CORS_ORIGIN = "http://ui.example"


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One `flowscope serve` for the API tests that isolate themselves in their own workspace."""
    srv = start_server(tmp_path_factory.mktemp("api") / "flowscope.duckdb", "--cors-origin", CORS_ORIGIN)
    yield srv
    srv.terminate()


@pytest.fixture(scope="session")
def root(api_server: RunningServer) -> Api:
    """The server's default workspace (auth off)."""
    return Api(api_server.api)


@pytest.fixture
def ws(root: Api) -> Api:
    """A fresh workspace on the shared server."""
    return root.new_workspace()


@pytest.fixture
def db_path(api_server: RunningServer) -> Path:
    return api_server.db
