"""Triggering runs (issue 17): how fast `POST /api/workflows/{id}/execute` answers, with
read-your-writes checked, against a real `flowscope serve` over HTTP.

    .venv/bin/python bench/execute.py            # full run (~1-2 min)
    .venv/bin/python bench/execute.py --quick    # fewer calls
    .venv/bin/python bench/execute.py --json
    .venv/bin/python bench/execute.py -- --max-pending-per-workspace 5000   # extra serve args

Measured in one run, on one kept-alive connection unless said otherwise:
- `/healthz` round trips (the baseline) and `execute` of `basic_sequence`: p50/p95, and
  the ratio execute p95 / healthz p95 (goal <= 10);
- sequential triggers of `parallel_processing`, one after another: triggers per second
  (goal >= 100);
- `--concurrent` execute requests at once, one per connection (opened beforehand, as
  kept-alive clients do): all answered, p99 (goal < 1 s), and each execution read back
  (details) right after its own 202 on the same connection. This phase uses a bare
  HTTP/1.1 client (h11 over asyncio streams): httpx's connection pool, at 1,000
  connections, costs the client more than the server (a 200-request /healthz burst took
  5 s through it, 0.4 s this way) and hid the server's latency;
- bulk triggers (`{"input_sets": [...]}`), `--bulk-requests` of `--bulk-sets` input sets:
  latency per request, executions per second, every execution read back at once;
- a backlog polled: on a second server that runs one execution at a time, 300 triggers in
  one bulk request, then `--backlog-reads` details GETs of the pending ones, round-robin, as
  clients waiting for their runs do: reads per second, p50/p95, the server's CPU per read,
  and /healthz round trips on the same connection as the baseline.
Every 202 in the first two phases is also followed by a details GET that must be 200:
the read-your-writes guarantee is part of what is timed, not assumed. Between phases the
bench waits until the previous phase's executions have finished, so each phase starts
with the same room in the workspace's quotas (default: 100 running + 1,000 pending).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import h11
import httpx

from bench.common import cpu_seconds, start_serve

BACKLOG = 300  # executions triggered for the backlog phase


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 2),
        "p95_ms": round(_pct(values, 0.95) * 1000, 2),
        "p99_ms": round(_pct(values, 0.99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


def _workflow_ids(client: httpx.Client) -> dict[str, str]:
    items = client.get("/api/workflows", params={"limit": 100}).raise_for_status().json()
    rows = items["items"] if isinstance(items, dict) else items
    return {row["name"]: row["id"] for row in rows}


def _timed(client: httpx.Client, method: str, url: str, **kw: Any) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    response = client.request(method, url, **kw)
    return time.perf_counter() - t0, response


def sequential(client: httpx.Client, workflow_id: str, calls: int) -> tuple[list[float], int]:
    """Execute `calls` times, each followed by a details GET; (latencies, unreadable count)."""
    latencies: list[float] = []
    unreadable = 0
    for _ in range(calls):
        took, response = _timed(client, "POST", f"/api/workflows/{workflow_id}/execute", json={})
        if response.status_code != 202:
            raise RuntimeError(f"execute answered {response.status_code}: {response.text[:300]}")
        latencies.append(took)
        details = client.get(f"/api/workflows/executions/{response.json()['id']}")
        unreadable += details.status_code != 200
    return latencies, unreadable


class _Connection:
    """One kept-alive HTTP/1.1 connection (h11 over asyncio streams): request, then response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, api: str) -> _Connection:
        host, port = api.split("//", 1)[1].rsplit(":", 1)
        return cls(*await asyncio.open_connection(host, int(port)), host)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        headers = [("host", self.host), ("content-length", str(len(body)))]
        if body:
            headers.append(("content-type", "application/json"))
        data = self.h11.send(h11.Request(method=method, target=path, headers=headers))
        data += self.h11.send(h11.Data(data=body)) if body else b""
        self.writer.write(data + self.h11.send(h11.EndOfMessage()))
        status, chunks = 0, []
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(await self.reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self.h11.start_next_cycle()
                return status, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection")

    def close(self) -> None:
        self.writer.close()


async def concurrent(api: str, workflow_id: str, requests: int) -> dict[str, Any]:
    connections = [await _Connection.open(api) for _ in range(requests)]
    start = asyncio.Event()

    async def one(conn: _Connection) -> tuple[float, int, bool]:
        await start.wait()
        t0 = time.perf_counter()
        status, body = await conn.request("POST", f"/api/workflows/{workflow_id}/execute", b"{}")
        took = time.perf_counter() - t0
        if status != 202:
            return took, status, False
        read, _ = await conn.request("GET", f"/api/workflows/executions/{json.loads(body)['id']}")
        return took, 202, read == 200

    tasks = [asyncio.create_task(one(c)) for c in connections]
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.perf_counter() - t0
    for c in connections:
        c.close()
    answered = [r for r in results if isinstance(r, tuple)]
    accepted = [r for r in answered if r[1] == 202]
    return {
        "requests": requests,
        "answered": len(answered),
        "accepted": len(accepted),
        "statuses": sorted({r[1] for r in answered}),
        "errors": [repr(r) for r in results if not isinstance(r, tuple)][:3],
        "readable_after_202": sum(1 for r in accepted if r[2]),
        "wall_s": round(wall, 2),
        **(_ms([r[0] for r in answered]) if answered else {}),
    }


def bulk(client: httpx.Client, workflow_id: str, requests: int, sets: int) -> dict[str, Any]:
    """`requests` bulk triggers of `sets` input sets each, one after another; each execution
    read back (details) right after its request's 202."""
    latencies: list[float] = []
    unreadable = 0
    body = {"input_sets": [{"batch_size": i} for i in range(sets)]}
    t0 = time.perf_counter()
    for _ in range(requests):
        took, response = _timed(client, "POST", f"/api/workflows/{workflow_id}/execute", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"bulk execute answered {response.status_code}: {response.text[:300]}")
        latencies.append(took)
        for started in response.json()["executions"]:
            unreadable += client.get(f"/api/workflows/executions/{started['id']}").status_code != 200
    wall = time.perf_counter() - t0
    return {
        "requests": requests,
        "sets_per_request": sets,
        "executions_per_s_incl_reads": round(requests * sets / wall, 1),
        "unreadable_after_202": unreadable,
        **_ms(latencies),
    }


def backlog(directory: Path, serve_args: list[str], reads: int) -> dict[str, Any]:
    """Details reads of pending executions (see the module's docstring), on a server of its own."""
    serve = start_serve(
        directory / "backlog.duckdb", "--demo", "--demo-runs", "0", "--max-running-per-workspace", "1",
        *serve_args,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=serve.urls["api"], timeout=60) as client:
            workflow_id = _workflow_ids(client)["Basic Sequence"]
            body = {"input_sets": [{}] * BACKLOG}
            started = client.post(f"/api/workflows/{workflow_id}/execute", json=body).raise_for_status()
            # The first ones start (one at a time, ~0.35 s each) while this phase runs.
            pending = [e["id"] for e in started.json()["executions"]][BACKLOG // 6 :]
            health = [_timed(client, "GET", "/healthz")[0] for _ in range(200)]
            latencies: list[float] = []
            statuses: set[str] = set()
            cpu = cpu_seconds(serve.process.pid)
            for n in range(reads):
                url = f"/api/workflows/executions/{pending[n % len(pending)]}"
                took, response = _timed(client, "GET", url)
                latencies.append(took)
                statuses.add(response.raise_for_status().json()["status"])
            cpu = cpu_seconds(serve.process.pid) - cpu
    finally:
        serve.stop()
    return {
        "reads": reads,
        "reads_per_s": round(reads / sum(latencies), 1),
        "server_cpu_ms_per_read": round(cpu / reads * 1000, 2),
        "statuses": sorted(statuses),
        "healthz_p95_ms": _ms(health)["p95_ms"],
        **_ms(latencies),
    }


def wait_idle(client: httpx.Client, workflow_ids: list[str], timeout: float = 300) -> None:
    """Until none of these workflows has an execution pending or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = 0
        for wf in workflow_ids:
            m = client.get(f"/api/workflows/{wf}/metrics").raise_for_status().json()
            busy += m["running_executions"] + m["pending_executions"]
        if not busy:
            return
        time.sleep(0.5)
    raise RuntimeError("executions still running after the phase")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument("--calls", type=int, default=None, help="sequential calls per phase")
    parser.add_argument("--concurrent", type=int, default=None, help="requests in the concurrent phase")
    parser.add_argument("--bulk-requests", type=int, default=None, help="bulk requests (0: no bulk phase)")
    parser.add_argument("--bulk-sets", type=int, default=100, help="input sets per bulk request")
    parser.add_argument("--backlog-reads", type=int, default=None, help="reads of pending ones (0: none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("serve_args", nargs="*", help="extra `flowscope serve` arguments (after --)")
    args = parser.parse_args()
    calls = args.calls or (100 if args.quick else 300)
    burst = args.concurrent or (200 if args.quick else 1000)
    bulk_requests = args.bulk_requests if args.bulk_requests is not None else (3 if args.quick else 10)
    backlog_reads = args.backlog_reads if args.backlog_reads is not None else (300 if args.quick else 2000)

    with tempfile.TemporaryDirectory(prefix="flowscope-bench-execute-") as tmp:
        serve = start_serve(Path(tmp) / "bench.duckdb", "--demo", "--demo-runs", "0", *args.serve_args)
        try:
            api = serve.urls["api"]
            with httpx.Client(base_url=api, timeout=60) as client:
                ids = _workflow_ids(client)
                for _ in range(20):  # warm-up: connection, caches, the engine's exporters
                    client.get("/healthz")
                    client.post(f"/api/workflows/{ids['Basic Sequence']}/execute", json={})
                health = [_timed(client, "GET", "/healthz")[0] for _ in range(calls)]
                execute, unreadable = sequential(client, ids["Basic Sequence"], calls)
                t0 = time.perf_counter()
                _, unreadable_seq = sequential(client, ids["Parallel Processing"], calls)
                rate = calls / (time.perf_counter() - t0)
                used = [ids["Basic Sequence"], ids["Parallel Processing"]]
                wait_idle(client, used)
                burst_result = asyncio.run(concurrent(api, ids["Basic Sequence"], burst))
                wait_idle(client, used)
                bulk_result = (
                    bulk(client, ids["Basic Sequence"], bulk_requests, args.bulk_sets)
                    if bulk_requests
                    else {}
                )
        finally:
            serve.stop()
        backlog_result = backlog(Path(tmp), args.serve_args, backlog_reads) if backlog_reads else {}

    result = {
        "healthz": _ms(health),
        "execute": _ms(execute),
        "execute_p95_over_healthz_p95": round(_pct(execute, 0.95) / _pct(health, 0.95), 1),
        "unreadable_after_202": unreadable + unreadable_seq,
        "sequential_triggers_per_s": round(rate, 1),
        "concurrent": burst_result,
        "bulk": bulk_result,
        "backlog": backlog_result,
    }
    if args.json:
        print(json.dumps(result))
        return
    h, e = result["healthz"], result["execute"]
    print(f"healthz      p50 {h['p50_ms']:7.2f} ms  p95 {h['p95_ms']:7.2f} ms")
    print(f"execute      p50 {e['p50_ms']:7.2f} ms  p95 {e['p95_ms']:7.2f} ms  "
          f"ratio p95 {result['execute_p95_over_healthz_p95']}x (goal <= 10x)")  # fmt: skip
    print(f"sequential   {result['sequential_triggers_per_s']} triggers/s (goal >= 100); "
          f"unreadable right after 202: {result['unreadable_after_202']}")  # fmt: skip
    c = burst_result
    print(f"concurrent   {c['requests']} requests: {c['answered']} answered, {c['accepted']} accepted "
          f"(statuses {c['statuses']}), readable after 202: {c['readable_after_202']}, "
          f"p99 {c.get('p99_ms')} ms (goal < 1000), wall {c['wall_s']} s")  # fmt: skip
    if c["errors"]:
        print("errors:", *c["errors"], sep="\n  ")
    b = bulk_result
    if b:
        print(f"bulk         {b['requests']} requests x {b['sets_per_request']} sets: p50 {b['p50_ms']} ms, "
              f"p95 {b['p95_ms']} ms per request; {b['executions_per_s_incl_reads']} executions/s (each "
              f"read back); unreadable right after 202: {b['unreadable_after_202']}")  # fmt: skip
    k = backlog_result
    if k:
        print(f"backlog      {k['reads']} details reads of pending executions: {k['reads_per_s']} reads/s, "
              f"p50 {k['p50_ms']} ms, p95 {k['p95_ms']} ms (healthz p95 {k['healthz_p95_ms']} ms), "
              f"server CPU {k['server_cpu_ms_per_read']} ms a read, statuses {k['statuses']}")  # fmt: skip


if __name__ == "__main__":
    main()
