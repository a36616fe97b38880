"""GET /metrics under attack (issue 15, finding 6): label sets stay bounded whatever span
names and workflow ids are ingested, with an overflow series per workspace counting the
rest (the spanmetrics connector's `aggregation_cardinality_limit` behaviour); idle series
expire; and `--metrics-auth token` keeps it from anonymous readers and shows a workspace's
token its own workspace only."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.support.server import RunningServer, start_server

REPO = Path(__file__).resolve().parents[2]
CALLS = "traces_span_metrics_calls_total"
EXECUTIONS = "flowscope_workflow_executions_total"
OVERFLOW = "otel_metric_overflow"
LIMIT = 50


def _spans(names: list[str], service: str = "flood", workflow_ids: list[str] | None = None) -> bytes:
    """One root span per name (its own trace), optionally a workflow execution span each."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
    ss = rs.scope_spans.add()
    now = time.time_ns()
    for i, name in enumerate(names):
        span = ss.spans.add()
        span.trace_id, span.span_id = os.urandom(16), os.urandom(8)
        span.name, span.kind = name, 2
        span.start_time_unix_nano, span.end_time_unix_nano = now + i, now + i + 3_000_000
        if workflow_ids:
            for key, value in (
                ("workflow.id", workflow_ids[i]),
                ("workflow.name", workflow_ids[i]),
                ("workflow.status", "completed"),
            ):
                span.attributes.add(key=key, value=AnyValue(string_value=value))
    return request.SerializeToString()


def _ingest(server: RunningServer, body: bytes, headers: dict[str, str] | None = None) -> None:
    r = httpx.post(
        f"{server.otlp_http}/v1/traces",
        content=body,
        timeout=60,
        headers={"content-type": "application/x-protobuf", **(headers or {})},
    )
    assert r.status_code == 200, r.text


def _samples(text: str, name: str, workspace: str | None = None) -> list[Sample]:
    return [
        s
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and (workspace is None or s.labels.get("workspace") == workspace)
    ]


