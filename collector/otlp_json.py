"""OTLP/JSON request bodies to protobuf messages, per the OTLP JSON encoding rules.

Protobuf's own JSON mapping handles everything OTLP/JSON needs (int64 as string or
number, enums as integers, camelCase or original snake_case keys, unknown fields
ignored) except one rule: trace and span ids are hex, not base64. `json_format`
would decode hex ids as base64 without complaint, producing wrong ids, so ids are
transcoded hex -> base64 at their known places before parsing.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


class JsonDecodeError(ValueError):
    pass


_ID_KEYS = (
    ("traceId", 16), ("trace_id", 16), ("spanId", 8), ("span_id", 8),
    ("parentSpanId", 8), ("parent_span_id", 8),
)  # fmt: skip


def _items(obj: dict[str, Any], camel: str, snake: str, where: str) -> list[Any]:
    value = obj.get(camel, obj.get(snake))
    if value is None:
        return []
    if not isinstance(value, list):
        raise JsonDecodeError(f"{where}.{camel}: expected an array, got {type(value).__name__}")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise JsonDecodeError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _transcode_ids(obj: dict[str, Any], where: str) -> None:
    for key, size in _ID_KEYS:
        value = obj.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise JsonDecodeError(f"{where}.{key}: expected a hex string, got {type(value).__name__}")
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise JsonDecodeError(f"{where}.{key}: {value[:64]!r} is not a hex string") from None
        if len(raw) != size:
            # Keep the bytes (the span is then rejected individually, as partial success)
            # rather than failing the whole request.
            pass
        obj[key] = base64.b64encode(raw).decode("ascii")


_SPAN_KINDS = frozenset(Span.SpanKind.keys())
_STATUS_CODES = frozenset(Status.StatusCode.keys())
_SEVERITIES = frozenset(SeverityNumber.keys())


def _check_enum(obj: dict[str, Any], keys: tuple[str, ...], names: frozenset[str], where: str) -> None:
    """Enums are integers in OTLP/JSON; a name is tolerated if known, anything else is an error.

    (json_format with ignore_unknown_fields would silently drop an unknown enum name.)
    """
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value not in names:
            raise JsonDecodeError(f"{where}.{key}: {value[:64]!r} is not a valid enum value (use an integer)")


def _prepare_traces(data: dict[str, Any]) -> None:
    for i, rs in enumerate(_items(data, "resourceSpans", "resource_spans", "$")):
        w_rs = f"resourceSpans[{i}]"
        for j, ss in enumerate(_items(_object(rs, w_rs), "scopeSpans", "scope_spans", w_rs)):
            w_ss = f"{w_rs}.scopeSpans[{j}]"
            for k, span in enumerate(_items(_object(ss, w_ss), "spans", "spans", w_ss)):
                w_span = f"{w_ss}.spans[{k}]"
                _transcode_ids(_object(span, w_span), w_span)
                _check_enum(span, ("kind",), _SPAN_KINDS, w_span)
                if isinstance(status := span.get("status"), dict):
                    _check_enum(status, ("code",), _STATUS_CODES, f"{w_span}.status")
                for m, link in enumerate(_items(span, "links", "links", w_span)):
                    _transcode_ids(_object(link, f"{w_span}.links[{m}]"), f"{w_span}.links[{m}]")


def _prepare_logs(data: dict[str, Any]) -> None:
    for i, rl in enumerate(_items(data, "resourceLogs", "resource_logs", "$")):
        w_rl = f"resourceLogs[{i}]"
        for j, sl in enumerate(_items(_object(rl, w_rl), "scopeLogs", "scope_logs", w_rl)):
            w_sl = f"{w_rl}.scopeLogs[{j}]"
            for k, rec in enumerate(_items(_object(sl, w_sl), "logRecords", "log_records", w_sl)):
                w_rec = f"{w_sl}.logRecords[{k}]"
                _transcode_ids(_object(rec, w_rec), w_rec)
                _check_enum(rec, ("severityNumber", "severity_number"), _SEVERITIES, w_rec)


_PREPARE = {"traces": _prepare_traces, "logs": _prepare_logs}


def parse_json(body: bytes, signal: str, message: Message) -> Message:
    """Parse an OTLP/JSON export request body into `message` (and return it)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise JsonDecodeError(f"body is not valid JSON: {exc}") from None
    data = _object(data, "$")
    try:
        _PREPARE[signal](data)
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise JsonDecodeError(f"invalid OTLP/JSON: {exc}") from None
    except RecursionError:
        raise JsonDecodeError("invalid OTLP/JSON: values nested too deeply") from None
    return message
