"""Fixtures of the Jaeger UI test: a real `flowscope serve --demo` with one failing run
added, a committed Jaeger UI build served in front of it on one origin, one browser for the
package and a fresh tab per test.

Package scope, as in tests/ui: Playwright's sync API keeps an event loop on the main thread
while it is started (see tests/ui/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.api.client import Api
from tests.api.workflows import step
from tests.jaeger_ui.same_origin import serve_jaeger_ui
from tests.support.server import REPO, RunningServer, start_server
from tests.ui.browser import Tab, chromium, new_tab

# The newest Jaeger UI release that builds from the npm registry (its README says how).
UI_DIR = REPO / "tests" / "support" / "jaeger-ui-2.19.0"
SERVICE = "flowscope-engine"
DEMO_RUNS = ("RUN Basic Sequence", "RUN Conditional Workflow", "RUN Data Pipeline", "RUN Parallel Processing")

# The demo's runs all succeed; Monitor's error rate needs a run whose step fails.
FAILING: dict[str, Any] = {
    "name": "jaeger ui failing",
    "steps": [
        step("fetch", 0.05, name="Fetch"),
        step("break", 0.05, name="Break", depends_on=["fetch"],
             params={"fail_probability": 1, "fail_message": "broken on purpose"}),
    ],
}  # fmt: skip
FAILING_RUN = f"RUN {FAILING['name']}"


@dataclass(frozen=True)
class Trace:
    """One stored trace as the Jaeger v1 API returns it: what the UI must show of it."""

    trace_id: str
    root: str  # the root span's operation: "RUN <workflow>"
    span_names: tuple[str, ...]
    span_durations_us: tuple[int, ...]

    @property
    def duration_us(self) -> int:
        return max(self.span_durations_us)  # the root's: every step lies inside it


def _trace(data: dict[str, Any]) -> Trace:
    spans = sorted(data["spans"], key=lambda s: s["startTime"])
    root = next(s for s in spans if not s["references"])
    return Trace(
        data["traceID"], root["operationName"],
        tuple(s["operationName"] for s in spans), tuple(s["duration"] for s in spans),
    )  # fmt: skip


def _root_status(data: dict[str, Any]) -> str | None:
    root = next((s for s in data["spans"] if not s["references"]), None)
    tags = {t["key"]: t["value"] for t in root["tags"]} if root else {}
    return tags.get("workflow.status")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="package")
def flowscope(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    db = tmp_path_factory.mktemp("jaeger-ui") / "flowscope.duckdb"
    srv = start_server(db, "--demo", "--demo-runs", "1")
    yield srv
    srv.terminate()


@pytest.fixture(scope="package")
def traces(flowscope: RunningServer) -> dict[str, Trace]:
    """The demo's four runs and one failing run, finished and stored; by root operation."""
    api = Api(flowscope.api)
    api.execute(api.create_workflow(FAILING)["id"])
    body = api.wait_until(
        f"/api/traces?service={SERVICE}&limit=100&lookback=1h",
        lambda b: sorted(_root_status(t) or "" for t in b["data"]) == [*["completed"] * 4, "failed"],
        timeout=60,
    )
    found = {t.root: t for t in map(_trace, body["data"])}
    assert sorted(found) == sorted([*DEMO_RUNS, FAILING_RUN])
    return found


@pytest.fixture(scope="package")
def jaeger_ui(flowscope: RunningServer, traces: dict[str, Trace]) -> Iterator[str]:
    """The UI's origin; metricsStorage on, as Jaeger's query service says when it has a
    metrics store, so the UI shows its Monitor tab."""
    with serve_jaeger_ui(UI_DIR, flowscope.api, {"archiveStorage": False, "metricsStorage": True}) as origin:
        yield origin


@pytest.fixture
def tab(browser: Browser, jaeger_ui: str) -> Iterator[Tab]:
    t = new_tab(browser, jaeger_ui)
    yield t
    t.page.context.close()
    t.check()
