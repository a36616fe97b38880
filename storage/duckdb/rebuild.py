"""Recomputing what ingest derived from the stored telemetry (`Store.rebuild_rows`).

Ingest stores each span and log record as the bytes sent, plus what the collector derived
from them: the workflow columns of the span and record rows (role, ids, step status, retry
count, error message) and one `executions` row per execution, folded from the facts. When
those rules change (`flowscope.workflow_meaning`), or derived rows were lost, the stored
bytes are converted again by the same function ingest uses (`derive`, the collector's
`prepare`): rows whose workflow columns differ are updated, and the executions are folded
again from every fact and replace the table.

One pass on the writer thread (no commit interleaves), one transaction: readers see the old
rows or the new ones. Spans and records are read in batches, and each batch's facts are
folded into the executions' summaries at once (as ingest folds each commit's), so memory
follows the executions (one summary each), not the spans.

A fact's `updated_ns` is its arrival time at ingest; a rebuild cannot know arrival times, so
each fact is dated by its own latest time (queued, started or ended) instead: of two facts
of the same rank, the later event wins (at ingest: the later arrival, normally the same).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
from flowscope.storage.batches import EXEC_COLUMNS, EXEC_SCHEMA, Signal
from flowscope.storage.duckdb import execution_summaries
from flowscope.storage.duckdb.sqlfiles import sql, statements
from flowscope.storage.duckdb.transaction import transaction
from flowscope.storage.rebuild import Derive, RebuildCounts
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

# The derived columns of each table, as the stored-rows queries list them after their keys.
SPAN_DERIVED = (
    "span_role",
    "workflow_id",
    "execution_id",
    "step_id",
    "step_status",
    "retry_count",
    "error_message",
)
LOG_DERIVED = ("workflow_id", "execution_id", "step_id")
_BATCH_ROWS = 20_000
_TIMES = [EXEC_COLUMNS.index(c) for c in ("queued_ns", "started_ns", "ended_ns")]
_UPDATED = EXEC_COLUMNS.index("updated_ns")
_WORKSPACE, _EXECUTION = EXEC_COLUMNS.index("workspace_id"), EXEC_COLUMNS.index("execution_id")


def rebuild_rows(con: duckdb.DuckDBPyConnection, derive: Derive) -> RebuildCounts:
    """Recompute the derived rows (module docstring) in one transaction on `con`."""
    with transaction(con):
        resources = con.execute(sql("rebuild/resources")).fetchall()
        scopes = con.execute(sql("rebuild/scopes")).fetchall()
        catalog = (
            {i: (Resource.FromString(b), url) for i, b, url in resources},
            {i: (InstrumentationScope.FromString(b), url) for i, b, url in scopes},
        )
        executions: dict[tuple[str, str], tuple[Any, ...]] = {}
        spans = _rederive(con, "traces", SPAN_DERIVED, ("trace_id", "span_id"), catalog, derive, executions)
        records = _rederive(con, "logs", LOG_DERIVED, ("record_hash",), catalog, derive, executions)
        summaries = list(executions.values())
        con.execute("DELETE FROM executions")
        exec_batch = pa.Table.from_pylist(  # noqa: F841  (scanned by name, as in writer.py)
            [dict(zip(EXEC_COLUMNS, s, strict=True)) for s in summaries], schema=EXEC_SCHEMA
        )
        con.execute(sql("ingest/insert_executions"))
        for statement in statements("summaries/roll_up_workflow_time"):  # totals of the new rows
            con.execute(statement)
    return RebuildCounts(spans, records, len(summaries))


def _rederive(
    con: duckdb.DuckDBPyConnection,
    signal: Signal,
    derived: tuple[str, ...],
    keys: tuple[str, ...],
    catalog: tuple[dict[int, tuple[Resource, str]], dict[int, tuple[InstrumentationScope, str]]],
    derive: Derive,
    executions: dict[tuple[str, str], tuple[Any, ...]],
) -> int:
    """Convert the stored items of `query` again, batch by batch; update the rows whose derived
    columns changed; fold the execution facts into `executions`. Returns how many rows changed."""
    table = "spans" if signal == "traces" else "logs"
    resources, scopes = catalog
    changed = 0
    for group in _groups(con, sql(f"rebuild/stored_{table}")):
        workspace_id, resource_id, scope_id = group[0][1:4]
        request, raw = _request(signal, resources[resource_id], scopes[scope_id], [row[4] for row in group])
        prepared = derive(signal, request, workspace_id, raw)
        _fold(executions, prepared.executions)
        fresh = prepared.spans if signal == "traces" else prepared.logs
        if fresh is None:
            continue
        by_key = dict(
            zip(
                zip(*(fresh.column(k).to_pylist() for k in keys), strict=True),
                zip(*(fresh.column(c).to_pylist() for c in derived), strict=True),
                strict=True,
            )
        )
        updates = []
        for row in group:
            stored_key, stored_values = row[5 : 5 + len(keys)], row[5 + len(keys) :]
            new_values = by_key.get(tuple(stored_key))
            if new_values is not None and tuple(new_values) != tuple(stored_values):
                updates.append((row[0], *new_values))
        if updates:
            changed += len(updates)
            update_batch = pa.Table.from_pylist(  # noqa: F841  (scanned by name)
                [dict(zip(("row_id", *derived), u, strict=True)) for u in updates]
            )
            con.execute(sql(f"rebuild/update_{table}"))
    return changed


def _groups(con: duckdb.DuckDBPyConnection, query: str) -> Iterator[list[tuple[Any, ...]]]:
    """The stored rows, by (workspace, resource, scope), at most _BATCH_ROWS a group. Each row:
    (row id, workspace, resource id, scope id, message, *keys, *derived columns)."""
    # Read on a cursor of its own: `con` runs updates between batches, which would end a
    # result read on it. The cursor reads the committed rows (this transaction's updates
    # are not among them, and nothing else writes: this runs on the writer thread).
    with con.cursor() as cursor:
        for batch in cursor.sql(query).to_arrow_reader(_BATCH_ROWS):
            grouped: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
            for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                grouped[row[1:4]].append(row)
            yield from grouped.values()


def _request(
    signal: Signal,
    resource: tuple[Resource, str],
    scope: tuple[InstrumentationScope, str],
    items: list[bytes],
) -> tuple[Any, bytes]:
    """An export request of one resource and one scope holding `items` (stored spans or log
    records), and its encoding, which holds each item's stored bytes as they are. Ingest
    converts the request with the bytes sent, and stores and hashes each item as sent: so
    converted again, an item is read from the same bytes and a record gets its stored hash."""
    if signal == "traces":
        outer, inner = ResourceSpans, ScopeSpans
        message_type: Any = ExportTraceServiceRequest
    else:
        outer, inner = ResourceLogs, ScopeLogs
        message_type = ExportLogsServiceRequest
    # Both signals number alike: resource / scope = 1, their scopes / items = 2, schema_url = 3;
    # the request's resources = 1. Fields may come in any order on the wire.
    scope_bytes = inner(scope=scope[0], schema_url=scope[1]).SerializeToString()
    scope_bytes += b"".join(_length_delimited(2, item) for item in items)
    resource_bytes = outer(resource=resource[0], schema_url=resource[1]).SerializeToString()
    raw = _length_delimited(1, resource_bytes + _length_delimited(2, scope_bytes))
    return message_type.FromString(raw), raw


def _length_delimited(field: int, payload: bytes) -> bytes:
    """`payload` encoded as protobuf field `field` of wire type 2 (bytes or a message)."""
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    """A non-negative integer as a protobuf base-128 varint."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _fold(executions: dict[tuple[str, str], tuple[Any, ...]], facts: list[tuple[Any, ...]]) -> None:
    """Fold facts into the summaries of their executions (execution_summaries.fold)."""
    if not facts:
        return
    touched = execution_summaries.touched(facts)
    stored = [executions[key] for key in touched if key in executions]
    for summary in execution_summaries.fold(stored, [_dated(f) for f in facts]):
        executions[(summary[_WORKSPACE], summary[_EXECUTION])] = summary


def _dated(fact: tuple[Any, ...]) -> tuple[Any, ...]:
    times = [fact[i] for i in _TIMES if fact[i] is not None]
    return (*fact[:_UPDATED], max(times) if times else 0, *fact[_UPDATED + 1 :])
