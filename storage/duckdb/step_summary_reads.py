"""Step metrics from the per-step summaries (step_summaries.py) and the spans they leave out.

A window [since, until) is read in two parts, in one read transaction: its whole UTC days
that are summarized from their summary rows (the workflow's rollup, or
queries/step_metrics_summaries.sql), everything else (the partial days at its edges, days not
sealed yet, stale days, step spans naming no workflow) from the spans, made into summary rows
by the same definition (queries/step_metrics_spans.sql).
The rows are merged per step here. Counts, sums, averages and maxima are exact; p50/p95
are read from the merged duration histograms (within 1%, relative; see the migration). The
file store keeps a workflow's summary state and rollup (summary_cache.py) and its current
day's step runs (day_cache.py) between reads.
The total duration of the workflow's finished executions begun in the window (a step's
share of execution time divides by it) is its rollup's (migrations/009_workflow_time_rollups.sql)
plus the executions begun outside the days it covers, when the window holds those days and
none is stale; else it is read from the executions over the whole window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from flowscope.storage.duckdb.began import UNBOUNDED_NS, began_in
from flowscope.storage.duckdb.day_cache import DayCache, Entry, cut_for
from flowscope.storage.duckdb.sqlfiles import sql
from flowscope.storage.duckdb.step_summaries import DAY_NS, today
from flowscope.storage.duckdb.summary_cache import Entry as SummaryEntry
from flowscope.storage.duckdb.summary_cache import SummaryCache
from flowscope.storage.workflow_metrics import StepTotals


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


@dataclass(frozen=True, slots=True)
class Caches:
    """The file store's caches of the step metrics reads, with what the read's snapshot holds
    of the changes each tracks (both noted before the snapshot began)."""

    day: DayCache
    held: int  # DayCache.committed()
    summaries: SummaryCache[SummaryState]
    generation: int  # SummaryChanges.note()


def read_step_totals(
    cursor: duckdb.DuckDBPyConnection, workspace_id: str, workflow_id: str, since_ns: int, until_ns: int,
    caches: Caches | None = None,
) -> list[StepTotals]:  # fmt: skip
    """The reads, in the caller's read transaction, merged; with `caches`, the summary state
    and the rollup, and the first day not summarized, mostly from them."""
    window = {"workspace_id": workspace_id, "workflow_id": workflow_id, "since": since_ns, "until": until_ns}
    first, last = whole_days(since_ns, until_ns)
    if min(last, today()) <= first:  # no day the summaries may hold: one scan (exact quantiles)
        return _scan(cursor, window)
    workflow = {"workspace_id": workspace_id, "workflow_id": workflow_id}
    entry = _kept(caches, workspace_id, workflow_id, first, last)
    total = None  # workflow_time's, read early when the state is kept
    if entry is not None:
        state = entry.state
        rollup = entry.rollup if _holds_rollup(state, first, last) else None
        unnamed, total = _unnamed_and_time(cursor, window, state, (first, last))
    else:
        state, unnamed = _first_read(cursor, window)
        rollup = read_rollup(cursor, workflow) if _holds_rollup(state, first, last) else None
        if caches is not None:
            caches.summaries.put((workspace_id, workflow_id), SummaryEntry(caches.generation, state, rollup))
    parts = []
    if rollup is not None:  # the window holds it
        # Its rollup merges every summary row of the workflow: all days after retention's
        # cutoff sealed before `until_day`, and the day being summarized when its part is done.
        rolled_last = state.rolled[1]
        assert rolled_last is not None  # (_holds_rollup)
        days = [(max(first, state.floor_day + 1), min(last, max(state.until_day, rolled_last + 1)))]
        parts.append(rollup)
    else:
        days = summarized_days(max(first, state.floor_day + 1), last, state.until_day, state.stale)
        if days and state.rolled[0] is not None:  # else the workflow has no summary row
            params = workflow | {"first_day": days[0][0], "last_day": days[-1][1], "stale_days": state.stale}
            parts.append(cursor.sql(sql("queries/step_metrics_summaries"), params=params).to_arrow_table())
    ranges = span_ranges(since_ns, until_ns, days)
    if caches is not None and ranges and ranges[-1][0] == state.until_day * DAY_NS:
        ranges, kept = _current_day(cursor, caches.day, caches.held, workflow, ranges)
        if kept.num_rows:
            parts.append(kept)
    if ranges or unnamed:
        condition = " OR ".join(f"(start_ns >= {lo} AND start_ns < {hi})" for lo, hi in ranges) or "false"
        params = window if unnamed else workflow  # DuckDB refuses parameters a statement lacks
        spans = _table(cursor, _spans_statement(condition, unnamed), params)
        if spans.num_rows:
            parts.append(span_rows(spans))
    if not parts:
        return []
    if entry is None:
        total = workflow_time(cursor, window, (first, last), state.time, state.stale)
    return merge(parts, total)


def _holds_rollup(state: SummaryState, first: int, last: int) -> bool:
    """Whether the window of whole days [first, last) is read from the workflow's rollup."""
    rolled_first, rolled_last = state.rolled
    return (
        rolled_first is not None and rolled_last is not None and not state.stale
        and first <= rolled_first and rolled_last < last
    )  # fmt: skip