def _scrape_until(
    server: RunningServer, done: Callable[[str], bool], headers: dict[str, str] | None = None
) -> str:
    """/metrics once `done` holds (the bus folds a batch just after its commit is acknowledged)."""
    deadline = time.monotonic() + 30
    while True:
        r = httpx.get(f"{server.api}/metrics", headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        if done(r.text):
            return r.text
        assert time.monotonic() < deadline, "metrics never showed what was ingested"
        time.sleep(0.1)


def _total(text: str, name: str, workspace: str) -> float:
    return sum(s.value for s in _samples(text, name, workspace))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(
        tmp_path_factory.mktemp("limited") / "flowscope.duckdb", "--metrics-series-limit", str(LIMIT)
    )
    yield server
    server.terminate()


def test_unique_span_names_and_workflow_ids_stay_bounded(limited: RunningServer) -> None:
    server = limited
    other = httpx.post(f"{server.api}/api/workspaces", json={"slug": "quiet"}, timeout=30).json()["id"]
    flood = [f"op-{secrets.token_hex(6)}" for _ in range(1000)]
    _ingest(server, _spans(flood[:500]))
    _ingest(server, _spans(flood[500:]))
    text = _scrape_until(server, lambda t: _total(t, CALLS, "default") >= 1000)

    calls = _samples(text, CALLS, "default")
    overflow = [s for s in calls if s.labels.get(OVERFLOW) == "true"]
    kept = [s for s in calls if OVERFLOW not in s.labels]
    assert len(calls) == LIMIT and len(overflow) == 1 and len(kept) == LIMIT - 1
    assert overflow[0].labels == {"workspace": "default", OVERFLOW: "true"}  # nothing else of what overflowed
    assert sum(s.value for s in calls) == 1000 and overflow[0].value == 1000 - (LIMIT - 1)
    counts = _samples(text, "traces_span_metrics_duration_milliseconds_count", "default")
    assert len(counts) == LIMIT and sum(s.value for s in counts) == 1000

    # another workspace keeps its own room: the flood did not push its series into overflow
    _ingest(server, _spans(["quiet-a", "quiet-b"], service="quiet"), {"x-workspace-id": other})
    text = _scrape_until(server, lambda t: _total(t, CALLS, other) >= 2)
    assert sorted(s.labels["span_name"] for s in _samples(text, CALLS, other)) == ["quiet-a", "quiet-b"]
    size_after_1000 = len(text)

    # twice the names: the exposition does not grow (the overflow count just goes up)
    _ingest(server, _spans([f"op-{secrets.token_hex(6)}" for _ in range(1000)]))
    text = _scrape_until(server, lambda t: _total(t, CALLS, "default") >= 2000)
    assert len(_samples(text, CALLS, "default")) == LIMIT
    assert len(text) - size_after_1000 < 2000, (size_after_1000, len(text))

    # unique workflow ids (foreign execution spans) are bounded the same way
    ids = [f"wf-{secrets.token_hex(6)}" for _ in range(3 * LIMIT)]
    _ingest(server, _spans([f"RUN {i}" for i in ids], service="pipelines", workflow_ids=ids))
    text = _scrape_until(server, lambda t: _total(t, EXECUTIONS, "default") >= len(ids))
    executions = _samples(text, EXECUTIONS, "default")
    assert len(executions) == LIMIT and sum(s.value for s in executions) == len(ids)
    for gauge in ("flowscope_workflow_info", "flowscope_workflow_executions_running"):
        assert len(_samples(text, gauge, "default")) <= LIMIT, gauge


def test_idle_series_expire_and_free_their_room(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "flowscope.duckdb", "--metrics-series-limit", "5", "--metrics-series-expiry-seconds", "1"
    )
    try:
        _ingest(server, _spans([f"old-{i}" for i in range(10)]))
        text = _scrape_until(server, lambda t: _total(t, CALLS, "default") >= 10)
        assert len(_samples(text, CALLS, "default")) == 5  # 4 kept + overflow
        # no span for a while: every series is dropped (a later scrape sweeps them)
        _scrape_until(server, lambda t: not _samples(t, CALLS, "default"))
        _ingest(server, _spans([f"new-{i}" for i in range(4)]))
        text = _scrape_until(server, lambda t: _total(t, CALLS, "default") >= 4)
        names = sorted(s.labels.get("span_name", OVERFLOW) for s in _samples(text, CALLS, "default"))
        assert names == [f"new-{i}" for i in range(4)]  # their own series again, no overflow
    finally:
        server.terminate()


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flowscope", *args], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_metrics_auth_token(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    tokens = {
        slug: _cli(
            "token",
            "create",
            "--workspace",
            slug,
            "--role",
            "admin",
            "--create-workspace",
            "--db",
            str(db),
            *extra,
        )
        for slug, extra in (("team-a", ()), ("team-b", ()), ("ops", ("--server-admin",)))
    }
    scrape = secrets.token_urlsafe(24)
    server = start_server(
        db, "--auth", "token", "--metrics-auth", "token", env={"FLOWSCOPE_METRICS_TOKEN": scrape}
    )
    try:
        ids = {}
        for slug in ("team-a", "team-b"):
            auth = {"authorization": f"Bearer {tokens[slug]}"}
            ids[slug] = httpx.get(f"{server.api}/api/workspaces", headers=auth).json()[0]["id"]
            _ingest(server, _spans([f"op-{slug}"], service=f"svc-{slug}"), auth)
        everything = {"Authorization": f"Bearer {scrape}"}
        full = _scrape_until(server, lambda t: all(_total(t, CALLS, ws) for ws in ids.values()), everything)
        assert "svc-team-a" in full and "svc-team-b" in full and "flowscope_collector_stored_total" in full

        for headers in ({}, {"Authorization": "Bearer fst_" + secrets.token_urlsafe(32)}):
            refused = httpx.get(f"{server.api}/metrics", headers=headers)
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            assert "svc-team" not in refused.text

        viewer = httpx.post(
            f"{server.api}/api/tokens",
            json={"role": "viewer"},
            headers={"Authorization": f"Bearer {tokens['team-a']}"},
        ).json()["token"]
        own = httpx.get(f"{server.api}/metrics", headers={"Authorization": f"Bearer {viewer}"})
        assert own.status_code == 200 and "svc-team-a" in own.text
        assert "svc-team-b" not in own.text and ids["team-b"] not in own.text  # nothing of another workspace
        assert "flowscope_collector_" not in own.text  # nor the server-wide series
        server_admin = httpx.get(
            f"{server.api}/metrics", headers={"Authorization": f"Bearer {tokens['ops']}"}
        )
        assert server_admin.status_code == 200 and "svc-team-b" in server_admin.text
    finally:
        server.terminate()
