"""Turning one decoded export request into a prepared write batch (off the writer thread)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from flowscope.collector.convert import convert_logs, convert_traces
from flowscope.storage.batches import (
    LOG_SCHEMA,
    SPAN_SCHEMA,
    Prepared,
    Rows,
    Signal,
    WriteRequest,
    arrow_table,
)

from flowscope.emitters.registry import Recognition


def prepare(
    signal: str,
    message: Any,
    workspace_id: str,
    raw: bytes | None = None,
    now_ns: int | None = None,
    recognition: Recognition | None = None,
) -> Prepared:
    """Convert one export request into insertable rows. Pure CPU work that needs no database:
    receivers run it on their own threads, so the writer thread is left with the inserts.
    `recognition`: which other emitters' spans are workflows (default: the built-in ones)."""
    rows = Rows()
    now = now_ns if now_ns is not None else time.time_ns()
    if signal == "traces":
        result = convert_traces(message, workspace_id, rows, now, raw, recognition)
    else:
        result = convert_logs(message, workspace_id, rows, now, raw)
    return Prepared(
        result,
        arrow_table(rows.spans, SPAN_SCHEMA) if rows.spans["span"] else None,
        arrow_table(rows.logs, LOG_SCHEMA) if rows.logs["record"] else None,
        rows.executions,
        rows.resources,
        rows.scopes,
        rows.workflow_spans,
        rows.workflow_logs,
        np.frombuffer(rows.span_keys, dtype=np.uint64) if rows.span_keys else None,
    )


def prepared_request(
    signal: Signal, message: Any, workspace_id: str, items: int, raw: bytes | None = None
) -> WriteRequest:
    """A write request for `message`, converted here on the caller's thread."""
    prepared = prepare(signal, message, workspace_id, raw)
    return WriteRequest(signal, message, workspace_id, items, raw=raw, prepared=prepared)
