"""Every way an OTLP/HTTP request can go wrong gets its status code and a useful message."""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult

from tests.collector.helpers import (
    JSON,
    PROTOBUF,
    all_spans,
    count,
    logs_request,
    open_db,
    post,
    spans_request,
    stored_spans,
)


def _status(response: httpx.Response) -> status_pb2.Status:
    """The google.rpc.Status error body, in the request's encoding (protobuf here)."""
    assert response.headers["content-type"] == PROTOBUF
    return status_pb2.Status.FromString(response.content)


def test_undecodable_protobuf_is_400_with_a_status_body(shared_server: Any) -> None:
    server = shared_server
    for signal, name in (("traces", "ExportTraceServiceRequest"), ("logs", "ExportLogsServiceRequest")):
        response = post(server, signal, b"\x0a\xff\xff\xff\xff\x0f garbage")
        assert response.status_code == 400
        status = _status(response)
        assert status.code == 3  # INVALID_ARGUMENT
        assert name in status.message and "protobuf" in status.message
    bad_json = post(server, "traces", b'{"resourceSpans": [', JSON)
    assert bad_json.status_code == 400
    assert bad_json.headers["content-type"] == JSON  # answered in the request's encoding
    assert "not valid JSON" in bad_json.json()["message"]


@pytest.mark.parametrize(
    ("content_type", "encoding", "fragment"),
    [
        ("text/plain", None, "unsupported content type"),
        ("application/protobuf", None, "unsupported content type"),
        (None, None, "unsupported content type"),
        (PROTOBUF, "br", "unsupported content encoding"),
        (PROTOBUF, "compress", "unsupported content encoding"),
    ],
)
def test_unsupported_media_is_415(
    shared_server: Any, content_type: str | None, encoding: str | None, fragment: str
) -> None:
    server = shared_server
    headers = {"Content-Type": content_type} if content_type else {}
    if encoding:
        headers["Content-Encoding"] = encoding
    body = spans_request(1)[0].SerializeToString()
    response = httpx.post(f"{server.otlp_http}/v1/traces", content=body, headers=headers, timeout=30)
    assert response.status_code == 415
    assert fragment in _status(response).message


def test_non_post_is_405_with_allow(shared_server: Any) -> None:
    server = shared_server
    for method in ("GET", "PUT", "DELETE"):
        response = httpx.request(method, f"{server.otlp_http}/v1/traces", timeout=30)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert "use POST" in _status(response).message
    assert httpx.get(f"{server.otlp_http}/v1/logs", timeout=30).status_code == 405


def test_unknown_path_is_404(shared_server: Any) -> None:
    server = shared_server
    response = httpx.post(f"{server.otlp_http}/v1/spans", content=b"", headers={"Content-Type": PROTOBUF})
    assert response.status_code == 404
    assert "/v1/traces" in _status(response).message


def test_metrics_endpoint_answers_a_clear_non_retryable_error(shared_server: Any) -> None:
    server = shared_server
    response = post(server, "metrics", b"")
    assert response.status_code == 404
    assert "metrics" in _status(response).message
    # The real SDK metric exporter treats it as final: no retries, a prompt failure.
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("m").create_counter("c").add(1)
    data = reader.get_metrics_data()
    exporter = OTLPMetricExporter(endpoint=f"{server.otlp_http}/v1/metrics", timeout=20)
    started = time.monotonic()
    assert exporter.export(data) == MetricExportResult.FAILURE
    assert time.monotonic() - started < 3, "the exporter retried: the error looked retryable"


def test_declared_length_over_the_limit_is_413(make_server: Any) -> None:
    server = make_server("--max-body-bytes", "100000")
    body = spans_request(2000)[0].SerializeToString()
    assert len(body) > 100_000
    response = post(server, "traces", body)
    assert response.status_code == 413
    assert "limit of 100000 bytes" in _status(response).message
    small = spans_request(10)[0]
    assert post(server, "traces", small).status_code == 200  # the server is fine afterwards


