"""`flowscope maintain` on a real lake (the tests' PostgreSQL catalog, a data directory) while
a real `flowscope serve --store ...` node ingests what the OTel SDK exports: small commits
pile up files, a round merges them and deletes what nothing reads; every acknowledged span
stays readable through the node's Jaeger API; retention deletes only the old; a young orphan
(a commit in flight) is never deleted; a DuckDB file is refused."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest
from flowscope.storage.ducklake.maintenance import Maintainer, Policy, Round, _Left
from flowscope.storage.ducklake.store import LakeStore
from flowscope.storage.ducklake.url import parse_lake
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, set_span_in_context

from flowscope import conventions as c
from tests.support.postgres import Postgres
from tests.support.server import REPO, RunningServer, start_server

SPANS_PER_TRACE = 20  # more than DuckLake inlines (10 rows): the steps' commit writes Parquet
WORKFLOW_ID = "lake-maintain"
DAY_NS = 86_400 * 10**9
_ROUND = re.compile(
    r"maintain round: data_files=(?P<before>\d+)->(?P<after>\d+) delete_files=(?P<del_before>\d+)->"
    r"(?P<del_after>\d+) .*?files_removed=(?P<removed>\d+) orphans_removed=(?P<orphans>\d+)"
    r"(?: retention: spans=(?P<spans>\d+) logs=\d+ executions=\d+)?"
)


class Acknowledged(SpanExporter):
    """The OTLP/HTTP exporter, remembering the trace ids of the exports the node acknowledged."""

    def __init__(self, endpoint: str) -> None:
        self._inner = OTLPSpanExporter(endpoint)
        self.traces: set[str] = set()
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.traces |= {f"{s.context.trace_id:032x}" for s in spans if s.context}
        else:
            self.failed += 1
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()


class Exporting:
    """A tracer whose every `trace()` is one export request, so one commit on the node."""

    def __init__(self, server: RunningServer) -> None:
        self.exporter = Acknowledged(f"{server.otlp_http}/v1/traces")
        self.provider = TracerProvider(resource=Resource.create({"service.name": "lake-maintain"}))
        self.provider.add_span_processor(
            BatchSpanProcessor(
                self.exporter, schedule_delay_millis=60_000, max_export_batch_size=SPANS_PER_TRACE
            )
        )
        self.tracer = self.provider.get_tracer("tests.lake_maintain")

    def trace(self, start_ns: int | None = None) -> None:
        """One workflow execution in two exports (two commits): its steps, which store the
        execution as running, then its root, which replaces that row (a delete + insert in
        the table compaction rewrites: where a node's commit and a round collide)."""
        start = start_ns or time.time_ns()
        base = {c.WORKFLOW_ID: WORKFLOW_ID}
        root = self.tracer.start_span("RUN batch", kind=SpanKind.SERVER, start_time=start, attributes=base)
        context = set_span_in_context(root)
        for i in range(SPANS_PER_TRACE - 1):
            attributes = {**base, c.STEP_ID: f"item-{i}"}
            step = self.tracer.start_span(
                f"item-{i}", context=context, start_time=start + i, attributes=attributes
            )
            step.end(end_time=start + i + 1)
        assert self.provider.force_flush(30_000)
        root.end(end_time=start + SPANS_PER_TRACE)
        assert self.provider.force_flush(30_000)

    def close(self) -> None:
        self.provider.shutdown()


def _maintain(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowscope", "maintain", *args], capture_output=True, text=True, timeout=120,
        cwd=REPO, env={**os.environ, **(env or {})},
    )  # fmt: skip


def _round(output: str) -> re.Match[str]:
    found = _ROUND.search(output)
    assert found, output
    return found


def rounds(lines: list[str]) -> int:
    return sum(line.startswith("maintain round:") for line in lines)


def _parquet(data: Path) -> list[Path]:
    return sorted(data.rglob("*.parquet"))


def _spans_of(server: RunningServer, trace_id: str) -> int:
    response = server.get(f"/api/traces/{trace_id}")
    if response.status_code == 404:
        return 0
    assert response.status_code == 200, response.text
    (trace,) = response.json()["data"]
    return len(trace["spans"])


def _stored(server: RunningServer) -> dict[str, int]:
    """Every trace the node's Jaeger search finds of the last hour: its span count."""
    params = {"service": "lake-maintain", "limit": 10_000, "lookback": "1h"}
    response = server.get("/api/traces", params=params)
    assert response.status_code == 200, response.text
    return {t["traceID"]: len(t["spans"]) for t in response.json()["data"]}


def _lake(postgres: Postgres, tmp_path: Path, name: str) -> tuple[tuple[str, ...], Path]:
    url = "ducklake:postgres:" + postgres.create_database(name)
    data = tmp_path / "lake-data"
    return ("--store", url, "--data-path", str(data)), data


def test_maintain_merges_files_under_a_live_node_and_loses_nothing(
    postgres: Postgres, tmp_path: Path
) -> None:
    store, data = _lake(postgres, tmp_path, "maintain_live")
    node = start_server(tmp_path / "node", *store)
    exporting = Exporting(node)
    try:
        for _ in range(30):  # small commits, nothing maintained yet: one file each
            exporting.trace()
        piled = len(_parquet(data))
        assert piled >= 30

        # Rounds back to back, every snapshot but the latest expired and every replaced file
        # deleted at once, while the node keeps committing: a round's steps and the node's
        # commits race for real, and a commit's file written but not yet in the catalog (an
        # "orphan" for a moment) must survive them.
        background = subprocess.Popen(
            [sys.executable, "-m", "flowscope", "maintain", *store, "--interval-seconds", "0.1",
             "--snapshot-retention-seconds", "0", "--file-grace-seconds", "0"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        lines: list[str] = []
        first_round = threading.Event()

        def pump() -> None:
            assert background.stdout is not None
            for line in background.stdout:
                lines.append(line)
                if line.startswith("maintain round:"):
                    first_round.set()

        threading.Thread(target=pump, daemon=True).start()
        try:
            assert first_round.wait(60), "".join(lines)
            rounds_before = rounds(lines)
            deadline = time.monotonic() + 60
            traces = 0  # at least 30 more, and until a whole round ran while they went in
            while traces < 30 or rounds(lines) < rounds_before + 2:
                assert time.monotonic() < deadline, "".join(lines)
                exporting.trace()
                traces += 1
        finally:
            background.send_signal(signal.SIGTERM)
            assert background.wait(60) == 0, "".join(lines)
        assert not any("failed" in line for line in lines), "".join(lines)

        # Then one round that may delete everything merged away (the node is idle now).
        done = _maintain(*store, "--once", "--snapshot-retention-seconds", "0", "--file-grace-seconds", "0")
        assert done.returncode == 0, done.stdout + done.stderr
        last = _round(done.stdout)
        files = len(_parquet(data))
        per_table = Counter(path.parent.name for path in _parquet(data))
        # The spans' 30+ commits merged into one file; executions (rows replaced at ingest)
        # keep a few: merge_adjacent_files leaves files with deleted rows to the rewrite.
        assert per_table["spans"] == 1, (piled, per_table, done.stdout)
        assert files < piled // 2, (piled, files, "".join(lines), done.stdout)
        assert files == int(last["after"]) + int(last["del_after"]), done.stdout

        assert exporting.exporter.failed == 0
        assert len(exporting.exporter.traces) == 30 + traces
        stored = _stored(node)  # one Jaeger search: a lookup by id scans the lake (~150 ms)
        assert set(stored) == exporting.exporter.traces
        assert set(stored.values()) == {SPANS_PER_TRACE}
        page = node.get(f"/api/workflows/{WORKFLOW_ID}/executions", params={"status": "completed"})
        assert page.status_code == 200 and page.json()["total"] == len(stored), page.text
        # A commit that lost to a round ran again inside the node: no export was refused for it.
        assert "commit failed" not in node.log, node.log
    finally:
        exporting.close()
        assert node.terminate() == 0


def test_retention_deletes_only_old_data_and_young_orphans_stay(postgres: Postgres, tmp_path: Path) -> None:
    store, data = _lake(postgres, tmp_path, "maintain_retention")
    node = start_server(tmp_path / "node", *store)
    exporting = Exporting(node)
    try:
        exporting.trace(time.time_ns() - 10 * DAY_NS)
        (old,) = exporting.exporter.traces
        exporting.trace()
        (new,) = exporting.exporter.traces - {old}
        assert _spans_of(node, old) == _spans_of(node, new) == SPANS_PER_TRACE

        # A Parquet file no catalog row names yet, just written: a node's commit in flight.
        in_flight = data / "main" / "spans" / "ducklake-in-flight.parquet"
        shutil.copy(_parquet(data / "main" / "spans")[0], in_flight)

        # Not even with no grace for replaced files: a young orphan is never deleted.
        done = _maintain(*store, "--once", "--retention-days", "5", "--file-grace-seconds", "0")
        assert done.returncode == 0, done.stdout + done.stderr
        first = _round(done.stdout)
        assert int(first["spans"]) == SPANS_PER_TRACE, done.stdout
        assert _spans_of(node, old) == 0
        assert _spans_of(node, new) == SPANS_PER_TRACE
        assert in_flight.exists() and first["orphans"] == "0", done.stdout

        # An hour later (its clock says) it is an orphan: the next round deletes it.
        two_hours_ago = time.time() - 7200
        os.utime(in_flight, (two_hours_ago, two_hours_ago))
        again = _maintain(*store, "--once", "--retention-days", "5")
        assert again.returncode == 0, again.stdout + again.stderr
        assert _round(again.stdout)["orphans"] == "1" and not in_flight.exists(), again.stdout
        assert _spans_of(node, new) == SPANS_PER_TRACE
    finally:
        exporting.close()
        assert node.terminate() == 0


def test_maintain_refuses_a_duckdb_file(tmp_path: Path) -> None:
    for args, env in (
        (("--store", str(tmp_path / "flowscope.duckdb")), {}),
        ((), {"FLOWSCOPE_STORE": str(tmp_path / "flowscope.duckdb")}),
    ):
        done = _maintain(*args, "--once", env=env)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "maintain works on a ducklake: store only" in done.stderr, done.stderr
        assert "a DuckDB file is maintained by the one server that holds it" in done.stderr
    assert not (tmp_path / "flowscope.duckdb").exists()


def test_maintain_needs_a_flowscope_lake(postgres: Postgres, tmp_path: Path) -> None:
    store, _ = _lake(postgres, tmp_path, "maintain_empty")
    done = _maintain(*store, "--once")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "holds no Flowscope store yet" in done.stderr, done.stderr


def test_a_step_that_trips_duckdbs_internal_error_fails_alone(postgres: Postgres, tmp_path: Path) -> None:
    """DuckLake's compaction can fail with an internal error (see STATE_TABLES in
    storage/ducklake/maintenance.py), which leaves DuckDB's connection unusable: the step is
    reported as failed, the lake attached anew, and the round's other steps still run."""
    url = "ducklake:postgres:" + postgres.create_database("maintain_internal")
    LakeStore(url, tmp_path / "data").close()  # the schema a node creates
    maintainer = Maintainer(parse_lake(url), str(tmp_path / "data"), Policy())
    try:
        before = maintainer._con
        left = _Left()

        def compaction() -> int:
            raise duckdb.InternalException("DuckLakeCompaction - expected a single output file")

        assert maintainer._step("rewrite:spans", left, compaction) is None
        assert (left.failed, left.skipped) == (["rewrite:spans"], [])
        assert maintainer._con is not before
        with pytest.raises(duckdb.ConnectionException):  # the old connection was closed
            before.execute("SELECT 1")
        report = maintainer.run_round()  # on the new connection
        assert report.failed == report.skipped == ()
    finally:
        maintainer.close()
    line = Round(skipped=("merge:logs",), failed=("rewrite:spans", "merge:spans")).line()
    assert line.endswith("skipped=merge:logs failed=rewrite:spans,merge:spans seconds=0.00"), line
