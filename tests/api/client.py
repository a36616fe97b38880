"""A small HTTP client for the API tests: one workspace's view of a running server."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx

TERMINAL = frozenset({"completed", "failed", "cancelled", "timeout"})


class Api:
    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.headers = dict(headers or {})
        self.http = httpx.Client(base_url=base, headers=self.headers, timeout=30)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.put(path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.patch(path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.delete(path, **kwargs)

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, (
            f"{response.request.url}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    # --- helpers ---------------------------------------------------------------------

    def new_workspace(self, slug: str | None = None) -> Api:
        """A fresh workspace (isolates a test on a shared server) and a client acting in it."""
        slug = slug or "t-" + secrets.token_hex(4)
        ws = self.ok(self.post("/api/workspaces", json={"slug": slug}), 201)
        headers = {**self.headers, "X-Workspace-Id": ws["id"]}
        if ws.get("admin_token"):
            headers["Authorization"] = f"Bearer {ws['admin_token']}"
        client = Api(self.base, headers)
        client.workspace = ws  # type: ignore[attr-defined]
        return client

    def create_workflow(self, definition: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return self.ok(self.post("/api/workflows", json={"definition": definition, **extra}), 201)  # type: ignore[no-any-return]

    def execute(self, workflow_id: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"input_variables": inputs or {}}
        return self.ok(self.post(f"/api/workflows/{workflow_id}/execute", json=body), 202)  # type: ignore[no-any-return]

    def details(self, execution_id: str) -> dict[str, Any]:
        return self.ok(self.get(f"/api/workflows/executions/{execution_id}"))  # type: ignore[no-any-return]

    def wait(
        self, execution_id: str, statuses: frozenset[str] | set[str] = TERMINAL, timeout: float = 30
    ) -> dict[str, Any]:
        """Poll the execution until its status is one of `statuses`; its details."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            response = self.get(f"/api/workflows/executions/{execution_id}")
            if response.status_code == 200:
                last = response.json()
                if last["status"] in statuses:
                    return last  # type: ignore[no-any-return]
            time.sleep(0.05)
        raise AssertionError(f"execution {execution_id} not in {sorted(statuses)} after {timeout}s: {last}")

    def wait_until(self, path: str, predicate: Any, timeout: float = 20) -> Any:
        """Poll GET `path` until `predicate(json)` holds; the json."""
        deadline = time.monotonic() + timeout
        body: Any = None
        while time.monotonic() < deadline:
            response = self.get(path)
            if response.status_code == 200:
                body = response.json()
                if predicate(body):
                    return body
            time.sleep(0.05)
        raise AssertionError(f"GET {path}: condition not met after {timeout}s: {body}")
