"""Which workflow spans carry an `exception` event's text, found by one search of the request's
bytes (pure logic): the same as reading each decoded span's events."""

from __future__ import annotations

from flowscope.collector import convert
from flowscope.collector.prepare import prepare
from flowscope.collector.wire import item_offsets
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from flowscope import conventions as c

NOW = 1_700_000_000_000_000_000


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _request() -> ExportTraceServiceRequest:
    """Two resources of two scopes, each a root and three steps: one step with an `exception`
    event, one whose attribute value only says "exception", one with another event."""
    request = ExportTraceServiceRequest()
    for r in range(2):
        resource = request.resource_spans.add()
        resource.resource.attributes.append(_kv("service.name", f"svc{r}"))
        for s in range(2):
            scope = resource.scope_spans.add()
            trace_id = bytes([r * 2 + s + 1] * 16)
            root = scope.spans.add(trace_id=trace_id, span_id=bytes([1] * 8), name="root")
            root.attributes.extend(
                [_kv(c.WORKFLOW_ID, f"wf{r}"), _kv(c.WORKFLOW_EXECUTION_ID, trace_id.hex())]
            )
            for k in range(3):
                step = scope.spans.add(
                    trace_id=trace_id, span_id=bytes([k + 2] * 8), parent_span_id=bytes([1] * 8), name=f"s{k}"
                )
                step.attributes.extend([_kv(c.WORKFLOW_ID, f"wf{r}"), _kv(c.STEP_ID, f"s{k}")])
                step.status.code = c.STATUS_CODE_ERROR
                if k == 0:
                    event = step.events.add(name=c.EXCEPTION_EVENT, time_unix_nano=NOW)
                    event.attributes.extend(
                        [_kv(c.EXCEPTION_TYPE, "ValueError"), _kv(c.EXCEPTION_MESSAGE, f"bad {r}{s}")]
                    )
                elif k == 1:
                    step.attributes.append(_kv("workflow.step.note", "no exception here"))
                else:
                    step.events.add(name="retry", time_unix_nano=NOW)
    return request


def test_spans_holding_exception_are_found_by_one_search() -> None:
    request = _request()
    raw = request.SerializeToString()
    offsets = item_offsets(raw)
    assert offsets is not None
    held = convert._holding(raw, offsets, c.EXCEPTION_EVENT.encode())
    assert held == [[[False, True, True, False]] * 2] * 2  # the event's step and the attribute's
    assert convert._holding(raw, offsets, b"not in the request") == [[[False] * 4] * 2] * 2


def test_exception_text_read_with_the_bytes_as_without_them() -> None:
    request = _request()
    walked = prepare("traces", request, "ws", request.SerializeToString(), NOW)
    decoded = prepare("traces", request, "ws", None, NOW)
    assert walked.workflow_spans == decoded.workflow_spans
    assert walked.spans is not None and decoded.spans is not None
    assert walked.spans.drop_columns(["span"]).to_pylist() == decoded.spans.drop_columns(["span"]).to_pylist()
    texts = {s.attributes.get(c.EXCEPTION_MESSAGE) for s in walked.workflow_spans if s.name == "s0"}
    assert texts == {"ValueError: bad 00", "ValueError: bad 01", "ValueError: bad 10", "ValueError: bad 11"}
    assert all(c.EXCEPTION_MESSAGE not in s.attributes for s in walked.workflow_spans if s.name != "s0")
