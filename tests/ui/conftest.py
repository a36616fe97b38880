"""Fixtures of the web UI tests: one browser and one `flowscope serve --demo` for this
package (tests add their own workflows to it), a fresh tab per test.

Package scope, not session: Playwright's sync API keeps an event loop running on the
main thread while it is started, so every later test that calls `asyncio.run()` (the
WebSocket suites) would fail until the session ended."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.api.client import TERMINAL, Api
from tests.support.server import RunningServer, start_server
from tests.ui.browser import Tab, chromium, new_tab

DEMO_NAMES = ["Basic Sequence", "Conditional Workflow", "Data Pipeline", "Parallel Processing"]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="package")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("ui") / "flowscope.duckdb", "--demo", "--demo-runs", "1")
    yield srv
    srv.terminate()


@pytest.fixture(scope="package")
def api(ui_server: RunningServer) -> Api:
    """The demo server's default workspace; waits for the demo's runs to finish."""
    client = Api(ui_server.api)
    for wf in client.ok(client.get("/api/workflows"))["items"]:
        client.wait_until(
            f"/api/workflows/{wf['id']}/executions",
            lambda p: p["total"] >= 1 and all(i["status"] in TERMINAL for i in p["items"]),
            timeout=60,
        )
    return client


@pytest.fixture
def tab(browser: Browser, ui_server: RunningServer, api: Api) -> Iterator[Tab]:
    t = new_tab(browser, ui_server.api)
    yield t
    t.page.context.close()
    t.check()