def _kept(
    caches: Caches | None, workspace_id: str, workflow_id: str, first: int, last: int
) -> SummaryEntry | None:
    """The kept summary state (and rollup, when the window of whole days [first, last) reads
    it), if still right for this read's snapshot (summary_cache.py): the state and the rollup
    then come from one snapshot, the rest from this one."""
    if caches is None:
        return None
    entry = caches.summaries.get((workspace_id, workflow_id), caches.generation)
    if entry is None:
        return None
    if entry.rollup is None and _holds_rollup(entry.state, first, last):
        return None  # read both again, in this snapshot
    return entry


def _current_day(
    cursor: duckdb.DuckDBPyConnection, cache: DayCache, held: int, workflow: dict[str, str],
    ranges: list[tuple[int, int]],
) -> tuple[list[tuple[int, int]], pa.Table]:  # fmt: skip
    """The last of `ranges` begins the first day not summarized: its step runs up to the
    cache entry's cut (built now if missing or stale), and the ranges left to read from spans."""
    lo, hi = ranges[-1]
    key = (workflow["workspace_id"], workflow["workflow_id"], lo)
    entry = cache.get(key, hi)
    if entry is None:
        cut = cut_for(lo, hi)
        if cut is None:
            return ranges, _EMPTY
        statement = _spans_statement(f"(start_ns >= {int(lo)} AND start_ns < {int(cut)})", False)
        spans = _table(cursor, statement, workflow)
        entry = Entry(cut, held, combined([span_rows(spans)]) if spans.num_rows else _EMPTY)
        cache.put(key, entry)
    return [*ranges[:-1], *([(entry.cut_ns, hi)] if entry.cut_ns < hi else [])], entry.rows


@dataclass(frozen=True, slots=True)
class SummaryState:
    """step_metrics_state.sql's answer: the same for every window of a workflow."""

    until_day: int  # the first unsealed day (a very small number when none is sealed yet)
    floor_day: int  # retention's cutoff day (likewise)
    time: tuple[tuple[int, int], float | None] | None  # the executions total: its days, seconds
    stale: list[int]
    rolled: tuple[int | None, int | None]  # the first and last day of the rollup


_NO_DAY = -(2**31)
# The state and the window's step spans naming no workflow, in one statement when not kept.
_FIRST_READ = "\nUNION ALL BY NAME\n".join(sql(f"queries/step_metrics_{p}") for p in ("state", "unnamed"))


_STATE_READ = sql("queries/step_metrics_state")


def _first_read(
    cursor: duckdb.DuckDBPyConnection, window: dict[str, Any], statement: str = _FIRST_READ
) -> tuple[SummaryState, bool]:
    """The summary state, and whether the window holds step spans naming no workflow (when
    `statement` reads that: _FIRST_READ)."""
    got: dict[str, list[tuple[Any, ...]]] = {}
    params = window if statement == _FIRST_READ else {k: window[k] for k in ("workspace_id", "workflow_id")}
    for part, *values in cursor.execute(statement, params).fetchall():
        got.setdefault(part, []).append(tuple(values))
    [(until_day, floor_day, _)] = got["sealed"]
    [(from_day, to_day, seconds)] = got.get("time", [(None, None, None)])
    [(rolled_first, rolled_last, _)] = got["rolled"]
    state = SummaryState(
        until_day=_NO_DAY if until_day is None else until_day,
        floor_day=_NO_DAY if floor_day is None else floor_day,
        time=((from_day, to_day), seconds) if "time" in got else None,
        stale=[day for day, *_ in got.get("stale", [])],
        rolled=(rolled_first, rolled_last),
    )
    return state, "unnamed" in got


