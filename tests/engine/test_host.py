"""`EngineHost` (issue 15, finding 10): the engine on its own loop and thread, driven from
another loop the way the server drives it, and what it keeps once executions end."""

from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc
from collections.abc import Sequence
from typing import Any

from flowscope.engine.config import EngineConfig
from flowscope.engine.host import EngineHost
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
