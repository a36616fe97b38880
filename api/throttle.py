"""Throttling of failed authentication, per client address (a token bucket each).

Every presented token that does not verify takes one unit from its client's bucket; a
bucket holds `burst` units and regains `per_minute` a minute. A client whose bucket is
empty is refused (429, or gRPC RESOURCE_EXHAUSTED) *before* its credentials are looked
at, so guessing cannot go on at the refusal rate, until a unit is back. Requests without
credentials are not guesses and do not count. Clients that never fail have no bucket,
so they are never slowed; the buckets kept are bounded (the least recently failed are
forgotten first).

The address is the client's as uvicorn reports it: the TCP peer, except that
X-Forwarded-For is honoured from the addresses in FORWARDED_ALLOW_IPS (uvicorn's default:
127.0.0.1 and ::1, i.e. a reverse proxy on the same host), so behind such a proxy each
client keeps its own bucket (and a process on the server's own host could pick its
address that way). OTLP/gRPC uses the TCP peer.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

MAX_CLIENTS = 50_000


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "too many failed authentications from this address: "
            f"retry in {retry_after_header(retry_after)} s"
        )
        self.retry_after = retry_after


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds (RFC 9110), at least 1."""
    return str(max(1, math.ceil(seconds)))


class AuthThrottle:
    def __init__(self, burst: int, per_minute: float, max_clients: int = MAX_CLIENTS) -> None:
        self.enabled = burst > 0
        self._burst = float(burst)
        self._rate = per_minute / 60.0  # units a second
        self._max_clients = max_clients
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # peer -> (units, at)

    def _units(self, peer: str, now: float) -> float | None:
        """The peer's units now, or None when its bucket is full again (then it is forgotten)."""
        entry = self._buckets.get(peer)
        if entry is None:
            return None
        units = entry[0] + (now - entry[1]) * self._rate
        if units >= self._burst:
            del self._buckets[peer]
            return None
        return units

    def check(self, peer: str | None) -> None:
        """Throttled when the peer has no unit left for another failure."""
        if not self.enabled:
            return
        peer = peer or "unknown"
        now = time.monotonic()
        with self._lock:
            units = self._units(peer, now)
        if units is not None and units < 1.0:
            raise Throttled((1.0 - units) / self._rate)

    def failed(self, peer: str | None) -> None:
        """One failed authentication by the peer."""
        if not self.enabled:
            return
        peer = peer or "unknown"
        now = time.monotonic()
        with self._lock:
            units = self._units(peer, now)
            self._buckets[peer] = (max(0.0, (self._burst if units is None else units) - 1.0), now)
            self._buckets.move_to_end(peer)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