def workflow_time(
    cursor: duckdb.DuckDBPyConnection,
    window: dict[str, Any],
    whole: tuple[int, int],
    rolled: tuple[tuple[int, int], float | None] | None,
    stale: Sequence[int],
) -> float | None:
    """The total duration of the workflow's finished executions begun in the window (None when
    none has one): the rollup's total ((from_day, until_day), that total) over its days, when
    the window's `whole` days hold them and none is stale, plus the executions begun outside
    them; else all from the executions."""
    ranges, total = _time_split(window, whole, rolled, stale)
    if not ranges:
        return total
    workflow = {k: window[k] for k in ("workspace_id", "workflow_id")}
    [(_, outside)] = cursor.execute(_time_statement(ranges), workflow).fetchall()
    return _plus(total, outside)


def _time_split(
    window: dict[str, Any],
    whole: tuple[int, int],
    rolled: tuple[tuple[int, int], float | None] | None,
    stale: Sequence[int],
) -> tuple[list[tuple[int, int]], float | None]:
    """workflow_time's parts: the ranges read from the executions, and the rollup's total."""
    days = _rolled_days(whole, rolled, stale)
    if days is None or rolled is None:
        return [(window["since"], window["until"])], None
    return span_ranges(window["since"], window["until"], [days]), rolled[1]


def _rolled_days(
    whole: tuple[int, int], rolled: tuple[tuple[int, int], float | None] | None, stale: Sequence[int]
) -> tuple[int, int] | None:
    """The days [from, until) of the workflow's finished executions' rollups (the total, the
    durations) when a window of whole days `whole` holds them and none of them is stale."""
    if rolled is None:
        return None
    from_day, to_day = rolled[0]
    if whole[0] <= from_day < to_day <= whole[1] and not any(from_day <= d < to_day for d in stale):
        return from_day, to_day
    return None


def finished_executions(
    cursor: duckdb.DuckDBPyConnection, workspace_id: str, workflow_id: str, since_ns: int, until_ns: int,
    caches: Caches | None,
) -> str:  # fmt: skip
    """SQL: the workflow's finished executions begun in [since_ns, until_ns), as rows (status,
    duration_seconds) with parameters $workspace_id and $workflow_id, in the caller's read
    transaction. From its durations rollup (migrations/011_workflow_duration_rollups.sql) plus
    the executions begun outside the days it covers when the window holds those days and none
    is stale (as workflow_time), else from the executions. Only where the summary state is kept
    (`caches`: the file store): elsewhere learning it costs a statement, and a lake's executions
    are sorted by workflow already (lake migration 004)."""
    window = {"workspace_id": workspace_id, "workflow_id": workflow_id, "since": since_ns, "until": until_ns}
    if caches is None:
        return _finished_statement("workflow_finished", [(since_ns, until_ns)])
    entry = caches.summaries.get((workspace_id, workflow_id), caches.generation)
    state = entry.state if entry is not None else _first_read(cursor, window, _STATE_READ)[0]
    days = _rolled_days(whole_days(since_ns, until_ns), state.time, state.stale)
    if days is None:
        return _finished_statement("workflow_finished", [(since_ns, until_ns)])
    return _finished_statement("workflow_finished_rolled", span_ranges(since_ns, until_ns, [days]))


def _finished_statement(name: str, ranges: Sequence[tuple[int, int]]) -> str:
    return sql(f"queries/{name}").replace("{ranges}", began_in(ranges) if ranges else "false")


def _time_statement(ranges: Sequence[tuple[int, int]]) -> str:
    return sql("queries/step_metrics_workflow_time").replace("{ranges}", began_in(ranges))


def _plus(total: float | None, outside: float | None) -> float | None:
    if outside is None or total is None:
        return total if outside is None else outside
    return total + outside


def _unnamed_and_time(
    cursor: duckdb.DuckDBPyConnection, window: dict[str, Any], state: SummaryState, whole: tuple[int, int]
) -> tuple[bool, float | None]:
    """With the state kept: whether the window holds step spans naming no workflow, and
    workflow_time, in one statement (each statement costs ~0.4 ms before it reads anything)."""
    ranges, total = _time_split(window, whole, state.time, state.stale)
    statement = sql("queries/step_metrics_unnamed")
    params = {k: window[k] for k in ("workspace_id", "since", "until")}  # DuckDB refuses others
    if ranges:
        statement += "\nUNION ALL BY NAME\n" + _time_statement(ranges)
        params = window
    # Rows (part, seconds), or (part) alone when no range is read.
    got = {row[0]: row[-1] for row in cursor.execute(statement, params).fetchall()}
    return "unnamed" in got, _plus(total, got.get("time"))


