"""The built-in web UI and the API docs, served from the installed package (offline, from
the wheel; no Node.js at run time: `ui/` holds the source, `api/ui_static/` the build).

- UI pages: `/`, `/workflows/{workflow_id}`, `/executions/{execution_id}`,
  `/executions/{execution_id}/steps/{step_id}` and `/executions/{a}/compare/{b}` all answer
  the single-page app's HTML, so every view has a stable URL that survives a reload.
- `/ui/...`: the built assets. Names under `assets/` carry a content hash and those under
  `vendor/` the package version, so they are cached for a year; the rest revalidates.
- `/docs` (Swagger UI) and `/redoc` (ReDoc) from vendored copies instead of a CDN.

Every page gets a Content-Security-Policy that allows scripts only from this origin (no
inline script, no eval), `nosniff`, and no framing. Untrusted data (step input/output,
names) is never parsed as HTML by the UI; the CSP is the second line of defence.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "ui_static"
ASSETS_MOUNT = "/ui"
CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    # Chart and docs libraries set style attributes and inject <style> elements.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",  # REST and the WebSocket feeds of this origin
    "worker-src 'self' blob:",  # ReDoc's search worker
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_IMMUTABLE = ("assets/", "vendor/")


class _Assets(StaticFiles):
    """Static files with cache and content-type hardening headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        immutable = path.replace("\\", "/").startswith(_IMMUTABLE)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if immutable else "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def _pages() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def app_page() -> FileResponse:
        return _page("index.html")

    for path in (
        "/",
        "/workflows/{workflow_id}",
        "/executions/{execution_id}",
        "/executions/{execution_id}/steps/{step_id}",
        "/executions/{execution_id}/compare/{other_id}",
    ):
        router.add_api_route(path, app_page, methods=["GET"])
    router.add_api_route("/docs", lambda: _page("docs.html"), methods=["GET"])
    router.add_api_route("/redoc", lambda: _page("redoc.html"), methods=["GET"])
    return router


def install_ui(app: FastAPI) -> None:
    """Serve the UI pages, their assets and the API docs on `app` (built with docs_url=None)."""
    app.mount(ASSETS_MOUNT, _Assets(directory=STATIC_DIR, check_dir=False), name="ui")
    app.include_router(_pages())
