"""One function per signal that turns a decoded OTLP export request into table rows.

Hot path. Each span keeps its own protobuf bytes (full fidelity, attributes decoded
only when read); only the columns that queries filter on are promoted, and only
workflow spans (DESIGN.md conventions) get their workflow attributes decoded.
"""

from __future__ import annotations

import hashlib
import logging
from bisect import bisect_right
from itertools import chain
from typing import Any

import numpy as np
from flowscope.collector.recognize import ResourceAttributes, has_marker, recognize, with_attributes
from flowscope.collector.wire import item_offsets, slices
from flowscope.storage import wire_values
from flowscope.storage.anyvalue import (
    add_exception_text,
    any_value_to_text,
    is_workflow_key,
    workflow_attributes,
)
from flowscope.storage.batches import ConvertResult, Rows
from flowscope.storage.changes import WorkflowLogRecord, WorkflowSpan
from flowscope.storage.columns import INT_RANGES, KIND, STATUS_CODE, Unstorable, check_int, promoted_int
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from flowscope import conventions as c
from flowscope import workflow_meaning as m
from flowscope.emitters.registry import Recognition, builtin

log = logging.getLogger(__name__)

_INT64_MAX = 2**63 - 1
_MAX_NAME_IN_ERROR = 100  # characters of a span name quoted in an error message


def content_hash(*parts: bytes) -> int:
    """A stable 64-bit content hash (Python's hash() is salted per process)."""
    h = hashlib.blake2b(digest_size=8)
    for p in parts:
        h.update(len(p).to_bytes(4, "little"))
        h.update(p)
    return int.from_bytes(h.digest(), "little")


def span_key(trace_id: bytes, span_id: bytes) -> int:
    """A span's 64-bit dedupe key: the low 8 bytes of its trace id XOR its span id (both
    random per W3C). collector/sql/ingest/span_keys.sql computes the same from stored rows."""
    return int.from_bytes(trace_id[8:], "big") ^ int.from_bytes(span_id, "big")


def _service_name(resource_attributes: Any) -> str:
    for kv in resource_attributes:
        if kv.key == "service.name":
            return kv.value.string_value
    return "unknown_service"


def _label(name: str) -> str:
    """A span name as error messages quote it (names are client data of any length)."""
    return repr(name if len(name) <= _MAX_NAME_IN_ERROR else name[:_MAX_NAME_IN_ERROR] + "…")


def _register(table: dict[int, tuple[bytes, str]], message: Any, schema_url: str) -> int:
    raw = message.SerializeToString(deterministic=True)
    key = content_hash(raw, schema_url.encode())
    if key not in table:
        table[key] = (raw, schema_url)
    return key


_ZERO_TRACE = b"\0" * 16
_ZERO_SPAN = b"\0" * 8
_MARKERS = tuple(prefix.encode() for prefix in c.WORKFLOW_ATTRIBUTE_PREFIXES)
_BUILTIN = builtin()


def _may_be_workflow(data: bytes) -> bool:
    """False when no attribute key of a workflow span can be in these bytes (the common case)."""
    return _MARKERS[0] in data or _MARKERS[1] in data


