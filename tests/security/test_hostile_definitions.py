"""Hostile or broken workflow definitions through `POST /api/workflows` and `flowscope validate`,
and hostile CEL expressions run by the real engine in `flowscope serve`: each is rejected
(4xx / exit 1 with the problems) or runs bounded in time and memory — never a 5xx, a hang,
or a server that stops answering. Figures (sizes, statuses, seconds, RSS) are printed.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.reliability.support import rss_sampler
from tests.support.server import RunningServer, start_server

MiB = 1 << 20


def step(step_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "action": {"type": "delay", "params": {"seconds": 0}}, **extra}


def _doc(definition: Any) -> str:
    return json.dumps({"definition": definition})


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


N = 10_000
# name -> (raw request body, acceptable statuses, text the answer must contain)
CASES: dict[str, tuple[str, set[int], str]] = {
    "two-step cycle": (_doc({"name": "c", "steps": [step("a", depends_on=["b"]), step("b", depends_on=["a"])]
                             }), {422}, "dependency cycle"),
    "10k-step chain (valid)": (_doc({"name": "chain", "steps": [
        step(f"s{i}", depends_on=[f"s{i - 1}"] if i else []) for i in range(N)]}), {201}, ""),
    "10k-step cycle": (_doc({"name": "ring", "steps": [
        step(f"s{i}", depends_on=[f"s{(i - 1) % N}"]) for i in range(N)]}), {422}, "dependency cycle"),
    "10k unknown dependencies": (_doc({"name": "u", "steps": [
        step(f"s{i}", depends_on=[f"missing{i}"]) for i in range(N)]}), {422}, "unknown step"),
    "10k unknown names over 10k inputs": (_doc({
        "name": "names", "inputs": {f"in{i}": {"type": "integer"} for i in range(N)},
        "steps": [step(f"s{i}", condition=f"nope{i} > 0") for i in range(N)]}), {422}, "unknown name"),
    "100k steps": (_doc({"name": "wide", "steps": [step(f"s{i}") for i in range(100_000)]}), {422},
                   "more than"),
    "nesting 100k deep (JSON)": ('{"definition": {"name": "d", "steps": [{"id": "a", "action": {"type": '
                                 '"delay", "params": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}}]}}",
                                 {400, 422}, ""),
    "nesting 40 deep in params": (_doc({"name": "d", "steps": [step("a", action={"type": "delay",
                                  "params": {"seconds": 0, "x": _nested(40)}})]}), {422}, "nested deeper"),
    "30 MB string": (_doc({"name": "x" * 30 * MiB, "steps": [step("a")]}), {422}, "longer than"),
    "1M-element array": (_doc({"name": "n", "steps": [step("a", action={"type": "delay",
                          "params": {"seconds": 0, "l": list(range(1_000_000))}})]}), {422}, "more than"),
    "600k keys": (_doc({"name": "k", "steps": [step("a", action={"type": "delay", "params": {
                   "seconds": 0, "m": {str(i): i for i in range(600_000)}}})]}), {422}, "more than"),
    "2 MB object key": (_doc({"name": "k", "steps": [step("a", action={"type": "delay", "params": {
                         "k" * 2 * MiB: 1}})]}), {422}, ""),
    "truncated JSON": ('{"definition": {"name": "t", "steps": [', {422}, ""),
    "not an object": (_doc([1, 2, 3]), {422}, ""),
    "expression of 100k chars": (_doc({"name": "e", "steps": [step("a", condition="1 + " * 25_000 + "1")]}),
                                 {422}, "longer than"),
    "expression syntax error": (_doc({"name": "e", "steps": [step("a", condition="((((")]}), {422},
                                "invalid expression"),
    "400-digit integer literal": (_doc({"name": "e", "steps": [step("a", condition="9" * 400 + " > 0")]}),
                                  {422}, "int literal"),
    "steps.__dict__": (_doc({"name": "e", "steps": [step("a", condition="steps.__dict__ != null")]}), {422},
                       "unknown step"),
    "shell action (disabled)": (_doc({"name": "s", "steps": [{"id": "a", "action": {"type": "shell",
                                "params": {"command": "touch /tmp/pwned"}}}]}), {422}, "disabled"),
    "module:function action": (_doc({"name": "m", "steps": [{"id": "a", "action": {"type": "os:system",
                                "params": {}}}]}), {422}, "not allowed"),
}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("hostile") / "flowscope.duckdb")
    yield srv
    srv.terminate()


def _health_watch(server: RunningServer, stop: threading.Event, worst: list[float]) -> None:
    with httpx.Client(base_url=server.api, timeout=30) as client:
        while not stop.is_set():
            t = time.monotonic()
            client.get("/healthz")
            worst[0] = max(worst[0], time.monotonic() - t)
            time.sleep(0.05)


def test_hostile_definitions_are_rejected_quickly(server: RunningServer) -> None:
    rows = []
    worst = [0.0]
    stop = threading.Event()
    watcher = threading.Thread(target=_health_watch, args=(server, stop, worst))
    watcher.start()
    try:
        with rss_sampler(server.process.pid) as rss, httpx.Client(base_url=server.api, timeout=120) as client:
            for name, (body, statuses, fragment) in CASES.items():
                t = time.monotonic()
                response = client.post("/api/workflows", content=body,
                                       headers={"content-type": "application/json"})  # fmt: skip
                elapsed = time.monotonic() - t
                rows.append((name, len(body), response.status_code, elapsed))
                assert response.status_code in statuses, (name, response.status_code, response.text[:500])
                assert fragment in response.text, (name, response.text[:500])
                if response.status_code == 422 and isinstance(response.json()["detail"], list):
                    assert len(response.json()["detail"]) <= 1000, name  # problems are capped
                assert elapsed < 15, f"{name}: {elapsed:.1f}s"
    finally:
        stop.set()
        watcher.join(30)
    assert httpx.get(f"{server.api}/healthz", timeout=10).status_code == 200
    growth = rss["peak"] - rss["baseline"]
    print("\n[hostile/definitions] case | body bytes | status | seconds")
    for name, size, status, elapsed in rows:
        print(f"  {name:34} {size:>11,} {status} {elapsed:6.2f}")
    print(f"  server RSS peak +{growth / MiB:.0f} MiB; slowest /healthz meanwhile {worst[0] * 1000:.0f} ms")
    assert growth < 1500 * MiB
    assert not Path("/tmp/pwned").exists()


# Expressions that compile but are expensive or escape-seeking at run time. Each step is
# independent; the whole execution must end (failed) within a bound, the benign step completes.
L_SIZE, S_SIZE = 3000, 200_000
HOSTILE_EXPRESSIONS: dict[str, tuple[str, str]] = {  # step id -> (where, expression)
    "quadratic_map": ("condition", "l.map(x, l.map(y, x + y)).size() > 0"),
    "cubic_exists": ("condition", "l.exists(x, l.exists(y, l.exists(z, x + y + z < 0)))"),
    "copy_bomb": ("output", "[" + ", ".join(["s"] * 400) + "]"),
    "concat_growth": ("output", " + ".join(["s"] * 12)),
    "overflow": ("condition", "9223372036854775807 * 9223372036854775807 > 0"),
    "python_import": ("condition", "__import__('os').system('touch /tmp/pwned') == 0"),
    "class_escape": ("condition", "inputs.__class__ == 'x'"),
    "dict_escape": ("output", "inputs.__dict__"),
    # a backtracking-prone pattern over 200k chars: CEL's regex engine is linear, so it just runs
    "regex_backtracking": ("condition", "s.matches('^(a+)+$') == (s.size() > 0)"),
    "nested_lists": ("output", "[[[[[[[[l, l], l], l], l], l], l], l], l].size()"),
}


def _expression_workflow() -> dict[str, Any]:
    steps = [step("benign")]
    for sid, (where, expr) in HOSTILE_EXPRESSIONS.items():
        if where == "condition":
            steps.append(step(sid, condition=expr))
        else:
            steps.append({"id": sid, "action": {"type": "delay", "params": {"seconds": 0,
                          "output": "${{ " + expr + " }}"}}})  # fmt: skip
    return {"name": "hostile-expressions", "inputs": {"l": {"type": "array"}, "s": {"type": "string"}},
            "steps": steps}  # fmt: skip


def test_hostile_expressions_are_bounded_at_run_time(server: RunningServer) -> None:
    client = httpx.Client(base_url=server.api, timeout=60)
    created = client.post("/api/workflows", json={"definition": _expression_workflow()})
    assert created.status_code == 201, created.text
    inputs = {"l": list(range(L_SIZE)), "s": "a" * S_SIZE}
    worst = [0.0]
    stop = threading.Event()
    watcher = threading.Thread(target=_health_watch, args=(server, stop, worst))
    watcher.start()
    sandbox_peak = 0
    try:
        with rss_sampler(server.process.pid) as rss:
            t = time.monotonic()
            started = client.post(f"/api/workflows/{created.json()['id']}/execute",
                                  json={"input_variables": inputs})  # fmt: skip
            assert started.status_code == 202, started.text
            execution_id = started.json()["id"]
            details: dict[str, Any] = {}
            while time.monotonic() - t < 90:
                details = client.get(f"/api/workflows/executions/{execution_id}").json()
                for child in psutil.Process(server.process.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        sandbox_peak = max(sandbox_peak, child.memory_info().rss)
                if details["status"] not in ("pending", "running"):
                    break
                time.sleep(0.2)
            elapsed = time.monotonic() - t
    finally:
        stop.set()
        watcher.join(30)
    assert details["status"] == "failed", details
    timeline = client.get(f"/api/workflows/executions/{execution_id}/timeline").json()
    steps = {s["step_id"]: s for s in timeline["step_timeline"]}
    assert steps["benign"]["status"] == "completed"
    print("\n[hostile/expressions] step | status | error")
    for sid in HOSTILE_EXPRESSIONS:
        s = steps[sid]
        print(f"  {sid:20} {s['status']:9} {(s.get('error_message') or '')[:90]}")
        if sid in ("regex_backtracking", "nested_lists"):
            assert s["status"] in ("completed", "failed"), (sid, s)  # bounded is what counts
        else:
            assert s["status"] == "failed" and s.get("error_message"), (sid, s)
    growth = rss["peak"] - rss["baseline"]
    assert not Path("/tmp/pwned").exists()
    print(f"  execution ended in {elapsed:.1f}s; server RSS peak +{growth / MiB:.0f} MiB; sandbox RSS peak "
          f"{sandbox_peak / MiB:.0f} MiB; slowest /healthz meanwhile {worst[0] * 1000:.0f} ms")
    assert elapsed < 60
    assert growth < 1000 * MiB
    assert worst[0] < 5, "the server stopped answering while expressions ran"


def test_flowscope_validate_on_hostile_files(tmp_path: Path) -> None:
    files = {
        "deep.json": '{"name": "d", "steps": [{"id": "a", "params": ' + "[" * 200_000 + "]" * 200_000 + "}]}",
        "unknown.json": json.dumps({"name": "u", "steps": [step(f"s{i}", depends_on=[f"m{i}"])
                                                           for i in range(N)]}),
        "cycle.json": json.dumps({"name": "c", "steps": [step(f"s{i}", depends_on=[f"s{(i - 1) % N}"])
                                                         for i in range(N)]}),
        "huge.json": json.dumps({"name": "x" * 12 * MiB, "steps": []}),
        "binary.json": "\udcff",
    }  # fmt: skip
    rows = []
    for name, text in files.items():
        path = tmp_path / name
        if name == "binary.json":
            path.write_bytes(b"\xff\xfe\x00garbage")
        else:
            path.write_text(text)
        t = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "flowscope", "validate", str(path)], capture_output=True,
                              text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
        elapsed = time.monotonic() - t
        rows.append((name, path.stat().st_size, done.returncode, elapsed))
        assert done.returncode == 1, (name, done.returncode, done.stderr[-2000:])
        assert "problem" in done.stderr and "Traceback" not in done.stderr, (name, done.stderr[-2000:])
        assert elapsed < 30, (name, elapsed)
    print("\n[hostile/validate CLI] file | bytes | exit | seconds")
    for name, size, code, elapsed in rows:
        print(f"  {name:14} {size:>11,} {code} {elapsed:5.2f}")
