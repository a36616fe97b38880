"""Web UI: how long the execution page of a 500-step execution takes to draw its Gantt chart,
in headless chromium against a real `flowscope serve`.

    .venv/bin/python bench/ui_render.py            # 10 loads of each page (~30 s)
    .venv/bin/python bench/ui_render.py --quick    # 3 loads of each (~15 s)
    .venv/bin/python bench/ui_render.py --cold     # each load a first visit (no HTTP cache)
    .venv/bin/python bench/ui_render.py --json

Two workflows are created through the REST API and run to completion: a 500-step binary tree
of no-op `delay` steps (wide and deep, as in tests/ui/test_pages.py's windowed-rendering
test), and, as the baseline measured in the same run, a 3-step sequence shaped like the
`basic_sequence` example. Then /executions/{id} of each is opened N times, alternately, after
one uncounted load of each: in one browser tab (a returning user: the UI's assets come from
the HTTP cache, as in the timed test this replaces) or, with --cold, each time in a fresh
browser context (a first visit: assets fetched and compiled again).

A load counts once the chart shows every step's row (`data-rows`) and has set its
`flowscope:gantt-rendered` performance mark; the figure is that mark's time, in milliseconds
since navigation began, as the browser measures it. Also reported: when the `/timeline`
response was in (the API's share of that time).

Goal: 500-step execution renders in under 1 s (p50). The ratio to the 3-step page says how
much of the time is the size of the execution rather than the page and the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from playwright.sync_api import Browser, sync_playwright

from bench.common import start_serve
from tests.ui.browser import ARGS, CHROMIUM, Tab, new_tab

GOAL_MS = 1000.0
MARK = "flowscope:gantt-rendered"
TERMINAL = {"completed", "failed", "cancelled", "timeout"}


def tree_workflow(size: int = 500) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {"id": f"s{i:03d}", "action": {"type": "delay", "params": {}}} for i in range(size)
    ]
    for i in range(1, size):
        steps[i]["depends_on"] = [f"s{(i - 1) // 2:03d}"]  # a binary tree: wide and deep
    return {"name": f"bench ui tree {size}", "max_parallelism": 64, "steps": steps}


def sequence_workflow() -> dict[str, Any]:
    """Three steps one after another, like the `basic_sequence` example."""
    steps: list[dict[str, Any]] = []
    for i, (step, seconds) in enumerate([("initialize", 0.1), ("process", 0.2), ("finalize", 0.05)]):
        steps.append({
            "id": step, "name": step.title(), "action": {"type": "delay", "params": {"seconds": seconds}},
            **({"depends_on": [steps[i - 1]["id"]]} if i else {}),
        })  # fmt: skip
    return {"name": "bench ui sequence 3", "steps": steps}


def run_to_completion(client: httpx.Client, definition: dict[str, Any], timeout: float = 120) -> str:
    """Create the workflow, execute it, wait until it is terminal; the execution id."""
    created = client.post("/api/workflows", json={"definition": definition})
    if created.status_code != 201:
        raise RuntimeError(f"create answered {created.status_code}: {created.text[:300]}")
    started = client.post(f"/api/workflows/{created.json()['id']}/execute", json={"input_variables": {}})
    if started.status_code != 202:
        raise RuntimeError(f"execute answered {started.status_code}: {started.text[:300]}")
    execution_id: str = started.json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        details = client.get(f"/api/workflows/executions/{execution_id}").raise_for_status().json()
        if details["status"] in TERMINAL:
            if details["status"] != "completed":
                raise RuntimeError(f"{definition['name']}: execution ended {details['status']}")
            return execution_id
        time.sleep(0.1)  # polling interval, bounded by the deadline
    raise RuntimeError(f"{definition['name']}: execution not finished after {timeout} s")


def load(tab: Tab, execution_id: str, rows: int) -> tuple[float, float]:
    """Open the execution page; (mark ms, /timeline response end ms), both since navigation."""
    page = tab.open(f"/executions/{execution_id}")
    page.wait_for_selector(f'#gantt[data-rows="{rows}"]', state="attached")
    rendered = page.wait_for_function(f"performance.getEntriesByName('{MARK}')[0]?.startTime")
    timeline = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/timeline'))"
        ".map(e => e.responseEnd)[0] ?? null"
    )
    tab.check()  # script or console errors, dialogs, requests off this machine: not a valid load
    return float(rendered.json_value()), float(timeline) if timeline is not None else float("nan")


def measure(
    browser: Browser, base: str, pages: dict[str, tuple[str, int]], loads: int, cold: bool
) -> dict[str, list[tuple[float, float]]]:
    """`loads` counted loads of each page (execution id, Gantt rows), alternated so that the
    shared machine's load hits both alike, after one uncounted load of each."""
    shared = None if cold else new_tab(browser, base)
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in pages}
    try:
        for n in range(loads + 1):
            for k, (execution_id, rows) in pages.items():
                tab = shared or new_tab(browser, base)
                try:
                    sample = load(tab, execution_id, rows)
                finally:
                    if tab is not shared:
                        tab.page.context.close()
                if n:  # the first round warms up the server's queries and the browser
                    samples[k].append(sample)
    finally:
        if shared:
            shared.page.context.close()
    return samples


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 1),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 loads of each page instead of 10")
    parser.add_argument("--loads", type=int, default=None, help="counted loads of each page")
    parser.add_argument("--cold", action="store_true", help="a fresh browser context for every load")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("serve_args", nargs="*", help="extra `flowscope serve` arguments (after --)")
    args = parser.parse_args()
    loads = args.loads or (3 if args.quick else 10)
    if not Path(CHROMIUM).exists():
        sys.exit(f"chromium is missing at {CHROMIUM}: run `bash scripts/system-deps.sh`")

    with tempfile.TemporaryDirectory(prefix="flowscope-bench-ui-") as tmp:
        serve = start_serve(Path(tmp) / "bench.duckdb", *args.serve_args)
        try:
            base = serve.urls["api"]
            with httpx.Client(base_url=base, timeout=60) as client:
                # steps -> (execution, Gantt rows: one per step plus the execution's own)
                pages = {
                    "500": (run_to_completion(client, tree_workflow(500)), 501),
                    "3": (run_to_completion(client, sequence_workflow()), 4),
                }
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                try:
                    samples = measure(browser, base, pages, loads, args.cold)
                finally:
                    browser.close()
        finally:
            serve.stop()

    def figures(k: str) -> dict[str, float]:
        timeline = statistics.median(t for _, t in samples[k])
        return {**summary([m for m, _ in samples[k]]), "timeline_response_p50_ms": round(timeline, 1)}

    big, small = figures("500"), figures("3")
    result = {
        "loads": loads,
        "cache": "cold" if args.cold else "warm",
        "steps_500": big,
        "steps_3": small,
        "ratio_p50": round(big["p50_ms"] / small["p50_ms"], 2),
        "goal_p50_ms": GOAL_MS,
        "goal_met": big["p50_ms"] < GOAL_MS,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"execution page, {loads} loads each ({result['cache']} HTTP cache), "
          f"ms from navigation to `{MARK}`:")  # fmt: skip
    for label, r in (("500 steps", big), ("3 steps  ", small)):
        print(f"  {label}  p50 {r['p50_ms']:7.1f}  min {r['min_ms']:7.1f}  max {r['max_ms']:7.1f}   "
              f"(/timeline response in by {r['timeline_response_p50_ms']:.1f}, p50)")  # fmt: skip
    print(f"  ratio p50 500 / 3 steps: {result['ratio_p50']}x")
    verdict = "met" if result["goal_met"] else "NOT met"
    print(f"goal: 500-step execution renders in under 1 s (p50): {big['p50_ms']:.0f} ms, {verdict}")


if __name__ == "__main__":
    main()
