"""Live feed benchmark (issue 5): delivery latency, and what subscribers cost ingest.

    .venv/bin/python bench/ws_latency.py            # full run (~4 min)
    .venv/bin/python bench/ws_latency.py --quick    # ~1.5 min

Against `flowscope serve` subprocesses (fresh database each):

latency: a driver sends workflow executions over OTLP/HTTP, one fact per request (the
    execution.started record; per step a step.started record and the step span; the
    root span), so each request releases exactly one event. Latency is the time from
    the request's acknowledgement (sent by the server after the commit) to the event's
    arrival at each subscriber, on the machine's monotonic clock across processes.
    Runs with 1 and with 1,000 subscribers of the workflow's channel.
ingest: client processes POST 512-span batches (bench/common.py, as bench/ingest.py)
    as fast as the server acknowledges them, with the driver running alongside, once
    with no subscribers and once with 1,000 (alternated twice in the full run).
interest (issue 11): workflow spans (foreign-shaped batches, bench/workloads.py) ingested with
    no subscribers and with 100 feeds of other workflows open (--others): a fact of a
    workflow nobody watches should cost next to nothing. Goal: >= 90% of ingest without.

Subscribers are raw RFC 6455 clients in a separate process (uvloop), without
permessage-deflate unless --deflate, so that they cost the shared CPUs little. Goals:
p99 < 100 ms with 1,000 subscribers; ingest with them >= 80% of ingest without.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.client
import multiprocessing as mp
import os
import shutil
import struct
import sys
import tempfile
import threading
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from bench.common import start_serve
from bench.ingest import drive
from flowscope import conventions as c

WORKFLOW_ID = "bench-live-feed"
STEPS = 3  # events per execution: 2 + 2 * STEPS
SETTLE_SECONDS = 2.0  # after connecting: let the server's GC pauses from 1,000 new connections pass


# --- the driver: one fact per OTLP request ------------------------------------------------


def _kv(key: str, value: str) -> KeyValue:
    kv = KeyValue(key=key)
    kv.value.string_value = value
    return kv


def _record(trace_id: bytes, span_id: bytes, event: str, attrs: dict[str, str]) -> bytes:
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.append(_kv("service.name", "bench-driver"))
    rec = rl.scope_logs.add().log_records.add()
    rec.time_unix_nano = rec.observed_time_unix_nano = time.time_ns()
    rec.trace_id, rec.span_id, rec.event_name = trace_id, span_id, event
    rec.body.string_value = event
    rec.attributes.extend(_kv(k, v) for k, v in {c.EVENT_NAME: event, **attrs}.items())
    return request.SerializeToString()


def _span(
    trace_id: bytes, span_id: bytes, parent: bytes, name: str, start: int, attrs: dict[str, str]
) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(_kv("service.name", "bench-driver"))
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = trace_id, span_id, name
    if parent:
        span.parent_span_id = parent
    span.kind = 1 if parent else 2  # INTERNAL step, SERVER root
    span.start_time_unix_nano, span.end_time_unix_nano = start, time.time_ns()
    span.attributes.extend(_kv(k, v) for k, v in attrs.items())
    return request.SerializeToString()


class Driver:
    """Sends executions at `rate` events/s; `acks[event_id]` = monotonic time of the acknowledgement."""

    def __init__(self, otlp_http: str, rate: float) -> None:
        parts = urlsplit(otlp_http)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self._pace = 1.0 / rate
        self.acks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _send(self, path: str, body: bytes, event_id: str) -> None:
        next_at = time.monotonic() + self._pace
        self._conn.request("POST", path, body, {"Content-Type": "application/x-protobuf"})
        response = self._conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"OTLP {path} answered {response.status}")
        self.acks[event_id] = time.monotonic()
        time.sleep(max(0.0, next_at - time.monotonic()))

    def _execution(self) -> None:
        trace_id, root = os.urandom(16), os.urandom(8)
        ex = trace_id.hex()
        base = {c.WORKFLOW_ID: WORKFLOW_ID, c.WORKFLOW_NAME: "bench"}
        started = time.time_ns()
        self._send("/v1/logs", _record(trace_id, root, c.EVENT_EXECUTION_STARTED, base), f"{ex}/start")
        for i in range(STEPS):
            span_id, step = os.urandom(8), f"step{i}"
            attrs = {**base, c.STEP_ID: step, c.STEP_NAME: step}
            step_start = time.time_ns()
            self._send(
                "/v1/logs", _record(trace_id, span_id, c.EVENT_STEP_STARTED, attrs), f"{ex}/{step}/start"
            )
            done = {**attrs, c.STEP_STATUS: "completed", c.STEP_OUTPUT: '{"ok": true}'}
            self._send(
                "/v1/traces", _span(trace_id, span_id, root, step, step_start, done), f"{ex}/{step}/end"
            )
        end = _span(trace_id, root, b"", "RUN bench", started, {**base, c.WORKFLOW_STATUS: "completed"})
        self._send("/v1/traces", end, f"{ex}/end")

    def run(self, duration: float) -> None:
        deadline = time.monotonic() + duration
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._execution()

    def start(self, duration: float) -> None:
        self._thread = threading.Thread(target=self.run, args=(duration,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._conn.close()


# --- subscribers: raw WebSocket clients in their own process --------------------------------


class _Feed(asyncio.Protocol):
    """A minimal RFC 6455 client: handshake, unmasked server frames, pongs, optional deflate."""

    def __init__(self, host: str, path: str, deflate: bool, sink: dict[str, list[float]], ready: Any) -> None:
        self.host, self.path, self.deflate = host, path, deflate
        self.sink, self.ready = sink, ready
        self.buf = bytearray()
        self.upgraded = False
        self.inflater = zlib.decompressobj(-15) if deflate else None
        self.transport: asyncio.Transport | None = None
        self.closed_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        ext = (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.deflate else ""
        )
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        )
        transport.write(request.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(bytes(self.buf[:200]).decode(errors="replace"))
            del self.buf[: end + 4]
            self.upgraded = True
            self.ready.set_result(None)
        buf = self.buf
        while len(buf) >= 2:
            b0, size, head = buf[0], buf[1] & 0x7F, 2
            if size == 126:
                if len(buf) < 4:
                    return
                size, head = struct.unpack_from("!H", buf, 2)[0], 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size, head = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < head + size:
                return
            payload = bytes(buf[head : head + size])
            del buf[: head + size]
            self._frame(b0, payload, now)

    def _frame(self, b0: int, payload: bytes, now: float) -> None:
        opcode = b0 & 0x0F
        if opcode == 1:
            if b0 & 0x40 and self.inflater is not None:  # RSV1: compressed
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            event_id = orjson.loads(payload)["data"].get("event_id")
            if event_id:
                self.sink[event_id].append(now)
        elif opcode == 9 and self.transport is not None:  # ping -> masked pong
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
        elif opcode == 8:
            self.closed_code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005


def subscriber_process(
    api: str, count: int, deflate: bool, ready_q: Any, stop_ev: Any, out_q: Any, workflows: list[str]
) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    async def run() -> None:
        parts = urlsplit(api)
        loop = asyncio.get_running_loop()
        sink: dict[str, list[float]] = defaultdict(list)
        feeds: list[_Feed] = []
        for first in range(0, count, 100):  # connect in waves
            waits = []
            for k in range(first, first + min(100, count - first)):
                path = f"/ws/workflows/{workflows[k % len(workflows)]}"
                ready = loop.create_future()
                _, feed = await loop.create_connection(
                    lambda r=ready, p=path: _Feed(parts.netloc, p, deflate, sink, r),
                    parts.hostname,
                    parts.port,
                )
                feeds.append(feed)
                waits.append(ready)
            await asyncio.wait_for(asyncio.gather(*waits), 60)
        ready_q.put(len(feeds))
        while not stop_ev.is_set():
            await asyncio.sleep(0.05)
        out_q.put((dict(sink), sum(f.closed_code is not None for f in feeds)))
        for f in feeds:
            if f.transport is not None:
                f.transport.close()

    asyncio.run(run())


class Subscribers:
    """`count` connections to the feeds of `workflows` (in turn; default: the driver's
    workflow), in a subscriber process."""

    def __init__(self, api: str, count: int, deflate: bool, workflows: list[str] | None = None) -> None:
        ctx = mp.get_context("spawn")
        self._ready, self._out, self._stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        self._proc = ctx.Process(
            target=subscriber_process,
            args=(api, count, deflate, self._ready, self._stop, self._out, workflows or [WORKFLOW_ID]),
        )
        self._proc.start()
        connected = self._ready.get(timeout=120)
        if connected != count:
            raise RuntimeError(f"{connected} of {count} subscribers connected")

    def finish(self) -> tuple[dict[str, list[float]], int]:
        """Stop; the arrival times per event id, and how many connections the server closed."""
        self._stop.set()
        result = self._out.get(timeout=120)
        self._proc.join(30)
        return result  # type: ignore[no-any-return]


# --- measurements -------------------------------------------------------------------------------


@dataclass
class Latency:
    subscribers: int
    events: int
    deliveries: int
    missing: int
    p50: float
    p99: float
    max: float


def latency(acks: dict[str, float], received: dict[str, list[float]], subscribers: int) -> Latency:
    samples: list[float] = []
    missing = 0
    for event_id, acked in acks.items():
        times = received.get(event_id, [])
        missing += subscribers - len(times)
        samples.extend(max(0.0, t - acked) for t in times)
    samples.sort()

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(p * len(samples)))] * 1000 if samples else float("nan")

    return Latency(subscribers, len(acks), len(samples), missing, pct(0.5), pct(0.99), pct(1.0))


def measure_latency(api: str, otlp: str, subscribers: int, args: Any, seconds: float) -> Latency:
    subs = Subscribers(api, subscribers, args.deflate)
    time.sleep(SETTLE_SECONDS)
    driver = Driver(otlp, args.rate)
    try:
        driver.run(seconds)
    finally:
        driver.stop()
    time.sleep(0.5)  # the last deliveries
    received, _ = subs.finish()
    return latency(driver.acks, received, subscribers)


def measure_ingest(
    workdir: Path, name: str, subscribers: int, spans: int, args: Any
) -> tuple[float, Latency | None]:
    """Spans/s acknowledged by a fresh server (after a warm-up), with the driver running alongside."""
    server = start_serve(workdir / f"{name}.duckdb")
    try:
        api, otlp = server.urls["api"], server.urls["otlp_http"]
        drive(otlp, spans // 4, args.clients, args.connections)  # warm-up, not measured
        subs = Subscribers(api, subscribers, args.deflate) if subscribers else None
        time.sleep(SETTLE_SECONDS)
        driver = Driver(otlp, args.rate)
        driver.start(3600)
        try:
            spans_per_s, _ = drive(otlp, spans, args.clients, args.connections)
        finally:
            driver.stop()
        time.sleep(0.5)
        during = None
        if subs is not None:
            received, _ = subs.finish()
            during = latency(driver.acks, received, subscribers)
        return spans_per_s, during
    finally:
        server.stop()


def measure_uninterested_ingest(workdir: Path, name: str, subscribers: int, spans: int, args: Any) -> float:
    """Workflow spans/s (foreign-shaped, bench/workloads.py) acknowledged by a fresh server while
    `subscribers` feeds of other workflows are open (issue 11: live feeds cost in proportion
    to interest, so they should cost this ingest nothing)."""
    server = start_serve(workdir / f"{name}.duckdb")
    try:
        api, otlp = server.urls["api"], server.urls["otlp_http"]
        drive(otlp, spans // 4, args.clients, args.connections, "foreign")  # warm-up, not measured
        others = [f"not-ingested-{k}" for k in range(subscribers)]
        subs = Subscribers(api, subscribers, args.deflate, others) if subscribers else None
        time.sleep(SETTLE_SECONDS)
        spans_per_s, _ = drive(otlp, spans, args.clients, args.connections, "foreign")
        if subs is not None:
            _, closed = subs.finish()
            if closed:
                raise RuntimeError(f"the server closed {closed} idle feeds")
        return spans_per_s
    finally:
        server.stop()


def _print_latency(label: str, lat: Latency) -> None:
    print(
        f"{label:<44s} p50 {lat.p50:6.1f} ms  p99 {lat.p99:6.1f} ms  max {lat.max:6.1f} ms  "
        f"({lat.events} events, {lat.deliveries:,} deliveries, {lat.missing} missing)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--subscribers", type=int, default=1000, help="the many-subscribers case [1000]")
    parser.add_argument("--rate", type=float, default=20.0, help="driver: workflow events per second [20]")
    parser.add_argument("--seconds", type=float, help="latency run length [full 20, quick 8]")
    parser.add_argument("--spans", type=int, help="spans per ingest measurement [full 400k, quick 100k]")
    parser.add_argument("--clients", type=int, default=2, help="ingest client processes [2]")
    parser.add_argument("--connections", type=int, default=4, help="connections per ingest client [4]")
    parser.add_argument("--deflate", action="store_true", help="subscribers negotiate permessage-deflate")
    parser.add_argument(
        "--others", type=int, default=100, help="feeds of other workflows during workflow-span ingest [100]"
    )
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 20.0)
    spans = args.spans or (102_400 if args.quick else 409_600)
    many = args.subscribers

    workdir = Path(tempfile.mkdtemp(prefix="flowscope-wsbench-"))
    try:
        print(
            f"{os.cpu_count()} CPUs; driver: {args.rate:g} events/s, executions of {STEPS} steps, one fact "
            f"per OTLP request; permessage-deflate {'on' if args.deflate else 'off'}",
            flush=True,
        )
        server = start_serve(workdir / "latency.duckdb")
        try:
            api, otlp = server.urls["api"], server.urls["otlp_http"]
            one = measure_latency(api, otlp, 1, args, seconds)
            _print_latency("latency, ack -> client, 1 subscriber", one)
            lots = measure_latency(api, otlp, many, args, seconds)
            _print_latency(f"latency, ack -> client, {many:,} subscribers", lots)
        finally:
            server.stop()

        rounds = 1 if args.quick else 2  # alternated, so drift affects both sides alike
        bases, loadeds = [], []
        for r in range(rounds):
            base, _ = measure_ingest(workdir, f"ingest0-{r}", 0, spans, args)
            bases.append(base)
            print(f"ingest, no subscribers                       {base:>10,.0f} spans/s", flush=True)
            loaded, during = measure_ingest(workdir, f"ingest1-{r}", many, spans, args)
            loadeds.append(loaded)
            print(f"ingest, {many:,} subscribers                  {loaded:>10,.0f} spans/s", flush=True)
            if during is not None:
                _print_latency("  latency meanwhile", during)
        ratio = sum(loadeds) / sum(bases)
        print(f"ingest with {many:,} subscribers / without      {ratio:>10.0%}  (mean of {rounds} each)")

        quiet, watched = [], []
        for r in range(rounds):
            quiet.append(measure_uninterested_ingest(workdir, f"others0-{r}", 0, spans, args))
            print(f"workflow-span ingest, no subscribers           {quiet[-1]:>10,.0f} spans/s", flush=True)
            watched.append(measure_uninterested_ingest(workdir, f"others1-{r}", args.others, spans, args))
            print(
                f"workflow-span ingest, {args.others:,} other workflows' feeds {watched[-1]:>10,.0f} spans/s",
                flush=True,
            )
        others_ratio = sum(watched) / sum(quiet)
        print(f"workflow-span ingest with them / without {others_ratio:>10.0%}  (mean of {rounds} each)")

        print()
        ok_latency = lots.p99 < 100 and lots.missing == 0
        print(f"goal p99 < 100 ms with {many:,} subscribers: {lots.p99:.1f} ms -> {_met(ok_latency)}")
        print(f"goal ingest >= 80% with {many:,} subscribers: {ratio:.0%} -> {_met(ratio >= 0.8)}")
        print(
            f"goal (issue 11) workflow-span ingest >= 90% with {args.others:,} feeds of other workflows: "
            f"{others_ratio:.0%} -> {_met(others_ratio >= 0.9)}"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