def read_rollup(cursor: duckdb.DuckDBPyConnection, workflow: dict[str, str]) -> pa.Table:
    """The workflow's rollup rows as summary rows (ROW_SCHEMA)."""
    rows = _table(cursor, sql("queries/step_metrics_rollups"), workflow)
    buckets = cursor.execute(sql("queries/step_metrics_rollup_buckets"), workflow).fetchnumpy()
    return rollup_rows(rows, buckets)


def _table(cursor: duckdb.DuckDBPyConnection, statement: str, params: dict[str, Any]) -> pa.Table:
    """A statement's answer (of flat columns) as Arrow, through numpy arrays: `cursor.sql()`
    plans a statement twice (to describe its relation, then to run it), ~1 ms more for these
    small answers, and `execute()`'s own Arrow output copies the rows once more."""
    return pa.table({k: _array(v) for k, v in cursor.execute(statement, params).fetchnumpy().items()})


def _array(values: npt.NDArray[Any]) -> pa.Array:
    """A numpy column (masked where NULL) as Arrow; its strings (object arrays) typed, not
    inferred (span_rows says why)."""
    return pa.array(values, pa.string()) if values.dtype == object else pa.array(values)


def rollup_rows(rows: pa.Table, buckets: dict[str, npt.NDArray[Any]]) -> pa.Table:
    """Rollup rows (step_metrics_rollups.sql) as summary rows (ROW_SCHEMA): their buckets
    (step_metrics_rollup_buckets.sql, kept in a table of their own) made into each row's
    histogram, in bucket order."""
    step_ids = pa.array(buckets["step_id"], type=pa.string())
    index = pc.index_in(step_ids, value_set=rows.column("step_id").cast(pa.string()), skip_nulls=False)
    row_of = index.to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.lexsort((buckets["b"], row_of))  # each row's buckets together, in bucket order
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row_of, minlength=rows.num_rows))]).astype(np.int32)
    fields = [pa.array(np.asarray(buckets[k])[order]) for k in ("b", "n", "s")]
    histograms = pa.ListArray.from_arrays(
        pa.array(offsets), pa.StructArray.from_arrays(fields, names=["b", "n", "s"])
    )
    return rows.append_column("histogram", histograms).cast(ROW_SCHEMA)


ROW_SCHEMA = pa.schema([
    ("step_id", pa.string()), ("runs", pa.int64()), ("completed", pa.int64()), ("failed", pa.int64()),
    ("skipped", pa.int64()), ("cancelled", pa.int64()), ("retries", pa.int64()),
    ("runs_with_retries", pa.int64()), ("ran", pa.int64()), ("ran_ns", pa.float64()),
    ("ran_max_ns", pa.int64()), ("total_ns", pa.float64()), ("first_start_ns", pa.uint64()),
    ("last_start_ns", pa.uint64()), ("last_name", pa.string()),
    ("histogram", pa.list_(pa.struct([("b", pa.int16()), ("n", pa.int64()), ("s", pa.float64())]))),
])  # fmt: skip
"""A summary row (queries/step_metrics_summaries.sql)."""
_EMPTY = ROW_SCHEMA.empty_table()

_LN_BUCKET = math.log(1.01)


def buckets(durations: npt.NDArray[np.int64]) -> npt.NDArray[np.int16]:
    """The histogram bucket of each duration (as the migration's step_duration_bucket)."""
    positive = durations > 0
    out = np.full(durations.shape, -1, dtype=np.int16)
    out[positive] = np.floor(np.log(durations[positive]) / _LN_BUCKET).astype(np.int16)
    return out


