"""Step metrics read per-step summaries of sealed UTC days, kept off the commit path
(storage/duckdb/step_summaries.py): the same answers as over the spans, before and after the
summaries are brought up to date, whatever the batching, late runs into summarized days, the
window's edges, duplicates, retention, a rebuild or a reopen."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flowscope.storage.interfaces import Store
from flowscope.storage.workflow_metrics import StepTotals
from pytest import approx

from tests.storage.conformance.conftest import OpenStore, StoreFactory
from tests.storage.conformance.dataset import HOUR, T0, Run, S, Step, spans_of
from tests.storage.conformance.otlp import traces, write

DAY = 24 * HOUR
MIDNIGHT = (T0 // DAY + 1) * DAY  # 2024-01-16T00:00Z: the UTC day after T0's
EVER = (0, 2**63 - 1)
WF = "wf-steps"
QUANTILE_ERROR = 0.01  # the summaries' bound on p50/p95 (relative), exact for few runs


@dataclass(frozen=True)
class StepRun:
    n: int
    start_ns: int
    seconds: float
    status: str = "completed"
    retried: bool = False

    def run(self) -> Run:
        attempts = ((0, 0.5, "failed"), (0.5, self.seconds, self.status)) if self.retried else ()
        step = Step("work", f"Work {self.n}", 0, self.seconds, self.status, attempts=attempts)
        return Run(f"c{self.n:031x}", WF, "steps", self.n, self.start_ns, (step,), "completed", self.seconds)


def _write(store: Store, workspace: str, *runs: StepRun) -> None:
    write(store, traces([s for r in runs for s in spans_of(r.run())]), workspace)


def _quantile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    return low + (position - math.floor(position)) * (high - low)


def _expected(runs: list[StepRun], since: int, until: int) -> list[StepTotals]:
    """What step metrics over the spans answer: the reference the summaries must match."""
    inside = [r for r in runs if since <= r.start_ns < until]
    if not inside:
        return []
    ran = [r.seconds for r in inside if r.status in ("completed", "failed")]
    total = sum(r.seconds for r in inside)
    return [
        StepTotals(
            "work", f"Work {max(inside, key=lambda r: r.start_ns).n}", len(inside),
            sum(r.status == "completed" for r in inside), sum(r.status == "failed" for r in inside),
            sum(r.status == "skipped" for r in inside), 0, sum(r.retried for r in inside),
            sum(r.retried for r in inside), approx(sum(ran) / len(ran)) if ran else None,
            approx(_quantile(ran, 0.5)) if ran else None, approx(_quantile(ran, 0.95)) if ran else None,
            max(ran) if ran else None, approx(total), approx(total),
        )
    ]  # fmt: skip


RUNS = [  # around two UTC midnights; one run exactly at a midnight, one skipped, one retried
    StepRun(1, MIDNIGHT - 3 * HOUR, 30.0),
    StepRun(2, MIDNIGHT - HOUR, 12.5, "failed"),
    StepRun(3, MIDNIGHT, 7.0, retried=True),
    StepRun(4, MIDNIGHT + HOUR, 45.0),
    StepRun(5, MIDNIGHT + 5 * HOUR, 0.0, "skipped"),
    StepRun(6, MIDNIGHT + DAY + 2 * HOUR, 61.0),
    StepRun(7, MIDNIGHT + 2 * DAY + HOUR, 3.25),
]
WINDOWS = [
    EVER,
    (MIDNIGHT - 2 * HOUR, MIDNIGHT + DAY + 3 * HOUR),  # partial day, a whole day, partial day
    (MIDNIGHT, MIDNIGHT + DAY),  # exactly one day
    (MIDNIGHT - DAY, MIDNIGHT + 2 * DAY),  # whole days only
    (MIDNIGHT + 1, MIDNIGHT + DAY + 2 * HOUR),  # both edges just after a run
    (MIDNIGHT + HOUR, MIDNIGHT + HOUR + 1),  # one instant
    (MIDNIGHT + 6 * HOUR, MIDNIGHT + 7 * HOUR),  # nothing
    (0, MIDNIGHT + DAY),  # from the beginning to a midnight
    (MIDNIGHT + DAY, 2**63 - 1),  # from a midnight on
]


def _check_windows(store: Store, workspace: str, runs: list[StepRun]) -> None:
    for since, until in WINDOWS:
        got = store.workflow_metrics.step_totals(workspace, WF, since, until)
        assert got == _expected(runs, since, until), (since, until)


def _check_before_and_after_summarizing(store: Store, workspace: str, runs: list[StepRun]) -> None:
    _check_windows(store, workspace, runs)
    store.summarize()
    _check_windows(store, workspace, runs)


def test_sealed_days_answer_as_the_spans_whatever_the_batching(store: Store, workspace: str) -> None:
    _write(store, workspace, *RUNS[:3])  # one batch over two days
    _check_before_and_after_summarizing(store, workspace, RUNS[:3])
    for n, run in enumerate(RUNS[3:], start=4):  # then one batch each, into summarized days or new ones
        _write(store, workspace, run)
        _check_before_and_after_summarizing(store, workspace, RUNS[:n])


def test_late_runs_into_summarized_days_are_counted(store: Store, workspace: str) -> None:
    for n, run in enumerate(reversed(RUNS), start=1):  # newest first: every day gets a late run
        _write(store, workspace, run)
        _check_windows(store, workspace, RUNS[-n:])  # the late run's day is stale: read from spans
        store.summarize()
    _check_windows(store, workspace, RUNS)


def test_late_runs_into_a_day_already_stale_are_counted(store: Store, workspace: str) -> None:
    _write(store, workspace, *RUNS[2:])
    store.summarize()
    for n, run in enumerate(RUNS[1::-1], start=1):  # one commit each, both on the day before MIDNIGHT
        _write(store, workspace, run)
        _check_windows(store, workspace, RUNS[2 - n :])
    _write(store, workspace, StepRun(8, MIDNIGHT + 2 * HOUR, 9.0))  # and another day in a third
    _check_before_and_after_summarizing(store, workspace, [*RUNS, StepRun(8, MIDNIGHT + 2 * HOUR, 9.0)])


def test_a_duplicate_span_is_counted_once(store: Store, workspace: str) -> None:
    _write(store, workspace, *RUNS)
    store.summarize()
    _write(store, workspace, *RUNS)  # an exporter's retry
    # Another version of the same spans (same ids, other durations): the first one wins.
    _write(store, workspace, *(StepRun(r.n, r.start_ns, r.seconds + 100) for r in RUNS))
    _check_before_and_after_summarizing(store, workspace, RUNS)


def test_rebuild_gives_the_same_answers_and_is_idempotent(store: Store, workspace: str) -> None:
    _write(store, workspace, *RUNS[:4])
    store.summarize()
    _write(store, workspace, *RUNS[3:])  # RUNS[3] twice
    rows = store.rebuild_summaries()
    assert rows > 0 and store.rebuild_summaries() == rows
    _check_before_and_after_summarizing(store, workspace, RUNS)


def test_many_runs_are_summarized_within_the_quantile_bound(store: Store, workspace: str) -> None:
    # 400 runs over two days, durations spread from 0.5 s to ~9.5 min; several share a bucket.
    runs = [
        StepRun(100 + k, MIDNIGHT - DAY + k * 7 * 60 * S, 0.5 + (k * 37 % 400) * 1.43) for k in range(400)
    ]
    for first in range(0, 400, 150):
        _write(store, workspace, *runs[first : first + 150])
    store.summarize()
    for since, until in [EVER, (MIDNIGHT - 5 * HOUR, MIDNIGHT + 11 * HOUR)]:
        [got] = store.workflow_metrics.step_totals(workspace, WF, since, until)
        [want] = _expected(runs, since, until)
        assert (got.runs, got.completed) == (want.runs, want.completed)
        assert got.max_duration_seconds == approx(want.max_duration_seconds)  # spans hold whole ns
        assert got.average_duration_seconds == want.average_duration_seconds
        assert got.time_in_step_seconds == want.time_in_step_seconds
        for have, exact in [(got.p50_duration_seconds, want.p50_duration_seconds),
                            (got.p95_duration_seconds, want.p95_duration_seconds)]:  # fmt: skip
            assert have == approx(exact.expected, rel=QUANTILE_ERROR)  # type: ignore[union-attr]


def test_retention_deletes_the_summaries_of_what_it_deletes(new_store: Store) -> None:
    store = new_store  # retention deletes in every workspace
    now = time.time_ns()
    cutoff = now - 7 * DAY  # what apply_retention(7) computes a moment later
    runs = [  # before the cutoff's day, on it before and after the cutoff, yesterday
        StepRun(1, now - 10 * DAY, 4.0),
        StepRun(2, cutoff - HOUR, 5.0),
        StepRun(3, cutoff + HOUR, 6.0),
        StepRun(4, now - DAY, 7.0),
    ]
    _write(store, "w", *runs)
    store.summarize()
    store.apply_retention(7)
    kept = [r for r in runs if r.start_ns >= cutoff]
    assert store.workflow_metrics.step_totals("w", WF, *EVER) == _expected(kept, *EVER)
    store.summarize()
    assert store.workflow_metrics.step_totals("w", WF, *EVER) == _expected(kept, *EVER)
    store.rebuild_summaries()
    assert store.workflow_metrics.step_totals("w", WF, *EVER) == _expected(kept, *EVER)


def test_a_reopened_store_answers_the_same(factory: StoreFactory, open_store: OpenStore) -> None:
    if not factory.persistent:
        return  # nothing survives a close
    store = open_store()
    _write(store, "w", *RUNS[2:])
    store.summarize()
    store.close()
    store = open_store()  # summaries kept, and what was summarized
    _check_windows(store, "w", RUNS[2:])
    _write(store, "w", *RUNS[:2])  # late runs, not summarized before the close
    store.close()
    store = open_store()  # the stale days are still read from the spans
    _check_before_and_after_summarizing(store, "w", RUNS)
