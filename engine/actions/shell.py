"""`shell`: run a command (off unless `EngineConfig.enable_shell`).

The command runs in its own session/process group, so a timeout or cancellation
kills the whole tree (SIGTERM, then SIGKILL after a grace period), not just the
shell. A non-zero exit status fails the step. stdout/stderr are captured (capped).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

from flowscope.engine.actions.registry import ActionError, StepContext
from flowscope.engine.config import EngineConfig
from pydantic import BaseModel, ConfigDict, Field

_MAX_CAPTURE = 64 * 1024


class ShellParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str | list[str] = Field(..., description="A string runs via /bin/sh -c; a list runs directly.")
    cwd: str | None = Field(None, max_length=4096, description="Working directory (relative: to the file).")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")


def shell_enabled(config: EngineConfig) -> str | None:
    return None if config.enable_shell else "shell steps are off (enable them with --enable-shell)"


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _drain(stream: asyncio.StreamReader | None) -> bytes:
    """Read everything (so the child never blocks on a full pipe), keep the last bytes."""
    if stream is None:
        return b""
    kept = b""
    while chunk := await stream.read(65536):
        kept = (kept + chunk)[-_MAX_CAPTURE:]
    return kept


async def shell_action(params: ShellParams, ctx: StepContext) -> Any:
    cwd = Path(params.cwd) if params.cwd else ctx.base_dir
    if cwd is not None and not cwd.is_absolute() and ctx.base_dir is not None:
        cwd = ctx.base_dir / cwd
    env = {**os.environ, **params.env}
    if ctx.traceparent:
        env["TRACEPARENT"] = ctx.traceparent  # the env-var carrier OTel SDKs read
    kwargs: dict[str, Any] = {
        "stdout": asyncio.subprocess.PIPE, "stderr": asyncio.subprocess.PIPE,
        "stdin": asyncio.subprocess.DEVNULL, "cwd": cwd, "env": env, "start_new_session": True,
    }  # fmt: skip
    if isinstance(params.command, str):
        proc = await asyncio.create_subprocess_shell(params.command, **kwargs)
    else:
        if not params.command:
            raise ActionError("empty command")
        proc = await asyncio.create_subprocess_exec(*params.command, **kwargs)
    readers = asyncio.gather(_drain(proc.stdout), _drain(proc.stderr))
    try:
        stdout, stderr = await readers
        code = await proc.wait()
    except BaseException:
        # Timeout or cancellation: take down the whole process group, then reap.
        _kill_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(proc.wait()), ctx.config.shell_kill_grace_seconds)
        _kill_group(proc.pid, signal.SIGKILL)
        readers.cancel()
        raise
    out = {
        "returncode": code,
        "stdout": stdout.decode(errors="replace"),
        "stderr": stderr.decode(errors="replace"),
    }
    if code != 0:
        tail = out["stderr"].strip().splitlines()[-1:] or [""]
        raise ActionError(f"command exited with status {code}" + (f": {tail[0][:500]}" if tail[0] else ""))
    return out
