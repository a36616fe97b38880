"""What Grafana's Jaeger data source requires of a trace, as checks.

Grafana decodes `/api/traces/{id}` into Go structs (pkg/tsdb/jaeger: startTime and
duration int64 µs, logs[].timestamp int64, flags int, tags typed key/type/value) or,
in frontend mode, maps spans with `processes[span.processID]` and `span.logs.map(...)`
(so logs must be an array) and takes the parent from the first CHILD_OF reference.
"""

from __future__ import annotations

import re
from typing import Any

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
# Microseconds since the epoch for 2001..2100: catches ms or ns by mistake.
MIN_US, MAX_US = 978_307_200 * 10**6, 4_102_444_800 * 10**6
TAG_TYPES = {"string": str, "bool": bool, "int64": int, "float64": (int, float), "binary": str}


def check_envelope(body: dict[str, Any]) -> None:
    assert set(body) == {"data", "total", "limit", "offset", "errors"}, body.keys()
    assert (
        isinstance(body["total"], int) and isinstance(body["limit"], int) and isinstance(body["offset"], int)
    )
    assert body["errors"] is None or isinstance(body["errors"], list)


def check_tag(tag: dict[str, Any]) -> None:
    assert set(tag) == {"key", "type", "value"}, tag
    assert isinstance(tag["key"], str) and tag["type"] in TAG_TYPES, tag
    value = tag["value"]
    assert isinstance(value, TAG_TYPES[tag["type"]]), tag
    if tag["type"] in ("int64", "float64"):
        assert not isinstance(value, bool), tag


def check_trace(trace: dict[str, Any]) -> None:
    assert HEX32.match(trace["traceID"]), trace["traceID"]
    assert isinstance(trace["processes"], dict) and trace["processes"]
    for pid, process in trace["processes"].items():
        assert isinstance(pid, str)
        assert isinstance(process["serviceName"], str) and process["serviceName"]
        assert isinstance(process["tags"], list)
        for tag in process["tags"]:
            check_tag(tag)
    assert trace["warnings"] is None or all(isinstance(w, str) for w in trace["warnings"])
    assert isinstance(trace["spans"], list) and trace["spans"]
    ids = set()
    for span in trace["spans"]:
        check_span(span, trace)
        ids.add(span["spanID"])
    assert len(ids) == len(trace["spans"]), "duplicate span ids"


def check_span(span: dict[str, Any], trace: dict[str, Any]) -> None:
    assert span["traceID"] == trace["traceID"]
    assert HEX16.match(span["spanID"]), span["spanID"]
    assert isinstance(span["operationName"], str)
    for key in ("startTime", "duration", "flags"):
        assert type(span[key]) is int, (key, span[key])
    assert MIN_US <= span["startTime"] <= MAX_US, f"startTime not in microseconds: {span['startTime']}"
    assert span["duration"] >= 0
    assert span["processID"] in trace["processes"]
    assert isinstance(span["references"], list)
    for i, ref in enumerate(span["references"]):
        assert set(ref) == {"refType", "traceID", "spanID"}, ref
        assert ref["refType"] in ("CHILD_OF", "FOLLOWS_FROM")
        assert HEX32.match(ref["traceID"]) and HEX16.match(ref["spanID"]), ref
        if ref["refType"] == "CHILD_OF":
            assert i == 0, "the parent must be the first reference"
    assert isinstance(span["tags"], list)
    for tag in span["tags"]:
        check_tag(tag)
    assert isinstance(span["logs"], list), "logs must be an array, never null"
    for log in span["logs"]:
        assert type(log["timestamp"]) is int and MIN_US <= log["timestamp"] <= MAX_US, log
        assert isinstance(log["fields"], list)
        for field in log["fields"]:
            check_tag(field)
    assert span["warnings"] is None or all(isinstance(w, str) for w in span["warnings"])


def tags(item: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in item["tags"]}


def by_name(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["operationName"]: s for s in trace["spans"]}
