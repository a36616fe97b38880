"""A plain OpenTelemetry SDK program, nothing Flowscope-specific: a frontend calls a payment service.

Usage: python plain_sdk.py OTLP_HTTP_URL   (prints the trace id it exported)
It exercises what the Jaeger mapping must carry: two services (a dependency edge),
CLIENT/SERVER/INTERNAL kinds, typed attributes, an event, a link, an error status
with a message, and W3C trace state.
"""

from __future__ import annotations

import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

MS = 1_000_000


def provider(endpoint: str, service: str) -> TracerProvider:
    tp = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    return tp


def main(endpoint: str) -> None:
    frontend, payments = provider(endpoint, "shop-frontend"), provider(endpoint, "shop-payments")
    web = frontend.get_tracer("shop.web", "2.1.0")
    pay = payments.get_tracer("shop.payments")
    t0 = time.time_ns() - 30_000 * MS
    # A parent context carrying trace state, as if propagated from an upstream caller.
    upstream = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331, is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=TraceState([("vendor", "abc")]),
    )  # fmt: skip
    batch_link = Link(SpanContext(0x1234, 0x5678, is_remote=True), {"link.kind": "batch"})
    root = web.start_span(
        "GET /checkout", context=trace.set_span_in_context(NonRecordingSpan(upstream)),
        kind=SpanKind.SERVER, start_time=t0, links=[batch_link],
        attributes={"http.request.method": "GET", "http.response.status_code": 500, "cart.items": 3,
                    "cart.total": 42.5, "user.vip": True, "cart.skus": ["a-1", "b-2"]},
    )  # fmt: skip
    ctx = trace.set_span_in_context(root)
    render = web.start_span("render cart", context=ctx, start_time=t0 + 2 * MS)
    render.add_event("cache miss", {"cache.key": "cart:42"}, timestamp=t0 + 3 * MS)
    render.end(end_time=t0 + 12 * MS)
    call = web.start_span("POST /pay", context=ctx, kind=SpanKind.CLIENT, start_time=t0 + 15 * MS)
    server = pay.start_span(
        "POST /pay", context=trace.set_span_in_context(call), kind=SpanKind.SERVER, start_time=t0 + 17 * MS
    )
    server.record_exception(ValueError("card declined"), timestamp=t0 + 250 * MS)
    server.set_status(Status(StatusCode.ERROR, "card declined"))
    server.end(end_time=t0 + 260 * MS)
    call.set_status(Status(StatusCode.ERROR))
    call.end(end_time=t0 + 262 * MS)
    root.set_status(Status(StatusCode.ERROR, "payment failed"))
    root.end(end_time=t0 + 270 * MS)
    print(format(root.get_span_context().trace_id, "032x"), flush=True)
    frontend.shutdown()
    payments.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
