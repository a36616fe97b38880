"""The span dedupe's Bloom filter (collector/seen.py): never a false negative, as it grows
past its capacity and after a rebuild; few false positives; ~4 bytes per key."""

from __future__ import annotations

import os

import duckdb
import numpy as np
from flowscope.collector.convert import span_key
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.seen import MIN_CAPACITY, SpanFilter


def _keys(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)


def test_no_false_negatives_while_growing_and_few_false_positives() -> None:
    seen = SpanFilter()
    added = _keys(3 * MIN_CAPACITY, seed=1)  # three times the first filter's capacity
    for batch in np.array_split(added, 700):  # commit-sized batches, as the writer adds them
        seen.add(batch)
    assert seen.may_contain(added).all()
    assert seen.keys == len(added)
    false_positive_rate = seen.may_contain(_keys(500_000, seed=2)).mean()
    assert false_positive_rate < 5e-4, false_positive_rate
    assert seen.nbytes <= 4 * 2 * len(added) + 4 * MIN_CAPACITY  # ~4 bytes a key, at most 2x room


def test_rebuild_from_stored_keys() -> None:
    seen = SpanFilter()
    seen.add(_keys(100_000, seed=3))
    stored = _keys(2_500_000, seed=4)
    seen.rebuild(stored)
    assert seen.keys == len(stored) and seen.may_contain(stored).all()
    assert seen.may_contain(_keys(200_000, seed=5)).mean() < 5e-4
    seen.rebuild(np.zeros(0, dtype=np.uint64))
    assert seen.keys == 0 and not seen.may_contain(stored[:1000]).any()


def test_stored_span_keys_match_incoming_ones() -> None:
    """The filter is built at start from SQL over stored ids and fed from Python for incoming
    spans: both must compute the same key, or a restarted server would miss duplicates."""
    ids = [(os.urandom(16), os.urandom(8)) for _ in range(200)] + [(b"\xff" * 16, b"\xff" * 8)]
    con = duckdb.connect()
    con.execute("CREATE TABLE spans (trace_id VARCHAR, span_id VARCHAR)")
    con.executemany("INSERT INTO spans VALUES (?, ?)", [[t.hex(), s.hex()] for t, s in ids])
    stored = [row[0] for row in con.execute(sql("ingest/span_keys")).fetchall()]
    assert stored == [span_key(t, s) for t, s in ids]
