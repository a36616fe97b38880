"""`http`: one HTTP request with httpx, only to hosts the configuration allows.

Disabled until `EngineConfig.http_allowed_hosts` is non-empty. Redirects are
followed by hand so that every hop is checked against the allow-list (httpx's own
redirect handling would happily leave it), and every hop connects only to an address
`http_addresses.pin` resolved and checked (no loopback/private/link-local/... unless
`http_allowed_networks` allows it; the Host header is always the URL's authority).
`traceparent` of the attempt span is injected so the callee's spans join the
execution's trace. A 4xx/5xx response fails the step unless `fail_on_status` is false.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Literal

import httpx
import orjson
from flowscope.engine.actions.http_addresses import AddressRefused, pin
from flowscope.engine.actions.registry import ActionError, StepContext
from flowscope.engine.config import EngineConfig
from pydantic import BaseModel, ConfigDict, Field

MAX_REDIRECTS = 5


class HttpParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(..., min_length=1, max_length=8192)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str | int | float | bool] = Field(default_factory=dict)
    json_body: Any = Field(None, alias="json", description="JSON request body.")
    body: str | None = Field(None, max_length=10 << 20, description="Raw text request body.")
    timeout_seconds: float = Field(30.0, gt=0, le=3600)
    follow_redirects: bool = True
    fail_on_status: bool = True


def http_enabled(config: EngineConfig) -> str | None:
    if not config.http_allowed_hosts:
        return "no hosts are allowed (configure http_allowed_hosts / --http-allowed-host)"
    return None


def host_allowed(url: httpx.URL, allowed: tuple[str, ...]) -> bool:
    """`host`, `host:port` or `*.domain` patterns (case-insensitive); no port = any port."""
    host = (url.host or "").lower()
    port = url.port or (443 if url.scheme == "https" else 80)
    for pattern in allowed:
        pat_host, pat_port = _split_port(pattern.lower())
        if pat_port is not None and pat_port != port:
            continue
        if fnmatch.fnmatchcase(host, pat_host.strip("[]")):
            return True
    return False


def _split_port(pattern: str) -> tuple[str, int | None]:
    head, sep, tail = pattern.rpartition(":")
    if sep and head and tail.isdigit() and (head.endswith("]") or ":" not in head):
        return head, int(tail)
    return pattern, None


async def http_action(params: HttpParams, ctx: StepContext) -> Any:
    allowed = ctx.config.http_allowed_hosts
    url = httpx.URL(params.url)
    if url.scheme not in ("http", "https"):
        raise ActionError(f"unsupported URL scheme '{url.scheme}'")
    headers = httpx.Headers(params.headers)
    if ctx.traceparent:
        headers["traceparent"] = ctx.traceparent
    if params.query:
        url = url.copy_merge_params(params.query)
    content = orjson.dumps(params.json_body) if params.json_body is not None else params.body
    if params.json_body is not None:
        headers.setdefault("content-type", "application/json")
    method = params.method
    limit = ctx.config.http_max_response_bytes
    async with httpx.AsyncClient(timeout=params.timeout_seconds, follow_redirects=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            if not host_allowed(url, allowed):
                raise ActionError(f"host '{url.host}' is not in the allowed hosts")
            try:
                target = await pin(url, ctx.config.http_allowed_networks, params.timeout_seconds)
            except AddressRefused as exc:
                raise ActionError(str(exc)) from None
            headers["host"] = target.host_header  # the name the allow-list matched, never another
            extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
            request = client.build_request(method, target.url, headers=headers, content=content,
                                           extensions=extensions)  # fmt: skip
            response = await client.send(request, stream=True)
            try:
                if response.is_redirect and params.follow_redirects:
                    url = url.join(response.headers["location"])
                    if response.status_code in (301, 302, 303) and method != "HEAD":
                        method, content = "GET", None  # what browsers (and httpx) do
                    continue
                body = await _read_capped(response, limit)
            finally:
                await response.aclose()
            return _result(response, url, body, params.fail_on_status)
    raise ActionError(f"more than {MAX_REDIRECTS} redirects")


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ActionError(f"response body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _result(response: httpx.Response, url: httpx.URL, body: bytes, fail_on_status: bool) -> dict[str, Any]:
    if fail_on_status and response.status_code >= 400:
        raise ActionError(f"HTTP {response.status_code} from {url}")
    out: dict[str, Any] = {"status_code": response.status_code, "url": str(url)}
    if "json" in response.headers.get("content-type", ""):
        try:
            out["json"] = orjson.loads(body)
            return out
        except orjson.JSONDecodeError:
            pass
    out["text"] = body.decode(response.encoding or "utf-8", errors="replace")
    return out
