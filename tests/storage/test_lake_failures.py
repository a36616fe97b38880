"""Failure behaviour of `serve` on a lake, provoked for real (issue 14): PostgreSQL stopped and
started again under a running node, the data path made read-only or full by the OS, one of two
nodes SIGKILLed. Real PostgreSQL, real `serve` processes, the real OTel SDK exporter; the rules
that turn these conditions into 503/UNAVAILABLE are storage/ducklake/failures.py."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from flowscope.storage.ducklake.store import ANSWER_DEADLINE_SECONDS, PING_TIMEOUT_SECONDS
from google.rpc import error_details_pb2, status_pb2
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowscope import conventions as c
from tests.collector.helpers import GRPC_METHODS, PROTOBUF, spans_request, wait_for
from tests.support.postgres import Postgres, start_postgres
from tests.support.server import REPO, RunningServer, start_server

WORKFLOW_ID = "lake-failures"
STEPS = 12  # more spans than DuckLake inlines into catalog rows (10): each commit writes Parquet
SECRET = "not-for-clients"  # a password in the conninfo (trust auth ignores it): never echoed
BOUND_SECONDS = 10.0  # every answer while PostgreSQL is down comes within this


@pytest.fixture
def own_postgres(postgres: Postgres) -> Iterator[Postgres]:
    """A PostgreSQL of this test's own, to stop and start (the session's serves other tests)."""
    pg = start_postgres()
    yield pg
    pg.remove()


def _workflow_spans(n: int = 1) -> list[ReadableSpan]:
    """`n` executions of a root and STEPS steps, finished, as the SDK hands them to exporters."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "lake-failures"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests.lake_failures")
    base = {c.WORKFLOW_ID: WORKFLOW_ID, c.WORKFLOW_NAME: "Lake failures"}
    for _ in range(n):
        root = tracer.start_span("RUN lake-failures", kind=trace.SpanKind.SERVER, attributes=base)
        context = trace.set_span_in_context(root)
        for i in range(STEPS):
            tracer.start_span(f"step-{i:02d}", context=context, attributes={**base, c.STEP_ID: f"s{i}"}).end()
        root.end()
    provider.shutdown()
    return list(memory.get_finished_spans())


def _execution_ids(spans: list[ReadableSpan]) -> set[str]:
    return {f"{s.context.trace_id:032x}" for s in spans if s.parent is None}


def _exporter(server: RunningServer, timeout: float = 10) -> OTLPSpanExporter:
    return OTLPSpanExporter(f"{server.otlp_http}/v1/traces", timeout=timeout)


