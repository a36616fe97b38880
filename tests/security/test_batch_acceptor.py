"""flowscope/acceptor.py: connections waiting in a listener's queue are accepted in batches on
the serving loop (uvloop's), not one per turn of the loop, and closing it leaves nothing
listening. Real sockets on 127.0.0.1 and the loop `flowscope serve` runs on; the loop's turns
are counted, not timed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from flowscope import event_loops
from flowscope.acceptor import BatchAcceptor
from flowscope.limits import ACCEPT_BATCH

WAITING = 300
# Turns to accept WAITING connections in batches of ACCEPT_BATCH, plus the turns a connection
# takes from accepted to connection_made; one per turn would need WAITING.
TURNS_ALLOWED = WAITING // ACCEPT_BATCH + 6
TURNS_FOR_ONE_BATCH = 4  # measured 3: accepted, then connection_made; one spare


class _Recorder(asyncio.Protocol):
    made: list[asyncio.Transport]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.append(transport)  # type: ignore[arg-type]


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2 * WAITING)
    sock.setblocking(False)
    return sock


async def _accept_waiting(with_acceptor: bool, room: Callable[[], int] | None = None) -> int:
    """Turns of the loop until WAITING queued connections are made (the loop's own server,
    as uvicorn starts it, with or without a BatchAcceptor beside it, whose listener has `room`
    for more); 0 when they were not all made within 4 x WAITING turns."""
    loop = asyncio.get_running_loop()
    made: list[asyncio.Transport] = []
    recorder = type("Recorder", (_Recorder,), {"made": made})
    listener = _listener()
    server = await loop.create_server(recorder, sock=listener, backlog=ACCEPT_BATCH)
    listener.listen(2 * WAITING)  # as flowscope/server.py does once uvicorn listens
    acceptor = BatchAcceptor(loop, listener, recorder, ACCEPT_BATCH, room) if with_acceptor else None
    address = listener.getsockname()
    # Connected by the kernel while this loop does not run: they wait in the listen queue.
    clients = [socket.create_connection(address, timeout=5) for _ in range(WAITING)]
    try:
        turns = 0
        while len(made) < WAITING and turns < 4 * WAITING:
            await asyncio.sleep(0)
            turns += 1
        assert len({t.get_extra_info("peername") for t in made}) == len(made)  # each once
        return turns if len(made) == WAITING else 0
    finally:
        for client in clients:
            client.close()
        for transport in made:
            transport.close()
        if acceptor is not None:
            acceptor.close()
        server.close()
        await server.wait_closed()
        listener.close()


def test_uvloop_alone_accepts_one_waiting_connection_per_turn() -> None:
    """Why the acceptor exists: without it the serving loop needs a turn per connection."""
    turns = event_loops.run(_accept_waiting(with_acceptor=False))
    assert turns == 0 or turns >= WAITING


def test_waiting_connections_are_accepted_in_batches() -> None:
    turns = event_loops.run(_accept_waiting(with_acceptor=True))
    assert 0 < turns <= TURNS_ALLOWED


def test_waiting_connections_the_listener_has_room_for_are_accepted_in_one_turn() -> None:
    """All of them at once when under the cap; in batches of ACCEPT_BATCH beyond it (where
    each closes an idle connection or is refused: the descriptors that costs stay bounded)."""
    roomy = event_loops.run(_accept_waiting(with_acceptor=True, room=lambda: 10 * WAITING))
    full = event_loops.run(_accept_waiting(with_acceptor=True, room=lambda: 0))
    assert 0 < roomy <= TURNS_FOR_ONE_BATCH < WAITING // ACCEPT_BATCH + 1 <= full <= TURNS_ALLOWED


def test_closed_acceptor_leaves_nothing_listening() -> None:
    """Its descriptor is a duplicate of the listener's: left open, the port would still take
    connections after the server closed its own."""

    async def closed_port() -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        listener = _listener()
        server = await loop.create_server(asyncio.Protocol, sock=listener)
        acceptor = BatchAcceptor(loop, listener, asyncio.Protocol, ACCEPT_BATCH)
        address = listener.getsockname()
        acceptor.close()
        acceptor.close()  # idempotent
        server.close()
        await server.wait_closed()
        listener.close()
        return address

    address = event_loops.run(closed_port())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()
