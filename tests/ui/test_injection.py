"""Untrusted data is never interpreted as HTML: step input and output, step and workflow
names, errors and descriptions holding `<img src=x onerror=...>` and `</script>` show as
text on every page, and nothing they carry runs (no dialog, no handler, no element)."""

from __future__ import annotations

import json
import secrets

from playwright.sync_api import Page, expect

from tests.api.client import Api
from tests.ui.browser import Tab
from tests.ui.workflows import HOSTILE, IMG, SCRIPT, unique


def _nothing_ran(page: Page) -> None:
    assert page.evaluate("window.__xss") is None, "injected script ran"
    assert page.locator("img[src='x']").count() == 0, "injected <img> element created"
    assert page.locator("script:not([src])").count() == 0, "inline <script> element created"


def test_hostile_step_data_shows_literally_and_runs_nothing(tab: Tab, api: Api) -> None:
    wf = api.create_workflow(unique(HOSTILE, secrets.token_hex(3)))
    execution = api.wait(api.execute(wf["id"])["id"])
    assert execution["status"] == "failed"
    eid = execution["id"]

    page = tab.open("/")
    expect(page.locator(".workflows-table")).to_contain_text(wf["name"])  # "<b>bold</b>" as text
    expect(page.locator(".workflows-table")).to_contain_text(IMG)  # the description
    _nothing_ran(page)

    page = tab.open(f"/workflows/{wf['id']}")
    expect(page.locator("h1")).to_have_text(wf["name"])
    expect(page.locator(".description")).to_have_text(IMG)
    expect(page.locator(".executions-table")).to_contain_text("failed")
    _nothing_ran(page)

    page = tab.open(f"/executions/{eid}")
    expect(page.locator(".steps-table")).to_contain_text(f"Evil {IMG}")
    expect(page.locator(".steps-table")).to_contain_text(f"Boom {SCRIPT}")
    expect(page.locator(".steps-table")).to_contain_text(f"failed with {IMG} {SCRIPT}")
    # The Gantt draws the names as SVG text, and its tooltip is built from text nodes.
    expect(page.locator("#gantt svg text").filter(has_text="Evil <img")).to_have_count(1)
    page.locator("#gantt svg path[fill='#d0342c']").last.hover(force=True)  # the failed attempt of "boom"
    expect(page.locator(".chart-tip")).to_contain_text(f"Boom {SCRIPT}")
    expect(page.locator(".chart-tip")).to_contain_text(f"failed with {IMG}")
    _nothing_ran(page)

    page = tab.open(f"/executions/{eid}/steps/evil")
    output = page.locator("#step-output")
    for text in (IMG, SCRIPT):  # JSON strings, as the viewer writes them (quotes escaped)
        expect(output).to_contain_text(json.dumps(text))
    output.get_by_role("button", name="raw JSON").click()
    expect(output.locator("pre")).to_contain_text(SCRIPT)
    _nothing_ran(page)

    page = tab.open(f"/executions/{eid}/steps/boom")
    expect(page.locator("#step-panel .error-text")).to_contain_text(f"failed with {IMG} {SCRIPT}")
    _nothing_ran(page)

    other = api.wait(api.execute(wf["id"], {"note": SCRIPT})["id"])
    page = tab.open(f"/executions/{eid}/compare/{other['id']}")
    expect(page.locator(".diff-a").first).to_contain_text("<img src=x")
    _nothing_ran(page)
    assert not tab.dialogs
