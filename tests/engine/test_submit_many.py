"""`Engine.submit_many` (issue 17): executions admitted all together or not at all, recorded
by the caller before anything of them is exported or runs, with their queued records exactly
as the exporter sends them (the collector dedupes the exported copies by content)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from flowscope.collector.prepare import prepare
from flowscope.engine.admission import QuotaExceeded
from flowscope.engine.engine import QueuedBatch
from flowscope.engine.telemetry import encode_logs

from flowscope import conventions as c
from tests.engine.conftest import Captured, run, step, until, wf

QUEUED = c.EVENT_EXECUTION_QUEUED


def _record_hashes(message: Any) -> list[int]:
    prepared = prepare("logs", message, "ws")
    assert prepared.logs is not None and not prepared.result.rejected
    return sorted(prepared.logs.column("record_hash").to_pylist())


def test_a_bulk_is_admitted_whole_or_refused_whole(make_engine: Any, captured: Captured) -> None:
    taken: list[int] = []

    def numbers(count: int) -> list[int]:
        taken.append(count)
        return list(range(7, 7 + count))

    async def go() -> None:
        engine = make_engine(max_running_per_workspace=1, max_pending_per_workspace=2)
        slow = wf(step("a", seconds=5))
        with pytest.raises(QuotaExceeded) as refused:
            await engine.submit_many(slow, [{}] * 4, workflow_id="w", workspace_id="ws", numbers=numbers)
        assert "4 requested, room for 3" in refused.value.message
        assert taken == [] and captured.records() == []  # no number taken, nothing emitted
        assert engine.stats()["running"] == engine.stats()["pending"] == 0
        handles = await engine.submit_many(
            slow, [{}] * 3, workflow_id="w", workspace_id="ws", numbers=numbers
        )
        assert taken == [3] and [h.execution_number for h in handles] == [7, 8, 9]
        assert (engine.stats()["running"], engine.stats()["pending"]) == (1, 2)
        assert len(captured.records(QUEUED)) == 3
        await engine.shutdown()

    run(go())


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "sdk"])
def test_recorded_records_are_the_exported_ones(
    make_engine: Any, captured: Captured, fast_path: bool
) -> None:
    """What `record` gets encodes, record for record, to what the exporter then sends."""
    seen: list[Any] = []

    async def record(batch: QueuedBatch) -> None:
        assert captured.records() == []  # nothing exported before it is recorded
        seen.append(encode_logs(batch.records))

    async def go() -> list[Any]:
        engine = make_engine(telemetry=captured.telemetry_config(fast_path=fast_path))
        handles = await engine.submit_many(
            wf(step("a")), [{}, {}], workflow_id="w", workspace_id="ws", numbers=[1, 2], record=record
        )
        await asyncio.gather(*(h.wait(10) for h in handles))
        await engine.shutdown()
        return handles

    handles = run(go())
    exported = [r for r in captured.logs.get_finished_logs() if r.log_record.event_name == QUEUED]
    assert len(exported) == 2 and len(seen) == 1
    assert _record_hashes(seen[0]) == _record_hashes(encode_logs(exported))
    ids = {f"{r.log_record.trace_id:032x}" for r in exported}
    assert ids == {h.execution_id for h in handles}


def test_a_failed_recording_emits_nothing_and_frees_the_places(make_engine: Any, captured: Captured) -> None:
    async def broken(batch: QueuedBatch) -> None:
        raise RuntimeError("disk full")

    async def go() -> None:
        engine = make_engine(max_running_per_workspace=1, max_pending_per_workspace=1)
        quick = wf(step("a"))
        with pytest.raises(RuntimeError, match="disk full"):
            await engine.submit_many(quick, [{}, {}], workflow_id="w", workspace_id="ws", numbers=[1, 2],
                                     record=broken)  # fmt: skip
        assert captured.records() == [] and captured.finished() == []
        assert engine.stats() | {"plans_cached": 0, "plan_steps_cached": 0} == {
            "active": 0, "running": 0, "pending": 0, "finished_kept": 0, "finished_steps_kept": 0,
            "plans_cached": 0, "plan_steps_cached": 0,
        }  # fmt: skip
        again = await engine.submit_many(quick, [{}, {}], workflow_id="w", workspace_id="ws", numbers=[3, 4])
        results = await asyncio.gather(*(h.wait(10) for h in again))
        assert [r.status for r in results] == ["completed", "completed"]
        await engine.shutdown()

    run(go())


def test_an_execution_whose_turn_comes_while_recorded_starts_after(
    make_engine: Any, captured: Captured
) -> None:
    """A place freed during the recording goes to the held execution, which starts only once
    recorded; a recording that then fails gives that place back (the next one starts)."""

    async def go() -> None:
        engine = make_engine(max_running_per_workspace=1, max_pending_per_workspace=5)
        first = await engine.submit(wf(step("a", seconds=0.05)), workflow_id="w", workspace_id="ws")

        async def after_first(batch: QueuedBatch) -> None:
            await first.wait(10)  # its place is freed and handed to this (held) execution
            await asyncio.sleep(0.05)  # a start, were it allowed, would have happened by now
            started = captured.records(c.EVENT_EXECUTION_STARTED)
            assert {f"{r.trace_id:032x}" for r in started} == {first.execution_id}
            assert engine.stats()["running"] == 1 and engine.stats()["pending"] == 0

        (held,) = await engine.submit_many(
            wf(step("b")), [{}], workflow_id="w", workspace_id="ws", numbers=[2], record=after_first
        )
        assert (await held.wait(10)).status == "completed"

        async def fails_after_first(batch: QueuedBatch) -> None:
            await blocker.wait(10)
            raise RuntimeError("storage unavailable")

        blocker = await engine.submit(wf(step("a", seconds=0.05)), workflow_id="w", workspace_id="ws")
        with pytest.raises(RuntimeError):
            await engine.submit_many(
                wf(step("c")), [{}], workflow_id="w", workspace_id="ws", numbers=[4], record=fails_after_first
            )
        assert engine.stats()["running"] == 0 and engine.stats()["pending"] == 0
        nxt = await engine.submit(wf(step("d")), workflow_id="w", workspace_id="ws")
        assert (await nxt.wait(10)).status == "completed"
        await engine.shutdown()

    run(go())


def test_numbers_taken_elsewhere_are_awaited_and_the_room_checked_again(
    make_engine: Any, captured: Captured
) -> None:
    """A lake takes numbers in its catalog (api/intake.py): `numbers` returns an awaitable. The
    room is checked again once they are taken: another submit may have filled it meanwhile."""
    release = asyncio.Event()
    asked: list[int] = []

    async def slow_numbers(count: int) -> list[int]:
        asked.append(count)
        await release.wait()
        return list(range(10, 10 + count))

    async def go() -> None:
        engine = make_engine(max_running_per_workspace=1, max_pending_per_workspace=1)
        slow = wf(step("a", seconds=5))
        waiting = asyncio.ensure_future(
            engine.submit_many(slow, [{}, {}], workflow_id="w", workspace_id="ws", numbers=slow_numbers)
        )
        await until(lambda: asked == [2], "numbers asked for")
        # Room for 2 was there when they were asked for; this takes a place meanwhile.
        await engine.submit(slow, workflow_id="w", workspace_id="ws", execution_number=1)
        release.set()
        with pytest.raises(QuotaExceeded):
            await waiting
        assert len(captured.records(QUEUED)) == 1  # only the one submitted meanwhile
        handles = await engine.submit_many(
            slow, [{}], workflow_id="w", workspace_id="ws", numbers=slow_numbers
        )
        assert [h.execution_number for h in handles] == [10] and asked == [2, 1]
        await engine.shutdown()

    run(go())