def _stored_executions(server: RunningServer) -> set[str]:
    """Every execution of the workflow the node lists (pages of 100)."""
    found: set[str] = set()
    while True:
        params = {"skip": len(found), "limit": 100}
        response = server.get(f"/api/workflows/{WORKFLOW_ID}/executions", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        found.update(e["id"] for e in page["items"])
        if not page["items"] or len(found) >= page["total"]:
            assert len(found) == page["total"]
            return found


def _check_whole(server: RunningServer, execution_id: str) -> None:
    """The execution reads whole: its summary, and every step from the spans' Parquet."""
    timeline = server.get(f"/api/workflows/executions/{execution_id}/timeline")
    assert timeline.status_code == 200, timeline.text
    assert timeline.json()["step_count"] == STEPS
    traced = server.get(f"/api/traces/{execution_id}")
    assert traced.status_code == 200, traced.text
    assert len(traced.json()["data"][0]["spans"]) == STEPS + 1


def _serve(pg: Postgres, dbname: str, tmp: Path, data: Path, node: str = "node") -> RunningServer:
    url = f"ducklake:postgres:{pg.create_database(dbname)} password={SECRET}"
    return start_server(tmp / node, "--store", url, "--data-path", str(data))


def _timed_get(server: RunningServer, path: str) -> httpx.Response:
    started = time.monotonic()
    response = httpx.get(server.api + path, timeout=BOUND_SECONDS + 5)
    assert time.monotonic() - started < BOUND_SECONDS, f"{path} took {time.monotonic() - started:.1f}s"
    assert SECRET not in response.text
    return response


def _unavailable_http(server: RunningServer, what: str) -> None:
    """Raw OTLP/HTTP and OTLP/gRPC exports are refused as retryable, with the wait to keep."""
    request, _ = spans_request(STEPS + 1)
    body = request.SerializeToString()
    started = time.monotonic()
    response = httpx.post(
        f"{server.otlp_http}/v1/traces", content=body, headers={"Content-Type": PROTOBUF}, timeout=30
    )
    assert time.monotonic() - started < BOUND_SECONDS
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    status = status_pb2.Status.FromString(response.content)
    assert what in status.message and SECRET not in status.message, status.message
    with grpc.insecure_channel(server.otlp_grpc) as channel, pytest.raises(grpc.RpcError) as refused:
        channel.unary_unary(GRPC_METHODS["traces"])(body, timeout=BOUND_SECONDS)
    error = refused.value
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error
    assert what in (error.details() or "") and SECRET not in (error.details() or "")
    trailers = dict(error.trailing_metadata() or ())
    details = status_pb2.Status.FromString(trailers["grpc-status-details-bin"]).details
    infos = [d for d in details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    assert len(infos) == 1
    info = error_details_pb2.RetryInfo()
    infos[0].Unpack(info)
    assert info.retry_delay.seconds >= 1


@dataclass
class Export:
    """The SDK exporter sending one batch on a thread of its own (it retries by itself)."""

    exporter: OTLPSpanExporter | GrpcSpanExporter
    spans: list[ReadableSpan]
    result: list[SpanExportResult] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> Export:
        self.thread = threading.Thread(target=lambda: self.result.append(self.exporter.export(self.spans)))
        self.thread.start()
        return self

    def wait(self, timeout: float) -> SpanExportResult:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the exporter did not finish"
        return self.result[0]


class Refusals(logging.Handler):
    """Set when an SDK exporter logs that it was refused and will retry (its own words)."""

    HTTP = ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "Transient error Service Unavailable")
    GRPC = ("opentelemetry.exporter.otlp.proto.grpc.exporter", "Transient error StatusCode.UNAVAILABLE")

    def __init__(self, exporter: tuple[str, str] = HTTP) -> None:
        super().__init__()
        self.logger, self.needle = exporter
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.seen.set()

    def __enter__(self) -> Refusals:
        logging.getLogger(self.logger).addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        logging.getLogger(self.logger).removeHandler(self)


def test_postgres_down_answers_503_and_everything_resumes_without_a_restart(
    own_postgres: Postgres, tmp_path: Path
) -> None:
    pg = own_postgres
    server = _serve(pg, "pg_down", tmp_path, tmp_path / "data")
    try:
        before = _workflow_spans()
        assert _exporter(server).export(before) == SpanExportResult.SUCCESS
        (acked,) = _execution_ids(before)
        _check_whole(server, acked)
        assert _timed_get(server, "/readyz").status_code == 200

        pg.stop()  # fast: every session of the node is ended, and no new one is accepted
        unreachable = "catalog (PostgreSQL) is unreachable"
        ready = _timed_get(server, "/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "not ready"}
        for path in (f"/api/workflows/executions/{acked}", f"/api/workflows/{WORKFLOW_ID}/executions"):
            response = _timed_get(server, path)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"] == "1"
            assert unreachable in response.json()["detail"], response.text
        jaeger = _timed_get(server, f"/api/traces/{acked}")  # Jaeger's own {data, errors} shape
        assert jaeger.status_code == 503, jaeger.text
        assert jaeger.json()["data"] is None
        assert [e["code"] for e in jaeger.json()["errors"]] == [503]
        assert unreachable in jaeger.json()["errors"][0]["msg"]
        _unavailable_http(server, unreachable)

        # The SDK's exporter, retrying on its own (Retry-After), lands its batch once
        # PostgreSQL is back: refused while it is down, then acknowledged.
        during, during_grpc = _workflow_spans(), _workflow_spans()
        grpc_exporter = GrpcSpanExporter(server.otlp_grpc, insecure=True, timeout=60)
        with Refusals() as refusals, Refusals(Refusals.GRPC) as grpc_refusals:
            export = Export(_exporter(server, timeout=60), during).start()
            grpc_export = Export(grpc_exporter, during_grpc).start()
            assert refusals.seen.wait(BOUND_SECONDS), "the HTTP exporter was not refused"
            assert grpc_refusals.seen.wait(BOUND_SECONDS), "the gRPC exporter was not refused"
        for pending in (export, grpc_export):
            assert pending.thread is not None and pending.thread.is_alive()
        pg.start()
        assert export.wait(90) == SpanExportResult.SUCCESS
        assert grpc_export.wait(90) == SpanExportResult.SUCCESS
        grpc_exporter.shutdown()

        wait_for(lambda: server.get("/readyz").status_code == 200, what="ready again")
        assert server.process.poll() is None  # the same process throughout: no restart
        landed = {acked, *_execution_ids(during), *_execution_ids(during_grpc)}
        assert _stored_executions(server) == landed
        for execution_id in landed:
            _check_whole(server, execution_id)
        assert SECRET not in server.log
    finally:
        assert server.terminate() == 0


def test_a_postgres_that_does_not_answer_gets_503_within_the_deadline_and_resumes(
    own_postgres: Postgres, tmp_path: Path
) -> None:
    """Frozen, PostgreSQL keeps its connections open and answers nothing: libpq waits without
    bound, so only the node's deadlines bound the answers (LakeStore.answer_deadline_seconds)."""
    pg = own_postgres
    server = _serve(pg, "pg_frozen", tmp_path, tmp_path / "data")
    deadline = ANSWER_DEADLINE_SECONDS + 5  # slack for a loaded machine
    try:
        before = _workflow_spans()
        assert _exporter(server).export(before) == SpanExportResult.SUCCESS
        (acked,) = _execution_ids(before)
        pg.freeze()
        started = time.monotonic()
        assert server.get("/readyz").status_code == 503
        assert time.monotonic() - started < PING_TIMEOUT_SECONDS + 3
        no_answer = "no answer from the store within"
        started = time.monotonic()
        response = server.get(f"/api/workflows/executions/{acked}")
        assert time.monotonic() - started < deadline
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert no_answer in response.json()["detail"]
        jaeger = server.get(f"/api/traces/{acked}")
        assert jaeger.status_code == 503 and jaeger.json()["errors"][0]["code"] == 503, jaeger.text
        assert no_answer in jaeger.json()["errors"][0]["msg"]
        request, _ = spans_request(STEPS + 1)
        started = time.monotonic()
        refused = httpx.post(
            f"{server.otlp_http}/v1/traces", content=request.SerializeToString(),
            headers={"Content-Type": PROTOBUF}, timeout=60,
        )  # fmt: skip
        assert time.monotonic() - started < deadline
        assert refused.status_code == 503 and "retry-after" in refused.headers

        during = _workflow_spans()
        with Refusals() as refusals:
            export = Export(_exporter(server, timeout=90), during).start()
            assert refusals.seen.wait(deadline), "the exporter was not refused"
        pg.thaw()
        assert export.wait(120) == SpanExportResult.SUCCESS
        wait_for(lambda: server.get("/readyz").status_code == 200, what="ready again")
        assert _stored_executions(server) >= {acked, *_execution_ids(during)}
        for execution_id in (acked, *_execution_ids(during)):
            _check_whole(server, execution_id)
    finally:
        pg.thaw()
        assert server.terminate() == 0


# --- the data path refusing writes: a tmpfs of the test's own, remounted read-only or filled ----


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount(8) here: the test needs a tmpfs it can remount read-only or fill")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        # Not root, or a container without CAP_SYS_ADMIN: the OS will not let us make a path
        # refuse writes (as root, chmod does not: root writes through permission bits).
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.decode().strip()}): needs root with CAP_SYS_ADMIN"
        )


