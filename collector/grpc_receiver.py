"""OTLP/gRPC receiver: TraceService/Export and LogsService/Export.

Requests are taken as raw bytes and parsed here, so a malformed message is answered
INVALID_ARGUMENT with a message (grpcio's own deserializer would answer INTERNAL).
Backpressure is UNAVAILABLE with a google.rpc.RetryInfo detail, which OTLP
exporters honour: in the status details, as the OTLP specification says, and also as the
trailer `google.rpc.retryinfo-bin`, the one place the Python SDK's gRPC exporter reads it
(opentelemetry-exporter-otlp-proto-grpc 1.x `exporter.py`; without it, it backs off 1, 2,
4... s whatever the server asked).

Connections are bounded like the HTTP listeners' (flowscope/limits.py): handshake,
request message and idle deadlines, and a connection cap.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import NamedTuple

import grpc
from flowscope.collector.decode import BodyError, parse
from flowscope.collector.ingest import IngestService
from flowscope.collector.tenancy import PEER_KEY, Authorizer, IngestDenied, grpc_peer_host
from flowscope.storage.errors import QueueFull, StorageUnavailable, WriterStopped
from google.protobuf import duration_pb2
from google.protobuf.any_pb2 import Any as AnyProto
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from flowscope.limits import ConnectionLimits

_DENIED_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
}


class OtlpGrpcReceiver:
    def __init__(self, ingest: IngestService, authorize: Authorizer, body_timeout: float) -> None:
        self._ingest = ingest
        self._authorize = authorize
        self._body_timeout = body_timeout

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        def method(signal: str) -> grpc.RpcMethodHandler:
            async def export(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
                answer = await self._export(signal, await self._read_request(requests, context), context)
                if isinstance(answer, bytes):
                    return answer
                # Aborting raises an exception that grpc keeps in a reference cycle with this
                # call's state until the garbage collector runs. Raised here (no frame of it holds
                # the request's bytes or message, and outside any `except`, so no refusal's
                # traceback is chained to it), a refused request's body is freed at once, not
                # held (up to the message limit, each) until a collection.
                if answer.status is not None:
                    await context.abort_with_status(answer.status)
                await context.abort(answer.code, answer.details)

            # Raw bytes in and out. Taken as a client stream, though Export is unary: a unary
            # handler starts only once the message has arrived, and grpc has no server-side
            # limit on that wait, so a client stalling mid-message would hold the call forever.
            return grpc.stream_unary_rpc_method_handler(export)

        return [
            grpc.method_handlers_generic_handler(
                "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": method("traces")}
            ),
            grpc.method_handlers_generic_handler(
                "opentelemetry.proto.collector.logs.v1.LogsService", {"Export": method("logs")}
            ),
        ]

    async def _read_request(self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
        """The one request message, received with its end within the body timeout."""
        body = extra = None
        try:
            async with asyncio.timeout(self._body_timeout):
                body = await anext(requests, None)
                if body is not None:
                    extra = await anext(requests, None)
        except TimeoutError:
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"request message not received within {self._body_timeout:g} s",
            )
        if body is None or extra is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Export takes exactly one request message")
        return body  # type: ignore[return-value]  # abort() raises

    async def _export(
        self, signal: str, body: bytes, context: grpc.aio.ServicerContext
    ) -> bytes | _Refusal:  # fmt: skip
        """The response message, or why the request is refused (the caller aborts the call)."""
        metadata = {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        metrics = self._ingest.metrics
        try:
            workspace_id = self._authorize({**metadata, PEER_KEY: grpc_peer_host(context.peer()) or ""})
            message = parse(signal, "protobuf", body)
            outcome = await self._ingest.export(signal, message, workspace_id, "grpc", body)
        except BodyError as exc:
            metrics.requests.labels("grpc", signal, "invalid").inc()
            return _Refusal(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        except IngestDenied as exc:
            metrics.requests.labels("grpc", signal, "denied").inc()
            if exc.retry_after is not None:  # throttled: RESOURCE_EXHAUSTED + RetryInfo, as HTTP's 429
                status = _retry_status(code_pb2.RESOURCE_EXHAUSTED, exc.message, exc.retry_after)
                return _Refusal(status.code, status.details, status)
            return _Refusal(_DENIED_CODES.get(exc.http_status, grpc.StatusCode.INVALID_ARGUMENT), exc.message)
        except (QueueFull, StorageUnavailable, WriterStopped) as exc:
            metrics.requests.labels("grpc", signal, "unavailable").inc()
            status = _retry_status(code_pb2.UNAVAILABLE, str(exc), self._ingest.retry_delay())
            return _Refusal(status.code, status.details, status)
        metrics.requests.labels("grpc", signal, "partial" if outcome.rejected else "ok").inc()
        if signal == "traces":
            response = ExportTraceServiceResponse()
            if outcome.rejected:
                response.partial_success.rejected_spans = outcome.rejected
                response.partial_success.error_message = outcome.error_message
            return response.SerializeToString()
        logs_response = ExportLogsServiceResponse()
        if outcome.rejected:
            logs_response.partial_success.rejected_log_records = outcome.rejected
            logs_response.partial_success.error_message = outcome.error_message
        return logs_response.SerializeToString()


class _Refusal(NamedTuple):
    """Why a call is refused: its status code and details, or the whole status (with trailers)."""

    code: grpc.StatusCode
    details: str
    status: grpc.Status | None = None


RETRY_INFO_TRAILER = "google.rpc.retryinfo-bin"


class _Status(collections.namedtuple("_Status", ("code", "details", "trailing_metadata")), grpc.Status):
    """A grpc.Status as grpc_status's `to_status` makes one, with our trailer added."""


def _retry_status(code: int, message: str, delay_seconds: float) -> grpc.Status:
    delay = duration_pb2.Duration(seconds=int(delay_seconds), nanos=int(delay_seconds % 1 * 1e9))
    info = error_details_pb2.RetryInfo(retry_delay=delay)
    detail = AnyProto()
    detail.Pack(info)
    status = rpc_status.to_status(status_pb2.Status(code=code, message=message, details=[detail]))
    trailers = (*status.trailing_metadata, (RETRY_INFO_TRAILER, info.SerializeToString()))
    return _Status(status.code, status.details, trailers)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def connection_options(limits: ConnectionLimits) -> list[tuple[str, int]]:
    return [
        # No HTTP/2 preface and SETTINGS within the header timeout: closed.
        ("grpc.server_handshake_timeout_ms", _ms(limits.header_timeout)),
        # No call for the idle timeout: GOAWAY (clients reconnect on their next export).
        ("grpc.max_connection_idle_ms", _ms(limits.idle_timeout)),
        # Beyond the cap a new connection is closed at once (grpc's own refusal).
        ("grpc.max_allowed_incoming_connections", limits.max_connections),
        ("grpc.max_concurrent_streams", 100),
        # A peer that vanished without a FIN (its calls pending) is found by pings.
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
    ]


def create_server(
    receiver: OtlpGrpcReceiver, host: str, port: int, max_message_bytes: int, limits: ConnectionLimits
) -> tuple[grpc.aio.Server, int]:
    """A grpc.aio server bound to host:port; returns it with the port actually bound."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
            # gRPC sets SO_REUSEPORT by default: a second server on a busy port would share it
            # with the first (each getting part of the connections) instead of failing to start.
            ("grpc.so_reuseport", 0),
            *connection_options(limits),
        ],
        compression=None,
    )
    server.add_generic_rpc_handlers(receiver.handlers())
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind OTLP/gRPC to {host}:{port}")
    return server, bound
