"""The `scale` profile's token bootstrap, without Docker: deploy/bootstrap_tokens.py run as
compose's `lake-init` runs it (FLOWSCOPE_STORE/FLOWSCOPE_DATA_PATH naming a lake on the tests'
PostgreSQL), then an ingest node and a query node on that lake with token auth: the editor
token it wrote ingests through the ingest node (the real OTel SDK exporter), the viewer token
reads through the query node, and `flowscope token create` works on the lake while they run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowscope import conventions as c
from tests.support.postgres import Postgres
from tests.support.server import REPO, RunningServer, start_server

BOOTSTRAP = REPO / "deploy" / "bootstrap_tokens.py"


def _export(node: RunningServer, token: str | None) -> tuple[SpanExportResult, str]:
    """One workflow run (a root and a step) sent by the SDK's OTLP/HTTP exporter; its trace id."""
    finished = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "lake-init"}), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(finished))
    tracer = provider.get_tracer("tests.deploy")
    base = {c.WORKFLOW_ID: "bootstrapped"}
    with tracer.start_as_current_span("RUN bootstrapped", attributes=base) as root:
        tracer.start_span("load", attributes={**base, c.STEP_ID: "load"}).end()
    provider.shutdown()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    exporter = OTLPSpanExporter(f"{node.otlp_http}/v1/traces", headers=headers)
    result = exporter.export(finished.get_finished_spans())
    exporter.shutdown()
    return result, f"{root.get_span_context().trace_id:032x}"


def test_lake_init_tokens_serve_the_lake_nodes(postgres: Postgres, tmp_path: Path) -> None:
    url = "ducklake:postgres:" + postgres.create_database("lake_bootstrap")
    data, secrets = tmp_path / "lake-data", tmp_path / "secrets"
    env = {
        **os.environ, "FLOWSCOPE_STORE": url, "FLOWSCOPE_DATA_PATH": str(data),
        "FLOWSCOPE_SECRETS_DIR": str(secrets), "FLOWSCOPE_DB": str(tmp_path / "init-node"),
    }  # fmt: skip
    tokens = []
    for _ in range(2):  # compose runs it at every `up`: the second run keeps the tokens it verifies
        subprocess.run([sys.executable, str(BOOTSTRAP)], env=env, check=True, cwd=REPO, timeout=120)
        tokens.append({p.name: p.read_text() for p in sorted(secrets.glob("*"))})
    assert tokens[0] == tokens[1]
    editor, viewer = tokens[0]["ingest-editor.token"], tokens[0]["grafana-viewer.token"]
    assert editor != viewer and "\n" not in editor
    fragment = yaml.safe_load(tokens[0]["otelcol-auth.yaml"])
    assert fragment["exporters"]["loadbalancing"]["protocol"]["otlp"]["headers"] == {
        "authorization": f"Bearer {editor}"
    }
    assert not (tmp_path / "init-node").exists(), "the bootstrap wrote a DuckDB file, not the lake"

    lake = ("--store", url, "--data-path", str(data), "--auth", "token")
    ingest = start_server(tmp_path / "ingest-node", *lake, "--role", "ingest")
    try:
        query = start_server(tmp_path / "query-node", *lake, "--role", "query")
        try:
            assert _export(ingest, None)[0] == SpanExportResult.FAILURE  # 401: the node wants a token
            result, trace_id = _export(ingest, editor)
            assert result == SpanExportResult.SUCCESS  # acknowledged: committed to the lake
            read = {"Authorization": f"Bearer {viewer}"}
            found = query.get(f"/api/traces/{trace_id}", headers=read)
            assert found.status_code == 200 and len(found.json()["data"][0]["spans"]) == 2, found.text
            assert query.get(f"/api/traces/{trace_id}").status_code == 401

            # The first admin token, made on the lake while nodes run (the file needs them stopped).
            create = ["token", "create", "--workspace", "default", "--role", "admin"]
            made = subprocess.run(
                [sys.executable, "-m", "flowscope", *create],
                env=env, capture_output=True, text=True, cwd=REPO, timeout=120,
            )  # fmt: skip
            assert made.returncode == 0, made.stderr
            admin = made.stdout.strip()
            listed = query.get("/api/tokens", headers={"Authorization": f"Bearer {admin}"})
            assert listed.status_code == 200 and len(listed.json()) == 3, listed.text
            assert query.get("/api/tokens", headers=read).status_code == 403  # a viewer is no admin
        finally:
            assert query.terminate() == 0
    finally:
        assert ingest.terminate() == 0
