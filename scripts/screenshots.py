"""Screenshots of every page of the web UI, from a real run, into docs/screenshots/.

Starts `flowscope serve --demo` on free ports with a throwaway database, adds a release
workflow with parallel builds (queue time), a flaky step (retries and backoff), a
conditional step (skipped) and a deploy that can fail, runs it a few times, then drives
Debian's chromium with Playwright through home, workflow, execution, step and compare.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tests.support.server import start_server  # noqa: E402
from tests.ui.browser import ARGS, CHROMIUM  # noqa: E402
from tests.ui.bulk import send_pipeline_runs  # noqa: E402

TERMINAL = {"completed", "failed", "cancelled", "timeout"}


def _delay(step_id: str, name: str, seconds: float, **extra: Any) -> dict[str, Any]:
    params = {"seconds": seconds, "jitter": seconds * 0.3, **extra.pop("params", {})}
    return {"id": step_id, "name": name, "action": {"type": "delay", "params": params}, **extra}


RELEASE = {
    "name": "Nightly Release",
    "description": "Builds, tests and ships the product every night: parallel builds, a flaky test "
    "suite with retries, optional docs publishing, and a deploy.",
    "max_parallelism": 2,
    "inputs": {
        "channel": {"type": "string", "default": "stable", "description": "Release channel."},
        "publish_docs": {"type": "boolean", "default": False, "description": "Also publish the docs."},
        "deploy_fail": {"type": "number", "default": 0, "description": "Chaos: chance the deploy fails."},
    },
    "steps": [
        _delay("checkout", "Checkout", 0.15, params={"output": {"commit": "9f3c2a1", "branch": "main"}}),
        _delay("build_api", "Build API", 0.5, depends_on=["checkout"],
               params={"output": {"image": "api:9f3c2a1", "warnings": 0}}),
        _delay("build_web", "Build Web", 0.7, depends_on=["checkout"],
               params={"output": {"bundle_kb": 412, "channel": "${{ channel }}"}}),
        _delay("lint", "Lint", 0.3, depends_on=["checkout"], params={"output": {"problems": 0}}),
        _delay("build_docs", "Build Docs", 0.25, depends_on=["checkout"], params={"output": {"pages": 58}}),
        _delay(
            "unit_tests", "Unit Tests", 0.35, depends_on=["build_api"],
            params={"fail_probability": 0.45, "fail_message": "test_checkout_flow: timed out waiting for db",
                    "output": {"passed": 412, "skipped": 3}},
            retry={"max_attempts": 4, "initial_backoff_seconds": 0.25, "backoff_multiplier": 2, "jitter": 0},
        ),
        _delay("integration", "Integration Tests", 0.6, depends_on=["build_api", "build_web"],
               params={"output": {"suites": 14, "channel": "${{ channel }}"}}),
        _delay(
            "publish_docs", "Publish Docs", 0.2, depends_on=["build_docs"], condition="publish_docs == true",
            params={"output": {"url": "https://docs.example.invalid/${{ channel }}"}},
        ),
        _delay(
            "package", "Package", 0.25, depends_on=["unit_tests", "integration", "lint"],
            params={"output": {"artifact": "app-2024.11.3.tar.gz", "size_mb": 84.2,
                               "channel": "${{ channel }}"}},
        ),
        _delay(
            "deploy", "Deploy", 0.4, depends_on=["package"],
            params={"fail_probability": "${{ deploy_fail }}",
                    "fail_message": "rollout halted: 3/12 pods unhealthy",
                    "output": {"url": "https://example.invalid/${{ channel }}", "pods": 12}},
        ),
    ],
}  # fmt: skip


def _run(http: httpx.Client, workflow_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    started = http.post(f"/api/workflows/{workflow_id}/execute", json={"input_variables": inputs}).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        details = http.get(f"/api/workflows/executions/{started['id']}").json()
        if details["status"] in TERMINAL:
            return details  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise RuntimeError(f"execution {started['id']} did not finish")


def _retries(http: httpx.Client, execution_id: str) -> int:
    steps = http.get(f"/api/workflows/executions/{execution_id}/timeline").json()["step_timeline"]
    return sum(s["retry_count"] for s in steps)


def _shot(page: Page, out: Path, name: str, full_page: bool = True) -> None:
    page.wait_for_timeout(400)  # let charts finish their first layout
    page.screenshot(path=str(out / f"{name}.png"), full_page=full_page)
    print(f"wrote {out / f'{name}.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(Path(tmp) / "flowscope.duckdb", "--demo", "--demo-runs", "4")
        try:
            http = httpx.Client(base_url=srv.api, timeout=30)
            wf = http.post("/api/workflows", json={"definition": RELEASE}).json()
            runs = []
            for i in range(10):
                inputs = {"channel": "beta" if i % 3 == 0 else "stable", "publish_docs": i % 2 == 0,
                          "deploy_fail": 1 if i in (4, 8) else 0}  # fmt: skip
                runs.append(_run(http, wf["id"], inputs))
            # A foreign tracer's pipeline with two weeks of history, beside the catalogued workflows.
            send_pipeline_runs(srv.otlp_http, "default", "ci-nightly", 420, days=13)
            completed = [r for r in runs if r["status"] == "completed"]
            # The Gantt worth showing: retries, and the docs step skipped.
            retried = max(completed or runs, key=lambda r: (not r["input_variables"]["publish_docs"],
                                                           _retries(http, r["id"])))  # fmt: skip
            failed = next((r for r in reversed(runs) if r["status"] == "failed"), runs[-1])
            baseline = next((r for r in completed if r["id"] != retried["id"]), runs[0])
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
                live = http.post(f"/api/workflows/{wf['id']}/execute", json={"input_variables": {}}).json()
                page.goto(srv.api + "/")
                expect(page.locator(".workflows-table tbody tr")).to_have_count(6)
                expect(page.locator(".live-count")).to_have_count(1)
                _shot(page, args.out, "home")
                live = http.post(f"/api/workflows/{wf['id']}/execute", json={"input_variables": {}}).json()
                page.goto(f"{srv.api}/executions/{live['id']}")
                expect(page.locator("#gantt svg text").filter(has_text="▶ Build Web")).to_have_count(1)
                page.screenshot(path=str(args.out / "execution-live.png"))  # at once: it is running
                print(f"wrote {args.out / 'execution-live.png'}")
                page.goto(f"{srv.api}/workflows/{wf['id']}")
                expect(page.locator(".executions-table .badge").first).not_to_have_text("▶running")
                _shot(page, args.out, "workflow")
                page.goto(f"{srv.api}/executions/{retried['id']}")
                expect(page.locator("#gantt")).to_be_visible()
                _shot(page, args.out, "execution")
                page.goto(f"{srv.api}/executions/{retried['id']}/steps/unit_tests")
                expect(page.locator("#step-panel h2")).to_have_text("Unit Tests")
                _shot(page, args.out, "step", full_page=False)
                page.goto(f"{srv.api}/executions/{baseline['id']}/compare/{failed['id']}")
                expect(page.locator(".compare-table")).to_be_visible()
                _shot(page, args.out, "compare")
                browser.close()
        finally:
            srv.terminate()


if __name__ == "__main__":
    main()