def span_rows(spans: pa.Table) -> pa.Table:
    """One summary row per step span (queries/step_metrics_spans.sql), vectorized: the spans
    of a window's edges and unsealed days can be tens of thousands."""
    status = spans.column("step_status")
    # Typed scalars: with a Python value pyarrow infers its type, and its inference tries to
    # import dateutil each time (a failed import where it is missing, ~0.2-0.4 ms a call).
    counts = {k: pc.coalesce(pc.equal(status, _text(k)), _FALSE).cast(pa.int64()) for k in _STATUSES}
    retries = pc.fill_null(spans.column("retry_count"), 0).to_numpy().astype(np.int64)
    duration = pc.fill_null(spans.column("duration_ns"), 0).to_numpy().astype(np.int64)
    ran = (counts["completed"].to_numpy() + counts["failed"].to_numpy()).astype(bool)
    offsets = np.concatenate([[0], np.cumsum(ran)]).astype(np.int32)
    entries = pa.StructArray.from_arrays(
        [pa.array(buckets(duration[ran])), pa.array(np.ones(int(ran.sum()), np.int64)),
         pa.array(duration[ran].astype(np.float64))],
        fields=list(ROW_SCHEMA.field("histogram").type.value_type),
    )  # fmt: skip
    columns = {
        "step_id": spans.column("step_id"),
        "runs": pa.array(np.ones(spans.num_rows, np.int64)),
        **counts,
        "retries": pa.array(retries),
        "runs_with_retries": pa.array((retries > 0).astype(np.int64)),
        "ran": pa.array(ran.astype(np.int64)),
        "ran_ns": pa.array(np.where(ran, duration, 0).astype(np.float64)),
        "ran_max_ns": pa.array(duration, mask=~ran),
        "total_ns": pa.array(duration.astype(np.float64)),
        "first_start_ns": spans.column("start_ns"),
        "last_start_ns": spans.column("start_ns"),
        "last_name": spans.column("name"),
        "histogram": pa.ListArray.from_arrays(pa.array(offsets), entries),
    }
    return pa.table({f.name: columns[f.name] for f in ROW_SCHEMA}).cast(ROW_SCHEMA)


def merge(parts: list[pa.Table], workflow_time: float | None) -> list[StepTotals]:
    """Merge summary rows per step (pyarrow's group-by; histograms with numpy), ordered by
    each step's first start, then id."""
    if not parts:
        return []
    steps, histograms = _grouped(parts)
    out = []
    for i, step in enumerate(steps.to_pylist()):
        ran = step["ran_sum"]
        p50, p95 = quantiles(*histograms.get(i, (_NONE, _NONE, _NONE))[1:], (0.5, 0.95))
        out.append((
            step["first_start_ns_min"], step["step_id"] or "",
            StepTotals(
                step_id=step["step_id"],
                step_name=step["last_name_last"],
                runs=step["runs_sum"],
                completed=step["completed_sum"],
                failed=step["failed_sum"],
                skipped=step["skipped_sum"],
                cancelled=step["cancelled_sum"],
                retries=step["retries_sum"],
                runs_with_retries=step["runs_with_retries_sum"],
                average_duration_seconds=step["ran_ns_sum"] / ran / 1e9 if ran else None,
                p50_duration_seconds=_seconds(p50),
                p95_duration_seconds=_seconds(p95),
                max_duration_seconds=_seconds(step["ran_max_ns_max"]),
                time_in_step_seconds=step["total_ns_sum"] / 1e9,
                workflow_time_seconds=workflow_time,
            ),
        ))  # fmt: skip
    return [totals for *_, totals in sorted(out, key=lambda t: (t[0], t[1]))]


def _spans_statement(ranges: str, unnamed: bool) -> str:
    """step_metrics_spans.sql for these ranges (SQL) and, or not, the steps naming no workflow:
    without them, its first part alone (the second's `false AND ...` still cost 1-2 ms at 10M
    spans: its semi join on the executions was planned and started)."""
    statement = sql("queries/step_metrics_spans").replace("{ranges}", ranges)
    if not unnamed:
        return statement.split("\nUNION ALL\n")[0]
    return statement.replace("{unnamed}", "true")


_SCAN = sql("queries/step_metrics_scan").replace(
    "{step_spans}", _spans_statement("start_ns >= $since AND start_ns < $until", True)
)


def _scan(cursor: duckdb.DuckDBPyConnection, window: dict[str, Any]) -> list[StepTotals]:
    out = []
    for row in cursor.execute(_SCAN, window).fetchall():
        (step_id, name, runs, completed, failed, skipped, cancelled, retries, with_retries, avg_d, q,
         max_d, in_step, in_workflow) = row  # fmt: skip
        q = q or [None, None]
        out.append(
            StepTotals(
                step_id=step_id,
                step_name=name,
                runs=runs,
                completed=completed,
                failed=failed,
                skipped=skipped,
                cancelled=cancelled,
                retries=int(retries or 0),
                runs_with_retries=with_retries,
                average_duration_seconds=avg_d,
                p50_duration_seconds=_seconds(q[0]),
                p95_duration_seconds=_seconds(q[1]),
                max_duration_seconds=max_d,
                time_in_step_seconds=in_step,
                workflow_time_seconds=in_workflow,
            )
        )
    return out


