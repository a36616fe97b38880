"""Per-step summaries of sealed days, kept off the commit path (schema and definition:
sql/migrations/007_step_summaries.sql; the reads: step_summary_reads.py), and their
per-workflow rollups (sql/migrations/008_step_rollups.sql), rolled up again, a workflow
whole (from all its summary rows), in the transaction that changes its rows: a part of a day
summarized, stale days summarized again, retention, the rebuild. (Adding a sealed day's rows
to the rollups instead, by UPDATE ... FROM, measured no cheaper at 10M spans: the joins read
the bucket table whole, as rolling up does.)

A commit never writes a summary: each DuckDB statement costs a commit milliseconds, and the
writer is the ingest bottleneck. Instead the writer's maintenance (between commits, on its
thread) summarizes each UTC day once it is over, in runs of ~SPANS_PER_RUN step spans (a
day's workflows split by hash), so that ingest never waits long, also while it backfills an
older file. The one thing a commit does is `SealedDays.spans_stored`: in Python, whether any
of its spans started before the first unsealed day; only when step spans did (late runs,
rare) it marks those (workspace, workflow, day)s stale, once each, and readers take them
from the spans until the maintenance summarizes them again (STALE_WORKFLOWS_PER_RUN a run).
Likewise `SealedDays.executions_stored`: a finished execution row a commit changes, begun on
such a day (one that ran over midnight and ended after its day was sealed, a late root span or
record), marks its day stale, for the workflow's total of finished executions
(sql/migrations/009_workflow_time_rollups.sql), rolled up with the step rollups.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
from flowscope.storage.batches import EXEC_COLUMNS
from flowscope.storage.duckdb.sqlfiles import sql, statements
from flowscope.storage.duckdb.summary_cache import SummaryChanges
from flowscope.storage.duckdb.transaction import transaction

if TYPE_CHECKING:
    from flowscope.storage.duckdb.writer import Writer

log = logging.getLogger(__name__)
T = TypeVar("T")

DAY_NS = 86_400 * 10**9
INTERVAL_SECONDS = 60.0  # how often the scheduler looks for a newly sealed day or stale days
# A run summarizes about this many step spans (a day is split into parts by workflow): ~100 ms
# at 2-4 us a span plus ~30 ms a statement. Late runs' stale days: this many workflows a run.
SPANS_PER_RUN = 20_000
STALE_WORKFLOWS_PER_RUN = 16


def today() -> int:
    """The current UTC day (days since the epoch): the first day that is not over."""
    return time.time_ns() // DAY_NS


Key = tuple[str, str, int]  # (workspace, workflow, day)
_WORKSPACE, _WORKFLOW, _RANK, _QUEUED, _STARTED = (
    EXEC_COLUMNS.index(c) for c in ("workspace_id", "workflow_id", "status_rank", "queued_ns", "started_ns")
)


class SealedDays:
    """The writer's view of what is summarized (writer thread only, but `has_work`)."""

    def __init__(self) -> None:
        self.until_day: int | None = None  # every day before it is summarized (but stale ones)
        self.floor_day: int | None = None  # retention's cutoff day: summaries only after it
        self.parts: int | None = None  # until_day is being summarized in this many parts
        self.next_part = 0
        self.stale = True  # stale days may be marked (unknown until the maintenance looked)
        # Days found marked stale by an earlier commit (committed), until the maintenance
        # summarizes them: later late runs on them (a historical import, a skewed clock)
        # need no statement.
        self._marked: set[Key] = set()
        # Begun before each statement that may write a summary table; the writer settles them
        # when its transaction has ended (summary_cache.py).
        self.changes = SummaryChanges()

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        """Read the committed state (when the store opens, before any commit)."""
        [(self.until_day, self.floor_day, self.parts, next_part)] = con.execute(
            "SELECT until_day, floor_day, parts, next_part FROM step_summaries_sealed"
        ).fetchall()
        self.next_part, self.stale = next_part or 0, True

    def spans_stored(self, con: duckdb.DuckDBPyConnection, spans: pa.Table) -> None:
        """The writer's hook, in the transaction storing `spans` (duplicates dropped): mark
        the summarized days its step spans start on stale. No statement unless some step span
        of the batch started on a summarized day not marked stale yet."""
        if self.until_day is None or not spans.num_rows:
            return
        # Parts of the day being summarized may be done already: its late runs count too.
        boundary = (self.until_day + (1 if self.parts else 0)) * DAY_NS
        starts = spans.column("start_ns").to_numpy()
        if int(starts.min()) >= boundary:  # the common case (~10 us)
            return
        # Python over the late rows: pyarrow's compute calls cost ~100 us each on a small batch.
        late = np.flatnonzero(starts < boundary)
        columns = spans.select(["workspace_id", "workflow_id", "span_role"]).take(late)
        keys = {
            (ws, wf, int(start) // DAY_NS)
            for ws, wf, role, start in zip(
                *(c.to_pylist() for c in columns.columns), starts[late], strict=True
            )
            if role == "step" and wf is not None
        }
        self._mark(con, keys)

    def executions_stored(self, con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
        """The writer's hook, in the transaction that takes execution rows out and inserts them
        folded (`rows`: both, EXEC_COLUMNS tuples): mark the summarized days that a finished
        one (before or after) began on stale, as `spans_stored` does: the workflow's total of
        finished executions over those days changes. No statement unless one did."""
        if self.until_day is None or not rows:
            return
        boundary = self.until_day + (1 if self.parts else 0)  # as spans_stored's, in days
        keys = set()
        for row in rows:
            began = row[_STARTED] if row[_STARTED] is not None else row[_QUEUED]
            if row[_RANK] == 3 and began is not None and began // DAY_NS < boundary:
                keys.add((row[_WORKSPACE], row[_WORKFLOW], began // DAY_NS))
        if keys:
            self._mark(con, keys)

    def _mark(self, con: duckdb.DuckDBPyConnection, keys: set[Key]) -> None:
        """Mark these (workspace, workflow, day)s stale, in the caller's transaction, but those
        known marked already."""
        new = keys - self._marked
        if not new:
            return
        ordered = sorted(new)
        params = {
            "workspace_ids": [k[0] for k in ordered], "workflow_ids": [k[1] for k in ordered],
            "days": [k[2] for k in ordered],
        }  # fmt: skip
        # Two statements, not an INSERT ... RETURNING the marks it adds: DuckLake has no RETURNING.
        stored = {tuple(row) for row in con.execute(sql("summaries/stale_marks"), params).fetchall()}
        self.changes.begin({(ws, wf) for ws, wf, _ in ordered})
        con.execute(sql("summaries/mark_stale"), params)
        # Marks found in the table were committed before (this transaction only adds): known
        # from now on. Those it adds are known once a later commit finds them there.
        self._marked |= stored
        self.stale = True

    def has_work(self, day: int) -> bool:
        return self.stale or self.until_day is None or self.until_day < day

    def summarize_once(self, con: duckdb.DuckDBPyConnection, day: int) -> bool:
        """One run, in its own transaction: a few stale workflows of the first stale day, else
        one part of the first day not sealed before `day`. Returns whether work remains."""
        if self.stale:
            keys = con.execute(sql("summaries/stale_keys"), {"limit": STALE_WORKFLOWS_PER_RUN}).fetchall()
            if keys:
                self.changes.begin({(ws, wf) for ws, wf, _ in keys})  # their rows and rollups
                _in_transaction(con, lambda: _resummarize(con, keys))
                self._marked -= {tuple(k) for k in keys}
                return True
            self.stale = False
        start = self.until_day
        if start is None or (self.floor_day is not None and start <= self.floor_day):
            start = _first_step_day(con, 0 if self.floor_day is None else self.floor_day + 1, day)
        elif start < day and self.parts is None and not _day_step_spans(con, start):
            start = _first_step_day(con, start, day)  # skip days without runs
        start = day if start is None else min(start, day)
        if start >= day:  # no runs left before `day`: nothing to summarize
            if start != self.until_day:
                self.changes.begin()
                _in_transaction(con, lambda: _set_sealed(con, start, None, 0))
                self.until_day, self.parts, self.next_part = start, None, 0
            return self.has_work(day)
        parts = self.parts if start == self.until_day and self.parts else _parts(con, start)
        part = self.next_part if start == self.until_day and self.parts else 0
        done = part + 1 == parts
        state = (start + 1, None, 0) if done else (start, parts, part + 1)
        self.changes.begin()
        _in_transaction(con, lambda: _seal(con, start, part, parts, state))
        self.until_day, self.parts, self.next_part = state
        return self.has_work(day)

    def retain(self, con: duckdb.DuckDBPyConnection, cutoff_ns: int) -> None:
        """After retention deleted the spans started before `cutoff_ns` (same transaction);
        the workflows whose rollups held a dropped day are rolled up again."""
        cutoff_day = max(cutoff_ns, 0) // DAY_NS
        keys = con.execute(sql("summaries/rolled_up_before"), {"day": cutoff_day}).fetchall()
        self.changes.begin()
        _execute_all(con, "summaries/retain", {"day": cutoff_day})
        if keys:
            _roll_up(con, keys)
        # Every workflow's executions total: retention deleted executions by their end (not
        # their begin), and the days the totals cover now start after the cutoff's.
        _execute_all(con, "summaries/roll_up_workflow_time", {})
        self.floor_day = max(cutoff_day, self.floor_day if self.floor_day is not None else cutoff_day)
        self._marked = set()

    def rebuild(self, con: duckdb.DuckDBPyConnection, day: int) -> int:
        """Recompute every summary row of the days before `day` from the stored spans, in one
        transaction; returns how many rows there are."""

        def recompute() -> int:
            con.execute("DELETE FROM step_summaries")
            con.execute("DELETE FROM step_summaries_stale")
            # Not the days up to retention's cutoff day (its spans went in part): no summary row
            # is of those days (retain), and the rollups merge every row.
            first = 0 if self.floor_day is None else self.floor_day + 1
            _execute_all(con, "summaries/summarize_day", _days(first, day) | {"part": 0, "parts": 1})
            _set_sealed(con, day, None, 0)  # first: it sets the days the executions' totals cover
            _execute_all(con, "summaries/roll_up_part", {"part": 0, "parts": 1})
            return int(con.execute("SELECT count(*) FROM step_summaries").fetchall()[0][0])

        self.changes.begin()
        rows = _in_transaction(con, recompute)
        self.until_day, self.parts, self.next_part, self.stale, self._marked = day, None, 0, False, set()
        return rows


def _seal(
    con: duckdb.DuckDBPyConnection, day: int, part: int, parts: int, state: tuple[int, int | None, int]
) -> None:
    _execute_all(con, "summaries/summarize_day", _days(day, day + 1) | {"part": part, "parts": parts})
    _set_sealed(con, *state)  # first: it sets the days the executions' totals cover
    _execute_all(con, "summaries/roll_up_part", {"part": part, "parts": parts})


def _days(first: int, until: int) -> dict[str, int]:
    return {"from_day": first, "until_day": until, "from_ns": first * DAY_NS, "until_ns": until * DAY_NS}


def _set_sealed(con: duckdb.DuckDBPyConnection, until_day: int, parts: int | None, next_part: int) -> None:
    con.execute(
        "UPDATE step_summaries_sealed SET until_day = ?, parts = ?, next_part = ?",
        [until_day, parts, next_part],
    )


def _resummarize(con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str, int]]) -> None:
    day = keys[0][2]
    params = {
        "day": day, "from_ns": day * DAY_NS, "until_ns": (day + 1) * DAY_NS,
        "workspace_ids": [k[0] for k in keys], "workflow_ids": [k[1] for k in keys],
    }  # fmt: skip
    _execute_all(con, "summaries/resummarize_stale", params)
    _roll_up(con, keys)


def _roll_up(con: duckdb.DuckDBPyConnection, keys: list[tuple[Any, ...]]) -> None:
    """Roll up the workflows of `keys` ((workspace, workflow, ...) each) again, whole."""
    workflows = sorted({(k[0], k[1]) for k in keys})
    params = {"workspace_ids": [k[0] for k in workflows], "workflow_ids": [k[1] for k in workflows]}
    _execute_all(con, "summaries/roll_up_workflows", params)


def _execute_all(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> None:
    """Each statement of a multi-statement file, with the parameters its code names (DuckDB
    refuses others)."""
    for statement in statements(name):
        code = re.sub(r"--[^\n]*", "", statement)
        con.execute(statement, {k: v for k, v in params.items() if re.search(rf"\${k}\b", code)})


def _day_step_spans(con: duckdb.DuckDBPyConnection, day: int) -> int:
    params = {"from_ns": day * DAY_NS, "until_ns": (day + 1) * DAY_NS}
    return int(con.execute(sql("summaries/day_step_spans"), params).fetchall()[0][0])


def _parts(con: duckdb.DuckDBPyConnection, day: int) -> int:
    return max(1, -(-_day_step_spans(con, day) // SPANS_PER_RUN))


def _first_step_day(con: duckdb.DuckDBPyConnection, from_day: int, until_day: int) -> int | None:
    params = {"from_ns": from_day * DAY_NS, "until_ns": until_day * DAY_NS}
    return con.execute(sql("summaries/first_step_day"), params).fetchall()[0][0]


def _in_transaction(con: duckdb.DuckDBPyConnection, fn: Callable[[], T]) -> T:
    with transaction(con):
        result = fn()
    return result


class Maintenance:
    """Schedules the summaries' maintenance on the writer thread: when the store starts, every
    `interval_seconds` while there is work, and again right after each run that left some
    (commits queued meanwhile go first)."""

    def __init__(self, writer: Writer, interval_seconds: float = INTERVAL_SECONDS) -> None:
        self._writer = writer
        self._days = writer.step_days
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._scheduled = False
        self.last_run_seconds = 0.0  # how long the last run held the writer

    def start(self) -> None:
        self.schedule()

        def loop() -> None:
            while not self._stop.wait(self._interval):
                self.schedule()

        threading.Thread(target=loop, name="flowscope-step-summaries", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def schedule(self) -> None:
        with self._lock:
            if self._scheduled or not self._days.has_work(today()):
                return
            self._scheduled = True
        self._writer.run_maintenance(self._run)

    def _run(self, con: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._scheduled = False
        started = time.perf_counter()
        more = self._days.summarize_once(con, today())
        self.last_run_seconds = time.perf_counter() - started
        if more and not self._stop.is_set():
            self.schedule()

    def run_now(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`fn` on the writer thread, between commits; its result (blocking)."""
        done: Future[T] = Future()

        def task(con: duckdb.DuckDBPyConnection) -> None:
            try:
                done.set_result(fn(con))
            except BaseException as exc:
                done.set_exception(exc)

        self._writer.run_maintenance(task)
        return done.result()

    def catch_up(self) -> int:
        """Summarize every sealed day and stale day now (blocking); returns the runs taken."""

        def until_done(con: duckdb.DuckDBPyConnection) -> int:
            runs, day = 0, today()
            while self._days.has_work(day):
                runs += 1
                self._days.summarize_once(con, day)
            return runs

        return self.run_now(until_done)

    def rebuild(self) -> int:
        return self.run_now(lambda con: self._days.rebuild(con, today()))