def convert_traces(
    request: ExportTraceServiceRequest,
    workspace_id: str,
    rows: Rows,
    now_ns: int,
    raw: bytes | None = None,
    recognition: Recognition | None = None,
) -> ConvertResult:
    """Append the request's valid spans to `rows`; count and describe invalid ones.

    `raw` is the request's protobuf encoding when the caller has it: each span is then
    stored as the exact bytes sent (cut out by `collector.wire`) instead of being
    re-serialized, and requests without any workflow attribute key or recognizer marker
    skip attribute decoding altogether. `recognition` says which other emitters' spans are
    read as workflows (default: the built-in emitters).
    """
    recognition = recognition or _BUILTIN
    foreign = recognition.markers
    result = ConvertResult()
    cols = rows.spans
    c_trace, c_span, c_parent, c_name = (
        cols["trace_id"], cols["span_id"], cols["parent_span_id"], cols["name"],
    )  # fmt: skip
    c_kind, c_start, c_end, c_dur = cols["kind"], cols["start_ns"], cols["end_ns"], cols["duration_ns"]
    c_scode, c_smsg, c_blob = cols["status_code"], cols["status_message"], cols["span"]
    c_key = rows.span_keys
    from_bytes = int.from_bytes
    offsets = item_offsets(raw) if raw is not None else None
    if offsets is not None and len(offsets) != len(request.resource_spans):
        offsets = None
    layout = slices(raw, offsets) if raw is not None and offsets else None
    check_workflow = raw is None or _may_be_workflow(raw) or has_marker(raw, recognition.request_markers)
    # Per resource and scope, per span: its workflow attributes (_NO_KEY: none), read from the
    # request's bytes (`_walked_items`); None: every span is read as decoded.
    walked = (
        _walked_items(raw, offsets, wire_values.SPAN_ATTRIBUTES, _NO_KEY)
        if check_workflow and raw is not None and offsets
        else None
    )
    # Per resource and scope, per span: whether its bytes hold "exception" (an event of that
    # name is possible), found in one search of the request; None: each span's bytes are searched.
    exceptions = _holding(raw, offsets, _EXCEPTION) if walked is not None and raw and offsets else None
    # Executions that only their step spans announce so far (a foreign tracer mid-run): trace id
    # -> the running fact of its earliest step here; dropped where the root span came too.
    from_steps: dict[str, list[Any]] = {}
    executions_before = len(rows.executions)
    reject = result.reject
    int64_max = _INT64_MAX
    kind_low, kind_high = INT_RANGES[KIND]
    code_low, code_high = INT_RANGES[STATUS_CODE]

    for r, resource_spans in enumerate(request.resource_spans):
        resource = resource_spans.resource
        service = _service_name(resource.attributes)
        rid = _register(rows.resources, resource, resource_spans.schema_url)
        resource_attributes = ResourceAttributes(resource)
        scope_layout = layout[r] if layout is not None else None
        if scope_layout is not None and len(scope_layout) != len(resource_spans.scope_spans):
            scope_layout = None
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = scope_spans.scope
            sid = _register(rows.scopes, scope, scope_spans.schema_url)
            spans = scope_spans.spans
            blobs = scope_layout[s] if scope_layout is not None else None
            if blobs is not None and len(blobs) != len(spans):
                blobs = None
            read = walked[r][s] if walked is not None and blobs is not None else None
            holds_exception = exceptions[r][s] if exceptions is not None and blobs is not None else None
            first_row = len(c_trace)
            workflow_rows: list[tuple[int, tuple[Any, ...]]] = []
            for k, span in enumerate(spans):
                tid_b, sid_b, pid_b = span.trace_id, span.span_id, span.parent_span_id
                if len(tid_b) != 16 or tid_b == _ZERO_TRACE:
                    reject(
                        f"span {_label(span.name)}: trace_id must be 16 bytes and not all zero "
                        f"(got {len(tid_b)} bytes)"
                    )
                    continue
                if len(sid_b) != 8 or sid_b == _ZERO_SPAN:
                    reject(
                        f"span {_label(span.name)}: span_id must be 8 bytes and not all zero "
                        f"(got {len(sid_b)} bytes)"
                    )
                    continue
                if pid_b and len(pid_b) != 8:
                    reject(
                        f"span {_label(span.name)}: parent_span_id must be empty or 8 bytes "
                        f"(got {len(pid_b)} bytes)"
                    )
                    continue
                status = span.status
                kind = span.kind
                code = status.code
                if not (kind_low <= kind <= kind_high and code_low <= code <= code_high):
                    try:  # proto3 enums are open: any int32 arrives; the columns hold a byte
                        check_int(KIND, kind)
                        check_int(STATUS_CODE, code)
                    except Unstorable as exc:
                        reject(f"span {_label(span.name)}: {exc}")
                        continue
                blob = blobs[k] if blobs is not None else span.SerializeToString()
                trace_id = tid_b.hex()
                span_id = sid_b.hex()
                parent = pid_b.hex() if pid_b and pid_b != _ZERO_SPAN else ""
                start = span.start_time_unix_nano
                end = span.end_time_unix_nano
                duration = end - start
                if duration < 0:
                    duration = 0
                elif duration > int64_max:
                    duration = int64_max
                name = span.name
                attrs = read[k] if read is not None else _UNREAD
                if attrs is _UNREAD:  # not read from its bytes (or not from them all)
                    candidate = check_workflow and (
                        _may_be_workflow(blob)
                        or has_marker(blob, foreign)
                        or resource_attributes.marked(foreign)
                    )
                elif attrs is _NO_KEY:  # its bytes name no workflow attribute: another emitter's span?
                    attrs = _UNREAD
                    candidate = has_marker(blob, foreign) or resource_attributes.marked(foreign)
                else:  # read from its bytes, which name a workflow attribute
                    candidate = True
                if candidate:
                    try:
                        promoted = _promote_span(
                            rows, span, workspace_id, trace_id, span_id, parent, name, kind, start, end,
                            duration, code, status.message, service, now_ns, blob, recognition,
                            resource_attributes, scope.name, from_steps, attrs,
                            holds_exception[k] if holds_exception is not None else _EXCEPTION in blob,
                        )  # fmt: skip
                    except Unstorable as exc:
                        reject(f"span {_label(name)}: {exc}")
                        continue
                    if promoted is not None:
                        values, blob = promoted
                        workflow_rows.append((len(c_trace), values))  # the row appended next
                c_trace.append(trace_id)
                c_span.append(span_id)
                c_parent.append(parent)
                c_name.append(name)
                c_kind.append(kind)
                c_start.append(start)
                c_end.append(end)
                c_dur.append(duration)
                c_scode.append(code)
                c_smsg.append(status.message)
                c_blob.append(blob)
                c_key.append(from_bytes(tid_b[8:], "big") ^ from_bytes(sid_b, "big"))  # span_key(), inlined
            count = len(c_trace) - first_row
            result.accepted += count
            if not count:
                continue
            cols["workspace_id"].extend([workspace_id] * count)
            cols["service_name"].extend([service] * count)
            cols["scope_name"].extend([scope.name] * count)
            cols["resource_id"].extend([rid] * count)
            cols["scope_id"].extend([sid] * count)
            if len(workflow_rows) == count:  # every span a workflow span: whole columns at once
                columns = zip(*(values for _, values in workflow_rows), strict=True)
                for name, column in zip(_WORKFLOW_COLUMNS, columns, strict=True):
                    cols[name].extend(column)
                continue
            nulls = [None] * count
            for name in _WORKFLOW_COLUMNS:
                cols[name].extend(nulls)
            for row, values in workflow_rows:
                for name, value in zip(_WORKFLOW_COLUMNS, values, strict=True):
                    cols[name][row] = value
    if from_steps:
        announced = {fact[1] for fact in rows.executions[executions_before:]}
        rows.executions.extend(tuple(f) for trace, f in from_steps.items() if trace not in announced)
    return result


