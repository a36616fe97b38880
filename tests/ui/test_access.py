"""Access in the UI: the token prompt (token kept for the tab, sent as a bearer token, and
as ?token= to the WebSocket feeds), viewers see no write controls, and the workspace
switcher."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.api.client import Api
from tests.support.server import RunningServer, start_server
from tests.ui.browser import Tab, new_tab
from tests.ui.workflows import LIVE, SLOW, unique

ROOT = Path(__file__).resolve().parents[2]
UNAUTHORIZED = ("401",)  # the browser logs refused requests before the token prompt


def _token(db: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flowscope", "token", "create", *args, "--db", str(db)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, str], dict]]:
    db = tmp_path_factory.mktemp("ui-auth") / "flowscope.duckdb"
    admin = _token(db, "--workspace", "default", "--role", "admin")
    srv = start_server(db, "--auth", "token")
    try:
        api = Api(srv.api, {"Authorization": f"Bearer {admin}"})
        tokens = {"admin": admin}
        for role in ("viewer", "editor"):
            tokens[role] = api.ok(api.post("/api/tokens", json={"role": role}), 201)["token"]
        wf = api.create_workflow(unique(SLOW, secrets.token_hex(3)))
        running = api.execute(wf["id"])
        api.wait(running["id"], {"running"})
        yield srv, tokens, {"workflow": wf, "execution": running["id"]}
        api.post(f"/api/workflows/executions/{running['id']}/cancel")
    finally:
        srv.terminate()


def _sign_in(tab: Tab, path: str, token: str) -> None:
    page = tab.open(path)
    page.locator("input#token").fill(token)
    page.get_by_role("button", name="Use this token").click()
    expect(page.locator(".role")).to_be_visible()


def test_a_viewer_sees_no_run_or_cancel_button(browser: Browser, secured) -> None:  # type: ignore[no-untyped-def]
    srv, tokens, made = secured
    tab = new_tab(browser, srv.api, allowed_console=UNAUTHORIZED)
    try:
        page = tab.open(f"/workflows/{made['workflow']['id']}")
        expect(page.locator("input#token")).to_be_visible()  # no token yet: the prompt
        page.locator("input#token").fill("fst_not-a-real-token")
        page.get_by_role("button", name="Use this token").click()
        expect(page.locator(".error-box")).to_contain_text("invalid")
        page.locator("input#token").fill(tokens["viewer"])
        page.get_by_role("button", name="Use this token").click()
        expect(page.locator(".role")).to_have_text(re.compile("viewer"))
        expect(page.locator("h1")).to_have_text(made["workflow"]["name"])
        expect(page.locator(".executions-table")).to_contain_text("running")
        expect(page.locator(".live-dot")).to_contain_text("live")  # the feed accepted ?token=
        expect(page.locator("[data-action=run]")).to_have_count(0)
        page.locator(f"tr[data-execution-id='{made['execution']}'] a").first.click()
        expect(page.locator("h1 .badge")).to_have_text(re.compile("running"))
        expect(page.locator(".live-dot")).to_contain_text("live")
        expect(page.locator("[data-action=cancel]")).to_have_count(0)
        # The token stays for the tab's session (a reload keeps it) ...
        page.reload()
        expect(page.locator(".role")).to_have_text(re.compile("viewer"))
        assert page.evaluate("sessionStorage.getItem('flowscope.token')") == tokens["viewer"]
        assert page.evaluate("localStorage.length") == 0
        # ... until signing out.
        page.get_by_role("button", name="Sign out").click()
        expect(page.locator("input#token")).to_be_visible()
    finally:
        tab.page.context.close()
    tab.check()


def test_an_editor_sees_run_and_cancel(browser: Browser, secured) -> None:  # type: ignore[no-untyped-def]
    srv, tokens, made = secured
    tab = new_tab(browser, srv.api, allowed_console=UNAUTHORIZED)
    try:
        _sign_in(tab, f"/executions/{made['execution']}", tokens["editor"])
        page = tab.page
        expect(page.locator(".role")).to_have_text(re.compile("editor"))
        expect(page.locator("[data-action=cancel]")).to_be_visible()
        page.locator(".crumbs a").nth(1).click()
        expect(page.locator("[data-action=run]")).to_be_visible()
    finally:
        tab.page.context.close()
    tab.check()


def test_the_workspace_switcher(tab: Tab, api: Api) -> None:
    slug = "ui-" + secrets.token_hex(3)
    other = api.new_workspace(slug)
    wf = other.create_workflow(unique(LIVE, "elsewhere"))
    page = tab.open("/")
    expect(page.locator(".workflows-table")).to_contain_text("Data Pipeline")
    page.locator("select[name=workspace]").focus()
    expect(page.locator(f"select[name=workspace] option[value='{slug}']")).to_have_count(1)
    page.locator("select[name=workspace]").select_option(slug)
    expect(page).to_have_url(re.compile(rf"\?workspace={slug}$"))
    expect(page.locator(".workflows-table")).to_contain_text(wf["name"])
    expect(page.locator(".workflows-table")).not_to_contain_text("Data Pipeline")
    # Links carry the workspace, so they work for whoever opens them.
    href = page.locator(".workflows-table a", has_text=wf["name"]).get_attribute("href")
    assert href == f"/workflows/{wf['id']}?workspace={slug}"
