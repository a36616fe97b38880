"""Export request bodies: media type, content encoding, size limit, decoding.

Shared by the HTTP receiver (which has bodies with headers) and, for decoding, by
the gRPC receiver. Errors carry the HTTP status and gRPC code they map to.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

from flowscope.collector.otlp_json import JsonDecodeError, parse_json
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

Encoding = Literal["protobuf", "json"]
REQUEST_TYPES: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
}


@dataclass
class BodyError(Exception):
    """A request that cannot be accepted as sent; never retryable."""

    http_status: int
    message: str

    def __str__(self) -> str:
        return self.message


def media_encoding(content_type: str | None) -> Encoding:
    """The OTLP encoding named by a Content-Type header (parameters such as charset ignored)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/x-protobuf":
        return "protobuf"
    if media == "application/json":
        return "json"
    raise BodyError(
        415,
        f"unsupported content type {content_type!r}: use application/x-protobuf or application/json",
    )


_GZIP_WBITS = 16 + zlib.MAX_WBITS


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo gzip/deflate; the limit applies to the decompressed size (gzip bombs get 413)."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding == "gzip":
        wbits = _GZIP_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS  # zlib-wrapped, as HTTP's "deflate" means; raw deflate tried below
    else:
        raise BodyError(415, f"unsupported content encoding {content_encoding!r}: use gzip or deflate")
    try:
        return _inflate(body, wbits, limit)
    except zlib.error as exc:
        if encoding == "deflate":
            try:
                return _inflate(body, -zlib.MAX_WBITS, limit)
            except zlib.error:
                pass
        raise BodyError(400, f"body is not valid {encoding} data: {exc}") from None


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    """Inflate at most `limit` bytes: output beyond it is never produced, so bombs cost no memory.

    gzip bodies may hold several members back to back (RFC 1952); each is inflated in turn.
    """
    pieces: list[bytes] = []
    size = 0
    data = body
    while True:
        inflater = zlib.decompressobj(wbits)
        piece = inflater.decompress(data, limit + 1 - size)
        size += len(piece)
        if size > limit:
            raise BodyError(413, f"decompressed body exceeds the limit of {limit} bytes")
        pieces.append(piece)
        if not inflater.eof:
            raise BodyError(400, "compressed body is truncated")
        data = inflater.unused_data
        if not data:
            return pieces[0] if len(pieces) == 1 else b"".join(pieces)
        if wbits != _GZIP_WBITS:  # only gzip has members; a deflate stream ends at its end
            raise BodyError(400, "unexpected data after the end of the compressed body")


def parse(signal: str, encoding: Encoding, body: bytes) -> Message:
    message = REQUEST_TYPES[signal]()
    if encoding == "json":
        try:
            return parse_json(body, signal, message)
        except JsonDecodeError as exc:
            raise BodyError(400, str(exc)) from None
    try:
        message.ParseFromString(body)
    except (ProtobufDecodeError, RecursionError, ValueError) as exc:
        raise BodyError(400, f"body is not a valid {message.DESCRIPTOR.name} protobuf: {exc}") from None
    return message


def count_items(signal: str, message: Message) -> int:
    if signal == "traces":
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)  # type: ignore[attr-defined]
    return sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)  # type: ignore[attr-defined]
