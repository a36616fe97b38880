"""OTLP AnyValue / KeyValue to plain Python values, for the few places that need them.

The store keeps attributes as protobuf bytes; these helpers decode them when read (trace
and replay reads, step input/output) or when the collector promotes a workflow attribute.
They live in the storage layer so that both the store and the collector above it can use them.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from flowscope import conventions as c
from flowscope import workflow_meaning as m

# Bounds for rendering hostile input: nesting depth beyond which values are elided.
MAX_DEPTH = 32


def any_value_to_python(value: AnyValue, depth: int = 0) -> Any:
    """Convert an AnyValue to str/bool/int/float/bytes/list/dict/None."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "bool_value":
        return value.bool_value
    if which == "double_value":
        return value.double_value
    if which is None:
        return None
    if depth >= MAX_DEPTH:
        return "…(nested too deep)"
    if which == "array_value":
        return [any_value_to_python(v, depth + 1) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value_to_python(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value
    return None


def attributes_to_dict(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value_to_python(kv.value) for kv in attributes}


def to_jsonable(value: Any) -> Any:
    """Make a decoded value JSON-serialisable (bytes as base64, non-finite floats as text)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def any_value_to_text(value: AnyValue) -> str | None:
    """A log body as text: strings as they are, anything else as compact JSON."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        return value.string_value
    import orjson

    return orjson.dumps(to_jsonable(any_value_to_python(value))).decode()


_WORKFLOW_PREFIXES = c.WORKFLOW_ATTRIBUTE_PREFIXES
_WORKFLOW_KEYS = c.WORKFLOW_ATTRIBUTE_KEYS
_SCALARS = frozenset({"string_value", "int_value", "bool_value", "double_value"})


def is_workflow_key(key: str) -> bool:
    """Whether an attribute is one the change feed carries (decoded at ingest)."""
    return key.startswith(_WORKFLOW_PREFIXES) or key in _WORKFLOW_KEYS


def workflow_attributes(attributes: Iterable[KeyValue]) -> dict[str, Any] | None:
    """The attributes of a span or log record that the change feed carries
    (`conventions.WORKFLOW_ATTRIBUTE_PREFIXES` / `_KEYS`), decoded; None when it has none. The collector
    decodes them at ingest, a replay reads them back the same way."""
    found: dict[str, Any] = {}
    for kv in attributes:
        key = kv.key
        if is_workflow_key(key):
            # Inlined for scalars (nearly every workflow attribute): ingest runs this per span.
            value = kv.value
            which = value.WhichOneof("value")
            found[key] = getattr(value, which) if which in _SCALARS else any_value_to_python(value)
    return found or None


def exception_text(events: Iterable[Any]) -> str | None:
    """`workflow_meaning.exception_text` of OTLP span events (opentelemetry.proto Span.Event)."""
    wanted = (c.EXCEPTION_MESSAGE, c.EXCEPTION_TYPE)
    return m.exception_text(
        (e.name, {kv.key: any_value_to_python(kv.value) for kv in e.attributes if kv.key in wanted})
        for e in events
        if e.name == c.EXCEPTION_EVENT
    )


def add_exception_text(attributes: dict[str, Any], events: Iterable[Any]) -> dict[str, Any]:
    """The change feed's attributes of a workflow span: its decoded workflow attributes plus,
    under `conventions.EXCEPTION_MESSAGE`, its last `exception` event's text (the collector
    at ingest and a replay both build them so)."""
    if events and (text := exception_text(events)) is not None:
        attributes[c.EXCEPTION_MESSAGE] = text
    return attributes
