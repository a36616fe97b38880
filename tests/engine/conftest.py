"""Engine test helpers: an Engine whose telemetry goes to the SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest
from flowscope.engine.actions import ActionRegistry, register_builtins
from flowscope.engine.config import EngineConfig
from flowscope.engine.engine import Engine
from flowscope.engine.telemetry import TelemetryConfig
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowscope import conventions as c

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll `condition` on the running loop (other tasks progress meanwhile) until it holds;
    fail naming `what` at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@dataclass
class Captured:
    spans: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    logs: InMemoryLogRecordExporter = field(default_factory=InMemoryLogRecordExporter)

    def telemetry_config(self, **overrides: Any) -> TelemetryConfig:
        return TelemetryConfig(
            span_exporter=self.spans, log_exporter=self.logs, synchronous_export=True, **overrides
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def root(self, execution_id: str) -> ReadableSpan:
        roots = [
            s for s in self.finished() if s.parent is None and f"{s.context.trace_id:032x}" == execution_id
        ]
        assert len(roots) == 1, roots
        return roots[0]

    def step_spans(self, execution_id: str) -> dict[str, ReadableSpan]:
        """Step id -> step span (not attempt spans)."""
        out = {}
        for s in self.finished():
            attrs = s.attributes or {}
            if (
                f"{s.context.trace_id:032x}" == execution_id
                and c.STEP_ATTEMPT not in attrs
                and c.STEP_ID in attrs
            ):
                out[attrs[c.STEP_ID]] = s
        return out

    def attempts(self, execution_id: str, step_span: ReadableSpan) -> list[ReadableSpan]:
        spans = [
            s
            for s in self.finished()
            if s.parent is not None and s.parent.span_id == step_span.context.span_id
        ]
        return sorted(spans, key=lambda s: s.attributes[c.STEP_ATTEMPT])

    def records(self, event: str | None = None) -> list[Any]:
        recs = [r.log_record for r in self.logs.get_finished_logs()]
        return [r for r in recs if event is None or r.event_name == event]


@pytest.fixture
def captured() -> Captured:
    return Captured()


@pytest.fixture
def registry() -> ActionRegistry:
    """A private registry (built-ins + whatever a test registers) so tests do not leak actions."""
    reg = ActionRegistry()
    register_builtins(reg)
    return reg


def engine_factory(captured: Captured, registry: ActionRegistry) -> Callable[..., Engine]:
    def factory(**config: Any) -> Engine:
        telemetry = config.pop("telemetry", None) or captured.telemetry_config()
        return Engine(replace(EngineConfig(), telemetry=telemetry, **config), registry=registry)

    return factory


@pytest.fixture
def make_engine(captured: Captured, registry: ActionRegistry) -> Callable[..., Engine]:
    return engine_factory(captured, registry)


@pytest.fixture
def otlp_http() -> Iterator[list[tuple[str, dict[str, str], bytes]]]:
    """A tiny OTLP/HTTP sink: records (path, lower-cased headers, body) of every request."""
    received = _Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield received
    server.shutdown()
    server.server_close()


class _Received(list):  # type: ignore[type-arg]
    url: str


def otlp_http_url(received: Any) -> str:
    return str(received.url)


def wf(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A workflow definition from step dicts (name defaults to 'test')."""
    return {"name": top.pop("name", "test"), "steps": list(steps), **top}


def step(sid: str, *deps: str, seconds: float = 0.0, output: Any = None, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"seconds": seconds}
    if output is not None:
        params["output"] = output
    action = extra.pop("action", {"type": "delay", "params": params})
    return {"id": sid, "depends_on": list(deps), "action": action, **extra}


async def run_workflow(
    engine: Engine, definition: dict[str, Any], inputs: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    kwargs.setdefault("workflow_id", "wf-test")
    handle = await engine.submit(definition, inputs, **kwargs)
    result = await handle.wait(timeout=30)
    await engine.shutdown()
    return result
