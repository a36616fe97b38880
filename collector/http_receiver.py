"""OTLP/HTTP receiver: POST /v1/traces and /v1/logs, protobuf or JSON, gzip/deflate.

A bare ASGI app (no framework routing): the hot path is one request parse, one queue
hand-off and one response. Responses use the request's encoding; errors carry a
google.rpc.Status body, as the OTLP specification asks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from flowscope.collector.decode import BodyError, Encoding, decompress, media_encoding, parse
from flowscope.collector.ingest import IngestService
from flowscope.collector.tenancy import PEER_KEY, Authorizer, IngestDenied
from flowscope.storage.batches import ExportOutcome
from flowscope.storage.errors import QueueFull, StorageUnavailable, WriterStopped
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SIGNALS = {"/v1/traces": "traces", "/v1/logs": "logs", "/v1/metrics": "metrics"}
_CONTENT_TYPES = {"protobuf": b"application/x-protobuf", "json": b"application/json"}
# google.rpc.Code for the Status body
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}
# Bodies above this size are decoded off the event loop.
_INLINE_DECODE_BYTES = 256 * 1024


class OtlpHttpReceiver:
    def __init__(self, ingest: IngestService, authorize: Authorizer, max_body_bytes: int) -> None:
        self._ingest = ingest
        self._authorize = authorize
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        encoding: Encoding = "json" if "json" in headers.get("content-type", "") else "protobuf"
        signal = SIGNALS.get(scope["path"].rstrip("/") or "/")
        try:
            if signal is None:
                raise BodyError(404, f"no OTLP endpoint at {scope['path']}: use /v1/traces or /v1/logs")
            if scope["method"] != "POST":
                await _status(
                    send,
                    405,
                    encoding,
                    f"{scope['method']} not allowed: use POST",
                    extra=[(b"allow", b"POST")],
                )
                return
            if signal == "metrics":
                raise BodyError(
                    404,
                    "Flowscope stores traces and logs, not metrics: send OTLP metrics to a metrics backend",
                )
            encoding = media_encoding(headers.get("content-type"))
            client = scope.get("client")
            workspace_id = self._authorize({**headers, PEER_KEY: client[0] if client else ""})
            body = await self._read_body(receive, headers)
            if len(body) > _INLINE_DECODE_BYTES or headers.get("content-encoding", "identity") != "identity":
                message, raw = await asyncio.to_thread(self._decode, signal, encoding, body, headers)
            else:
                message, raw = self._decode(signal, encoding, body, headers)
            outcome = await self._ingest.export(signal, message, workspace_id, "http", raw)
        except BodyError as exc:
            self._count(signal, "invalid")
            await _status(send, exc.http_status, encoding, exc.message)
            return
        except IngestDenied as exc:
            self._count(signal, "denied")
            wait = [] if exc.retry_after is None else [(b"retry-after", _retry_after(exc.retry_after))]
            await _status(send, exc.http_status, encoding, exc.message, extra=wait)
            return
        except (QueueFull, StorageUnavailable, WriterStopped) as exc:
            self._count(signal, "unavailable")
            await _status(
                send,
                503,
                encoding,
                str(exc),
                extra=[(b"retry-after", _retry_after(self._ingest.retry_delay()))],
            )
            return
        except asyncio.CancelledError:
            # The shutdown timeout cut this request (flowscope/server.py), a stalled body
            # say: it was not acknowledged, and 503 (not uvicorn's 500) tells the exporter
            # to send it again. The task ends here; nothing awaits its cancellation.
            self._count(signal, "unavailable")
            await _status(send, 503, encoding, "server shutting down: retry", extra=[(b"retry-after", b"1")])
            return
        self._count(signal, "partial" if outcome.rejected else "ok")
        await _respond(send, 200, encoding, _export_response(signal, outcome))

    def _count(self, signal: str | None, outcome: str) -> None:
        self._ingest.metrics.requests.labels("http", signal or "unknown", outcome).inc()

    def _decode(
        self, signal: str, encoding: Encoding, body: bytes, headers: dict[str, str]
    ) -> tuple[Message, bytes | None]:
        """The decoded request, and its protobuf bytes (None for JSON)."""
        body = decompress(body, headers.get("content-encoding"), self._max_body)
        return parse(signal, encoding, body), body if encoding == "protobuf" else None

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            raise BodyError(413, f"body of {declared} bytes exceeds the limit of {self._max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyError(400, "client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise BodyError(413, f"body exceeds the limit of {self._max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _retry_after(seconds: float) -> bytes:
    """Retry-After is whole seconds (RFC 9110 delay-seconds)."""
    return str(max(1, round(seconds))).encode()


def _export_response(signal: str, outcome: ExportOutcome) -> Message:
    if signal == "traces":
        response: Message = ExportTraceServiceResponse()
        if outcome.rejected:
            response.partial_success.rejected_spans = outcome.rejected  # type: ignore[attr-defined]
            response.partial_success.error_message = outcome.error_message  # type: ignore[attr-defined]
        return response
    response = ExportLogsServiceResponse()
    if outcome.rejected:
        response.partial_success.rejected_log_records = outcome.rejected  # type: ignore[attr-defined]
        response.partial_success.error_message = outcome.error_message  # type: ignore[attr-defined]
    return response


async def _status(
    send: Send, http_status: int, encoding: Encoding, message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:  # fmt: skip
    status = status_pb2.Status(code=_RPC_CODES.get(http_status, 2), message=message)
    await _respond(send, http_status, encoding, status, extra)


async def _respond(
    send: Send, http_status: int, encoding: Encoding, message: Message,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:  # fmt: skip
    if encoding == "json":
        body = json_format.MessageToJson(message, indent=None).encode()
    else:
        body = message.SerializeToString()
    headers = [(b"content-type", _CONTENT_TYPES[encoding]), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": http_status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