_WORKFLOW_COLUMNS = (
    "span_role", "workflow_id", "execution_id", "step_id", "step_status", "retry_count", "error_message",
)  # fmt: skip


_UNREAD: Any = object()  # an item whose attributes the walk did not read
_NO_KEY: Any = object()  # an item whose bytes name no workflow attribute
Offsets = list[list[list[tuple[int, int]]]]  # (start, end) of each item's bytes, per resource and scope
Layout = list[list[list[bytes]]]  # each item's bytes, per resource and scope
PerScope = list[Any]  # a value per item of a scope
PerItem = list[list[PerScope]]  # a value per item, per resource and scope
_EXCEPTION = c.EXCEPTION_EVENT.encode()


def _walked_items(raw: bytes, offsets: Offsets, field: int, none_as: Any = None) -> PerItem:
    """Per resource, scope and item (`offsets`: where each one's bytes are in `raw`): the workflow
    attributes of its top-level field `field`, read from the request's bytes (`storage.wire_values`,
    one walk per scope); `none_as` for an item without any; _UNREAD for the items the walk could
    not read (their decoded message is read instead).

    Every item is walked: picking those whose bytes hold a workflow key first (`_may_be_workflow`
    per item) cost ~0.5 µs a span, more than the compiled walk takes over an item without any
    (the keys it does not want are not even decoded); nor is there bookkeeping per item around
    the walk (~0.3 µs a span when there was)."""
    return [[_walked_scope(raw, items, field, none_as) for items in scopes] for scopes in offsets]


