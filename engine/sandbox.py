"""Out-of-process CEL evaluation with a hard time and memory limit.

The Rust CEL evaluator holds the GIL and deep-copies values, so an expression such
as a nested `map` over a large list can run for minutes or allocate gigabytes, and
no thread-based timeout can stop it. Expressions that *might* be expensive are
therefore evaluated in a child process that we can kill: it runs with an address
space limit, and a request that does not answer within the timeout gets the
process killed (a fresh one is started for the next request).

This file is also the child's entry point (`python -I sandbox.py`), so it imports
only `cel` and the standard library at module level.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any


def to_json_value(value: Any) -> Any:
    """Convert a CEL result to plain JSON data (CEL has bytes, timestamps, durations)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    has_value = getattr(value, "has_value", None)  # cel.OptionalValue
    if callable(has_value):
        return to_json_value(value.value()) if has_value() else None
    return str(value)


def _worker_main() -> None:
    import resource

    import cel

    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    max_result = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
    sys.stdout.write("ready\n")  # startup (interpreter + imports) is not part of any expression's budget
    sys.stdout.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            value = to_json_value(cel.evaluate(request["source"], request["names"]))
            reply = json.dumps({"ok": True, "value": value})
            if len(reply) > max_result:
                reply = json.dumps({"ok": False, "error": f"result larger than {max_result} bytes"})
        except MemoryError:
            reply = json.dumps({"ok": False, "error": "expression exceeded the memory limit"})
        except Exception as exc:
            reply = json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


_STARTUP_TIMEOUT_S = 30.0


class SandboxError(Exception):
    pass


class Sandbox:
    """One lazily started worker process; requests are serialized (they are rare)."""

    def __init__(self, *, memory_bytes: int, max_result_bytes: int) -> None:
        self._memory_bytes = memory_bytes
        self._max_result_bytes = max_result_bytes
        self._proc: asyncio.subprocess.Process | None = None
        self._lock: asyncio.Lock | None = None
        self._reaping: set[asyncio.Future[int]] = set()

    async def evaluate(self, source: str, names: dict[str, Any], timeout: float) -> Any:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            proc = await self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            payload = json.dumps({"source": source, "names": names}) + "\n"
            try:
                proc.stdin.write(payload.encode())
                await asyncio.wait_for(proc.stdin.drain(), timeout)
                line = await asyncio.wait_for(proc.stdout.readline(), timeout)
            except TimeoutError:
                self._kill()
                raise SandboxError(f"expression evaluation exceeded {timeout:g}s") from None
            except (ValueError, asyncio.LimitOverrunError, ConnectionError, BrokenPipeError) as exc:
                self._kill()
                raise SandboxError(f"expression sandbox failed: {exc}") from None
            except BaseException:
                # Cancelled mid-request: the worker may still be busy, so it cannot be reused.
                self._kill()
                raise
            if not line:
                self._kill()
                raise SandboxError("expression sandbox died (memory limit exceeded?)")
            reply = json.loads(line)
            if not reply["ok"]:
                raise SandboxError(reply["error"])
            return reply["value"]

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self._proc is None or self._proc.returncode is not None:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                str(Path(__file__).resolve()),
                str(self._memory_bytes),
                str(self._max_result_bytes),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                limit=self._max_result_bytes + 4096,
            )
            self._proc = proc
            assert proc.stdout is not None
            try:
                ready = await asyncio.wait_for(proc.stdout.readline(), _STARTUP_TIMEOUT_S)
            except TimeoutError:
                ready = b""
            except BaseException:  # cancelled while starting: never reuse a half-started worker
                self._kill()
                raise
            if ready.strip() != b"ready":
                self._kill()
                raise SandboxError("expression sandbox did not start")
        return self._proc

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        if proc.stdin is not None:
            proc.stdin.close()  # lets the transport close once the process is reaped
        reap = asyncio.ensure_future(proc.wait())
        self._reaping.add(reap)
        reap.add_done_callback(self._reaping.discard)

    async def close(self) -> None:
        if self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 1.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()


if __name__ == "__main__":
    _worker_main()
