"""The engine nodes' shared state on a real lake (storage/ducklake/nodes.py), from two stores
on one lake as two nodes have them: of two nodes claiming a dead one at once exactly one wins
(closing its executions is then done once), a claimed node's heartbeat is refused, and a
node's writer folds a root span into the execution row another node's writer stored, told to
expect it (`TelemetryWriter.expect_stored`) or not (the lake writer looks every row up)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowscope.storage.ducklake.store import LakeStore

from flowscope import conventions as c
from tests.storage.conformance.otlp import ERROR, SERVER, SpanSpec, traces, write
from tests.storage.lake_nodes import at_once, two_stores
from tests.support.postgres import Postgres

WS = "default"


@pytest.fixture
def two(
    postgres: Postgres, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[LakeStore, LakeStore]]:
    with two_stores(postgres, tmp_path, "nodes_" + request.node.name[5:40]) as stores:
        yield stores


def _claim_at_once(a: LakeStore, b: LakeStore, dead: str) -> dict[str, bool]:
    """Both read the dead node's row, then claim it at the same moment: who won."""
    seen = {"a": a.nodes.node(dead), "b": b.nodes.node(dead)}
    assert seen["a"] is not None and seen["b"] is not None
    results = at_once(
        lambda: a.nodes.claim(seen["a"], "a", time.time_ns()),  # type: ignore[arg-type]
        lambda: b.nodes.claim(seen["b"], "b", time.time_ns()),  # type: ignore[arg-type]
    )
    assert not any(isinstance(r, Exception) for r in results), results
    return {"a": results[0] is not None, "b": results[1] is not None}


def test_of_two_nodes_claiming_a_dead_one_at_once_exactly_one_wins(two: tuple[LakeStore, LakeStore]) -> None:
    a, b = two
    for round_ in range(5):
        dead = f"dead-{round_}"
        a.nodes.register(dead, "host", 1, now_ns=1)
        won = _claim_at_once(a, b, dead)
        assert sorted(won.values()) == [False, True], won
        winner = next(name for name, ok in won.items() if ok)
        row = b.nodes.node(dead)
        assert row is not None and row.closed_by == winner
        assert not a.nodes.heartbeat(dead, time.time_ns())  # taken for dead: its beats are refused


def test_a_claim_on_a_stale_read_loses(two: tuple[LakeStore, LakeStore]) -> None:
    a, b = two
    a.nodes.register("n", "host", 1, now_ns=1)
    read = b.nodes.node("n")
    assert read is not None
    assert a.nodes.heartbeat("n", 2)  # it was alive after all
    assert b.nodes.claim(read, "b", now_ns=3) is None
    assert b.nodes.node("n") == dataclasses.replace(read, heartbeat_ns=2)
    taken = b.nodes.claim(dataclasses.replace(read, heartbeat_ns=2), "b", now_ns=4)
    assert taken == dataclasses.replace(read, heartbeat_ns=2, closed_by="b", closed_ns=4)
    # A takeover (b died meanwhile) keeps when it was first taken for dead.
    again = a.nodes.claim(taken, "a", now_ns=5)
    assert again == dataclasses.replace(taken, closed_by="a")
    a.nodes.request_cancel(WS, "e1", "n", now_ns=3)
    assert b.nodes.cancel_requests("n") == [(WS, "e1")]
    a.nodes.forget("n")
    assert a.nodes.node("n") is None and a.nodes.cancel_requests("n") == []


def _spans(trace_id: str, *, root: bool) -> list[SpanSpec]:
    base = {c.WORKFLOW_ID: "wf", c.WORKFLOW_NAME: "WF"}
    start = 1_800_000_000 * 10**9
    if root:
        return [SpanSpec(trace_id, "a" * 16, "RUN wf", start, start + 10**9, kind=SERVER, attributes=base,
                         status_code=ERROR, status_message="interrupted")]  # fmt: skip
    step = {**base, c.STEP_ID: "s1"}
    return [SpanSpec(trace_id, "b" * 16, "s1", start, start + 10**8, parent_span_id="a" * 16,
                     attributes=step)]  # fmt: skip


def _rows(store: LakeStore, execution_id: str) -> list[tuple[str, str]]:
    sql = "SELECT workspace_id, status FROM executions WHERE execution_id = ?"
    return [(ws, s) for ws, s in store.read(lambda cur: cur.execute(sql, [execution_id]).fetchall())]


def test_a_writer_folds_into_a_row_another_writer_stored_when_told(two: tuple[LakeStore, LakeStore]) -> None:
    a, b = two
    told, untold = "1" * 32, "2" * 32
    for trace_id in (told, untold):  # node a's: running (a step, no root span yet)
        write(a, traces(_spans(trace_id, root=False)), WS)
        assert _rows(b, trace_id) == [(WS, "running")]

    b.writer.expect_stored([(WS, told)])
    for trace_id in (told, untold):  # node b ends both
        write(b, traces(_spans(trace_id, root=True)), WS)
    assert _rows(a, told) == [(WS, "failed")]
    # Untold too: a lake writer looks up every stored execution row its facts fold into (a
    # batch retried on another node: storage/ducklake/writer.py), so it never adds a second row.
    assert _rows(a, untold) == [(WS, "failed")]
