"""Step metrics from the per-step summaries (step_summaries.py) and the spans they leave out.

A window [since, until) is read in two parts, in one read transaction: its whole UTC days
that are summarized from their summary rows (queries/step_metrics.sql), everything else (the
partial days at its edges, days not sealed yet, stale days, step spans naming no workflow)
from the spans, made into summary rows by the same definition (queries/step_metrics_spans.sql).
The rows are merged per step here. Counts, sums, averages and maxima are exact; p50/p95
are read from the merged duration histograms (within 1%, relative; see the migration).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.duckdb.step_summaries import DAY_NS
from flowscope.storage.workflow_metrics import StepTotals

UNBOUNDED_NS = 2**63 - 1  # the readers' "no upper bound"


def whole_days(since_ns: int, until_ns: int) -> tuple[int, int]:
    """[first_day, last_day): the UTC days wholly inside [since_ns, until_ns) (empty when
    first >= last). An unbounded window's last day is whole."""
    first = -(-since_ns // DAY_NS)
    last = until_ns // DAY_NS + 1 if until_ns >= UNBOUNDED_NS else until_ns // DAY_NS
    return first, max(first, last)


def span_ranges(since_ns: int, until_ns: int, summarized: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [since_ns, until_ns) outside the `summarized` day ranges ([first, last)
    in days, ordered, disjoint, inside the window), as [lo, hi) in ns."""
    out = []
    at = since_ns
    for first, last in summarized:
        if first * DAY_NS > at:
            out.append((at, first * DAY_NS))
        at = last * DAY_NS
    if until_ns > at:
        out.append((at, until_ns))
    return out


def summarized_days(first: int, last: int, until_day: int, stale: Sequence[int]) -> list[tuple[int, int]]:
    """The day ranges [first, min(last, until_day)) read from the summaries, less the stale days."""
    out = []
    at = first
    end = min(last, until_day)
    for day in sorted(d for d in stale if first <= d < end):
        if day > at:
            out.append((at, day))
        at = day + 1
    if end > at:
        out.append((at, end))
    return out


def read_step_totals(
    cursor: duckdb.DuckDBPyConnection, workspace_id: str, workflow_id: str, since_ns: int, until_ns: int
) -> list[StepTotals]:
    """Both reads, in the caller's read transaction, merged."""
    window = {"workspace_id": workspace_id, "workflow_id": workflow_id, "since": since_ns, "until": until_ns}
    first, last = whole_days(since_ns, until_ns)
    stored = cursor.sql(sql("queries/step_metrics"), params={**window, "first_day": first, "last_day": last})
    summary = stored.to_arrow_table()
    head = summary.slice(0, 1).to_pylist()[0]
    rows = [summary.drop_columns(["workflow_time", "until_day", "floor_day", "stale_days", "unnamed"])]
    rows[0] = rows[0].filter(pc.is_valid(rows[0].column("runs")))
    ranges = span_ranges(
        since_ns,
        until_ns,
        summarized_days(max(first, head["floor_day"] + 1), last, head["until_day"], head["stale_days"] or []),
    )
    if ranges or head["unnamed"]:
        condition = " OR ".join(f"(start_ns >= {lo} AND start_ns < {hi})" for lo, hi in ranges) or "false"
        statement = sql("queries/step_metrics_spans").replace("{ranges}", condition)
        statement = statement.replace("{unnamed}", "true" if head["unnamed"] else "false")
        rows.append(cursor.sql(statement, params=window).to_arrow_table())
    return merge(pa.concat_tables(rows, promote_options="permissive"), head["workflow_time"])


def merge(rows: pa.Table, workflow_time: float | None) -> list[StepTotals]:
    """Merge a window's summary rows per step, ordered by each step's first start, then id."""
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
            if row["ran_max_ns"] is not None and (
                step["ran_max_ns"] is None or row["ran_max_ns"] > step["ran_max_ns"]
            ):
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
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    if not total:
        return [None for _ in ps]

    def nth(k: int) -> float:
        i = int(np.searchsorted(ends, k, side="right"))
        return float(sums[i] / counts[i])

    out: list[float | None] = []
    for p in ps:
        position = p * (total - 1)
        low = math.floor(position)
        low_value = nth(low)
        out.append(low_value + (position - low) * (nth(math.ceil(position)) - low_value))
    return out
