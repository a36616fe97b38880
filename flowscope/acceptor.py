"""Accepting a listener's waiting connections in batches on uvloop's loop.

uvloop (libuv) accepts one connection per turn of its event loop when several wait in the
listen queue. On a loop busy with a burst of requests a turn takes tens of milliseconds, so
connections opened together waited seconds for their turn: 1,000 clients connecting at once
and each sending an execute request got their answers over 4.1 s (p99) on uvloop, 1.6-1.8 s
on asyncio's loop (which accepts up to its backlog per turn), and 0.85-0.97 s on either once
every connection was accepted before the burst. A standalone uvloop server took 1,010 turns
and 5.1 s (5 ms turns) to accept 1,000 waiting connections, asyncio's 21 turns and 0.15 s.
With this acceptor beside uvloop's own server the burst's p99 read 1.14-1.93 s against
4.21-5.17 s without it (4 alternated pairs).

`BatchAcceptor` watches the listening socket through a descriptor of its own and, whenever
connections wait, accepts as many as the listener has room for under its connection cap, or
`batch` when that is more, handing each to the loop with the listener's protocol factory
(`connect_accepted_socket`, as the loop's own server does). The loop's own accepting stays as
it was; both take from the same queue. Room first: with 64 a turn, the connections 1,000
clients had opened just before sending an execute each were still being accepted while the
first requests ran, and the last batches' requests waited for turns of the busy loop (their
202s came in late groups of ~65, p99 1.3-1.4 s in some rounds against 0.9-1.0 s once every
connection had been accepted first).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable

log = logging.getLogger("flowscope")

# Out of descriptors or memory: waiting connections stay queued and accepting pauses this
# long (asyncio's own servers do the same) instead of failing on every turn of the loop.
RETRY_SECONDS = 1.0
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class BatchAcceptor:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        listener: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        batch: int,
        room: Callable[[], int] | None = None,
    ) -> None:
        self._loop = loop
        self._room = room  # how many more connections the listener may hold (None: no cap)
        # A descriptor of its own: an event loop watches a descriptor once, and the loop's
        # own server watches the listener's.
        self._sock = listener.dup()
        self._sock.setblocking(False)
        self._factory = protocol_factory
        self._batch = batch
        self._pending: set[asyncio.Task[object]] = set()
        self._retry: asyncio.TimerHandle | None = None
        self._closed = False
        loop.add_reader(self._sock.fileno(), self._accept)

    def _accept(self) -> None:
        limit = self._batch
        if self._room is not None:  # accepted ones still on their way to connection_made too
            limit = max(limit, self._room() - len(self._pending))
        for _ in range(limit):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # none waiting (or the loop's own server took it)
            except ConnectionAbortedError:
                continue  # reset by the client while queued
            except OSError as exc:
                if exc.errno not in _RESOURCE_ERRORS:
                    raise
                log.warning("cannot accept connections now (%s); retrying in %g s", exc, RETRY_SECONDS)
                self._loop.remove_reader(self._sock.fileno())
                self._retry = self._loop.call_later(RETRY_SECONDS, self._resume)
                return
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self._loop.create_task(self._loop.connect_accepted_socket(self._factory, conn))
            self._pending.add(task)
            task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[object]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.debug("an accepted connection failed before its protocol started: %s", exc)

    def _resume(self) -> None:
        self._retry = None
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def close(self) -> None:
        """Stop accepting (connections already accepted go on)."""
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()


__all__ = ["BatchAcceptor"]
