from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server import RunningServer, start_server

ServerFactory = Callable[..., RunningServer]


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start `flowscope serve` (ports 0) with extra flags/env; every server is stopped at teardown."""
    started: list[RunningServer] = []

    def make(*args: str, db: Path | None = None, env: dict[str, str] | None = None) -> RunningServer:
        srv = start_server(db or tmp_path / "flowscope.duckdb", *args, env=env)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        if srv.process.poll() is None:
            srv.kill()
