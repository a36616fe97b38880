"""SIGKILL at a random moment loses nothing that was acknowledged, and stores nothing twice."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx

from tests.collector.helpers import GRPC_METHODS, PROTOBUF, count, logs_request, open_db, rows, spans_request

CYCLES = 5


@dataclass
class Ledger:
    """What clients sent, and which of it the server acknowledged with success."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: set[tuple[str, str]] = field(default_factory=set)
    sent: set[tuple[str, str]] = field(default_factory=set)
    unacked: list[tuple[bytes, list[tuple[str, str]]]] = field(default_factory=list)  # to retry
    acked_batches: int = 0
    acked_log_batches: int = 0
    log_records: int = 0


def _http_client(url: str, ledger: Ledger, stop: threading.Event, retries: list[Any]) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            if retries:
                body, ids = retries.pop()
            else:
                request, ids = spans_request(random.randint(50, 400))
                body = request.SerializeToString()
            with ledger.lock:
                ledger.sent.update(ids)
            try:
                response = client.post(f"{url}/v1/traces", content=body, headers={"Content-Type": PROTOBUF})
            except httpx.HTTPError:
                with ledger.lock:
                    ledger.unacked.append((body, ids))
                return  # the server is gone
            with ledger.lock:
                if response.status_code == 200:
                    ledger.acked.update(ids)
                    ledger.acked_batches += 1
                else:
                    ledger.unacked.append((body, ids))


def _grpc_client(target: str, ledger: Ledger, stop: threading.Event) -> None:
    with grpc.insecure_channel(target) as channel:
        traces = channel.unary_unary(GRPC_METHODS["traces"])
        logs = channel.unary_unary(GRPC_METHODS["logs"])
        while not stop.is_set():
            request, ids = spans_request(random.randint(50, 400))
            body = request.SerializeToString()
            with ledger.lock:
                ledger.sent.update(ids)
            try:
                traces(body, timeout=10)
                logs(logs_request(20).SerializeToString(), timeout=10)
            except grpc.RpcError:
                with ledger.lock:
                    ledger.unacked.append((body, ids))
                return
            with ledger.lock:
                ledger.acked.update(ids)
                ledger.acked_batches += 1
                ledger.acked_log_batches += 1


def test_sigkill_during_ingest_loses_nothing_acknowledged(make_server: Any, tmp_path: Any) -> None:
    db = tmp_path / "crash.duckdb"
    ledger = Ledger()
    rng = random.Random()
    for _cycle in range(CYCLES):
        server = make_server(db=db)  # each restart replays the WAL of the killed one
        assert server.get("/readyz").status_code == 200
        stop = threading.Event()
        retries = list(ledger.unacked)  # exporter-style: what was not acknowledged is sent again
        ledger.unacked.clear()
        threads = [
            threading.Thread(target=_http_client, args=(server.otlp_http, ledger, stop, retries))
            for _ in range(3)
        ] + [threading.Thread(target=_grpc_client, args=(server.otlp_grpc, ledger, stop))]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.4, 1.6))
        server.kill()  # SIGKILL: no flush, no checkpoint
        stop.set()
        for t in threads:
            t.join(30)
        assert server.process.returncode == -9

    print(f"acked batches {ledger.acked_batches}, spans {len(ledger.acked)}, sent {len(ledger.sent)}")
    assert ledger.acked_batches > CYCLES * 3, "too little traffic to prove anything"
    # Restart once more (the file must open cleanly), then read it.
    server = make_server(db=db)
    assert server.terminate() == 0
    with open_db(db) as con:
        stored = {(r["trace_id"], r["span_id"]) for r in rows(con, "SELECT trace_id, span_id FROM spans")}
        total = count(con, "spans")
        logs = count(con, "logs")
        distinct_logs = con.execute("SELECT count(DISTINCT record_hash) FROM logs").fetchone()[0]
    missing = ledger.acked - stored
    assert not missing, f"{len(missing)} acknowledged spans lost after SIGKILL"
    assert total == len(stored), f"{total - len(stored)} spans stored twice"
    assert stored <= ledger.sent  # nothing invented
    assert logs == distinct_logs and logs >= ledger.acked_log_batches * 20