def _walked_scope(raw: bytes, items: list[tuple[int, int]], field: int, none_as: Any) -> PerScope:
    """`_walked_items` of one scope's items."""
    if not items:
        return []
    bounds = np.array(list(chain.from_iterable(items)), dtype=np.int64).reshape(-1, 2)
    try:
        attrs, unsure = wire_values.attributes(raw, bounds[:, 0], bounds[:, 1], field, is_workflow_key)
    except (IndexError, ValueError):  # bytes it should have left to the library: let it read them all
        log.exception("reading workflow attributes from the request's bytes failed; decoding them instead")
        return [_UNREAD] * len(items)
    if none_as is not None:
        attrs = [none_as if item is None else item for item in attrs]
    for i in unsure:
        attrs[i] = _UNREAD
    return attrs


def _holding(raw: bytes, offsets: Offsets, needle: bytes) -> PerItem:
    """Per resource, scope and item (`offsets`: where each one's bytes are in `raw`): whether its
    bytes hold `needle`. One search of the request, each occurrence placed in its item by
    bisection: searching each item's bytes on its own cost ~0.4 µs a span, and so did placing
    them with numpy (an array of the offsets, ~0.2 µs an item to build)."""
    found: list[int] = []
    at = raw.find(needle)
    while at >= 0:
        found.append(at)
        at = raw.find(needle, at + 1)
    held: PerItem = [[[False] * len(items) for items in scopes] for scopes in offsets]
    if not found:
        return held
    for r, scopes in enumerate(offsets):
        for s, items in enumerate(scopes):
            if not items or found[-1] < items[0][0] or found[0] >= items[-1][1]:
                continue
            starts = [start for start, _ in items]
            for position in found:
                k = bisect_right(starts, position) - 1  # the last item starting at or before it
                if k >= 0 and position + len(needle) <= items[k][1]:
                    held[r][s][k] = True
    return held


