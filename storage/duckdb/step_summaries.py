"""Per-step summaries (schema and definition: sql/migrations/006_step_summaries.sql).

The writer folds each batch's stored step spans into them in the spans' transaction;
`rebuild` recomputes them from the stored spans; retention trims them with the spans;
`step_totals` merges a window's rows per step, with percentiles from their histograms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.workflow_metrics import StepTotals

DAY_NS = 86_400 * 10**9
_EVER = "0, 18446744073709551615"
# Rows of one workflow stored together: a read of its rows skips the other workflows' vectors.
_CLUSTERED = "ORDER BY workspace_id, workflow_id, step_id, day"


def merged(rows: str) -> str:
    """The statement merging the step summary rows of the query `rows` per key."""
    return sql("ingest/merge_step_summaries").replace("{rows}", rows)


UNBOUNDED_NS = 2**63 - 1  # the readers' "no upper bound"


def window_edges(since_ns: int, until_ns: int) -> dict[str, int]:
    """How the step metrics query splits [since_ns, until_ns): the whole UTC days
    [first_day, last_day) read from the summaries, the rest ([since_ns, head_until) and
    [tail_since, until_ns)) from the spans. Constants, so that the spans' zone maps skip
    everything outside the edges. An unbounded window has no tail (its last day is whole)."""
    first_day = -(-since_ns // DAY_NS)
    last_day = until_ns // DAY_NS + 1 if until_ns >= UNBOUNDED_NS else until_ns // DAY_NS
    if first_day >= last_day:  # no whole day: the window is all edge
        return {"first_day": 0, "last_day": 0, "head_until": until_ns, "tail_since": until_ns}
    return {
        "first_day": first_day, "last_day": last_day,
        "head_until": first_day * DAY_NS, "tail_since": min(last_day * DAY_NS, until_ns),
    }  # fmt: skip


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
    con.execute(f"INSERT INTO step_summaries SELECT * FROM step_summary_rows(spans, {_EVER}) {_CLUSTERED}")
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


def step_totals(rows: pa.Table, workflow_time: float | None) -> list[StepTotals]:
    """Merge the summary rows of one workflow's window (queries/step_metrics*.sql) per step,
    ordered by each step's first start, then step id."""
    if not rows.num_rows:
        return []
    steps: dict[str | None, dict[str, Any]] = {}
    step_of_row = []
    columns = [c for c in rows.column_names if c != "histogram"]
    for row in rows.select(columns).to_pylist():
        step = steps.get(row["step_id"])
        if step is None:
            step = steps[row["step_id"]] = {**row, "index": len(steps)}
        else:
            for key in _SUMS:
                step[key] += row[key]
            if step["ran_max_ns"] is None or (row["ran_max_ns"] or step["ran_max_ns"]) > step["ran_max_ns"]:
                step["ran_max_ns"] = row["ran_max_ns"]
            step["first_start_ns"] = min(step["first_start_ns"], row["first_start_ns"])
            if row["last_start_ns"] > step["last_start_ns"]:
                step["last_start_ns"], step["last_name"] = row["last_start_ns"], row["last_name"]
        step_of_row.append(step["index"])
    histograms = _histograms(rows.column("histogram"), np.array(step_of_row, dtype=np.int64))
    out = []
    for step in sorted(steps.values(), key=lambda s: (s["first_start_ns"], s["step_id"] or "")):
        ran = step["ran"]
        p50, p95 = quantiles(*histograms.get(step["index"], (_NONE, _NONE)), (0.5, 0.95))
        out.append(
            StepTotals(
                step_id=step["step_id"],
                step_name=step["last_name"],
                runs=step["runs"],
                completed=step["completed"],
                failed=step["failed"],
                skipped=step["skipped"],
                cancelled=step["cancelled"],
                retries=step["retries"],
                runs_with_retries=step["runs_with_retries"],
                average_duration_seconds=step["ran_ns"] / ran / 1e9 if ran else None,
                p50_duration_seconds=p50 / 1e9 if p50 is not None else None,
                p95_duration_seconds=p95 / 1e9 if p95 is not None else None,
                max_duration_seconds=step["ran_max_ns"] / 1e9 if step["ran_max_ns"] is not None else None,
                time_in_step_seconds=step["total_ns"] / 1e9,
                workflow_time_seconds=workflow_time,
            )
        )
    return out


_SUMS = (
    "runs", "completed", "failed", "skipped", "cancelled", "retries", "runs_with_retries",
    "ran", "ran_ns", "total_ns",
)  # fmt: skip
_BUCKETS = 1 << 13  # bucket numbers run from -1 (d <= 0) to 4389 (d = 2**63 ns)
_NONE = np.zeros(0)


def _histograms(
    column: pa.ChunkedArray, step_of_row: npt.NDArray[np.int64]
) -> dict[int, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """Per step (by index), the used buckets' counts and sums in bucket order, added up with
    numpy: the hot workflow's all-time histograms hold ~10^5 entries."""
    lists = column.combine_chunks()
    entries = lists.flatten()
    lengths = np.diff(lists.offsets.to_numpy())
    slot = np.repeat(step_of_row, lengths) * _BUCKETS + entries.field("b").to_numpy().astype(np.int64) + 1
    if not slot.size:
        return {}
    slots, inverse = np.unique(slot, return_inverse=True)
    counts = np.bincount(inverse, weights=entries.field("n").to_numpy())
    sums = np.bincount(inverse, weights=entries.field("s").to_numpy())
    steps = slots // _BUCKETS
    bounds = np.flatnonzero(np.diff(steps)) + 1
    return {
        int(part[0]): (c, s)
        for part, c, s in zip(
            np.split(steps, bounds), np.split(counts, bounds), np.split(sums, bounds), strict=True
        )
    }


def quantiles(
    counts: npt.NDArray[np.float64], sums: npt.NDArray[np.float64], ps: Sequence[float]
) -> list[float | None]:
    """Continuous percentiles (as DuckDB's quantile_cont: interpolated between the order
    statistics around p * (n - 1)) of the durations in a histogram (each used bucket's count
    and sum, in bucket order), each order statistic read as the mean of its bucket; None
    when empty."""
    n, s = counts, sums
    ends = np.cumsum(n)
    total = int(ends[-1]) if len(ends) else 0
    if not total:
        return [None for _ in ps]

    def nth(k: int) -> float:
        i = int(np.searchsorted(ends, k, side="right"))
        return float(s[i] / n[i])

    out: list[float | None] = []
    for p in ps:
        position = p * (total - 1)
        low = math.floor(position)
        low_value = nth(low)
        out.append(low_value + (position - low) * (nth(math.ceil(position)) - low_value))
    return out
