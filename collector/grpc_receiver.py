"""OTLP/gRPC receiver: TraceService/Export and LogsService/Export.

Requests are taken as raw bytes and parsed here, so a malformed message is answered
INVALID_ARGUMENT with a message (grpcio's own deserializer would answer INTERNAL).
Backpressure is UNAVAILABLE with a google.rpc.RetryInfo detail, which OTLP
exporters honour.
"""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2
from google.protobuf.any_pb2 import Any as AnyProto
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from collector.decode import BodyError, parse
from collector.ingest import IngestService
from collector.tenancy import PEER_KEY, Authorizer, IngestDenied, grpc_peer_host
from collector.writer import QueueFull, StorageUnavailable, WriterStopped

_DENIED_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
}


class OtlpGrpcReceiver:
    def __init__(self, ingest: IngestService, authorize: Authorizer) -> None:
        self._ingest = ingest
        self._authorize = authorize

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        def method(signal: str) -> grpc.RpcMethodHandler:
            async def export(body: bytes, context: grpc.aio.ServicerContext) -> bytes:
                return await self._export(signal, body, context)

            return grpc.unary_unary_rpc_method_handler(export)  # raw bytes in and out

        return [
            grpc.method_handlers_generic_handler(
                "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": method("traces")}
            ),
            grpc.method_handlers_generic_handler(
                "opentelemetry.proto.collector.logs.v1.LogsService", {"Export": method("logs")}
            ),
        ]

    async def _export(self, signal: str, body: bytes, context: grpc.aio.ServicerContext) -> bytes:
        metadata = {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        metrics = self._ingest.metrics
        try:
            workspace_id = self._authorize({**metadata, PEER_KEY: grpc_peer_host(context.peer()) or ""})
            message = parse(signal, "protobuf", body)
            outcome = await self._ingest.export(signal, message, workspace_id, "grpc", body)
        except BodyError as exc:
            metrics.requests.labels("grpc", signal, "invalid").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        except IngestDenied as exc:
            metrics.requests.labels("grpc", signal, "denied").inc()
            if exc.retry_after is not None:  # throttled: RESOURCE_EXHAUSTED + RetryInfo, as HTTP's 429
                await context.abort_with_status(
                    rpc_status.to_status(
                        _retry_status(code_pb2.RESOURCE_EXHAUSTED, exc.message, exc.retry_after)
                    )
                )
            await context.abort(
                _DENIED_CODES.get(exc.http_status, grpc.StatusCode.INVALID_ARGUMENT), exc.message
            )
        except (QueueFull, StorageUnavailable, WriterStopped) as exc:
            metrics.requests.labels("grpc", signal, "unavailable").inc()
            delay = self._ingest.retry_delay()
            await context.abort_with_status(
                rpc_status.to_status(_retry_status(code_pb2.UNAVAILABLE, str(exc), delay))
            )
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


def _retry_status(code: int, message: str, delay_seconds: float) -> status_pb2.Status:
    delay = duration_pb2.Duration(seconds=int(delay_seconds), nanos=int(delay_seconds % 1 * 1e9))
    detail = AnyProto()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return status_pb2.Status(code=code, message=message, details=[detail])


def create_server(
    receiver: OtlpGrpcReceiver, host: str, port: int, max_message_bytes: int
) -> tuple[grpc.aio.Server, int]:
    """A grpc.aio server bound to host:port; returns it with the port actually bound."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ],
        compression=None,
    )
    server.add_generic_rpc_handlers(receiver.handlers())
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind OTLP/gRPC to {host}:{port}")
    return server, bound
