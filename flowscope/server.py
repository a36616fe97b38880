"""`flowscope serve`: collector, api and engine in one process on one DuckDB file, or the
part of them a node's `--role` names (README "Node roles").

This module runs the listeners and the shutdown; flowscope/compose.py builds the parts."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Generator
from dataclasses import dataclass
from functools import partial
from typing import Any

import grpc
import uvicorn
from prometheus_client import CollectorRegistry

from flowscope import compose, gc_tuning
from flowscope.acceptor import BatchAcceptor
from flowscope.api.app import create_app, create_ingest_app
from flowscope.collector.grpc_receiver import OtlpGrpcReceiver, create_server
from flowscope.collector.http_receiver import OtlpHttpReceiver
from flowscope.collector.ingest import IngestService
from flowscope.http_guard import PromptWebSocketProtocol, guarded_http_protocol
from flowscope.limits import ACCEPT_BATCH, connection_limits
from flowscope.logging_setup import configure_logging
from flowscope.settings import Settings
from flowscope.startup_errors import cannot_listen

log = logging.getLogger("flowscope")
STUCK_EXIT_STATUS = 1  # SIGTERM's drain outlived its bound: the store did not answer


def _exit_if_stuck(seconds: float) -> None:
    """Exit with STUCK_EXIT_STATUS if the process still runs `seconds` from now. A store that
    stops answering (a lake whose PostgreSQL is frozen: libpq waits without bound and DuckDB
    cannot interrupt it) holds the threads waiting on it, which the drain and the
    interpreter's exit would wait for, forever. Nothing acknowledged is lost by leaving:
    exports are answered after their commit, triggers once journaled (replayed at start)."""

    def leave() -> None:
        print(
            f"flowscope stopped without closing the store: the drain did not end within {seconds:g} s",
            file=sys.stderr, flush=True,
        )  # fmt: skip
        # Where each thread waited: what an operator (or a failing test) needs to tell which
        # part of the store stopped answering.
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        os._exit(STUCK_EXIT_STATUS)

    timer = threading.Timer(seconds, leave)
    timer.daemon = True
    timer.start()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (serve() owns SIGTERM/SIGINT for all listeners),
    whose listeners also accept waiting connections in batches (flowscope/acceptor.py)."""

    _acceptors: tuple[BatchAcceptor, ...] = ()

    def __init__(self, config: uvicorn.Config, max_connections: int) -> None:
        super().__init__(config)
        self._max_connections = max_connections  # the listener's cap (flowscope/http_guard.py)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit or not sockets:
            return
        # The factory uvicorn's startup gives its servers (a local there).
        factory = partial(
            self.config.http_protocol_class, config=self.config, server_state=self.server_state,
            app_state=self.lifespan.state,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        connections = self.server_state.connections

        def room() -> int:
            return self._max_connections - len(connections)

        self._acceptors = tuple(BatchAcceptor(loop, sock, factory, ACCEPT_BATCH, room) for sock in sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for acceptor in self._acceptors:  # stop accepting with the loop's own servers
            acceptor.close()
        await super().shutdown(sockets)


def _bind(host: str, port: int, setting: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP
    # (accepted sockets inherit it); without it every API response waited ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:  # taken, privileged, not this host's address: the user's to change
        sock.close()
        raise cannot_listen(exc, host, port, setting) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass
class _Otlp:
    """The OTLP receivers: gRPC, and OTLP/HTTP as a uvicorn server on its bound socket."""

    host: str
    grpc_server: grpc.aio.Server
    grpc_port: int
    http_server: _Server
    http_sock: socket.socket

    @property
    def http_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.http_sock.getsockname()[1]}"

    @property
    def grpc_address(self) -> str:
        return f"{_url_host(self.host)}:{self.grpc_port}"


async def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    if (unused := compose.ignored_settings(settings)) is not None:
        log.warning(unused)
    recognition = compose.recognition(settings.mapping)  # a bad mapping file: before anything opens
    limits = connection_limits(settings)
    registry = CollectorRegistry()
    serves_api = settings.role != "ingest"  # REST, UI, WebSockets, Jaeger/Grafana and the engine
    otlp_at = compose.otlp_listeners(settings)  # None: a query node whose engine exports elsewhere
    # Ports first: a busy one is reported before the database is opened (an opened store has
    # threads inside DuckDB, which abort the process if it exits under them).
    api_sock = _bind(settings.host, settings.api_port, "api_port")
    if otlp_at is not None:
        otlp_host, otlp_http_port, otlp_grpc_port = otlp_at
        http_sock = _bind(otlp_host, otlp_http_port, "otlp_http_port")
        # gRPC binds its own socket and, when that fails, logs from its C core before raising:
        # a busy port is found here first, as one clear error.
        _bind(otlp_host, otlp_grpc_port, "otlp_grpc_port").close()
    store = compose.open_store(settings, registry)
    throttle = compose.auth_throttle(settings)
    engine_token = compose.internal_token(settings)

    common: dict[str, Any] = {
        "log_level": settings.log_level.lower(),
        "access_log": False,
        "log_config": None,  # uvicorn logs through the root handler, which redacts tokens
        "ws": PromptWebSocketProtocol,
        "timeout_keep_alive": settings.idle_timeout_seconds,
        # The backlog uvicorn listens with (raised below, once started); asyncio's loop also
        # accepts that many per turn, uvloop's one (flowscope/acceptor.py takes the rest).
        "backlog": ACCEPT_BATCH,
    }
    otlp: _Otlp | None = None
    if otlp_at is not None:
        authorize = compose.authorizer(settings, store, throttle, engine_token)
        ingest = IngestService(store, recognition)
        grpc_receiver = OtlpGrpcReceiver(ingest, authorize, settings.body_timeout_seconds)
        grpc_server, grpc_port = create_server(
            grpc_receiver, otlp_host, otlp_grpc_port, settings.grpc_max_message_bytes, limits
        )
        http_receiver = OtlpHttpReceiver(ingest, authorize, settings.max_body_bytes)
        otlp_server = _Server(
            uvicorn.Config(http_receiver, lifespan="off", http=guarded_http_protocol(limits), **common),
            limits.max_connections,
        )
        otlp = _Otlp(otlp_host, grpc_server, grpc_port, otlp_server, http_sock)

    host = _url_host(settings.host)
    api_port = api_sock.getsockname()[1]
    engine_config = compose.engine_config(
        settings, otlp.http_url if otlp else "", otlp.grpc_address if otlp else "", engine_token, store
    )
    context = compose.app_context(settings, store, registry, throttle, engine_config)
    compose.start_silence_sweep(settings, store, engine_config)
    if serves_api:  # step metrics are read here
        store.start_step_warming()

    app = create_app(context) if serves_api else create_ingest_app(context)
    api_server = _Server(
        # No per-message deflate: events are ~400 bytes, and compressing each one for each of
        # 1,000 subscribers cost half the ingest throughput and doubled delivery p99.
        uvicorn.Config(
            app,
            lifespan="on",
            ws_ping_interval=20,
            ws_ping_timeout=20,
            ws_per_message_deflate=False,
            http=guarded_http_protocol(limits),
            **common,
        ),
        limits.max_connections,
    )
    # Started in this order; stopped in the reverse one (OTLP/HTTP, then the API).
    servers: list[tuple[_Server, socket.socket]] = [(api_server, api_sock)]
    if otlp is not None:
        servers.append((otlp.http_server, otlp.http_sock))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if otlp is not None:
        await otlp.grpc_server.start()
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
    while not all(server.started for server, _ in servers):
        if any(t.done() for t in tasks):
            for t in tasks:
                if t.done() and t.exception():
                    raise t.exception()  # type: ignore[misc]
            raise RuntimeError("a listener stopped during startup")
        await asyncio.sleep(0.01)
    for _, sock in servers:
        # uvicorn listened with its small accept batch as the backlog: a longer queue in
        # the kernel costs no descriptors and absorbs bursts of connections.
        sock.listen(2048)
    context.receivers_ready = True
    engine = None
    if serves_api:
        engine = await compose.start_engine(context, settings, f"http://{host}:{api_port}")

    gc_tuning.collect_less()  # startup is done: what it built stays out of every collection
    # A query node's receivers are its engine's, not the clients': the line names none.
    public = otlp if settings.role != "query" else None
    otlp_http = public.http_url if public else "none"
    otlp_grpc = public.grpc_address if public else "none"
    role = "" if settings.role == "all" else f" role={settings.role}"
    print(
        f"flowscope ready api=http://{host}:{api_port} otlp_http={otlp_http} "
        f"otlp_grpc={otlp_grpc} db={compose.store_target(settings).described()}{role}",
        flush=True,
    )
    await stop.wait()

    # Drain: stop taking new requests, let in-flight ones finish (their data is
    # committed before they are answered), then commit what is queued and close: gRPC,
    # OTLP/HTTP, then the API (/readyz answers 503 while ingest drains). Whatever the
    # clients do, it takes at most the shutdown timeout: then requests still in flight
    # are cut, unanswered (never acknowledged), and what was acknowledged is already
    # committed or queued for store.close().
    log.info("shutting down")
    deadline = loop.time() + settings.shutdown_timeout_seconds
    if store.answer_deadline_seconds is not None:  # a store that may stop answering: a lake
        # The drain's bound, then one commit's (store.close's last commit) on top.
        _exit_if_stuck(settings.shutdown_timeout_seconds + store.answer_deadline_seconds)

    def remaining() -> float:
        return max(0.1, deadline - loop.time())

    context.receivers_ready = False
    if engine is not None:
        # Feeds close (1001) and the engine stops before the receivers do, so the engine's last
        # spans are still ingested.
        for part in (context.hub.shutdown, partial(engine.shutdown, grace_seconds=0.0)):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(part(), remaining())
    if otlp is not None:
        await otlp.grpc_server.stop(grace=remaining())
    for (server, _), task in reversed(list(zip(servers, tasks, strict=True))):
        server.config.timeout_graceful_shutdown = remaining()  # type: ignore[assignment]
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
    if context.cluster is not None:  # its loop reads and writes the store
        await asyncio.to_thread(context.cluster.stop)
    await asyncio.to_thread(store.close)
    if context.intake is not None:  # after the writer's last commit: nothing is journaled now
        context.intake.close()
    print("flowscope stopped", file=sys.stderr, flush=True)
