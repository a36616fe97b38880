"""Two versions of one span: the first stored wins, for every reader (issue 15, finding 11).

A span is identified by (workspace, trace id, span id). When the same ids come again
with other content, with or without another start time, the later version is dropped
whole: the spans table keeps one row (the first), and the execution details, the
executions list, the workflow metrics, the timeline, the step details, the Jaeger API,
/metrics and the live feed all answer from that first version. (Before, the summary
behind details, list and metrics took the second version, and a second version with
another start time was stored as a second row.)

The one exception, a step span sent again as that step's later try (storage/later_tries.py:
more retries, after a failed or timed-out try, starting once it ended; Airflow 3.2+ sends
every try of a task under one span id), covers none of these cases: version 1's step
completed, and a completed step is not tried again, so version 2 (one retry more; in the
"later" case also starting after version 1 ended) is another version, not a later try.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from flowscope import conventions as c
from tests.collector.helpers import metric, open_db, rows
from tests.support.server import RunningServer, start_server
from tests.ws.support import Feed, open_feed, ws_url

HOUR_NS = 3600 * 10**9


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The server; afterwards, the table itself: one row per span id, the first version."""
    srv = start_server(tmp_path_factory.mktemp("versions") / "flowscope.duckdb")
    yield srv
    assert srv.terminate() == 0
    with open_db(srv.db) as con:
        found = rows(
            con,
            "SELECT trace_id, span_id, count(*) AS n, list(step_status) AS statuses, list(name) AS names "
            "FROM spans WHERE service_name = 'versions' GROUP BY ALL",
        )
        executions = rows(con, "SELECT status, results_json FROM executions")
    assert found and all(r["n"] == 1 for r in found), found
    assert all("rewritten" not in r["names"][0] and r["statuses"] == ["completed"] for r in found), found
    assert {(e["status"], e["results_json"]) for e in executions} == {
        ("completed", json.dumps({"version": 1}))
    }


def _execution(
    ids: tuple[bytes, bytes, bytes], workflow_id: str, version: int, start_ns: int
) -> ExportTraceServiceRequest:
    """A root span and one step span; version 2 says the opposite of version 1."""
    trace_id, root_id, step_id = ids
    ok = version == 1
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=AnyValue(string_value="versions"))
    spans = rs.scope_spans.add().spans
    root, step = spans.add(), spans.add()
    root.trace_id, root.span_id, root.kind = trace_id, root_id, 2
    root.name = f"RUN {workflow_id}" if ok else "RUN rewritten"
    root.start_time_unix_nano, root.end_time_unix_nano = start_ns, start_ns + 2 * 10**9
    step.trace_id, step.span_id, step.parent_span_id, step.kind = trace_id, step_id, root_id, 1
    step.name = "Load" if ok else "Load rewritten"
    step.start_time_unix_nano, step.end_time_unix_nano = start_ns + 10**8, start_ns + 10**9
    for span, attributes in (
        (root, {c.WORKFLOW_ID: workflow_id, c.WORKFLOW_STATUS: "completed" if ok else "failed",
                c.WORKFLOW_RESULTS: json.dumps({"version": version})}),
        (step, {c.WORKFLOW_ID: workflow_id, c.STEP_ID: "load", c.STEP_STATUS: "completed" if ok else "failed",
                c.STEP_OUTPUT: json.dumps({"version": version}), c.STEP_RETRY_COUNT: version - 1}),
    ):  # fmt: skip
        for key, value in attributes.items():
            any_value = AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
            span.attributes.add(key=key, value=any_value)
    if not ok:
        root.status.code = step.status.code = 2
        root.status.message = step.status.message = "second version"
    return request


def _send(server: RunningServer, request: ExportTraceServiceRequest) -> None:
    r = httpx.post(
        f"{server.otlp_http}/v1/traces", content=request.SerializeToString(),
        headers={"content-type": "application/x-protobuf"}, timeout=30,
    )  # fmt: skip
    assert r.status_code == 200, r.content
    assert not ExportTraceServiceResponse.FromString(r.content).HasField("partial_success")


def _api(server: RunningServer, path: str, **params: Any) -> Any:
    r = server.get(path, params=params or None)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    return r.json()


