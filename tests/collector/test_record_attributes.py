"""Log records' workflow attributes read from the request's bytes, as they are read decoded (pure logic).

Receivers hand `prepare` the request's bytes, and the records' workflow attributes are then read
in one walk of them (`storage.wire_values`). Every row, change-feed record and execution fact
must be what reading each decoded record gives.
"""

from __future__ import annotations

from flowscope.collector import convert
from flowscope.collector.prepare import prepare
from flowscope.storage import wire_values
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from flowscope import conventions as c

NOW = 1_700_000_000_000_000_000
A = AnyValue(string_value="a")
KV = KeyValue(key="k", value=AnyValue(string_value="v"))


def _kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def _text(value: str) -> AnyValue:
    return AnyValue(string_value=value)


def _request() -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    for r in range(2):
        resource_logs = request.resource_logs.add()
        resource_logs.resource.attributes.append(_kv("service.name", _text(f"svc{r}")))
        for s in range(2):
            scope = resource_logs.scope_logs.add()
            scope.scope.name = f"scope{s}"
            for n, event in enumerate(
                [c.EVENT_EXECUTION_QUEUED, c.EVENT_EXECUTION_STARTED, c.EVENT_STEP_STARTED, "app.log"]
            ):
                record = LogRecord(
                    time_unix_nano=NOW + n, event_name=event, trace_id=bytes([r + 1] * 16),
                    span_id=bytes([n + 1] * 8), severity_number=9, body=_text(f"{event} {r}/{s}"),
                )  # fmt: skip
                if event != "app.log":
                    record.attributes.extend([
                        _kv(c.WORKFLOW_ID, _text(f"wf{r}")),
                        _kv(c.WORKFLOW_EXECUTION_ID, _text(bytes([r + 1] * 16).hex())),
                        _kv(c.WORKFLOW_EXECUTION_NUMBER, AnyValue(int_value=7 + s)),
                        _kv("http.method", _text("GET")),  # not a workflow attribute
                        _kv(c.WORKFLOW_INPUT, _text('{"rows": 3}')),
                        _kv("workflow.step.depends_on", AnyValue(array_value=ArrayValue(values=[A]))),
                        _kv("workflow.extra", AnyValue(kvlist_value=KeyValueList(values=[KV]))),
                        _kv("workflow.ratio", AnyValue(double_value=0.5)),
                        _kv("workflow.flag", AnyValue(bool_value=True)),
                        _kv(c.ERROR_TYPE, _text("Boom")),
                    ])  # fmt: skip
                    if n == 2:
                        record.attributes.append(_kv(c.STEP_ID, _text(f"step{s}")))
                scope.log_records.append(record)
    return request


def test_records_read_from_the_bytes_as_from_the_decoded_request() -> None:
    request = _request()
    raw = request.SerializeToString()
    layout = convert._record_layout(request, raw)
    assert layout is not None
    offsets, sent = layout
    assert [b for scopes in sent for records in scopes for b in records] == [
        record.SerializeToString()
        for r in request.resource_logs
        for s in r.scope_logs
        for record in s.log_records
    ]
    per_scope = convert._walked_items(raw, offsets, wire_values.LOG_RECORD_ATTRIBUTES)
    read = [attrs for scopes in per_scope for records in scopes for attrs in records]
    assert len(read) == 16 and not any(attrs is convert._UNREAD for attrs in read)  # the walk read all
    assert sum(attrs is not None for attrs in read) == 12
    walked = prepare("logs", request, "ws", raw, NOW)
    decoded = prepare("logs", request, "ws", None, NOW)
    assert walked.logs is not None and decoded.logs is not None
    assert walked.logs.to_pylist() == decoded.logs.to_pylist()
    assert walked.workflow_logs == decoded.workflow_logs
    assert walked.executions == decoded.executions
    assert len(walked.workflow_logs) == 12  # the 4 scopes' 3 workflow records each
    first = walked.workflow_logs[0].attributes
    assert first["workflow.step.depends_on"] == ["a"] and first["workflow.extra"] == {"k": "v"}
    assert "http.method" not in first
    assert {e[1] for e in walked.executions} == {bytes([1] * 16).hex(), bytes([2] * 16).hex()}
