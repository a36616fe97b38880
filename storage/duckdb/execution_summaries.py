"""Folding execution facts into the one-row-per-execution summary (the `executions` table).

Facts (from lifecycle records and root spans, `batches.EXEC_COLUMNS` tuples) rank
pending(1) < running(2) < terminal(3). For every column, the value of the highest-ranked,
latest fact that has one (not None) wins, so records arriving after the root span (or
twice) never move an execution back; `status_rank` and `updated_ns` are the largest seen,
`queued_ns` the earliest, and `started_ns` the earliest of the highest rank that has one (step
spans announce a foreign execution running since each one's start: the first one counts).

This runs on the writer thread, in the transaction that stores the facts: the stored
summaries of the touched executions are taken out of the table (ingest/take_executions.sql),
folded here with the batch's facts, and inserted back (ingest/insert_executions.sql). The
same rule as one SQL aggregate (an arg_max per column over the union of stored rows and
facts) cost ~10 ms of planning a commit, whatever the batch size, which made every trigger
and every export wait that much longer for the single writer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from flowscope.storage.batches import EXEC_COLUMNS

Fact = Sequence[Any]  # one value per EXEC_COLUMNS

_WORKSPACE = EXEC_COLUMNS.index("workspace_id")
_EXECUTION = EXEC_COLUMNS.index("execution_id")
_RANK = EXEC_COLUMNS.index("status_rank")
_QUEUED = EXEC_COLUMNS.index("queued_ns")
_UPDATED = EXEC_COLUMNS.index("updated_ns")
_STARTED = EXEC_COLUMNS.index("started_ns")
_LATEST_WITH_VALUE = [
    i for i, name in enumerate(EXEC_COLUMNS)
    if name not in ("workspace_id", "execution_id", "status_rank", "queued_ns", "started_ns", "updated_ns")
]  # fmt: skip
_RANK_AND_TIME = itemgetter(_RANK, _UPDATED)


def touched(facts: Iterable[Fact]) -> list[tuple[str, str]]:
    """The (workspace id, execution id) of every execution the facts are about, once each."""
    return list(dict.fromkeys((f[_WORKSPACE], f[_EXECUTION]) for f in facts))


def fold(stored: Iterable[Fact], facts: Iterable[Fact]) -> list[tuple[Any, ...]]:
    """One summary per execution from its stored summary (if any) and the new facts."""
    groups: dict[tuple[str, str], list[Fact]] = {}
    for fact in (*stored, *facts):  # stored first: of two equal ranks and times, the newer fact wins
        groups.setdefault((fact[_WORKSPACE], fact[_EXECUTION]), []).append(fact)
    return [_fold_one(group) for group in groups.values()]


def _fold_one(group: list[Fact]) -> tuple[Any, ...]:
    if len(group) == 1:
        return tuple(group[0])
    # Stable sort, highest rank and latest first; among equals the one listed last comes first.
    ordered = sorted(reversed(group), key=_RANK_AND_TIME, reverse=True)
    out: list[Any] = list(ordered[0])  # its rank is the highest
    # The columns still without a value, filled from the next facts in that order (a loop, not
    # a generator per column: this runs for every execution a commit touches).
    unset = [i for i in _LATEST_WITH_VALUE if out[i] is None]
    for fact in ordered[1:]:
        if not unset:
            break
        still = []
        for i in unset:
            value = fact[i]
            if value is None:
                still.append(i)
            else:
                out[i] = value
        unset = still
    out[_UPDATED] = max(f[_UPDATED] for f in group)
    queued = [f[_QUEUED] for f in group if f[_QUEUED] is not None]
    out[_QUEUED] = min(queued) if queued else None
    started = [(f[_RANK], -f[_STARTED]) for f in group if f[_STARTED] is not None]
    out[_STARTED] = -max(started)[1] if started else None
    return tuple(out)
