"""Keeps each recently run workflow's step metrics ready (the file store, on a node serving
the API).

A step metrics read that finds its workflow's caches (summary_cache.py, day_cache.py) costs
~10 ms at 10M spans; one that builds them, ~35 ms (the summary state, the rollup and the
current day's step runs, read and summarized). Without this, the first read of a workflow
after a start, after the summaries changed, or every 20 minutes (day_cache.REBUILD_AFTER_NS)
pays that. So a background pass, at start and then every `WARM_INTERVAL_SECONDS`, reads the
step metrics of the workflows run in the last day whose caches are missing or would be built
again before the next pass, through the same read as the API's. After each workflow it
waits `YIELD` times as long as the read took, so that it takes a small share of the CPU from
the requests (at 10M spans, 100 workflows are made ready in ~15 s after a start).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from flowscope.storage.duckdb.day_cache import REBUILD_AFTER_NS
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.duckdb.step_summaries import DAY_NS
from flowscope.storage.duckdb.step_summary_reads import UNBOUNDED_NS
from flowscope.storage.duckdb.summary_cache import ENTRIES

if TYPE_CHECKING:
    from flowscope.storage.duckdb.store import Store

log = logging.getLogger(__name__)

WARM_INTERVAL_SECONDS = 60.0
FIRST_PASS_DELAY_SECONDS = 1.0  # after the store starts
YIELD = 3.0


def due(store: Store, workspace_id: str, workflow_id: str, within_ns: int) -> bool:
    """Whether a read of the workflow's step metrics would build a cache entry now or within
    `within_ns`."""
    assert store.day_cache is not None
    kept = store.summary_cache.get((workspace_id, workflow_id), store.summary_cache.changes.note())
    if kept is None:
        return True
    day_start = kept.state.until_day * DAY_NS
    entry = store.day_cache.get((workspace_id, workflow_id, day_start), UNBOUNDED_NS)
    return entry is None or time.time_ns() + within_ns - entry.cut_ns > REBUILD_AFTER_NS


def warm(store: Store, stop: threading.Event, interval_ns: int) -> int:
    """One pass: the step metrics of the workflows run in the last day (the most recent first,
    as many as the caches keep) that are due; returns how many were read."""
    since = time.time_ns() - DAY_NS
    params = {"since": since, "limit": ENTRIES}
    workflows = store.cursor().execute(sql("queries/step_metrics_warm"), params).fetchall()
    read = 0
    started = time.perf_counter()
    for workspace_id, workflow_id in workflows:
        if stop.is_set():
            break
        if not due(store, workspace_id, workflow_id, interval_ns):
            continue
        began = time.perf_counter()
        store.workflow_metrics.step_totals(workspace_id, workflow_id, 0, UNBOUNDED_NS)
        read += 1
        stop.wait(YIELD * (time.perf_counter() - began))
    if read:
        log.info("step metrics of %d workflows made ready in %.1f s", read, time.perf_counter() - started)
    return read


def start(store: Store, stop: threading.Event, interval_seconds: float = WARM_INTERVAL_SECONDS) -> None:
    """Run `warm` in a thread of its own until `stop` is set (nothing when the store keeps no
    caches: a lake node)."""
    if store.day_cache is None:
        return

    def loop() -> None:
        delay = FIRST_PASS_DELAY_SECONDS
        while not stop.wait(delay):
            delay = interval_seconds
            try:
                warm(store, stop, int(interval_seconds * 1e9))
            except Exception as exc:  # the next pass tries again; reads build what they miss
                if not stop.is_set():
                    log.warning("keeping step metrics ready failed (tried again in %g s): %s", delay, exc)

    threading.Thread(target=loop, name="flowscope-step-warming", daemon=True).start()
