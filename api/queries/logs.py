"""Log records of one execution (lifecycle records and whatever its steps logged)."""

from __future__ import annotations

import duckdb
from flowscope.api.queries.records import ExecutionRecords
from flowscope.api.schemas.executions import ExecutionLogPage, ExecutionLogRecord
from flowscope.api.sqlfiles import sql
from flowscope.api.timefmt import ns_to_dt
from flowscope.collector.anyvalue import attributes_to_dict, to_jsonable
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord


def execution_logs(
    cur: duckdb.DuckDBPyConnection,
    workspace_id: str,
    found: ExecutionRecords,
    step_id: str | None,
    skip: int,
    limit: int,
) -> ExecutionLogPage:
    """A page of the execution's records, oldest first; with `step_id`, the records that
    name the step or were emitted inside its span or its attempts' spans."""
    span_ids: list[str] = []
    if step_id is not None:
        for run in found.steps:
            if run.step_id == step_id and run.span_id:
                span_ids += [run.span_id, *(a.span_id for a in run.attempts)]
    params = {
        "execution_id": found.row.execution_id, "workspace_id": workspace_id, "step_id": step_id,
        "span_ids": span_ids,
    }  # fmt: skip
    (total,) = cur.execute(sql("execution_logs_count"), params).fetchone()  # type: ignore[misc]
    rows = cur.execute(sql("execution_logs"), {**params, "skip": skip, "limit": limit}).fetchall()
    items = []
    for time_ns, observed_ns, sev_number, sev_text, body, event, span_id, record_step, service, blob in rows:
        attributes = to_jsonable(attributes_to_dict(LogRecord.FromString(blob).attributes))
        items.append(
            ExecutionLogRecord(
                timestamp=ns_to_dt(time_ns),
                observed_at=ns_to_dt(observed_ns),
                severity_number=sev_number,
                severity_text=sev_text,
                event_name=event or None,
                body=body,
                step_id=record_step,
                span_id=span_id or None,
                service_name=service,
                attributes=attributes,
            )
        )
    return ExecutionLogPage(items=items, total=total, skip=skip, limit=limit)
