"""Per-step summaries (schema and definition: sql/migrations/006_step_summaries.sql).

The writer folds each batch's stored step spans into them in the spans' transaction;
`rebuild` recomputes them from the stored spans; retention trims them with the spans;
`quantiles` reads continuous percentiles from their duration histograms.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
from flowscope.storage.duckdb.sqlfiles import sql

DAY_NS = 86_400 * 10**9
_EVER = "0, 18446744073709551615"


def merged(rows: str) -> str:
    """The statement merging the step summary rows of the query `rows` per key."""
    return sql("ingest/merge_step_summaries").replace("{rows}", rows)


def fold_batch(con: duckdb.DuckDBPyConnection, spans: pa.Table) -> None:
    """Fold the step spans among `spans` (the spans this transaction inserts: duplicates
    already dropped) into the stored summaries."""
    con.register("step_spans", spans)
    try:
        batch = con.sql(f"SELECT * FROM step_summary_rows(step_spans, {_EVER})").to_arrow_table()
    finally:
        con.unregister("step_spans")
    if not batch.num_rows:
        return
    con.register("step_batch", batch)
    try:
        stored = con.sql(sql("ingest/take_step_summaries")).to_arrow_table()
        if not stored.num_rows:  # keys new to the table (a new day, step or workflow)
            con.execute("INSERT INTO step_summaries SELECT * FROM step_batch")
            return
        con.register("step_stored", stored)
        try:
            rows = "SELECT * FROM step_stored UNION ALL SELECT * FROM step_batch"
            con.execute(f"INSERT INTO step_summaries {merged(rows)}")
        finally:
            con.unregister("step_stored")
    finally:
        con.unregister("step_batch")


def rebuild(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute every summary row from the stored spans (inside the caller's transaction);
    returns how many rows there are."""
    con.execute("DELETE FROM step_summaries")
    con.execute(f"INSERT INTO step_summaries SELECT * FROM step_summary_rows(spans, {_EVER})")
    (count,) = con.execute("SELECT count(*) FROM step_summaries").fetchone()  # type: ignore[misc]
    return int(count)


def retain(con: duckdb.DuckDBPyConnection, cutoff_ns: int) -> None:
    """After retention deleted the spans started before `cutoff_ns` (same transaction): drop
    the rows of the days before, and recompute the cutoff's day from its remaining spans."""
    day = max(cutoff_ns, 0) // DAY_NS
    con.execute("DELETE FROM step_summaries WHERE day <= ?", [day])
    con.execute(
        "INSERT INTO step_summaries SELECT * FROM step_summary_rows(spans, ?::UBIGINT, ?::UBIGINT)",
        [day * DAY_NS, (day + 1) * DAY_NS],
    )


def quantiles(histogram: Sequence[dict[str, Any]], ps: Sequence[float]) -> list[float | None]:
    """Continuous percentiles (as DuckDB's quantile_cont: interpolated between the order
    statistics around p * (n - 1)) of the durations in `histogram` (ordered buckets of
    {b, n, s}), each order statistic read as the mean of its bucket; None when empty."""
    ends: list[int] = []
    total = 0
    for bucket in histogram:
        total += bucket["n"]
        ends.append(total)
    if not total:
        return [None for _ in ps]

    def nth(k: int) -> float:
        bucket = histogram[bisect_right(ends, k)]
        return float(bucket["s"]) / bucket["n"]

    out: list[float | None] = []
    for p in ps:
        position = p * (total - 1)
        low = math.floor(position)
        low_value = nth(low)
        out.append(low_value + (position - low) * (nth(math.ceil(position)) - low_value))
    return out