def _promote_span(
    rows: Rows, span: Any, workspace_id: str, trace_id: str, span_id: str, parent: str, name: str,
    kind: int, start: int, end: int, duration: int, code: int, message: str, service: str, now_ns: int,
    blob: bytes, recognition: Recognition, resource: ResourceAttributes, scope_name: str,
    from_steps: dict[str, list[Any]], decoded: dict[str, Any] | None, may_hold_exception: bool,
) -> tuple[tuple[Any, ...], bytes] | None:  # fmt: skip
    """The workflow columns of a workflow span and its bytes to store (None for other spans);
    records bus/executions facts. `decoded`: its workflow attributes read from its bytes, or
    _UNREAD; `may_hold_exception`: whether its bytes hold "exception" (else no event is one).

    A span not following our conventions is read as the first recognizer that claims it says
    (`collector.recognize`): its derived attributes join its own, and its stored bytes.

    Raises Unstorable (before recording anything) when a promoted value does not fit its column.
    """
    attrs = workflow_attributes(span.attributes) if decoded is _UNREAD else decoded
    markers = recognition.markers
    if (
        recognition.recognizers
        and not m.is_own(attrs)
        and (has_marker(blob, markers) or resource.marked(markers))  # GitHub's runs: the resource
    ):
        derived = recognize(recognition, span, trace_id, span_id, parent, resource, scope_name)
        if derived is not None:
            attrs = {**(attrs or {}), **derived}
            blob = with_attributes(blob, derived)
    role = m.span_role(attrs, kind, bool(parent)) if attrs else None
    if role is None:
        return None
    assert attrs is not None
    retry_count = promoted_int(c.STEP_RETRY_COUNT, attrs.get(c.STEP_RETRY_COUNT))
    is_execution = role == m.EXECUTION
    number = (
        promoted_int(c.WORKFLOW_EXECUTION_NUMBER, attrs.get(c.WORKFLOW_EXECUTION_NUMBER))
        if is_execution
        else None
    )
    workflow_id = m.workflow_id(attrs)
    resolved = m.span_status(role, attrs, code)
    if may_hold_exception:  # else no event is an exception (reading events costs ~1.5 µs a span)
        add_exception_text(attrs, span.events)
    rows.workflow_spans.append(
        WorkflowSpan(workspace_id, trace_id, span_id, parent, name, role, start, end, code, message, attrs)
    )
    error = m.span_error(role, resolved, attrs, message)
    if is_execution and workflow_id:
        rows.executions.append((
            workspace_id, trace_id, workflow_id, m.workflow_name(attrs),
            m.text(attrs.get(c.WORKFLOW_PROJECT_ID)), number,
            resolved, m.status_rank(resolved), _queued_ns(attrs), start, end, duration / 1e9,
            m.text(attrs.get(c.WORKFLOW_INPUT)), m.text(attrs.get(c.WORKFLOW_RESULTS)),
            error, span_id, service, now_ns,
        ))  # fmt: skip
    elif role == m.STEP and workflow_id:
        _announce_by_step(from_steps, workspace_id, trace_id, workflow_id, start, service, now_ns)
    return (role, workflow_id, trace_id, m.step_id(attrs), resolved, retry_count, error), blob


def _queued_ns(attrs: dict[str, Any]) -> int | None:
    """When the run was queued, where its emitter says so (`workflow.execution.queued_time_unix_nano`)."""
    queued = m.integer(attrs.get(c.WORKFLOW_QUEUED_TIME))
    return queued if queued is not None and 0 < queued <= _INT64_MAX else None


def _announce_by_step(
    from_steps: dict[str, list[Any]], workspace_id: str, trace_id: str, workflow_id: str, start: int,
    service: str, now_ns: int,
) -> None:  # fmt: skip
    """A step span says its execution runs (since its earliest step, at the latest): what makes
    an execution appear while a tracer that sends no lifecycle records is still running it. Its
    root span, or our engine's records, say more and outrank it (`execution_summaries.fold`)."""
    fact = from_steps.get(trace_id)
    if fact is None:
        from_steps[trace_id] = [
            workspace_id, trace_id, workflow_id, None, None, None, m.RUNNING, m.status_rank(m.RUNNING),
            None, start, None, None, None, None, None, None, service, now_ns,
        ]  # fmt: skip
    elif start < fact[9]:
        fact[9] = start