@pytest.fixture
def data_mount(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    _mount_tmpfs(path, "64m")
    yield path
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True, capture_output=True)


def _fill(path: Path) -> Path:
    """Fill the file system up (dd stops at ENOSPC); returns the filler to delete."""
    filler = path / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)
    assert os.statvfs(path).f_bavail == 0
    return filler


@pytest.mark.parametrize("condition", ["read-only", "full"])
def test_a_data_path_refusing_writes_answers_503_and_corrupts_nothing(
    postgres: Postgres, data_mount: Path, tmp_path: Path, condition: str
) -> None:
    server = _serve(postgres, f"data_{condition.replace('-', '_')}", tmp_path, data_mount)
    try:
        before = _workflow_spans(3)
        assert _exporter(server).export(before) == SpanExportResult.SUCCESS
        if condition == "read-only":
            _remount(data_mount, "ro")
            what = "Read-only file system"
        else:
            filler = _fill(data_mount)
            what = "No space left on device"
        _unavailable_http(server, "the lake's data path refuses writes")
        refused = _workflow_spans()
        assert _exporter(server, timeout=3).export(refused) == SpanExportResult.FAILURE  # retried, refused
        assert what in server.log
        # Reads go on meanwhile: they only read the data path.
        assert _stored_executions(server) == _execution_ids(before)
        assert _timed_get(server, "/readyz").status_code == 200  # reads are served

        if condition == "read-only":
            _remount(data_mount, "rw")
        else:
            filler.unlink()
        after = _workflow_spans()
        assert _exporter(server).export(refused) == SpanExportResult.SUCCESS  # the client's retry
        assert _exporter(server).export(after) == SpanExportResult.SUCCESS
        everything = _execution_ids(before) | _execution_ids(refused) | _execution_ids(after)
        assert _stored_executions(server) == everything
        for execution_id in everything:
            _check_whole(server, execution_id)
    finally:
        assert server.terminate() == 0