async def _live_events(server: RunningServer, workflow_id: str, send: Any) -> list[str]:
    """Subscribe to the workflow's feed, run `send`, and collect events until the marker
    execution (sent last) completes: events come in commit order, so everything the two
    versions produced has arrived by then."""
    async with open_feed(ws_url(server.api, f"/ws/workflows/{workflow_id}")) as conn:
        feed = Feed(conn)
        await asyncio.to_thread(send)
        await feed.until("workflow_completed", timeout=20, count=2)
        return [m["event"] + ":" + (m["data"].get("step_id") or "") for m in feed.received]


@pytest.mark.parametrize("shift_ns", [0, -HOUR_NS, 5 * HOUR_NS], ids=["same-start", "hour-earlier", "later"])
def test_first_version_wins_for_every_reader(server: RunningServer, shift_ns: int) -> None:
    workflow_id = "wf-versions-" + os.urandom(4).hex()
    ids = (os.urandom(16), os.urandom(8), os.urandom(8))
    execution_id = ids[0].hex()
    start = time.time_ns() - 10 * 60 * 10**9
    marker_ids = (os.urandom(16), os.urandom(8), os.urandom(8))

    def send_all() -> None:
        _send(server, _execution(ids, workflow_id, 1, start))
        _send(server, _execution(ids, workflow_id, 1, start))  # a plain retry
        # Same ids, other content (one retry more, failed): no later try of a completed step.
        _send(server, _execution(ids, workflow_id, 2, start + shift_ns))
        _send(server, _execution(marker_ids, workflow_id, 1, start + 60 * 10**9))

    events = asyncio.run(_live_events(server, workflow_id, send_all))
    ends = sorted(e for e in events if "_started:" not in e)  # (starts are synthesized from spans)
    assert ends == ["step_completed:load"] * 2 + ["workflow_completed:"] * 2, events  # none of version 2

    details = _api(server, f"/api/workflows/executions/{execution_id}")
    assert (details["status"], details["results"]) == ("completed", {"version": 1})
    listed = _api(server, f"/api/workflows/{workflow_id}/executions")
    assert sorted((i["id"], i["status"]) for i in listed["items"]) == sorted(
        [(execution_id, "completed"), (marker_ids[0].hex(), "completed")]
    )
    summary = _api(server, f"/api/workflows/{workflow_id}/metrics")
    assert (summary["total_executions"], summary["successful_executions"], summary["failed_executions"]) == (
        2, 2, 0,
    )  # fmt: skip
    timeline = _api(server, f"/api/workflows/executions/{execution_id}/timeline")
    assert [(s["step_id"], s["status"], s["retry_count"]) for s in timeline["step_timeline"]] == [
        ("load", "completed", 0)
    ]
    step = _api(server, f"/api/workflows/executions/{execution_id}/steps/load")
    assert step["output_data"] == {"version": 1}
    steps = _api(server, f"/api/workflows/{workflow_id}/steps/metrics")["steps"]
    assert [(s["step_id"], s["runs"], s["failed"]) for s in steps] == [("load", 2, 0)]
    (trace,) = _api(server, f"/api/traces/{execution_id}")["data"]
    assert sorted(s["operationName"] for s in trace["spans"]) == ["Load", f"RUN {workflow_id}"]
    for status, expected in (("completed", 2), ("failed", 0)):
        assert metric(
            server, "flowscope_workflow_executions_total", workflow=workflow_id, status=status
        ) == expected  # fmt: skip


def test_first_version_wins_across_a_restart(make_server: Any) -> None:
    """The filter is rebuilt from the table at start: a later version sent after a restart,
    with another start time, is still recognised and dropped."""
    server = make_server()
    ids = (os.urandom(16), os.urandom(8), os.urandom(8))
    start = time.time_ns() - 10 * 60 * 10**9
    _send(server, _execution(ids, "wf-restart", 1, start))
    assert server.terminate() == 0
    server = make_server(db=server.db)
    _send(server, _execution(ids, "wf-restart", 2, start - 2 * HOUR_NS))
    details = _api(server, f"/api/workflows/executions/{ids[0].hex()}")
    assert (details["status"], details["results"]) == ("completed", {"version": 1})
    assert metric(server, "flowscope_collector_duplicated_total", signal="traces") == 2
    assert server.terminate() == 0
    with open_db(server.db) as con:
        assert con.execute("SELECT count(*), min(name) FROM spans").fetchall() == [(2, "Load")]
