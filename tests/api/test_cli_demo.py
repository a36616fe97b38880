"""`flowscope seed` (and `python -m api.seed`) through a running server; `serve --demo`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flowscope.api.examples import example_definitions

from tests.api.client import TERMINAL, Api
from tests.support.server import RunningServer, start_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_NAMES = sorted(d["name"] for _, d in example_definitions())


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_seed_with_runs_then_skip_existing(api_server: RunningServer, ws: Api) -> None:
    ws_id = ws.workspace["id"]  # type: ignore[attr-defined]
    seeded = _run("-m", "flowscope", "seed", "--workspace-id", ws_id, "--api", api_server.api, "--runs", "1")
    assert seeded.returncode == 0, seeded.stderr
    workflows = ws.ok(ws.get("/api/workflows"))["items"]
    assert sorted(w["name"] for w in workflows) == EXAMPLE_NAMES
    project = ws.ok(ws.get("/api/projects"))[0]
    assert {w["project_id"] for w in workflows} == {project["id"]}
    for wf in workflows:
        page = ws.ok(ws.get(f"/api/workflows/{wf['id']}/executions"))
        assert page["total"] == 1 and page["items"][0]["status"] in TERMINAL
    again = _run(
        "-m", "flowscope.api.seed", "--workspace-id", ws_id, "--api", api_server.api, "--skip-existing"
    )
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("skipped") == len(EXAMPLE_NAMES)
    assert ws.ok(ws.get("/api/workflows"))["total"] == len(EXAMPLE_NAMES)


def test_seed_reports_an_unreachable_server() -> None:
    failed = _run("-m", "flowscope.api.seed", "--workspace-id", "default", "--api", "http://127.0.0.1:9")
    assert failed.returncode == 1 and "cannot reach" in failed.stderr


def test_demo(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "flowscope.duckdb", "--demo", "--demo-runs", "2")
    try:
        assert "demo: 4 example workflows" in srv.log and "/docs" in srv.log
        api = Api(srv.api)
        workflows = api.ok(api.get("/api/workflows"))["items"]
        assert sorted(w["name"] for w in workflows) == EXAMPLE_NAMES
        for wf in workflows:
            page = api.wait_until(
                f"/api/workflows/{wf['id']}/executions",
                lambda p: p["total"] == 2 and all(i["status"] in TERMINAL for i in p["items"]),
                timeout=60,
            )
            assert all(i["status"] == "completed" for i in page["items"]), json.dumps(page)[:2000]
    finally:
        srv.terminate()


def test_engine_exports_over_grpc(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "flowscope.duckdb", "--engine-protocol", "grpc")
    try:
        api = Api(srv.api)
        wf = api.create_workflow({"name": "over-grpc", "steps": [{"id": "a", "action": {"type": "delay"}}]})
        assert api.wait(api.execute(wf["id"])["id"])["status"] == "completed"
    finally:
        srv.terminate()
