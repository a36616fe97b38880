"""`EngineHost` (issue 15, finding 10): the engine on its own loop and thread, driven from
another loop the way the server drives it, and what it keeps once executions end."""

from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc
from collections.abc import Sequence
from typing import Any

import pytest
from flowscope.engine.admission import QuotaExceeded
from flowscope.engine.config import EngineConfig
from flowscope.engine.host import EngineHost, Mailbox
from flowscope.engine.telemetry import TelemetryConfig
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tests.engine.conftest import run, step, wf

MiB = 1 << 20
BIG = 2_000  # steps


class _DiscardSpans(SpanExporter):
    """Exports to nowhere: the real batch processors run, the test keeps nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _DiscardLogs(LogRecordExporter):
    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _server_like_host(**config: Any) -> EngineHost:
    telemetry = TelemetryConfig(span_exporter=_DiscardSpans(), log_exporter=_DiscardLogs())
    return EngineHost(EngineConfig(telemetry=telemetry, finished_executions_kept=0, **config))


def _big_workflow() -> dict[str, Any]:
    return wf(*(step(f"s{i}") for i in range(BIG)), name="big", max_parallelism=64)


def test_executions_run_on_the_engine_thread_not_the_callers_loop() -> None:
    async def go() -> None:
        host = _server_like_host()
        caller = threading.current_thread()
        plan = await host.prepare(wf(step("a", seconds=5)))
        handle = await host.submit(plan, workflow_id="w", workspace_id="ws")
        engine_thread = await host._run(host._async(threading.current_thread))
        assert engine_thread is not caller and engine_thread.name == "flowscope-engine"
        # cancel() blocks until the engine's loop answers: the server calls it from a worker thread.
        assert await asyncio.to_thread(host.cancel, handle.execution_id) is True
        result = await host.wait(handle, timeout=5)
        assert result.status == "cancelled"
        assert await asyncio.to_thread(host.cancel, handle.execution_id) is False
        await host.shutdown()
        assert not host._thread.is_alive()

    run(go())


def test_finished_big_executions_leave_nothing_behind() -> None:
    """Before: every execute re-planned (a new plan cached per run, 256 kept) and kept the
    whole execution (runs, plan, telemetry) for get(): ~14 MiB per 2,000-step run, never freed."""

    async def go() -> list[tuple[int, dict[str, int]]]:
        host = _server_like_host()
        definition = _big_workflow()
        figures = []
        for number in range(6):
            plan = await host.prepare(dict(definition))  # a fresh dict, as each API request reads it
            handle = await host.submit(plan, workflow_id="w", execution_number=number, workspace_id="ws")
            result = await host.wait(handle, timeout=60)
            assert result.status == "completed" and len(result.steps) == BIG
            assert handle._execution is None  # a finished handle holds its result only
            del handle, result, plan
            await asyncio.to_thread(host.telemetry.flush)
            gc.collect()
            figures.append((tracemalloc.get_traced_memory()[0], await asyncio.to_thread(host.stats)))
        await host.shutdown()
        return figures

    tracemalloc.start()
    try:
        figures = run(go())
    finally:
        tracemalloc.stop()
    for _, stats in figures:
        assert stats == {
            "active": 0, "running": 0, "pending": 0, "finished_kept": 0, "finished_steps_kept": 0,
            "plans_cached": 1, "plan_steps_cached": BIG,
        }  # fmt: skip
    growth = figures[-1][0] - figures[1][0]  # after warm-up: four more runs
    print(f"\n[engine/host] traced memory after each run (MiB): {[round(m / MiB, 1) for m, _ in figures]}")
    assert growth < 2 * MiB, f"{growth / MiB:.1f} MiB kept by 4 finished {BIG}-step executions"


def test_a_submit_whose_caller_gives_up_still_runs_and_a_burst_is_answered_in_order() -> None:
    """`submit_many` hands its calls to the engine's loop and its answers back through
    mailboxes: a caller cancelled while its submit is being recorded (a client gone) cancels
    its wait only, and the submit goes on; concurrent submits are each answered with their
    own handles; the engine's errors reach the caller."""

    async def go() -> None:
        host = _server_like_host(max_running_per_workspace=1, max_pending_per_workspace=100)
        plan = await host.prepare(wf(step("a", seconds=0.01)))
        entered = threading.Event()
        recorded: list[str] = []

        async def record(batch: Any) -> None:  # on the engine's loop, as the API's intake
            entered.set()
            await asyncio.sleep(0.05)
            recorded.extend(batch.execution_ids)

        waiting = asyncio.ensure_future(
            host.submit_many(plan, [{}], workflow_id="w", workspace_id="ws", numbers=[1], record=record)
        )
        assert await asyncio.to_thread(entered.wait, 10)
        waiting.cancel()
        numbers = list(range(2, 42))
        burst = await asyncio.gather(
            *(host.submit_many(plan, [{}], workflow_id="w", workspace_id="ws", numbers=[n]) for n in numbers)
        )
        deadline = asyncio.get_running_loop().time() + 10
        while not recorded and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert waiting.cancelled() and len(recorded) == 1  # recorded all the same
        assert [handles[0].execution_number for handles in burst] == numbers
        results = await asyncio.gather(*(host.wait(h[0], timeout=30) for h in burst))
        assert {r.status for r in results} == {"completed"}
        with pytest.raises(QuotaExceeded):  # room: 1 running + 100 pending
            await host.submit_many(plan, [{}] * 102, workflow_id="w", workspace_id="ws", numbers=[0] * 102)
        await host.shutdown()

    run(go())


def test_a_mailbox_runs_calls_in_order_with_one_wake_up_per_batch() -> None:
    loop = asyncio.new_event_loop()
    box = Mailbox(loop)
    ran: list[int] = []
    wakeups = 0
    real = loop.call_soon_threadsafe

    def counting(callback: Any, *args: Any) -> Any:
        nonlocal wakeups
        wakeups += 1
        return real(callback, *args)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]

    def failing() -> None:
        raise RuntimeError("a failing call")

    def post_many(first: int) -> None:
        for n in range(first, first + 100):
            box.post(lambda n=n: ran.append(n))

    threads = [threading.Thread(target=post_many, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    box.post(failing)
    box.post(lambda: ran.append(-1))
    loop.run_until_complete(asyncio.sleep(0.01))
    assert sorted(ran[:-1]) == list(range(400)) and ran[-1] == -1  # none lost, the failing one too
    for k in range(4):  # each thread's calls in the order it posted them
        mine = [n for n in ran if k * 100 <= n < (k + 1) * 100]
        assert mine == sorted(mine)
    assert wakeups < len(ran)  # calls posted while a wake-up was on its way shared it
    loop.close()
    with pytest.raises(RuntimeError):
        box.post(lambda: None)
    with pytest.raises(RuntimeError):  # and every later call is refused, not silently kept
        box.post(lambda: None)