# --- one of two nodes SIGKILLed ----------------------------------------------------------------


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, set[str]] = field(default_factory=dict)  # node -> execution ids acknowledged


def _keep_exporting(
    node: str, server: RunningServer, ledger: Ledger, stop: threading.Event, timeout: float = 5
) -> None:
    """Batches of two executions, one export each, until stopped or the node is gone."""
    exporter = _exporter(server, timeout=timeout)
    while not stop.is_set():
        spans = _workflow_spans(2)
        if exporter.export(spans) != SpanExportResult.SUCCESS:
            if server.process.poll() is not None:
                return
            continue
        with ledger.lock:
            ledger.acked.setdefault(node, set()).update(_execution_ids(spans))


def test_a_sigkilled_node_loses_nothing_it_acknowledged_and_the_other_serves_on(
    postgres: Postgres, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    a = _serve(postgres, "two_nodes", tmp_path, data, "a")
    b = _serve(postgres, "two_nodes", tmp_path, data, "b")
    ledger, stop = Ledger(), threading.Event()
    threads = [
        threading.Thread(target=_keep_exporting, args=(name, node, ledger, stop))
        for name, node in (("a", a), ("b", b))
    ]
    try:
        for t in threads:
            t.start()

        def acked(node: str) -> int:
            with ledger.lock:
                return len(ledger.acked.get(node, ()))

        wait_for(lambda: acked("a") >= 6 and acked("b") >= 6, timeout=60, what="both nodes ingesting")
        a.kill()  # SIGKILL mid-stream: whatever it was committing is not acknowledged
        b_before = acked("b")
        wait_for(lambda: acked("b") >= b_before + 4, timeout=60, what="node b ingesting after the kill")
        stop.set()
        for t in threads:
            t.join(30)
        assert _timed_get(b, "/readyz").status_code == 200
        with ledger.lock:
            everything = set().union(*ledger.acked.values())
        assert everything <= _stored_executions(b)
        for execution_id in sorted(ledger.acked["a"]):
            _check_whole(b, execution_id)
    finally:
        stop.set()
        a.kill()
        assert b.terminate() == 0


def test_postgres_restarting_under_two_ingesting_nodes_loses_nothing_acknowledged(
    own_postgres: Postgres, tmp_path: Path
) -> None:
    """PostgreSQL stopped (fast: sessions ended mid-commit) and started again while both nodes
    take exports: every execution acknowledged, before, during or after, reads whole (no span
    missing, none twice), and both nodes go on without a restart (neither aborts: see
    test_ducklakes_internal_error_leaves_the_lake_store_usable for what once aborted one)."""
    pg, data = own_postgres, tmp_path / "data"
    a = _serve(pg, "restart", tmp_path, data, "a")
    b = _serve(pg, "restart", tmp_path, data, "b")
    ledger, stop = Ledger(), threading.Event()
    threads = [
        threading.Thread(target=_keep_exporting, args=(name, node, ledger, stop, 30))
        for name, node in (("a", a), ("b", b))
    ]

    def acked() -> int:
        with ledger.lock:
            return sum(len(ids) for ids in ledger.acked.values())

    try:
        with Refusals() as refusals:
            for t in threads:
                t.start()
            wait_for(lambda: acked() >= 8, timeout=60, what="both nodes ingesting")
            pg.stop()
            assert refusals.seen.wait(BOUND_SECONDS), "no export was refused while PostgreSQL was down"
            pg.start()
            resumed = acked()
            wait_for(lambda: acked() >= resumed + 8, timeout=90, what="ingest resuming")
        stop.set()
        for t in threads:
            t.join(60)
        for name, node in (("a", a), ("b", b)):
            assert node.process.poll() is None, f"node {name} exited with {node.process.poll()}:\n{node.log}"
        with ledger.lock:
            everything = set().union(*ledger.acked.values())
        for node in (a, b):
            assert everything <= _stored_executions(node)
        for execution_id in sorted(everything):
            _check_whole(b, execution_id)
        for name, node in (("a", a), ("b", b)):
            assert node.terminate() == 0, f"node {name} did not stop cleanly:\n{node.log}"
    finally:
        stop.set()
        for node in (a, b):
            if node.process.poll() is None:
                node.terminate()


# DuckLake 1.5.5's InternalException when PostgreSQL ends a catalog session under a read of
# inlined rows (storage/ducklake/extensions.py CONFIG has where and why).
INTERNAL_ERROR = "Attempted to access index 0 within vector of size 0"
PROVOKING_SECONDS = 120.0  # a bound: it came within seconds in every run here


@pytest.mark.timeout(300)
def test_ducklakes_internal_error_leaves_the_lake_store_usable(postgres: Postgres, tmp_path: Path) -> None:
    """A real LakeStore in a process of its own reads and adds inlined rows on three threads
    while PostgreSQL ends its sessions every 0.1 s, until DuckLake threw its internal error.
    Opened as before (DuckDB invalidating the instance on it), every later statement failed
    FATAL, and closing the store aborted the process (SIGABRT: a ROLLBACK thrown out of a
    destructor). Now, once the sessions are left alone, the same store commits, reads, and
    closes cleanly."""
    url = f"ducklake:postgres:{postgres.create_database('internal_error')}"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.lake_reads_child", url, str(tmp_path / "data"),
         str(PROVOKING_SECONDS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline() == "ready\n", child.communicate(timeout=30)
        with postgres.ending_sessions("internal_error") as ended:
            outcome = child.stdout.readline()
        assert outcome == "provoked\n", f"{outcome!r} ({ended.count} sessions ended)"
        out, err = child.communicate("go\n", timeout=120)
        assert child.returncode == 0, f"exit {child.returncode}: {out}\n{err[-3000:]}"
        assert out.split() == ["1", "closed"], err[-3000:]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)


ENDING_SECONDS = 20.0  # sessions ended under a serving node this long


@pytest.mark.timeout(300)
def test_catalog_sessions_ended_under_ingest_never_abort_the_node(postgres: Postgres, tmp_path: Path) -> None:
    """PostgreSQL ends the node's catalog sessions every 0.1 s for ENDING_SECONDS while two
    exporters send to it (most commits fail: 503, retried). The node neither aborts nor is
    invalidated: before, three failed commits in a row reopened its DuckDB instance, and
    closing it under the serving node aborted the process (SIGABRT), as did DuckLake's internal
    error when it came. Once the sessions are left alone it ingests again, every execution it
    acknowledged reads whole, and it stops cleanly."""
    dbname, data = "ended_sessions", tmp_path / "data"
    node = _serve(postgres, dbname, tmp_path, data)
    ledger, stop = Ledger(), threading.Event()
    threads = [
        threading.Thread(target=_keep_exporting, args=("node", node, ledger, stop, 30)) for _ in range(2)
    ]

    def acked() -> int:
        with ledger.lock:
            return len(ledger.acked.get("node", ()))

    gone = node.process.poll
    try:
        for t in threads:
            t.start()
        wait_for(lambda: acked() >= 6, timeout=60, what="the node ingesting")
        with postgres.ending_sessions(dbname) as ended, contextlib.suppress(subprocess.TimeoutExpired):
            node.process.wait(ENDING_SECONDS)  # the node exiting ends it early
        assert ended.count, f"no session was ended: {ended.stderr}"
        assert gone() is None, f"the node exited with {gone()}:\n{node.log}"
        assert "database has been invalidated" not in node.log, node.log
        resumed = acked()
        wait_for(lambda: gone() is not None or acked() >= resumed + 6, timeout=90, what="ingest going on")
        assert gone() is None, f"the node exited with {gone()}:\n{node.log}"
        stop.set()
        for t in threads:
            t.join(60)
        with ledger.lock:
            everything = set(ledger.acked["node"])
        assert everything <= _stored_executions(node)
        for execution_id in sorted(everything):
            _check_whole(node, execution_id)
        assert node.terminate() == 0, node.log
    finally:
        stop.set()
        node.kill()
