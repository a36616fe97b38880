"""Export requests are converted off the event loop: those up to 4,096 items one at a time,
in a thread of their own, bigger ones in the loop's worker threads (collector/ingest.py). So
a request whose conversion takes a while does not hold up a small one sent after it. Real
server, real OTLP/HTTP."""

from __future__ import annotations

import re
import threading
import time

import httpx

from tests.collector.conftest import ServerFactory
from tests.reliability.support import post_traces
from tests.support.otlp import spans_request

BIG = 100_000  # spans: conversion of a good part of a second on this machine
SMALL = 200  # over the 64 items converted on the loop itself


RECEIVED = re.compile(r'^flowscope_collector_received_total\{signal="traces",transport="http"\} (\S+)$', re.M)


def _received(api: str) -> float:
    """Spans the server has counted as received over OTLP/HTTP (before converting them)."""
    found = RECEIVED.search(httpx.get(f"{api}/metrics", timeout=10).text)
    return float(found.group(1)) if found else 0.0


def test_a_small_request_is_not_held_up_by_a_big_ones_conversion(make_server: ServerFactory) -> None:
    server = make_server()
    big, _ = spans_request(BIG)
    small, _ = spans_request(SMALL)
    answered: dict[str, int] = {}
    big_done = threading.Event()

    def send_big() -> None:
        answered["big"] = post_traces(server.otlp_http, big.SerializeToString()).status_code
        big_done.set()

    sender = threading.Thread(target=send_big)
    sender.start()
    deadline = time.monotonic() + 30
    while _received(server.api) < BIG:  # counted: its conversion starts now
        assert time.monotonic() < deadline, "the big request was not received"
        assert not big_done.is_set(), "the big request was answered before it was seen received"
    assert post_traces(server.otlp_http, small.SerializeToString()).status_code == 200
    assert not big_done.is_set(), "the small request waited for the big one's conversion"
    sender.join(60)
    assert answered == {"big": 200}
