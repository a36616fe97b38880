"""The event loops `flowscope serve` runs on: uvloop's (libuv) instead of asyncio's own.

Both the serving loop (HTTP API, OTLP/HTTP, WebSockets) and the engine's loop
(engine/host.py) hand work to each other and to threads many times a request; asyncio's
pure-Python loop spends a good part of a small request in its own callbacks, transports and
timers. Measured with 1,000 concurrent execute requests against one server (alternated
runs, medians of 3 bursts each): p99 1.26-1.29 s on asyncio's loop, 1.16-1.20 s on uvloop's;
1,000 concurrent /healthz: 0.67-0.75 s against 0.50-0.64 s. uvloop accepts one waiting
connection per turn of its loop; the HTTP listeners accept the rest in batches
(flowscope/acceptor.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on a loop of `new_event_loop`."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
