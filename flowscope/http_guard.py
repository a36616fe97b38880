"""Deadlines, size limits and a connection cap for the uvicorn listeners (API and OTLP/HTTP).

uvicorn times only the wait between two requests (keep-alive): a client that connects and
sends nothing, half a request head, or half a body keeps its socket, a file descriptor,
for as long as it likes, and nothing caps the number of connections. Its httptools
protocol has no hook for this, so `GuardedHttpProtocol` subclasses it (issue 15, findings
7 and 18). Per connection:

- the request head must be complete `header_timeout` after the connection opens or after
  the first byte of a later request: else 408, or a plain close when nothing was sent;
- the body must be complete `body_timeout` after the head: else 408;
- a request target over MAX_TARGET_BYTES is answered 414, header fields over
  MAX_HEADER_BYTES 431 (an incomplete head is cut once it is that large: memory stays
  bounded);
- at most `max_connections` per listener: at the cap, the connection idle the longest
  (between requests, or still sending its head) is closed to make room, as nginx reuses
  keep-alive connections, so idle sockets cannot lock anyone out; when every connection
  has a request in progress, the newcomer gets 503 and is closed.

`PromptWebSocketProtocol` sends the answer websockets prepares when it rejects a handshake
(414, 431, 400); uvicorn left it unsent and the client hung until it gave up.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from flowscope.limits import MAX_LINGERING, ConnectionLimits

MAX_TARGET_BYTES = 8 * 1024  # the request target (path and query), as most servers allow
MAX_HEADER_BYTES = 32 * 1024  # all header names and values of one request
# After an error answer, the connection is half-closed and what the client still sends is
# read and dropped for up to this long, then it is closed: closing a socket with unread
# data resets the connection, and the client could lose the answer (nginx's lingering close).
LINGER_SECONDS = 1.0


class _Rejected(Exception):
    """Raised from a parser callback to stop parsing; the answer is in `_rejection`."""


class ListenerGuard:
    """State shared by the connections of one listener."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        # Connections with no request in progress, longest idle first.
        self.idle: OrderedDict[GuardedHttpProtocol, None] = OrderedDict()
        self.lingering = 0

    def make_room(self) -> bool:
        """Close the connection idle the longest; False when none is idle."""
        while self.idle:
            oldest, _ = self.idle.popitem(last=False)
            if not oldest.transport.is_closing():
                oldest.transport.close()
                return True
        return False


class GuardedHttpProtocol(HttpToolsProtocol):
    guard: ClassVar[ListenerGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._head_started = False  # a byte of a request head arrived, not yet its end
        self._head_began_now = False  # ... in the chunk being parsed
        self._head_bytes = 0  # bytes of that head, less the chunk that began it
        self._rejection: tuple[int, str] | None = None
        self._refused = False  # over the cap: never counted among the connections
        self._lingering = False

    # --- connection --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        guard = self.guard
        if len(self.connections) >= guard.limits.max_connections and not guard.make_room():
            self._refuse(transport)
            return
        super().connection_made(transport)
        guard.idle[self] = None
        self._arm(guard.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.idle.pop(self, None)
        if self._lingering:
            self.guard.lingering -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering or self._refused:
            return  # answered: read and dropped
        self._head_began_now = False
        super().data_received(data)
        if self._head_started and not self._head_began_now and not self.transport.is_closing():
            # Counted by chunk: the parser only shows a header once it is complete, and
            # one huge header must not grow without bound either.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_TARGET_BYTES + MAX_HEADER_BYTES:
                self._answer(431, f"request headers exceed {MAX_HEADER_BYTES} bytes")

    def _refuse(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._refused = True
        limit = self.guard.limits.max_connections
        self._answer(503, f"server busy: {limit} connections open on this port; retry later", retry=True)

    # --- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = self._head_began_now = True
        self._head_bytes = 0
        if self._deadline is None:  # a kept-alive connection: from the first byte of this request
            self._arm(self.guard.limits.header_timeout, self._head_timed_out)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_TARGET_BYTES:
            self._rejection = (414, f"request target exceeds {MAX_TARGET_BYTES} bytes")
            raise _Rejected

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_started = False
        if sum(len(name) + len(value) for name, value in self.headers) > MAX_HEADER_BYTES:
            self._rejection = (431, f"request headers exceed {MAX_HEADER_BYTES} bytes")
            raise _Rejected
        upgrading = self.parser.should_upgrade() and self._should_upgrade()
        super().on_headers_complete()
        self.guard.idle.pop(self, None)  # a request in progress: not to be closed to make room
        if not upgrading:  # cancelled by on_message_complete, at once when there is no body
            self._arm(self.guard.limits.body_timeout, self._body_timed_out)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self.guard.idle[self] = None  # idle from now: the newest in the order

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to any parser error, ours (`_Rejected`) included."""
        status, message = self._rejection or (400, msg)
        self._answer(status, message)

    # --- deadlines ---------------------------------------------------------------------------

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._head_started:
            self._answer(408, f"request headers not received within {self.guard.limits.header_timeout:g} s")
        else:  # nothing was asked: nothing to answer
            self.transport.close()

    def _body_timed_out(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None:
            return
        if cycle.response_started:
            self.transport.close()
            return
        self._answer(408, f"request body not received within {self.guard.limits.body_timeout:g} s")
        # The application waiting for the rest of the body sees a disconnect; whatever it
        # answers goes nowhere, this connection is answered and closed.
        cycle.disconnected = True
        cycle.message_event.set()

    # --- answers -----------------------------------------------------------------------------

    def _answer(self, status: int, message: str, retry: bool = False) -> None:
        """Answer with an error and close (after a linger, while few connections linger)."""
        if self.transport.is_closing() or self._lingering:
            return
        self._disarm()
        self.guard.idle.pop(self, None)
        self._write_error(status, message, retry)
        if self.guard.lingering >= MAX_LINGERING:
            self.transport.close()
            return
        self.guard.lingering += 1
        self._lingering = True
        self.transport.write_eof()  # the client reads the answer and its end, and closes...
        self._arm(LINGER_SECONDS, self.transport.close)  # ... or is closed anyway

    def _write_error(self, status: int, message: str, retry: bool) -> None:
        body = message.encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            b"retry-after: 1\r\n" if retry else b"",
            b"\r\n",
        ]
        self.transport.write(b"".join(head) + body)


class PromptWebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        rejected = not self.handshake_initiated and self.conn.handshake_exc is not None
        if rejected and not self.transport.is_closing():
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()


def guarded_http_protocol(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """A protocol class for one listener: each listener counts its own connections."""

    class ListenerProtocol(GuardedHttpProtocol):
        guard = ListenerGuard(limits)

    return ListenerProtocol
