"""Realistic OTLP export requests for the benchmarks, built fast and deterministically.

A batch is an `ExportTraceServiceRequest` of 512 spans from one service: about ten
attributes of mixed types per span (strings, ints, a double, a bool, a string
array), one event with attributes, parent/child structure, and a resource with five
attributes. Every batch has fresh trace and span ids, so nothing is deduplicated.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

SPANS_PER_BATCH = 512
SPANS_PER_TRACE = 8

_ROUTES = ["/api/orders", "/api/orders/{id}", "/api/users/{id}", "/api/cart", "/health", "/api/search"]
_METHODS = ["GET", "POST", "PUT", "DELETE"]
_NAMES = ["GET /api/orders", "SELECT orders", "redis GET", "POST /api/cart", "render", "auth.check"]


def _kv(key: str, value: object) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, list):
        kv.value.array_value.values.extend(AnyValue(string_value=v) for v in value)
    else:
        kv.value.string_value = str(value)
    return kv


def template_batch(seed: int, service: str = "checkout") -> ExportTraceServiceRequest:
    """One batch of realistic spans; ids and times are overwritten per copy by `fresh_copy`."""
    rnd = random.Random(seed)
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.extend([
        _kv("service.name", service), _kv("service.version", "2.14.1"),
        _kv("host.name", f"node-{seed % 7}"), _kv("deployment.environment", "production"),
        _kv("telemetry.sdk.language", "python"),
    ])  # fmt: skip
    rs.schema_url = "https://opentelemetry.io/schemas/1.26.0"
    ss = rs.scope_spans.add()
    ss.scope.name = "bench.instrumentation"
    ss.scope.version = "1.0.0"
    for i in range(SPANS_PER_BATCH):
        span = ss.spans.add()
        span.trace_id = rnd.randbytes(16)
        span.span_id = rnd.randbytes(8)
        if i % SPANS_PER_TRACE:
            span.parent_span_id = rnd.randbytes(8)
        span.name = rnd.choice(_NAMES)
        span.kind = Span.SPAN_KIND_SERVER if i % SPANS_PER_TRACE == 0 else rnd.choice([1, 3])
        span.start_time_unix_nano = 1
        span.end_time_unix_nano = 1 + rnd.randint(100_000, 90_000_000)
        method = rnd.choice(_METHODS)
        span.attributes.extend([
            _kv("http.request.method", method),
            _kv("http.route", rnd.choice(_ROUTES)),
            _kv("http.response.status_code", rnd.choice([200, 200, 200, 201, 404, 500])),
            _kv("url.full", f"https://shop.example.com/api/orders/{rnd.randint(1, 10**6)}?page=2"),
            _kv("server.address", "shop.example.com"),
            _kv("server.port", 443),
            _kv("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
            _kv("db.response.returned_rows", rnd.randint(0, 500)),
            _kv("cache.hit", rnd.random() < 0.7),
            _kv("app.load_factor", rnd.random()),
            _kv("app.feature_flags", ["new-checkout", "fast-path"]),
        ])  # fmt: skip
        event = span.events.add()
        event.name = "exception" if i % 17 == 0 else "cache.lookup"
        event.time_unix_nano = 2
        event.attributes.extend([_kv("cache.key", f"order:{rnd.randint(1, 10**6)}"), _kv("attempt", 1)])
        if i % 17 == 0:
            span.status.code = Status.STATUS_CODE_ERROR
            span.status.message = "upstream returned 500"
    return request


def fresh_copy(
    template: ExportTraceServiceRequest, rnd: random.Random, start_ns: int, span_gap_ns: int = 1000
) -> bytes:
    """The template with new ids (parents kept consistent within each trace) and times."""
    request = ExportTraceServiceRequest()
    request.CopyFrom(template)
    spans = request.resource_spans[0].scope_spans[0].spans
    trace_id = root = b""
    for i, span in enumerate(spans):
        if i % SPANS_PER_TRACE == 0:
            trace_id = rnd.randbytes(16)
            root = rnd.randbytes(8)
            span.span_id = root
        else:
            span.span_id = rnd.randbytes(8)
            span.parent_span_id = root
        span.trace_id = trace_id
        duration = span.end_time_unix_nano - span.start_time_unix_nano
        t = start_ns + i * span_gap_ns
        span.start_time_unix_nano = t
        span.end_time_unix_nano = t + duration
        span.events[0].time_unix_nano = t + duration // 2
    return request.SerializeToString()


def make_batches(
    count: int, seed: int = 1, start_ns: int | None = None, spans_per_second: float = 50_000
) -> list[bytes]:
    """`count` serialized batches of distinct spans, timed like a system producing
    `spans_per_second` spans: batch i starts at start_ns + i * 512 / spans_per_second s and
    its spans follow each other evenly (as exporters send spans that just ended)."""
    rnd = random.Random(seed ^ os.getpid() ^ time.time_ns())
    templates = [template_batch(seed * 100 + k) for k in range(8)]
    base = start_ns if start_ns is not None else time.time_ns()
    span_gap = max(1, int(1e9 / spans_per_second))
    spacing = span_gap * SPANS_PER_BATCH
    return [
        fresh_copy(templates[i % len(templates)], rnd, base + i * spacing, span_gap) for i in range(count)
    ]


def chunks(items: list[bytes], parts: int) -> Iterator[list[bytes]]:
    for k in range(parts):
        yield items[k::parts]


# --- running `flowscope serve` as a subprocess ------------------------------------------

READY = re.compile(
    r"flowscope ready api=(?P<api>\S+) otlp_http=(?P<otlp_http>\S+) "
    r"otlp_grpc=(?P<otlp_grpc>\S+) db=(?P<db>\S+)"
)
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Serve:
    process: subprocess.Popen[str]
    urls: dict[str, str]
    output: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 300) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads. Per request or span it varies far
    less than a rate when other work shares the cores (the rate depends on the CPU it gets)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def start_serve(db: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> Serve:
    """`flowscope serve` on ephemeral ports; returns once it printed its ready line."""
    cmd = [
        sys.executable, "-m", "flowscope", "serve", "--host", "127.0.0.1", "--api-port", "0",
        "--otlp-http-port", "0", "--otlp-grpc-port", "0", "--db", str(db), *args,
    ]  # fmt: skip
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )  # fmt: skip
    output: list[str] = []
    ready: dict[str, str] = {}
    got = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if not got.is_set() and (m := READY.search(line)):
                ready.update(m.groupdict())
                got.set()
        got.set()

    threading.Thread(target=pump, daemon=True).start()
    if not got.wait(timeout) or not ready:
        process.kill()
        raise RuntimeError("flowscope serve did not start:\n" + "".join(output))
    return Serve(process, ready, output)