def _raw_chunked_post(url: str, chunks: list[bytes]) -> tuple[int, bytes]:
    """POST with Transfer-Encoding: chunked (no Content-Length); returns status and body."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {PROTOBUF}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()

    def send() -> None:
        try:
            sock.sendall(head)
            for chunk in chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before reading everything

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        if not got:
            break
        data += got
    header, _, rest = data.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    length = int(
        next(h.split(b":")[1] for h in header.split(b"\r\n") if h.lower().startswith(b"content-length"))
    )
    while len(rest) < length:
        rest += sock.recv(65536)
    sock.close()
    return status, rest


def test_streamed_body_over_the_limit_is_413(make_server: Any) -> None:
    server = make_server("--max-body-bytes", "100000")
    status, body = _raw_chunked_post(f"{server.otlp_http}/v1/traces", [b"\x00" * 16384] * 12)
    assert status == 413
    assert "exceeds the limit of 100000 bytes" in status_pb2.Status.FromString(body).message
    # Under the limit, chunked bodies work.
    ok_body = spans_request(3)[0].SerializeToString()
    status, body = _raw_chunked_post(f"{server.otlp_http}/v1/traces", [ok_body[:10], ok_body[10:]])
    assert status == 200 and ExportTraceServiceResponse.FromString(body) == ExportTraceServiceResponse()


def _bomb(kind: str, total_mib: int) -> bytes:
    """A single-stream gzip/zlib body inflating to `total_mib` MiB of zeros, about 1 KB per MiB."""
    segment_compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    mib = bytes(1 << 20)
    segment = segment_compressor.compress(mib) + segment_compressor.flush(zlib.Z_FULL_FLUSH)
    blocks = segment * total_mib + b"\x03\x00"  # ... then an empty final block
    crc, adler = 0, 1
    for _ in range(total_mib):
        crc = zlib.crc32(mib, crc)
        adler = zlib.adler32(mib, adler)
    if kind == "gzip":
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        return header + blocks + struct.pack("<II", crc, (total_mib << 20) & 0xFFFFFFFF)
    return b"\x78\xda" + blocks + struct.pack(">I", adler)


def test_the_bomb_builder_builds_real_compressed_streams() -> None:
    assert gzip.decompress(_bomb("gzip", 3)) == bytes(3 << 20)
    assert zlib.decompress(_bomb("deflate", 3)) == bytes(3 << 20)


@pytest.mark.parametrize("kind", ["gzip", "deflate"])
def test_compression_bomb_is_413_after_decompression_without_exhausting_memory(
    make_server: Any, kind: str
) -> None:
    """2 GiB of zeros in ~2 MB: the default 64 MiB limit applies to the inflated size."""
    server = make_server()
    proc = psutil.Process(server.process.pid)
    bomb = _bomb(kind, 2048)
    assert len(bomb) < 4 << 20
    baseline = proc.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        responses = [post(server, "traces", bomb, headers={"Content-Encoding": kind}) for _ in range(3)]
    finally:
        done.set()
        sampler.join()
    for response in responses:
        assert response.status_code == 413
        assert "decompressed body exceeds the limit of 67108864 bytes" in _status(response).message
    assert peak - baseline < 400 << 20, f"server grew by {(peak - baseline) >> 20} MiB on a bomb"
    # An honest compressed body still goes through.
    request, _ = spans_request(5)
    body = (
        zlib.compress(request.SerializeToString())
        if kind == "deflate"
        else gzip.compress(request.SerializeToString())
    )
    assert post(server, "traces", body, headers={"Content-Encoding": kind}).status_code == 200


def test_truncated_or_corrupt_compressed_bodies_are_400(make_server: Any) -> None:
    server = make_server()
    body = gzip.compress(spans_request(5)[0].SerializeToString())
    truncated = post(server, "traces", body[: len(body) // 2], headers={"Content-Encoding": "gzip"})
    assert truncated.status_code == 400 and "truncated" in _status(truncated).message
    corrupt = post(server, "traces", b"not gzip at all", headers={"Content-Encoding": "gzip"})
    assert corrupt.status_code == 400 and "gzip" in _status(corrupt).message
    # Several gzip members back to back are one body (RFC 1952).
    request, ids = spans_request(4)
    raw = request.SerializeToString()
    members = gzip.compress(raw[:7]) + gzip.compress(raw[7:])
    assert post(server, "traces", members, headers={"Content-Encoding": "gzip"}).status_code == 200
    assert server.terminate() == 0
    with open_db(server.db) as con:
        assert set(stored_spans(con)) == set(ids)


def test_invalid_spans_are_rejected_individually_and_the_rest_is_stored(make_server: Any) -> None:
    server = make_server()
    request, ids = spans_request(5)
    spans = all_spans(request)
    spans[1].trace_id = b"\x01\x02\x03\x04"  # wrong length
    spans[2].span_id = bytes(8)  # all zero
    spans[3].parent_span_id = b"\x01\x02\x03"  # wrong length
    response = post(server, "traces", request)
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 3
    assert "trace_id must be 16 bytes" in partial.error_message
    assert "span_id must be 8 bytes" in partial.error_message
    assert "parent_span_id must be empty or 8 bytes" in partial.error_message

    logs = logs_request(3)
    logs.resource_logs[0].scope_logs[0].log_records[1].trace_id = b"\x01" * 5
    logs_response = post(server, "logs", logs)
    assert logs_response.status_code == 200
    logs_partial = ExportLogsServiceResponse.FromString(logs_response.content).partial_success
    assert logs_partial.rejected_log_records == 1 and "trace_id" in logs_partial.error_message

    full = post(server, "traces", spans_request(2)[0])
    assert full.status_code == 200
    assert not ExportTraceServiceResponse.FromString(full.content).HasField("partial_success")
    assert server.terminate() == 0
    with open_db(server.db) as con:
        stored = stored_spans(con)
        assert count(con, "logs") == 2
    assert {ids[0], ids[4]} <= set(stored) and len(stored) == 4


def test_empty_request_is_full_success(shared_server: Any) -> None:
    server = shared_server
    response = post(server, "traces", b"")
    assert response.status_code == 200 and response.content == b""
    assert post(server, "logs", b"{}", JSON).json() == {}
