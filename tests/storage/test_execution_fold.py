"""`execution_summaries.fold`, the rule that merges an execution's facts into its row (pure logic),
against the rule as its module states it, column by column."""

from __future__ import annotations

from typing import Any

from flowscope.storage.batches import EXEC_COLUMNS
from flowscope.storage.duckdb import execution_summaries
from hypothesis import given, settings
from hypothesis import strategies as st

_I = {name: i for i, name in enumerate(EXEC_COLUMNS)}
_OTHER = [n for n in EXEC_COLUMNS if n not in ("workspace_id", "execution_id", "status_rank", "updated_ns")]


def _stated_rule(facts: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The module docstring's rule: every column from the highest-ranked, latest fact that has a
    value (of equals, the one listed last); rank and update time the largest; queued the
    earliest; started the earliest among the highest rank that has one."""
    order = sorted(
        range(len(facts)),
        key=lambda k: (facts[k][_I["status_rank"]], facts[k][_I["updated_ns"]], k),
        reverse=True,
    )
    row: dict[str, Any] = {
        "workspace_id": facts[0][_I["workspace_id"]],
        "execution_id": facts[0][_I["execution_id"]],
        "status_rank": max(f[_I["status_rank"]] for f in facts),
        "updated_ns": max(f[_I["updated_ns"]] for f in facts),
    }
    for name in _OTHER:
        row[name] = next((facts[k][_I[name]] for k in order if facts[k][_I[name]] is not None), None)
    queued = [f[_I["queued_ns"]] for f in facts if f[_I["queued_ns"]] is not None]
    row["queued_ns"] = min(queued, default=None)
    with_start = [f for f in facts if f[_I["started_ns"]] is not None]
    if with_start:
        top = max(f[_I["status_rank"]] for f in with_start)
        row["started_ns"] = min(f[_I["started_ns"]] for f in with_start if f[_I["status_rank"]] == top)
    else:
        row["started_ns"] = None
    return tuple(row[name] for name in EXEC_COLUMNS)


def _fact(execution: str, rank: int, updated: int, values: list[int | None]) -> tuple[Any, ...]:
    fact: list[Any] = list(values)
    fact[_I["workspace_id"]] = "ws"
    fact[_I["execution_id"]] = execution
    fact[_I["status_rank"]] = rank
    fact[_I["updated_ns"]] = updated
    return tuple(fact)


_facts = st.lists(
    st.builds(
        _fact,
        st.sampled_from(["a", "b"]),
        st.integers(1, 3),
        st.integers(0, 3),  # few times: equal ranks and times are common
        st.lists(st.none() | st.integers(0, 5), min_size=len(EXEC_COLUMNS), max_size=len(EXEC_COLUMNS)),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(stored=_facts, facts=_facts)
def test_fold_follows_the_stated_rule(stored: list[tuple[Any, ...]], facts: list[tuple[Any, ...]]) -> None:
    folded = {row[_I["execution_id"]]: row for row in execution_summaries.fold(stored, facts)}
    listed = [*stored, *facts]  # stored first: of two equal facts, the new one wins
    expected = {
        e: _stated_rule([f for f in listed if f[_I["execution_id"]] == e]) for e in {f[1] for f in listed}
    }
    assert folded == expected


def test_a_later_record_does_not_move_a_finished_execution_back() -> None:
    values: list[int | None] = [None] * len(EXEC_COLUMNS)
    finished = list(values)
    finished[_I["ended_ns"]] = 50
    root = _fact("a", 3, 10, finished)
    started = list(values)
    started[_I["started_ns"]] = 5
    late_record = _fact("a", 2, 20, started)
    (row,) = execution_summaries.fold([root], [late_record])
    assert row[_I["status_rank"]] == 3 and row[_I["ended_ns"]] == 50
    assert row[_I["started_ns"]] == 5 and row[_I["updated_ns"]] == 20
