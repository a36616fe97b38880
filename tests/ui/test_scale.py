"""A workflow with 100,000 executions: the workflow page pages on the server and never
loads them all."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Request, expect

from tests.api.client import Api
from tests.support.server import RunningServer
from tests.ui.browser import Tab
from tests.ui.bulk import send_pipeline_runs

COUNT = 100_000


def test_a_workflow_with_100k_executions_pages_on_the_server(
    tab: Tab, api: Api, ui_server: RunningServer
) -> None:
    ws = api.new_workspace()
    t0 = time.monotonic()
    send_pipeline_runs(ui_server.otlp_http, ws.workspace["id"], "bulk-nightly", COUNT)  # type: ignore[attr-defined]
    page_of = ws.wait_until(
        "/api/workflows/bulk-nightly/executions?limit=1", lambda p: p["total"] == COUNT, 60
    )
    print(f"\n[ui] {COUNT} executions stored in {time.monotonic() - t0:.1f} s")
    assert page_of["items"][0]["workflow_id"] == "bulk-nightly"

    requests: list[str] = []

    def record(request: Request) -> None:
        if "/api/" in request.url:
            requests.append(request.url)

    tab.page.on("request", record)
    tab.allowed_console = ("404",)  # the page asks the catalog for the workflow: not there (foreign)
    page = tab.open(f"/?workspace={ws.workspace['slug']}")  # type: ignore[attr-defined]
    row = page.locator("tr", has_text="bulk-nightly")
    expect(row).to_contain_text("traced by bulk-ci")  # a foreign tracer's workflow beside catalogued ones
    expect(row).to_contain_text("90.0%")
    row.locator("a").first.click()
    expect(page.locator("[data-testid=page-range]")).to_have_text("1\u201325 of 100,000")
    expect(page.locator(".executions-table tbody tr")).to_have_count(25)
    page.get_by_role("button", name="Older →").click()
    expect(page.locator("[data-testid=page-range]")).to_have_text("26\u201350 of 100,000")
    page.locator("select[name=status]").select_option("failed")
    expect(page.locator("[data-testid=page-range]")).to_have_text("1\u201325 of 10,000")
    expect(page.locator(".executions-table .badge").first).to_have_text(re.compile("failed"))
    chart = page.locator("h2", has_text="Duration over time").locator("..")
    expect(chart).to_contain_text(re.compile(r"newest 500 of [0-9,]+ finished"))  # the 7-day window

    limits = []
    for url in requests:
        query = parse_qs(urlparse(url).query)
        if "/executions" in url or "/durations" in url:
            limits.append(int(query["limit"][0]))
    assert limits and max(limits) <= 500, requests
    assert all(int(parse_qs(urlparse(u).query)["limit"][0]) <= 25 for u in requests if "/executions?" in u)
