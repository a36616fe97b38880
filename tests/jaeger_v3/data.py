"""The traces the v3 contract tests read, with fixed ids and times."""

from __future__ import annotations

from flowscope.storage.catalog import DEFAULT_WORKSPACE_ID
from flowscope.storage.interfaces import Store

from tests.storage.conformance.otlp import ERROR, SERVER, SpanSpec, every_field, traces, write

WS_A = DEFAULT_WORKSPACE_ID
B_SLUG = "v3-b"
S, MS = 10**9, 10**6
T = 1_705_312_800 * S  # 2024-01-15T10:00:00Z
T_TEXT = "2024-01-15T10:00:00Z"

RICH = "5b8efff798038103d269b633813fc60c"  # every OTLP field (otlp.every_field), services shop and stock
# One trace per attribute value type, each a single span of service `typed`: (trace id, attributes,
# the value as a search matches it: text, as jaeger-query compares tag values).
TYPED = {
    "string": ("c1" * 16, {"v.string": "text"}, "text"),
    "bool": ("c2" * 16, {"v.bool": True}, "true"),
    "int": ("c3" * 16, {"v.int": 200}, "200"),
    "double": ("c4" * 16, {"v.double": 1.5}, "1.5"),
    "bytes": ("c5" * 16, {"v.bytes": b"\x00\xff"}, "AP8="),
    "array": ("c6" * 16, {"v.array": ("a", 1)}, '["a",1]'),
    "kvlist": ("c7" * 16, {"v.kvlist": {"k": "v"}}, '{"k":"v"}'),
}
# Service `bounds`: three one-span traces, 1 s apart, lasting 10, 20 and 30 ms.
BOUNDS = [("d1" * 16, 0, 10 * MS), ("d2" * 16, S, 20 * MS), ("d3" * 16, 2 * S, 30 * MS)]
# Service `big`: a root and 5 children (the cap tests cut it at 3 spans).
BIG = "e0" * 16
UNKINDED = "f0" * 16  # service `unkinded`: one span of kind UNSPECIFIED
B_TRACE = "b0" * 16  # workspace B's only trace (service `b-only`); B also has its own RICH
SPAN_1 = "0100000000000001"


def _one(trace_id: str, name: str, start: int, duration: int, **fields: object) -> SpanSpec:
    return SpanSpec(trace_id, trace_id[:2] + "0" * 13 + "1", name, start, start + duration, **fields)  # type: ignore[arg-type]


def load(store: Store) -> str:
    """Write the traces; the id of workspace B (created in the catalog)."""
    ws_b = store.catalog.create_workspace(B_SLUG, "V3 B").id
    write(store, every_field(RICH, T), WS_A)
    for n, (trace_id, attributes, _) in enumerate(TYPED.values()):
        write(
            store, traces([_one(trace_id, "typed op", T + n * S, MS, attributes=attributes)], "typed"), WS_A
        )
    for trace_id, offset, duration in BOUNDS:
        write(store, traces([_one(trace_id, "bounded", T + offset, duration, kind=SERVER)], "bounds"), WS_A)
    root = SpanSpec(BIG, "e000000000000001", "big root", T, T + S, kind=SERVER)
    children = [
        SpanSpec(BIG, f"e00000000000001{n}", f"child {n}", T + n * MS, T + 2 * n * MS, root.span_id,
                 status_code=ERROR if n == 2 else 0)
        for n in range(1, 6)
    ]  # fmt: skip
    write(store, traces([root, *children], "big"), WS_A)
    write(store, traces([_one(UNKINDED, "unkinded op", T, MS, kind=0)], "unkinded"), WS_A)
    write(store, traces([_one(B_TRACE, "b op", T, MS)], "b-only"), ws_b)
    write(store, traces([_one(RICH, "b's own", T, MS)], "b-only"), ws_b)
    return ws_b
