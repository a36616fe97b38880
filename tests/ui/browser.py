"""A real browser for the web UI tests: Playwright for Python driving Debian's chromium
(installed by scripts/system-deps.sh; Playwright downloads no browser).

Every page records what would make a user's day worse or the UI unsafe, and `Tab.check()`
fails on it: script errors, console errors (CSP violations show up there), dialogs (an
injected `alert`), and any request that leaves this machine (the UI must work offline).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Request, Route, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, driven by Playwright (a test package shares one)."""
    assert os.path.exists(CHROMIUM), "chromium is missing: run `bash scripts/system-deps.sh`"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class Tab:
    """One browser page (own context: own sessionStorage) and what went wrong on it."""

    page: Page
    base: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    allowed_console: tuple[str, ...] = ()

    def open(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def check(self) -> None:
        errors = [e for e in self.errors if not any(a in e for a in self.allowed_console)]
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"
        assert not self.external, f"requests left this machine: {self.external}"
        assert not errors, "browser errors:\n" + "\n".join(errors)


def new_tab(browser: Browser, base: str, allowed_console: tuple[str, ...] = ()) -> Tab:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, service_workers="block")
    page = context.new_page()
    tab = Tab(page, base, allowed_console=allowed_console)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.errors.append(f"console: {message.text}")

    def on_dialog(dialog: Dialog) -> None:
        tab.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def guard(route: Route, request: Request) -> None:
        host = urlparse(request.url).hostname or ""
        if request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            tab.external.append(request.url)
            route.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda exc: tab.errors.append(f"page error: {exc}"))
    page.on("dialog", on_dialog)
    context.route("**/*", guard)
    page.set_default_timeout(20_000)
    return tab
