"""No token reaches the log; REST refuses `?token=` (issue 15, finding 14).

At --log-level info uvicorn logged each WebSocket URL with its `?token=fst_…`. Every log
line now goes through one redacting handler. Only WebSockets take the token in the URL.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from flowscope.api.auth import create_token
from flowscope.storage.duckdb.store import Store
from websockets.exceptions import ConnectionClosed

from flowscope.logging_setup import redact
from tests.support.server import start_server
from tests.ws.support import open_feed, ws_url


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            '127.0.0.1:5 - "WebSocket /ws/workflows/w?token=fst_AbC-9_x&since=1" [accepted]',
            '127.0.0.1:5 - "WebSocket /ws/workflows/w?token=[REDACTED]&since=1" [accepted]',
        ),
        ("GET /x?a=1&access_token=s3cr3t HTTP/1.1", "GET /x?a=1&access_token=[REDACTED] HTTP/1.1"),
        ("headers: {'authorization': 'Bearer abc.def'}", "headers: {'authorization': 'Bearer [REDACTED]'}"),
        ("ValueError: bad credential fsi_internal-Secret_1", "ValueError: bad credential fsi_[REDACTED]"),
        ("no secrets here: tokens=3, token bucket", "no secrets here: tokens=3, token bucket"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


async def _subscribe(url: str) -> str:
    """Open a feed and return how it went: 'open', or the close code and reason."""
    async with open_feed(url) as conn:
        try:
            await asyncio.wait_for(conn.recv(), 1)
        except TimeoutError:
            return "open"
        except ConnectionClosed as exc:
            return f"{exc.rcvd.code if exc.rcvd else None} {exc.rcvd.reason if exc.rcvd else ''}"
    return "open"


def test_tokens_never_reach_the_log_and_rest_refuses_them_in_the_url(tmp_path: Path) -> None:
    db = tmp_path / "flowscope.duckdb"
    store = Store(db)  # the token is made on the file before serve (one process per file)
    secret, _ = create_token(store.catalog, "default", "viewer")
    store.close()
    bogus = "fst_" + uuid.uuid4().hex
    server = start_server(db, "--auth", "token", "--log-level", "debug")
    try:
        feed = ws_url(server.api, f"/ws/workflows/{uuid.uuid4().hex}")
        assert asyncio.run(_subscribe(f"{feed}?token={secret}")) == "open"
        assert asyncio.run(_subscribe(f"{feed}?token={bogus}")).startswith("1008")

        by_query = httpx.get(f"{server.api}/api/workflows", params={"token": secret}, timeout=30)
        assert by_query.status_code == 401
        assert by_query.json()["detail"] == (
            "the 'token' query parameter is accepted on WebSocket endpoints only: "
            "send 'Authorization: Bearer <token>'"
        )
        by_header = httpx.get(
            f"{server.api}/api/workflows", headers={"Authorization": f"Bearer {secret}"}, timeout=30
        )
        assert by_header.status_code == 200
    finally:
        assert server.terminate() == 0
    log = server.log
    assert "token=[REDACTED]" in log  # the WebSocket lines were written, redacted
    assert secret not in log and secret[4:] not in log
    assert bogus not in log and bogus[4:] not in log
