"""Admission (issue 15, finding 9): per-workspace quotas and round-robin starts across
workspaces - the rules on their own (`FairQueue`), then through a real Engine."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from flowscope.engine.admission import FairQueue, Limits, QuotaExceeded

from tests.engine.conftest import run, step, wf


def _queue(running: int = 2, per_workspace: int = 2, pending: int = 3) -> FairQueue[str]:
    return FairQueue(Limits(running, per_workspace, pending))


def test_waiting_executions_start_least_recently_served_workspace_first() -> None:
    q = _queue()
    assert [q.admit("a", f"a{i}") for i in range(5)] == [True, True, False, False, False]
    assert q.admit("b", "b1") is False and q.admit("c", "c1") is False
    # a has had starts, b and c none: they go first, then a, b and c take turns.
    started = q.release("a", 1.0) + q.release("a", 1.0)
    assert started == ["b1", "c1"]
    assert q.release("b", 1.0) == ["a2"]
    assert q.release("c", 1.0) == ["a3"]
    assert q.running() == 2 and q.pending() == 1 and q.pending("a") == 1


def test_a_workspace_at_its_running_limit_leaves_free_slots_to_others() -> None:
    q = _queue(running=3, per_workspace=2, pending=10)
    assert [q.admit("a", f"a{i}") for i in range(4)] == [True, True, False, False]
    assert q.admit("b", "b1") is True  # the third slot: a may not take it
    assert q.release("b") == []  # a is still at its own limit
    assert q.release("a") == ["a2"]


def test_pending_quota_refuses_with_a_bounded_retry_after() -> None:
    q = _queue(running=2, per_workspace=1, pending=2)
    q.admit("a", "a0")
    q.admit("a", "a1")
    q.admit("a", "a2")
    assert q.room("a") == 0 and q.room("b") == 3
    with pytest.raises(QuotaExceeded) as err:
        q.admit("a", "a3")
    assert "max_pending_per_workspace=2" in err.value.message
    assert err.value.retry_after == 1  # no duration known yet: the minimum
    q.release("a", 600.0)  # long executions: wait longer, but never more than a minute
    q.admit("a", "a4")
    with pytest.raises(QuotaExceeded) as err:
        q.check("a")
    assert err.value.retry_after == 60
    q.check("b")  # another workspace is not affected


def test_cancelled_waiting_execution_frees_its_place() -> None:
    q = _queue(running=1, per_workspace=1, pending=1)
    q.admit("a", "a0")
    q.admit("a", "a1")
    assert q.discard("a", "a1") is True and q.discard("a", "a1") is False
    assert q.admit("a", "a2") is False
    assert q.release("a") == ["a2"]
    assert q.drain() == [] and q.release("a") == [] and q.running() == 0


def test_engine_starts_another_workspace_before_the_queue_of_a_busy_one(make_engine) -> None:
    async def go() -> dict[str, Any]:
        engine = make_engine(
            max_concurrent_executions=2, max_running_per_workspace=2, max_pending_per_workspace=4
        )
        slow, quick = wf(step("a", seconds=0.3)), wf(step("a"))
        a = [await engine.submit(slow, workflow_id="w", workspace_id="ws-a") for _ in range(6)]
        with pytest.raises(QuotaExceeded):
            await engine.submit(slow, workflow_id="w", workspace_id="ws-a")
        assert engine.stats()["pending"] == 4  # the refused one left nothing behind
        b = await engine.submit(quick, workflow_id="w", workspace_id="ws-b")
        assert [h.status for h in a] == ["pending"] * 6 and b.status == "pending"  # tasks start on next tick
        results = await asyncio.gather(*(h.wait(timeout=10) for h in [*a, b]))
        stats = engine.stats()
        await engine.shutdown()
        return {"a": results[:6], "b": results[6], "stats": stats}

    out = run(go())
    first_a_end = min(r.ended_at for r in out["a"][:2])
    queued_a_starts = sorted(r.started_at for r in out["a"][2:])
    assert out["b"].status == "completed"
    # b started at the first free slot, before any of a's queued executions.
    assert first_a_end <= out["b"].started_at <= queued_a_starts[0]
    assert out["stats"]["active"] == 0 and out["stats"]["running"] == 0 and out["stats"]["pending"] == 0
