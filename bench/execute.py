"""Triggering runs (issue 17): how fast `POST /api/workflows/{id}/execute` answers, with
read-your-writes checked, against a real `flowscope serve` over HTTP.

    .venv/bin/python bench/execute.py            # full run (~1 min)
    .venv/bin/python bench/execute.py --quick    # fewer calls (~15 s)
    .venv/bin/python bench/execute.py --json

Measured in one run, on one kept-alive connection unless said otherwise:
- `/healthz` round trips (the baseline) and `execute` of `basic_sequence`: p50/p95, and
  the ratio execute p95 / healthz p95 (goal <= 10);
- sequential triggers of `parallel_processing`, one after another: triggers per second
  (goal >= 100);
- `--concurrent` execute requests at once on as many connections: all answered, p99
  (goal < 1 s), and each execution read back (details) right after its own 202.
Every 202 in the first two phases is also followed by a details GET that must be 200:
the read-your-writes guarantee is part of what is timed, not assumed.
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

import httpx

from bench.common import start_serve


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


async def concurrent(api: str, workflow_id: str, requests: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=requests, max_keepalive_connections=requests)
    async with httpx.AsyncClient(base_url=api, limits=limits, timeout=60) as client:
        start = asyncio.Event()

        async def one() -> tuple[float, int, bool]:
            await start.wait()
            t0 = time.perf_counter()
            response = await client.post(f"/api/workflows/{workflow_id}/execute", json={})
            took = time.perf_counter() - t0
            if response.status_code != 202:
                return took, response.status_code, False
            details = await client.get(f"/api/workflows/executions/{response.json()['id']}")
            return took, 202, details.status_code == 200

        tasks = [asyncio.create_task(one()) for _ in range(requests)]
        await asyncio.sleep(0)
        t0 = time.perf_counter()
        start.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        wall = time.perf_counter() - t0
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument("--calls", type=int, default=None, help="sequential calls per phase")
    parser.add_argument("--concurrent", type=int, default=None, help="requests in the concurrent phase")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("serve_args", nargs="*", help="extra `flowscope serve` arguments (after --)")
    args = parser.parse_args()
    calls = args.calls or (100 if args.quick else 300)
    burst = args.concurrent or (200 if args.quick else 1000)

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
            burst_result = asyncio.run(concurrent(api, ids["Basic Sequence"], burst))
        finally:
            serve.stop()

    result = {
        "healthz": _ms(health),
        "execute": _ms(execute),
        "execute_p95_over_healthz_p95": round(_pct(execute, 0.95) / _pct(health, 0.95), 1),
        "unreadable_after_202": unreadable + unreadable_seq,
        "sequential_triggers_per_s": round(rate, 1),
        "concurrent": burst_result,
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


if __name__ == "__main__":
    main()
