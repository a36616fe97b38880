"""Crafted spans with exact span-metrics answers, shared by the SpanMetricsReader conformance
tests and the Monitor API's contract tests (tests/jaeger_metrics).

Service `checkout` (and one span of `billing`) around T; the reference query evaluates at
T+10 s, T+20 s and T+30 s, each over the 20 s before it (left end excluded, right end
included), server spans only. Expected, per time, (calls, errors, median ms):
checkout (2, 1, 200), (3, 2, 300), (2, 1, 600); by operation `GET /a` (2, 1, 200), (2, 1, 200),
(1, 0, 200) and `POST /b` (0, 0, -), (1, 1, 1000), (1, 1, 1000).
"""

from __future__ import annotations

from tests.storage.conformance import dataset as d
from tests.storage.conformance.otlp import ERROR, INTERNAL, SERVER, SpanSpec

S, MS = d.S, 1_000_000
T = d.T0 + 24 * d.HOUR  # 2024-01-16T10:00:00Z, clear of the fixed dataset's times


def span(
    n: int, name: str, end_s: float, duration_ms: int, kind: int = SERVER, error: bool = False
) -> SpanSpec:
    end = T + int(end_s * S)
    return SpanSpec(
        f"{n:032x}", f"{n:016x}", name, end - duration_ms * MS, end, kind=kind,
        status_code=ERROR if error else 0,
    )  # fmt: skip


CHECKOUT = (
    span(1, "GET /a", 5, 100),
    span(2, "GET /a", 10, 300, error=True),  # on T+10 s: in that window (right end included)
    span(3, "GET /a", 25, 200),
    span(4, "POST /b", 12, 1000, error=True),
    span(5, "work", 15, 50, kind=INTERNAL),  # another kind
    span(6, "GET /a", -10, 70),  # on T-10 s, the first window's left end: excluded
    span(7, "GET /a", 31, 90),  # after the last evaluation time
)
BILLING = (span(8, "charge", 20, 40),)
