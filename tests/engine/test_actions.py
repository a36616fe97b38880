"""Built-in actions: python, sql, http, shell (with their safety rails)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import duckdb
import pytest
from flowscope.engine.actions import register_function
from flowscope.engine.actions.sql import sql_string

from tests.engine.conftest import run, run_workflow, step, wf


def act(type_: str, sid: str = "s", *deps: str, **params: Any) -> dict[str, Any]:
    extra = {k: params.pop(k) for k in ("retry", "timeout_seconds") if k in params}
    return step(sid, *deps, action={"type": type_, "params": params}, **extra)


# --- python ---------------------------------------------------------------------------


def test_python_registered_and_imported_functions(make_engine) -> None:
    register_function("test.multiply", lambda a, b: a * b)
    definition = wf(
        act("python", "m", callable="test.multiply", kwargs={"a": 6, "b": 7}),
        act(
            "python",
            "a",
            "m",
            callable="tests.engine.helpers:add",
            kwargs={"a": "${{ steps.m.output }}", "b": 1},
        ),
    )
    result = run(run_workflow(make_engine(python_modules=("tests.engine",)), definition))
    assert result.results == {"m": 42, "a": 43}


def test_python_module_allow_list_and_bad_outputs(make_engine) -> None:
    from flowscope.engine.validation import validate_definition

    register_function("test.unserializable", lambda: object())
    refused = wf(
        act("python", "a", callable="tests.engine.helpers:add", kwargs={"a": 1, "b": 2}),
        act("python", "c", callable="test.nope"),
    )
    _, problems = validate_definition(refused)
    assert [str(p) for p in problems] == [
        "steps[0].action.params.callable: module 'tests.engine.helpers' is not allowed "
        "(EngineConfig.python_modules)",
        "steps[1].action.params.callable: no registered function named 'test.nope'",
    ]
    # A templated callable is known only at run time: the same check runs there.
    definition = wf(
        act("python", "a", callable="${{ fn }}", kwargs={"a": 1, "b": 2}),
        act("python", "b", callable="test.unserializable"),
        inputs={"fn": {"type": "string", "default": "tests.engine.helpers:add"}},
    )
    result = run(run_workflow(make_engine(), definition))
    assert (
        result.step("a").error == "module 'tests.engine.helpers' is not allowed (EngineConfig.python_modules)"
    )
    assert result.step("b").error.startswith("step output is not JSON-serializable")


# --- sql ------------------------------------------------------------------------------------
# With sandbox_dir=tmp_path, the default workspace's steps use tmp_path/workspaces/default.


def test_sql_statements_parameters_and_rows(make_engine, tmp_path: Path) -> None:
    db = tmp_path / "workspaces" / "default" / "t.duckdb"
    definition = wf(
        act(
            "sql",
            database=str(db),
            max_rows=2,
            sql=[
                "CREATE TABLE t AS SELECT range AS n FROM range(5)",
                "INSERT INTO t VALUES ($extra)",
                "SELECT n, n * 1.5 AS x, DATE '2024-01-01' + CAST(n AS INTEGER) AS d "
                "FROM t WHERE n >= $min ORDER BY n",
            ],
            parameters={"extra": 10, "min": 3},
        )
    )
    result = run(run_workflow(make_engine(sandbox_dir=tmp_path), definition))
    out = result.results["s"]
    assert out["database"] == str(db)
    assert out["statements"][:2] == [{"rows_affected": 5}, {"rows_affected": 1}]
    assert out["statements"][2]["row_count"] == 3 and out["statements"][2]["truncated"] is True
    assert out["rows"] == [{"n": 3, "x": 4.5, "d": "2024-01-04"}, {"n": 4, "x": 6.0, "d": "2024-01-05"}]


def test_sql_is_confined_to_the_sandbox(make_engine, tmp_path: Path) -> None:
    inside = "ok.duckdb"  # relative: in the workspace's part of the sandbox
    definition = wf(
        act("sql", "outside", database="/var/tmp/flowscope-test-outside.duckdb", sql="SELECT 1"),
        act("sql", "read_etc", database=inside, sql="SELECT * FROM read_csv('/etc/passwd')"),
        {
            **act(
                "sql", "settings", "read_etc", database=inside, sql="SET enable_external_access = true"
            ),
            "trigger_rule": "all_done",
        },
    )
    result = run(run_workflow(make_engine(sandbox_dir=tmp_path), definition))
    assert "is outside " + str(tmp_path / "workspaces" / "default") in result.step("outside").error
    assert "file system operations are disabled by configuration" in result.step("read_etc").error
    assert "locked" in result.step("settings").error
    assert not Path("/var/tmp/flowscope-test-outside.duckdb").exists()


@pytest.mark.parametrize("text", ["plain", "it's", "''", "a'; DROP TABLE t; --", ""])
def test_sql_string_reads_back_as_the_text(text: str) -> None:
    # Where DuckDB takes no bound parameter (ATTACH's path on DuckDB 1.5) a value is quoted.
    with duckdb.connect() as con:
        assert con.execute(f"SELECT {sql_string(text)}").fetchall() == [(text,)]


def test_sql_timeout_interrupts_query(make_engine, tmp_path: Path) -> None:
    definition = wf(
        act(
            "sql",
            database="slow.duckdb",
            timeout_seconds=0.3,
            sql="SELECT count(*) FROM range(100000000000) a",
        )
    )
    t0 = time.monotonic()
    result = run(run_workflow(make_engine(sandbox_dir=tmp_path), definition))
    assert result.step("s").error == "Timeout exceeded"
    assert time.monotonic() - t0 < 3


# --- http -----------------------------------------------------------------------------------


@pytest.fixture
def web() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/json":
                self._send(200, {"ok": True, "traceparent": self.headers.get("traceparent")})
            elif self.path == "/inside":
                self._redirect("/json")
            elif self.path == "/outside":
                self._redirect("http://forbidden.invalid/json")
            elif self.path == "/loop":
                self._redirect("/loop")
            else:
                self._send(500, {"error": "nope"})

        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _redirect(self, to: str) -> None:
            self.send_response(302)
            self.send_header("location", to)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_allow_list_redirects_and_traceparent(make_engine, web: str, captured) -> None:
    definition = wf(
        act("http", "json", url=f"{web}/json"),
        act("http", "inside", url=f"{web}/inside"),
        act("http", "outside", url=f"{web}/outside"),
        act("http", "error", url=f"{web}/boom"),
        act("http", "loop", url=f"{web}/loop"),
        act("http", "other_host", url="http://localhost:1/json"),
    )
    engine = make_engine(http_allowed_hosts=("127.0.0.1",), http_allowed_networks=("127.0.0.1/32",))
    result = run(run_workflow(engine, definition))
    out = result.results["json"]
    assert out["status_code"] == 200 and out["json"]["ok"] is True
    attempt_span = next(
        s for s in captured.finished() if s.name == "attempt 1" and s.attributes["workflow.step.id"] == "json"
    )
    assert out["json"]["traceparent"] == f"00-{result.execution_id}-{attempt_span.context.span_id:016x}-01"
    assert result.results["inside"]["url"] == f"{web}/json"
    assert result.step("outside").error == "host 'forbidden.invalid' is not in the allowed hosts"
    assert result.step("error").error == f"HTTP 500 from {web}/boom"
    assert result.step("loop").error == "more than 5 redirects"
    assert result.step("other_host").error == "host 'localhost' is not in the allowed hosts"


def test_http_disabled_without_hosts(make_engine) -> None:
    from flowscope.engine.validation import DefinitionError

    with pytest.raises(DefinitionError, match="action 'http' is disabled"):
        run(run_workflow(make_engine(), wf(act("http", url="http://127.0.0.1/"))))


# --- shell ---------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_shell_runs_and_fails_on_nonzero(make_engine) -> None:
    definition = wf(
        act("shell", "ok", command="echo hello; echo oops >&2"),
        act("shell", "argv", command=["printf", "%s", "a b"]),
        act("shell", "bad", command="echo detail >&2; exit 3"),
    )
    result = run(run_workflow(make_engine(enable_shell=True), definition))
    assert result.results["ok"] == {"returncode": 0, "stdout": "hello\n", "stderr": "oops\n"}
    assert result.results["argv"]["stdout"] == "a b"
    assert result.step("bad").error == "command exited with status 3: detail"


def test_shell_timeout_kills_the_process_group(make_engine, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    definition = wf(act("shell", command=f"sleep 30 & echo $! > {pidfile}; wait", timeout_seconds=0.5))
    t0 = time.monotonic()
    result = run(run_workflow(make_engine(enable_shell=True), definition))
    assert result.step("s").error == "Timeout exceeded"
    assert time.monotonic() - t0 < 3
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 2
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid), "the background child of the shell survived"


def test_shell_disabled_by_default(make_engine) -> None:
    from flowscope.engine.validation import DefinitionError

    with pytest.raises(DefinitionError, match="shell steps are off"):
        run(run_workflow(make_engine(), wf(act("shell", command="true"))))


# --- registry: module references and entry points ----------------------------------------


def test_module_function_action_type_and_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from flowscope.engine.actions import ActionRegistry, register_builtins
    from flowscope.engine.config import EngineConfig
    from flowscope.engine.engine import Engine
    from flowscope.engine.telemetry import TelemetryConfig
    from flowscope.engine.validation import validate_definition

    dist = tmp_path / "flowscope_test_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: flowscope-test-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[flowscope.actions]\nplugin_add = tests.engine.helpers:add_action\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ActionRegistry()
    register_builtins(registry)
    assert "plugin_add" in registry.names()

    config = replace(
        EngineConfig(), python_modules=("tests.engine",), telemetry=TelemetryConfig(enabled=False)
    )
    definition = wf(
        act("plugin_add", "ep", a=2, b=3), act("tests.engine.helpers:add_action", "ref", a=1, b=1)
    )
    result = run(run_workflow(Engine(config, registry=registry), definition))
    assert result.results == {"ep": {"sum": 5}, "ref": {"sum": 2}}

    _, problems = validate_definition(wf(act("plugin_add", "ep", a="x", b=3)), registry=registry)
    assert [str(p) for p in problems] == [
        "steps[0].action.params.a: Input should be a valid integer, unable to parse string as an integer"
    ]
