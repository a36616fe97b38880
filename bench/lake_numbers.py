"""What taking execution numbers in the lake's catalog adds to an execute (issue 14,
storage/ducklake/catalog.py `take_execution_numbers`): one `serve` node on a lake whose catalog
is a local, durable PostgreSQL; `--calls` executes of one workflow, one after the other, timed
at the client (the 202), and as many catalog takes alone, timed in a process of its own (a
second node), alternating with the executes. Prints the median and p90 of each; then
`--burst` executes sent at once (16 client threads), and how long until every one was answered.

    .venv/lake/bin/python -m bench.lake_numbers [--calls 40] [--burst 80]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flowscope.storage.ducklake.store import LakeStore

from tests.api.client import Api
from tests.api.workflows import SEQUENCE
from tests.support.postgres import start_postgres
from tests.support.server import start_server


def _summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[int(len(ms) * 0.9) - 1]
    return f"{name}: median {statistics.median(ms):.1f} ms, p90 {p90:.1f} ms (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--burst", type=int, default=80)
    args = parser.parse_args()
    pg = start_postgres(durable=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = "ducklake:postgres:" + pg.create_database("numbers")
            data = Path(tmp) / "lake-data"
            server = start_server(Path(tmp) / "node", "--store", url, "--data-path", str(data))
            try:
                api = Api(server.api)
                wf = api.create_workflow(SEQUENCE)["id"]
                other = api.create_workflow({**SEQUENCE, "name": "other"})
                store = LakeStore(url, data)
                try:
                    for _ in range(5):  # warm both
                        api.execute(wf)
                        store.catalog.take_execution_numbers(other["workspace_id"], other["id"], 1)
                    executes, takes = [], []
                    for _ in range(args.calls):
                        started = time.perf_counter()
                        api.execute(wf)
                        executes.append(time.perf_counter() - started)
                        started = time.perf_counter()
                        store.catalog.take_execution_numbers(other["workspace_id"], other["id"], 1)
                        takes.append(time.perf_counter() - started)
                finally:
                    store.close()
                print(_summary("execute (202 at the client)", executes))
                print(_summary("catalog take alone", takes))
                with ThreadPoolExecutor(16) as pool:
                    started = time.perf_counter()
                    numbers = list(pool.map(lambda _: api.execute(wf)["execution_number"], range(args.burst)))
                    elapsed = time.perf_counter() - started
                assert len(set(numbers)) == args.burst
                print(f"burst of {args.burst}: {elapsed:.2f} s, {args.burst / elapsed:.0f} executes/s")
            finally:
                server.terminate()
    finally:
        pg.remove()


if __name__ == "__main__":
    main()
