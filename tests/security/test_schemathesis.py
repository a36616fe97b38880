"""The REST API under schemathesis, driven by the live server's /openapi.json: no 5xx and every
response matches its documented schema (checks `not_a_server_error` and
`response_schema_conformance`), over every operation.

Two runs against one server holding real data (a completed and a failed execution of a
catalog workflow, a project, a foreign trace):

1. generated inputs everywhere (examples, coverage, fuzzing and stateful phases) — mostly
   404/422 paths, where validation and error handling live;
2. the path parameters pinned to the real ids, so generated query strings and bodies reach
   the handlers' real work (timelines, metrics, logs, Jaeger traces, updates, deletes).

Bounded by `--max-examples` (FLOWSCOPE_SOAK=1: many more). The run's figures are printed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis  # noqa: F401 - a missing install must fail, not skip

from tests.api.client import Api
from tests.api.workflows import FAILING, SEQUENCE
from tests.reliability.support import soak
from tests.support.otlp import trace_request
from tests.support.server import RunningServer, start_server

MAX_EXAMPLES = 200 if soak() else 15
CHECKS = "not_a_server_error,response_schema_conformance"


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    server = start_server(tmp_path_factory.mktemp("st") / "flowscope.duckdb")
    try:
        api = Api(server.api)
        project = api.ok(api.post("/api/projects", json={"name": "fuzzed"}), 201)
        workflow = api.create_workflow(SEQUENCE, project_id=project["id"])
        done = api.wait(api.execute(workflow["id"])["id"])
        failing = api.create_workflow(FAILING)
        failed = api.wait(api.execute(failing["id"])["id"])
        assert done["status"] == "completed" and failed["status"] == "failed"
        request, ids = trace_request(5, service="fuzz-svc")
        response = httpx.post(f"{server.otlp_http}/v1/traces", content=request.SerializeToString(),
                              headers={"content-type": "application/x-protobuf"})  # fmt: skip
        assert response.status_code == 200
        real = {
            "execution_id": failed["id"], "workflow_id": failing["id"], "step_id": "b",
            "project_id": project["id"], "workspace_id": "default", "service": "fuzz-svc",
            "trace_id": ids[0][0], "token_id": "tok_0000000000000000",
        }  # fmt: skip
        yield server, real
    finally:
        server.terminate()


def _schemathesis(server: RunningServer, tmp: Path, *args: str, config: str = "") -> tuple[int, str]:
    cli = Path(sys.executable).with_name("schemathesis")
    # One worker: with two, hypothesis's concurrent ast.parse hits a CPython 3.11 bug
    # ("AST constructor recursion depth mismatch"), an error of the tool, not of the API.
    command = [str(cli) if cli.exists() else shutil.which("schemathesis") or "schemathesis"]
    if config:
        (tmp / "schemathesis.toml").write_text(config)
        command += ["--config-file", str(tmp / "schemathesis.toml")]
    command += [
        "run", f"{server.api}/openapi.json", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
        "--seed", "20261125", "--no-color", "--generation-database", "none", "--workers", "1",
        "--request-timeout", "30", "--max-failures", "20", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp)
    return done.returncode, done.stdout + done.stderr


def _figures(output: str) -> str:
    generated = re.search(r"(\d+) generated", output)
    tested = re.search(r"Tested: (\d+)", output)
    operations = tested.group(1) if tested else "?"
    return f"{operations} operations, {generated.group(1) if generated else '?'} cases"


def test_generated_inputs_everywhere(populated: tuple[RunningServer, dict[str, str]], tmp_path: Path) -> None:
    server, _ = populated
    code, output = _schemathesis(server, tmp_path)
    print(f"\n[schemathesis/generated] {_figures(output)}, max {MAX_EXAMPLES} examples per operation")
    assert code == 0, output[-8000:] + "\n" + server.log[-4000:]


def test_real_ids_in_every_path(populated: tuple[RunningServer, dict[str, str]], tmp_path: Path) -> None:
    server, real = populated
    config = "[parameters]\n" + "".join(f'"path.{name}" = "{value}"\n' for name, value in real.items())
    code, output = _schemathesis(
        server, tmp_path, "--include-path-regex", r"\{", "--phases", "examples,coverage,fuzzing",
        config=config,
    )  # fmt: skip
    print(f"\n[schemathesis/real ids] {_figures(output)}, max {MAX_EXAMPLES} examples per operation")
    assert code == 0, output[-8000:] + "\n" + server.log[-4000:]
    # the executions survived being fuzzed (only their workflow may have been deleted)
    details = httpx.get(f"{server.api}/api/workflows/executions/{real['execution_id']}", timeout=30)
    assert details.status_code == 200
