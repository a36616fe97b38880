"""`ExecutionReader.acknowledged`: what a store will read of the executions a writer request
announces, known before the request commits. The API answers reads of an acknowledged,
not yet committed trigger with it (api/visibility.py), so it must be exactly what `records`
returns once the request is committed: these tests commit the request and compare."""

from __future__ import annotations

import uuid

from flowscope.collector.prepare import prepared_request
from flowscope.storage.interfaces import Store

from flowscope import conventions as c
from tests.storage.conformance.dataset import Run, Step, records_of
from tests.storage.conformance.otlp import ACK_TIMEOUT, RecordSpec, items, logs

NOW = 1_700_000_000 * 10**9


def _run(started: bool, number: int) -> Run:
    steps = (Step("extract", "Extract", 0, 1), Step("load", "Load", 1, 2))
    return Run(
        uuid.uuid4().hex, "wf-ack", "Acknowledged", number, NOW + number, steps,
        started=started, inputs={"rows": number, "names": ["a", "b"]},
    )  # fmt: skip


def _commit_and_compare(store: Store, workspace: str, runs: list[Run], extra: list[RecordSpec]) -> None:
    message = logs([r for run in runs for r in records_of(run)] + extra)
    request = prepared_request("logs", message, workspace, items(message))
    assert request.prepared is not None
    acknowledged = store.executions.acknowledged(request.prepared)
    assert sorted(acknowledged) == sorted(run.execution_id for run in runs)
    for run in runs:
        assert store.executions.records(workspace, run.execution_id) is None  # not stored yet
    outcome = store.writer.submit(request).result(ACK_TIMEOUT)
    assert outcome.rejected == 0
    for run in runs:
        assert store.executions.records(workspace, run.execution_id) == acknowledged[run.execution_id]


def test_a_queued_execution_reads_as_acknowledged(store: Store, workspace: str) -> None:
    _commit_and_compare(store, workspace, [_run(started=False, number=1)], [])


def test_a_bulk_with_started_steps_and_a_callers_record_reads_as_acknowledged(
    store: Store, workspace: str
) -> None:
    """Several executions in one request, one with its started and step records (their
    attributes name and order running steps), and a record of another trace (a caller's
    `flowscope.execution.triggered`), which belongs to no announced execution."""
    runs = [_run(started=False, number=2), _run(started=True, number=3), _run(started=False, number=4)]
    caller = uuid.uuid4().hex
    triggered = RecordSpec(
        NOW, "triggered", caller, "ab" * 8, c.EVENT_EXECUTION_TRIGGERED,
        {c.TRIGGERED_EXECUTION_ID: runs[0].execution_id, c.EVENT_NAME: c.EVENT_EXECUTION_TRIGGERED},
    )  # fmt: skip
    _commit_and_compare(store, workspace, runs, [triggered])
    records = store.executions.records(workspace, runs[1].execution_id)
    assert records is not None and records.row.status == "running"
    assert [r.step_id for r in records.lifecycle if r.step_id] == ["extract", "load"]
