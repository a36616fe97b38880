"""Parsing of the Jaeger query API's parameters, exactly as jaeger-query reads them.

Jaeger (cmd/query/app/query_parser.go): `start`/`end` are unix microseconds,
`minDuration`/`maxDuration` Go durations, `tags` a JSON object (Grafana's backend
and frontend both send JSON; we also accept logfmt, what users type in Grafana),
`tag=key:value` may repeat, `limit` defaults to 100, and a missing `start` means
"the last two days". `/api/dependencies` takes `endTs` and `lookback` in milliseconds.
"""

from __future__ import annotations

import json
import re
import shlex
import time

from flowscope.storage.traces import TraceQuery

DEFAULT_LIMIT = 100
MAX_LIMIT = 1500  # bounds the work of one search, whatever a client asks for
DEFAULT_LOOKBACK_NS = 2 * 24 * 3600 * 10**9  # jaeger-query's defaultTraceQueryLookbackDuration
DEFAULT_DEPENDENCY_LOOKBACK_MS = 24 * 3600 * 1000

_UNIT_NS = {
    "ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6,
    "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
}  # fmt: skip
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
# The Jaeger UI's lookback values ("1h", "2d", "7d") also allow days and weeks.
_LOOKBACK_UNIT_NS = {**_UNIT_NS, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}
_LOOKBACK = re.compile(r"^(\d+)(ns|us|µs|μs|ms|s|m|h|d|w)$")


class ParamError(ValueError):
    """A parameter that jaeger-query would reject with 400."""


def parse_go_duration(text: str) -> int:
    """A Go `time.ParseDuration` string ("1.5s", "300ms", "1h15m") in nanoseconds."""
    s = text.strip()
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _GO_DURATION_PART.match(s, pos)
        if not m:
            raise ParamError(f"time: invalid duration {text!r}")
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise ParamError(f"time: invalid duration {text!r}")
    if not total < _MAX_PARAM:  # also inf and nan: a 500 (and DuckDB's int64) otherwise
        raise ParamError(f"time: duration {text[:64]!r} out of range")
    return sign * round(total)


def parse_tags(tags_params: list[str], tag_params: list[str]) -> dict[str, str]:
    """`tags` (JSON object or logfmt) and repeated `tag=key:value`, merged."""
    out: dict[str, str] = {}
    for raw in tag_params:
        key, sep, value = raw.partition(":")
        if not sep:
            raise ParamError(f"malformed 'tag' parameter, expecting key:value, received: {raw}")
        out[key] = value
    for raw in tags_params:
        out.update(_parse_tags_value(raw))
    return out


def _parse_tags_value(raw: str) -> dict[str, str]:
    text = raw.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParamError(f"malformed 'tags' parameter, cannot unmarshal JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ParamError("malformed 'tags' parameter: expecting a JSON object")
        return {str(k): _tag_text(v) for k, v in parsed.items()}
    return _parse_logfmt(text)


def _tag_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _parse_logfmt(text: str) -> dict[str, str]:
    """`key=value key2="quoted value"`; a bare key means an empty value, as go-logfmt does."""
    out: dict[str, str] = {}
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError as exc:
        raise ParamError(f"malformed 'tags' parameter, cannot parse logfmt: {exc}") from None
    for token in tokens:
        key, _, value = token.partition("=")
        if not key:
            raise ParamError(f"malformed 'tags' parameter, empty key in {token!r}")
        out[key] = value
    return out


_MAX_PARAM = 2**53  # larger values (in any unit we multiply by) would overflow DuckDB's int64


def _int_param(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        try:
            number = int(float(value))  # Grafana's frontend may send 1.7e15-style or "123.0"
        except (ValueError, OverflowError):  # also nan and inf
            raise ParamError(f"unable to parse {name}: {value!r} is not a number") from None
    if abs(number) > _MAX_PARAM:
        raise ParamError(f"{name} out of range: {value[:64]!r}")
    return number


def parse_trace_query(params: dict[str, list[str]], now_ns: int | None = None) -> TraceQuery:
    """The search parameters of `GET /api/traces` (multi-valued query string)."""

    def one(name: str) -> str:
        values = params.get(name) or [""]
        return values[0].strip()

    now_ns = time.time_ns() if now_ns is None else now_ns
    service = one("service")
    if not service:
        raise ParamError("parameter 'service' is required")
    end_ns = _int_param("end", one("end")) * 1000 if one("end") else now_ns
    if one("start"):
        start_ns = _int_param("start", one("start")) * 1000
    else:
        start_ns = end_ns - _lookback_ns(one("lookback"))
    min_d = parse_go_duration(one("minDuration")) if one("minDuration") else None
    max_d = parse_go_duration(one("maxDuration")) if one("maxDuration") else None
    if min_d and max_d and max_d < min_d:
        raise ParamError("'maxDuration' should be greater than 'minDuration'")
    limit = _int_param("limit", one("limit")) if one("limit") else DEFAULT_LIMIT
    if limit <= 0:
        limit = DEFAULT_LIMIT
    return TraceQuery(
        service=service,
        operation=one("operation") or None,
        tags=parse_tags(params.get("tags", []), params.get("tag", [])),
        start_ns=max(start_ns, 0),
        end_ns=max(end_ns, 0),
        min_duration_ns=min_d,
        max_duration_ns=max_d,
        limit=min(limit, MAX_LIMIT),
    )


def _lookback_ns(lookback: str) -> int:
    """The Jaeger UI's `lookback` ("1h", "2d"; "custom" means start/end were given)."""
    m = _LOOKBACK.match(lookback)
    if not m:
        return DEFAULT_LOOKBACK_NS
    return int(m.group(1)) * _LOOKBACK_UNIT_NS[m.group(2)]


def parse_dependency_window(
    end_ts: str | None, lookback: str | None, now_ns: int | None = None
) -> tuple[int, int]:
    """`endTs` and `lookback` (milliseconds) as a [start_ns, end_ns] window."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    end_ns = _int_param("endTs", end_ts) * 10**6 if end_ts else now_ns
    lookback_ms = _int_param("lookback", lookback) if lookback else DEFAULT_DEPENDENCY_LOOKBACK_MS
    if lookback_ms <= 0:
        lookback_ms = DEFAULT_DEPENDENCY_LOOKBACK_MS
    return max(end_ns - lookback_ms * 10**6, 0), end_ns


def normalize_trace_id(raw: str) -> str:
    """32 lowercase hex digits; Jaeger accepts shorter ids (high bits zero)."""
    text = raw.strip().lower()
    if not text or len(text) > 32 or any(ch not in "0123456789abcdef" for ch in text):
        raise ParamError(f"cannot parse traceID param: {raw!r} is not a hex trace id of at most 32 digits")
    return text.rjust(32, "0")
