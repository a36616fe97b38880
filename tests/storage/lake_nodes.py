"""Several nodes on one real lake, for the tests: `serve` processes (`Lake`), or two stores in
this process as two nodes have them (`two_stores`), and writes released together (`at_once`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flowscope.storage.ducklake.store import LakeStore

from tests.support.postgres import Postgres
from tests.support.server import RunningServer, start_server


class Lake:
    """Nodes on one lake, each with its own --db prefix (its trigger journal, its sandbox)."""

    def __init__(self, postgres: Postgres, tmp_path: Path, name: str, *args: str) -> None:
        self.args = (
            "--store", "ducklake:postgres:" + postgres.create_database(name),
            "--data-path", str(tmp_path / "lake-data"), *args,
        )  # fmt: skip
        self.tmp_path = tmp_path
        self.started: list[RunningServer] = []

    def node(self, name: str) -> RunningServer:
        server = start_server(self.tmp_path / name, *self.args)
        self.started.append(server)
        return server

    def close(self) -> None:
        for server in self.started:
            server.kill()


@contextlib.contextmanager
def two_stores(postgres: Postgres, tmp_path: Path, name: str) -> Iterator[tuple[LakeStore, LakeStore]]:
    """Two started stores on one new lake, closed after."""
    url = "ducklake:postgres:" + postgres.create_database(name)
    first = LakeStore(url, tmp_path / "lake-data")
    first.start()
    second = LakeStore(url, tmp_path / "lake-data")
    second.start()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def at_once(*writes: Callable[[], Any]) -> list[Any]:
    """Run `writes` on threads released together; each one's result, or the exception it raised."""
    start = threading.Barrier(len(writes))
    results: list[Any] = [None] * len(writes)

    def run(k: int) -> None:
        start.wait()
        try:
            results[k] = writes[k]()
        except Exception as exc:  # the result under test
            results[k] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(writes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
