"""What the emitters' end-to-end tests share: polling the real server until it says something."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.support.server import RunningServer


def until(read: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 30) -> Any:
    """`read()` again until `done` holds of its value (returned), or fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r}")
        time.sleep(0.05)


def answer(server: RunningServer, path: str) -> Any:
    """GET `path`: its JSON when 200, else the status code."""
    response = server.get(path)
    return response.json() if response.status_code == 200 else response.status_code
