"""How long a client may take, and how many connections a listener holds (issue 15, finding 7).

One `ConnectionLimits` per process, applied to all three listeners (API, OTLP/HTTP,
OTLP/gRPC). The connection cap is also bounded by the file descriptor limit, so that
sockets alone can never make the process hit EMFILE: that would stop every listener,
/healthz included, and DuckDB with them.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from flowscope.settings import Settings

log = logging.getLogger("flowscope")

LISTENERS = 3  # API, OTLP/HTTP, OTLP/gRPC
# Each HTTP listener accepts the waiting connections it has room for under its cap, or up to
# ACCEPT_BATCH when that is more, per event-loop turn (flowscope/acceptor.py), plus one that
# uvloop's own server takes, before any of them runs, and a connection closed to make room
# frees its descriptor one turn later: each HTTP listener can briefly hold two turns' worth
# of ACCEPT_BATCH beyond its cap.
ACCEPT_BATCH = 64
PER_TURN = ACCEPT_BATCH + 1
# Refused connections linger up to a second so the client can read its 503 (see
# flowscope/http_guard.py); at most this many per HTTP listener.
MAX_LINGERING = 32
# The process itself: DuckDB files, pipes, the engine's and step actions' sockets, gRPC's
# pollers (about 20 at rest; generous, because running out is what this prevents).
PROCESS_FDS = 128
FD_RESERVE = PROCESS_FDS + 2 * (2 * PER_TURN + MAX_LINGERING)
# Never fewer than this per listener, even under an absurdly low descriptor limit.
MIN_CONNECTIONS = 16


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float  # connection open / first byte of a request -> its complete head
    body_timeout: float  # complete head -> complete body (gRPC: the request message)
    idle_timeout: float  # between requests on a kept-alive connection
    max_connections: int  # per listener, after the descriptor budget


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:  # e.g. macOS caps the soft limit at OPEN_MAX
            log.warning("could not raise the open files limit from %d to %d: %s", soft, target, exc)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connections_per_listener(requested: int, open_files: int) -> int:
    """`requested`, lowered when the descriptor limit cannot hold that many on every listener."""
    budget = max(MIN_CONNECTIONS, (open_files - FD_RESERVE) // LISTENERS)
    if budget < requested:
        log.warning(
            "open files limit %d allows %d connections per listener, not %d: "
            "raise the limit (ulimit -n) to accept more",
            open_files, budget, requested,
        )  # fmt: skip
        return budget
    return requested


def connection_limits(settings: Settings) -> ConnectionLimits:
    open_files = raise_open_files_limit()
    return ConnectionLimits(
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        idle_timeout=settings.idle_timeout_seconds,
        max_connections=connections_per_listener(settings.max_connections, open_files),
    )