def _seconds(ns: float | None) -> float | None:
    return ns / 1e9 if ns is not None else None


_STATUSES = ("completed", "failed", "skipped", "cancelled")
_FALSE = pa.scalar(False, pa.bool_())


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.string())


_SUMS = (
    "runs", "completed", "failed", "skipped", "cancelled", "retries", "runs_with_retries",
    "ran", "ran_ns", "total_ns",
)  # fmt: skip
_BUCKETS = 1 << 13  # bucket numbers run from -1 (d <= 0) to 4389 (d = 2**63 ns)
_NONE = np.zeros(0)
# A step's histogram: its used buckets' numbers, counts and sums, in bucket order.
_Histogram = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _grouped(parts: list[pa.Table]) -> tuple[pa.Table, dict[int, _Histogram]]:
    """Summary rows grouped per step: the group-by's table (columns named `<column>_<aggregate>`)
    and, by its row index, the step's histogram (`_histograms`)."""
    rows = pa.concat_tables([p.cast(ROW_SCHEMA) for p in parts]).sort_by("last_start_ns")
    steps = rows.select([c for c in ROW_SCHEMA.names if c != "histogram"]).group_by(
        "step_id", use_threads=False  # in order: the last name is the one of the run started last
    ).aggregate([
        *((k, "sum") for k in _SUMS), ("ran_max_ns", "max"), ("first_start_ns", "min"),
        ("last_start_ns", "max"), ("last_name", "last"),
    ])  # fmt: skip
    index = pc.index_in(rows.column("step_id"), value_set=steps.column("step_id"), skip_nulls=False)
    step_of_row = index.to_numpy(zero_copy_only=False).astype(np.int64)
    return steps, _histograms(rows.column("histogram"), step_of_row, steps.num_rows)


def combined(parts: list[pa.Table]) -> pa.Table:
    """Summary rows merged into one per step, still summary rows (ROW_SCHEMA): what
    day_cache.py keeps of a day's step runs."""
    steps, histograms = _grouped(parts)
    lengths = [len(histograms.get(i, (_NONE,))[0]) for i in range(steps.num_rows)]
    found = [histograms[i] for i in range(steps.num_rows) if i in histograms]
    b, n, s = (np.concatenate([h[k] for h in found]) if found else _NONE for k in range(3))
    entries = pa.StructArray.from_arrays(
        [pa.array(b.astype(np.int16)), pa.array(n.astype(np.int64)), pa.array(s.astype(np.float64))],
        fields=list(ROW_SCHEMA.field("histogram").type.value_type),
    )
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    columns = {
        "step_id": steps.column("step_id"),
        **{k: steps.column(f"{k}_sum") for k in _SUMS},
        "ran_max_ns": steps.column("ran_max_ns_max"),
        "first_start_ns": steps.column("first_start_ns_min"),
        "last_start_ns": steps.column("last_start_ns_max"),
        "last_name": steps.column("last_name_last"),
        "histogram": pa.ListArray.from_arrays(offsets, entries),
    }
    return pa.table({f.name: columns[f.name] for f in ROW_SCHEMA}).cast(ROW_SCHEMA)


def _histograms(
    column: pa.ChunkedArray, step_of_row: npt.NDArray[np.int64], steps: int
) -> dict[int, _Histogram]:
    """Per step (by index), the used buckets' numbers, counts and sums in bucket order, added
    up with numpy (dense per step: bincount, no sort): a hot workflow's window holds ~10^5
    entries."""
    lists = column.combine_chunks()
    entries = lists.flatten()
    lengths = np.diff(lists.offsets.to_numpy())
    slot = np.repeat(step_of_row, lengths) * _BUCKETS + entries.field("b").to_numpy().astype(np.int64) + 1
    if not slot.size:
        return {}
    size = steps * _BUCKETS
    counts = np.bincount(slot, weights=entries.field("n").to_numpy(), minlength=size)
    sums = np.bincount(slot, weights=entries.field("s").to_numpy(), minlength=size)
    out = {}
    for step in range(steps):
        used = np.flatnonzero(counts[step * _BUCKETS : (step + 1) * _BUCKETS]) + step * _BUCKETS
        if used.size:
            out[step] = ((used - step * _BUCKETS - 1).astype(np.float64), counts[used], sums[used])
    return out


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