def convert_logs(
    request: ExportLogsServiceRequest, workspace_id: str, rows: Rows, now_ns: int, raw: bytes | None = None
) -> ConvertResult:
    """Append the request's valid log records to `rows`. `raw` is the request's protobuf
    encoding when the caller has it: each record is then stored (and hashed) as the exact
    bytes sent, as spans are, and the records' workflow attributes are read from it in one
    walk (`storage.wire_values`) rather than through each decoded record."""
    result = ConvertResult()
    cols = rows.logs
    layout = _record_layout(request, raw) if raw is not None else None
    walked = (
        _walked_items(raw, layout[0], wire_values.LOG_RECORD_ATTRIBUTES)
        if raw is not None and layout is not None and _may_be_workflow(raw)
        else None
    )
    for r, resource_logs in enumerate(request.resource_logs):
        resource = resource_logs.resource
        service = _service_name(resource.attributes)
        rid = _register(rows.resources, resource, resource_logs.schema_url)
        rid_b = rid.to_bytes(8, "little")
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            sid = _register(rows.scopes, scope_logs.scope, scope_logs.schema_url)
            sid_b = sid.to_bytes(8, "little")
            read = walked[r][s] if walked is not None else None
            sent = layout[1][r][s] if layout is not None else None
            for k, record in enumerate(scope_logs.log_records):
                tid_b, spid_b = record.trace_id, record.span_id
                if tid_b and len(tid_b) != 16:
                    result.reject(f"log record: trace_id must be empty or 16 bytes (got {len(tid_b)})")
                    continue
                if spid_b and len(spid_b) != 8:
                    result.reject(f"log record: span_id must be empty or 8 bytes (got {len(spid_b)})")
                    continue
                serialized = sent[k] if sent is not None else record.SerializeToString(deterministic=True)
                attrs = read[k] if read is not None else _UNREAD
                if attrs is _UNREAD:
                    attrs = workflow_attributes(record.attributes)
                event_name = m.record_event(record.event_name, attrs)
                trace_id = tid_b.hex() if tid_b.strip(b"\0") else ""
                span_id = spid_b.hex() if spid_b.strip(b"\0") else ""
                time_ns = record.time_unix_nano or record.observed_time_unix_nano
                body = any_value_to_text(record.body)
                workflow_id = step_id = execution_id = number = None
                announced = m.announced_status(event_name)
                if attrs:
                    workflow_id = m.workflow_id(attrs)
                    step_id = m.step_id(attrs)
                    execution_id = m.execution_id(trace_id, attrs)
                    if announced and workflow_id and execution_id:  # promoted into executions
                        try:
                            number = promoted_int(
                                c.WORKFLOW_EXECUTION_NUMBER, attrs.get(c.WORKFLOW_EXECUTION_NUMBER)
                            )
                        except Unstorable as exc:
                            result.reject(f"log record {_label(event_name)}: {exc}")
                            continue
                cols["workspace_id"].append(workspace_id)
                record_hash = content_hash(serialized, rid_b, sid_b)
                cols["record_hash"].append(record_hash)
                cols["time_ns"].append(time_ns)
                cols["observed_ns"].append(record.observed_time_unix_nano)
                cols["severity_number"].append(record.severity_number)
                cols["severity_text"].append(record.severity_text)
                cols["body"].append(body)
                cols["event_name"].append(event_name)
                cols["trace_id"].append(trace_id)
                cols["span_id"].append(span_id)
                cols["service_name"].append(service)
                cols["resource_id"].append(rid)
                cols["scope_id"].append(sid)
                cols["workflow_id"].append(workflow_id)
                cols["execution_id"].append(execution_id)
                cols["step_id"].append(step_id)
                cols["record"].append(serialized)
                result.accepted += 1
                if not attrs or not execution_id:
                    continue
                rows.workflow_logs.append(
                    WorkflowLogRecord(
                        workspace_id, record_hash, event_name, time_ns, trace_id, span_id, body, attrs
                    )
                )
                if announced and workflow_id:
                    queued = time_ns if announced == m.PENDING else None
                    started = time_ns if announced == m.RUNNING else None
                    rows.executions.append((
                        workspace_id, execution_id, workflow_id, m.workflow_name(attrs),
                        m.text(attrs.get(c.WORKFLOW_PROJECT_ID)), number, announced, m.status_rank(announced),
                        queued, started, None, None, m.text(attrs.get(c.WORKFLOW_INPUT)), None, None, None,
                        service, now_ns,
                    ))  # fmt: skip
    return result


def _record_layout(request: ExportLogsServiceRequest, raw: bytes) -> tuple[Offsets, Layout] | None:
    """Where each record's bytes are in `raw`, and those bytes, per resource and scope; None when
    they do not match the decoded request (then each record is serialized and read as decoded)."""
    offsets = item_offsets(raw)
    if offsets is None or [[len(items) for items in scopes] for scopes in offsets] != [
        [len(scope.log_records) for scope in resource.scope_logs] for resource in request.resource_logs
    ]:
        return None
    return offsets, slices(raw, offsets)
