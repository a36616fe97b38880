"""The query parameters of the Jaeger query API v3, read as Jaeger's HTTP gateway reads them.

Source: jaegertracing/jaeger cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/
query_parser.go and http_gateway.go. Each parameter has a camelCase name (proto3 JSON) and a
deprecated snake_case alias, the first value counting; times are RFC 3339 with up to
nanoseconds (Go's `time.RFC3339Nano`), durations Go durations (`time.ParseDuration`), flags Go
booleans (`strconv.ParseBool`), `query.attributes` a JSON object of strings. Messages are the
gateway's ("malformed parameter <name>: ..."); a refused parameter is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flowscope.api.jaeger.params import MAX_LIMIT, ParamError, parse_go_duration
from flowscope.storage.traces import TraceQuery

Params = Mapping[str, Sequence[str]]
"""A query string: each name with its values, in order."""

DEFAULT_SEARCH_DEPTH = 100  # query_parser.go defaultSearchDepth
GO_RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"
SERVICE_REQUIRED = (  # querysvc.ErrServiceNameRequired: the store searches one service at a time
    "this storage backend requires a service name to search; searching all services is not supported"
)
FILTER_REFUSED = (  # querysvc.ErrFilterDisabled, with Flowscope's reason
    "the structured query filter is disabled: Flowscope serves the query parameters "
    "(query.serviceName, query.attributes, ...), not the filter expression"
)

# Go's time.Parse(time.RFC3339Nano, ...): any number of fraction digits (the first 9 count),
# '.' or ',' before them, 'Z' or an offset. A ' ' is read as the offset's '+': Grafana writes
# the time into the query string unencoded (pkg/jaeger/grpc_client.go), where '+' means ' '.
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+\- ]\d{2}:\d{2})")
_GO_INT = re.compile(r"[+-]?\d+")
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_HEX = re.compile(r"[0-9a-fA-F]{1,32}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def first(params: Params, canonical: str, deprecated: str = "") -> tuple[str, str]:
    """(value, name): the canonical parameter, else its deprecated alias (gateway's getQueryParam)."""
    value = _get(params, canonical)
    if value or not deprecated:
        return value, canonical
    return _get(params, deprecated), deprecated


def _get(params: Params, name: str) -> str:
    values = params.get(name)
    return values[0] if values else ""


def malformed(name: str, reason: str) -> ParamError:
    return ParamError(f"malformed parameter {name}: {reason}")


def parse_time(value: str, name: str) -> int:
    """An RFC 3339 time as Unix nanoseconds."""
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise malformed(name, f'parsing time "{value}" as "{GO_RFC3339_NANO}"')
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:  # Go names the first field out of range
        limits = {"month": 1 <= month <= 12, "hour": hour < 24, "minute": minute < 60, "second": second < 60}
        field = next((label for label, within in limits.items() if not within), "day")
        raise malformed(name, f'parsing time "{value}": {field} out of range') from None
    fraction, zone = m.group(7) or "", m.group(8)
    nanos = int(fraction[:9].ljust(9, "0")) if fraction else 0
    offset = 0
    if zone != "Z":
        offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * 60 * (-1 if zone[0] == "-" else 1)
    seconds = (moment - _EPOCH) // timedelta(seconds=1) - offset
    return seconds * 10**9 + nanos


def parse_bool(value: str, name: str) -> bool:
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    raise malformed(name, f'strconv.ParseBool: parsing "{value}": invalid syntax')


def parse_trace_id(raw: str) -> str:
    """A trace id as 32 lowercase hex digits: hex of up to 32 digits (high bits zero), else
    base64 of 8 or 16 bytes, standard or URL-safe, padded or not (`TraceIDFromString`)."""
    if _HEX.fullmatch(raw):
        return raw.lower().rjust(32, "0")
    reason = f'strconv.ParseUint: parsing "{raw}": invalid syntax'
    if len(raw) > 32:
        reason = f"TraceID cannot be longer than 32 hex characters: {raw}"
    elif raw and len(raw) <= 24:
        decoded = _base64(raw)
        if decoded is not None:
            if len(decoded) in (8, 16):
                return decoded.hex().rjust(32, "0")
            reason = "invalid length for TraceID"
    raise malformed("trace_id", reason)


def _base64(text: str) -> bytes | None:
    """The first of Go's four base64 encodings (std, URL; padded, raw) that decodes `text`."""
    for alphabet, foreign in ((b"+/", "-_"), (b"-_", "+/")):
        if any(ch in text for ch in foreign):
            continue
        for padded in (True, False):
            if padded != (len(text) % 4 == 0) or (not padded and "=" in text):
                continue
            try:
                return base64.b64decode(text + "=" * (-len(text) % 4), altchars=alphabet, validate=True)
            except (binascii.Error, ValueError):
                continue
    return None


@dataclass(frozen=True)
class Search:
    """A trace search of `/api/v3/traces` and `/api/v3/trace-summaries`."""

    query: TraceQuery
    raw_traces: bool


def parse_search(params: Params) -> Search:
    """The `query.*` parameters (parseFindTracesQuery), then the query service's own refusals:
    a structured filter, and a search without a service name."""
    service, _ = first(params, "query.serviceName", "query.service_name")
    operation, _ = first(params, "query.operationName", "query.operation_name")
    tags = _attributes(_get(params, "query.attributes"))
    min_text, min_name = first(params, "query.startTimeMin", "query.start_time_min")
    max_text, max_name = first(params, "query.startTimeMax", "query.start_time_max")
    if not min_text or not max_text:
        raise ParamError("query.startTimeMin and query.startTimeMax are required")
    start_min, start_max = parse_time(min_text, min_name), parse_time(max_text, max_name)
    if start_min >= start_max:
        raise ParamError("query.startTimeMin must be before query.startTimeMax")
    depth = _search_depth(params)
    durations = [
        _duration(*first(params, canonical, deprecated))
        for canonical, deprecated in (("query.durationMin", "query.duration_min"),
                                      ("query.durationMax", "query.duration_max"))
    ]  # fmt: skip
    raw_text, raw_name = first(params, "query.rawTraces", "query.raw_traces")
    raw = parse_bool(raw_text, raw_name) if raw_text else False
    if _get(params, "query.filter"):
        raise ParamError(FILTER_REFUSED)
    if not service:
        raise ParamError(SERVICE_REQUIRED)
    return Search(
        TraceQuery(
            service=service,
            operation=operation or None,
            tags=tags,
            # start_time_max is exclusive (query_service.proto); the store's bounds are inclusive.
            start_ns=max(start_min, 0),
            end_ns=max(start_max - 1, 0),
            min_duration_ns=durations[0],
            max_duration_ns=durations[1],
            limit=depth,
        ),
        raw,
    )


def _attributes(text: str) -> dict[str, str]:
    """`query.attributes`: a JSON object whose values are strings (Go: map[string]string)."""
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise malformed("query.attributes", str(exc)) from None
    if parsed is None:  # Go unmarshals null into a nil map
        return {}
    if not isinstance(parsed, dict):
        raise malformed("query.attributes", _unmarshal_error(parsed, "map[string]string"))
    for key, value in parsed.items():
        if not isinstance(value, str) and value is not None:  # Go leaves a null as ""
            raise malformed("query.attributes", _unmarshal_error(value, f"string (key {key!r})"))
    return {key: value or "" for key, value in parsed.items()}


def _unmarshal_error(value: object, target: str) -> str:
    kinds = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return f"json: cannot unmarshal {kinds.get(type(value), 'value')} into Go value of type {target}"


def _search_depth(params: Params) -> int:
    """`query.searchDepth` (or its aliases), default 100; a depth below 1 is the default too,
    as the gRPC handler reads it, and the most one search returns is the v1 API's."""
    text, name = first(params, "query.searchDepth", "query.search_depth")
    if not text:
        text, name = _get(params, "query.num_traces"), "query.num_traces"
    if not text:
        return DEFAULT_SEARCH_DEPTH
    if not _GO_INT.fullmatch(text):
        raise malformed(name, f'strconv.Atoi: parsing "{text}": invalid syntax')
    depth = int(text)
    return min(depth, MAX_LIMIT) if depth > 0 else DEFAULT_SEARCH_DEPTH


def _duration(text: str, name: str) -> int | None:
    """A Go duration in ns; absent or zero: no bound (the store's readers skip a zero bound)."""
    if not text:
        return None
    try:
        return parse_go_duration(text) or None
    except ParamError as exc:
        raise malformed(name, str(exc)) from None
