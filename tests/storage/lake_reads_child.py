"""A process of its own (the test may see it abort) that opens a real `LakeStore` and runs
transactions reading and adding a table's inlined rows on three threads, as a node's writer,
heartbeat and readers do, while its test ends the catalog's sessions
(tests/storage/test_lake_failures.py). Protocol on stdout/stdin:
`python -m tests.storage.lake_reads_child <lake url> <data path> <seconds>` prints
"provoked" once DuckLake threw its internal error (or "not provoked" after `seconds`), then
waits for a line on stdin (the sessions are no longer ended), then commits and reads once
more, closes the store and prints "closed" (exit 0)."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

import duckdb
from flowscope.storage.ducklake.store import LakeStore

INTERNAL_ERROR = "Attempted to access index 0 within vector of size 0"


def _loop(store: LakeStore, provoked: threading.Event, stop: threading.Event) -> None:
    cursor = store.cursor()
    while not stop.is_set():
        try:
            cursor.execute("BEGIN")
            cursor.execute("SELECT count(*), max(b) FROM probe WHERE a >= 0").fetchall()
            cursor.execute("INSERT INTO probe VALUES (1, 'w')")
            cursor.execute("COMMIT")
        except duckdb.Error as exc:
            if INTERNAL_ERROR in str(exc):
                provoked.set()
            with contextlib.suppress(duckdb.Error):  # the failed statement may have ended it
                cursor.execute("ROLLBACK")


def main(url: str, data_path: str, seconds: float) -> None:
    store = LakeStore(url, data_path)
    setup = store.cursor()
    setup.execute("CREATE TABLE IF NOT EXISTS probe (a INTEGER, b VARCHAR)")
    for i in range(10):  # commits of a few rows each: inlined into catalog rows
        setup.execute("INSERT INTO probe VALUES (?, 'x'), (?, 'y')", [i, -i])
    print("ready", flush=True)
    provoked, stop = threading.Event(), threading.Event()
    threads = [threading.Thread(target=_loop, args=(store, provoked, stop)) for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds
    while not provoked.wait(0.1) and time.monotonic() < deadline:
        pass
    stop.set()
    for t in threads:
        t.join()
    print("provoked" if provoked.is_set() else "not provoked", flush=True)
    sys.stdin.readline()  # the sessions are no longer ended
    after = store.cursor()
    after.execute("INSERT INTO probe VALUES (2, 'after')")
    print(after.execute("SELECT count(*) FROM probe WHERE b = 'after'").fetchall()[0][0], flush=True)
    store.close()
    print("closed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
