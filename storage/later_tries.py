"""A later try of a step, sent under the span id of an earlier try, replaces it.

A span is identified by (workspace, trace id, span id) and the first version stored wins
(issue 15, finding 11: what readers saw is never rewritten by another version). Apache
Airflow 3.2+ sends every try of a task instance under ONE span id (flowscope/emitters/
airflow.py), so under that rule alone a task retried to success reads as its first, failed
try. The one exception, `is_later_try`, admits a version only when it cannot be a rewrite of
the stored one, because it is that step's next try:

- both are step spans, and the new one counts strictly more retries;
- the earlier try did not succeed (failed or timed out): a step is retried only then, so a
  completed, skipped or cancelled step is never rewritten;
- the new one starts no earlier than the earlier one ended: tries of one step run one after
  another (Airflow starts a try's span when it is queued, after the previous try's end).

Anything else (an exporter's retry, other content, another start time, more retries on a
span that overlaps the stored one) is another version of the same span: dropped. Within one
batch the same rule is applied in order, from the stored try (or the batch's first version):
each later try replaces the one before, and the live feed hears each of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from flowscope import workflow_meaning as m

Key = tuple[Any, ...]  # (workspace id, trace id, span id)
SPAN_KEY: Final = ("workspace_id", "trace_id", "span_id")
COLUMNS: Final = ("span_role", "retry_count", "step_status", "start_ns", "end_ns")
# The statuses of a try that is followed by another (workflow.step.status values): Airflow's
# up_for_retry reads as failed; our engine retries failed and timed-out attempts.
RETRIED_STATUSES: Final = frozenset({"failed", "timeout"})


@dataclass(frozen=True, slots=True)
class Try:
    """What decides whether one version of a span is a later try of another."""

    role: str | None
    retry_count: int | None
    status: str | None
    start_ns: int
    end_ns: int


def is_later_try(earlier: Try, later: Try) -> bool:
    """Whether `later` is the next try of the step `earlier` was a try of (module docstring)."""
    return (
        earlier.role == later.role == m.STEP
        and (later.retry_count or 0) > (earlier.retry_count or 0)
        and earlier.status in RETRIED_STATUSES
        and later.start_ns >= earlier.end_ns
    )


_STEP = pa.scalar(m.STEP, pa.string())
_NO_RETRIES = pa.scalar(0, pa.int32())
_NO = pa.scalar(False, pa.bool_())


@dataclass(slots=True)
class LaterTries:
    """What the later tries in one batch change."""

    keep: list[bool]  # the batch's rows to store: the first-occurrence mask, with later tries
    replaced: set[Key] = field(default_factory=set)  # stored spans a later try replaces
    changed: set[Key] = field(default_factory=set)  # ids whose stored version changes
    heard: set[tuple[Key, int, int]] = field(default_factory=set)  # (id, start, end) of each try
    # The stored rows replaced (stored_step_tries.sql's columns), for the change feed.
    replaced_rows: pa.Table | None = None


def candidates(spans: pa.Table, ids: Sequence[Key], keep: Sequence[bool]) -> set[Key]:
    """Ids of the repeated step spans that count retries: the only ones that may be later tries
    (without a retry, a version cannot be a later try of anything)."""
    repeated = pc.invert(pa.array(keep, pa.bool_()))
    # Typed scalars: pyarrow infers a Python value's type per call, slowly (api/prometheus_metrics.py).
    step = pc.fill_null(pc.equal(spans.column("span_role"), _STEP), _NO)
    retried = pc.fill_null(pc.greater(spans.column("retry_count"), _NO_RETRIES), _NO)
    rows = pc.indices_nonzero(pc.and_(repeated, pc.and_(step, retried))).to_pylist()
    return {ids[i] for i in rows}


def tries(table: pa.Table, rows: Sequence[int] | None = None) -> list[Try]:
    """The tries of `table`'s rows (all, or those at `rows`); it has the COLUMNS."""
    if rows is not None:
        table = table.take(pa.array(rows, pa.int64()))
    columns = [table.column(name).to_pylist() for name in COLUMNS]
    return [Try(*values) for values in zip(*columns, strict=True)]


def keys(table: pa.Table) -> list[Key]:
    return list(zip(*(table.column(name).to_pylist() for name in SPAN_KEY), strict=True))


def resolve(
    spans: pa.Table, ids: Sequence[Key], keep: Sequence[bool], maybe: set[Key], stored: Mapping[Key, Try]
) -> LaterTries:
    """Apply the rule to the batch's rows of the ids in `maybe`, in order, each id starting
    from its stored try (`stored`: the stored step spans among them) or else its first row."""
    rows = [i for i, key in enumerate(ids) if key in maybe]
    current: dict[Key, tuple[Try, int | None]] = {key: (t, None) for key, t in stored.items()}
    first: dict[Key, int] = {}
    chain: dict[Key, list[int]] = {}  # id -> its rows stored in turn (first version included)
    for i, t in zip(rows, tries(spans, rows), strict=True):
        key = ids[i]
        if keep[i]:  # the first version of a span not stored before
            current[key], first[key], chain[key] = (t, i), i, [i]
        elif key in current and is_later_try(current[key][0], t):
            current[key] = (t, i)
            chain.setdefault(key, []).append(i)
    out = LaterTries(list(keep))
    starts, ends = spans.column("start_ns"), spans.column("end_ns")
    for key, (_, last) in current.items():
        if last is None or last == first.get(key):
            continue  # the stored version, or the batch's first, stays
        if key in first:
            out.keep[first[key]] = False
        else:
            out.replaced.add(key)
        out.keep[last] = True
        out.changed.add(key)
        out.heard.update((key, starts[i].as_py(), ends[i].as_py()) for i in chain[key])
    return out
