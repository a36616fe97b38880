"""Mutable run-time state of one execution's steps, shared by the scheduler and telemetry.

Kept free of OTel and asyncio so that telemetry can read it and tests can inspect it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowscope.engine.model import StepDefinition


def exact_bytes(data: bytes) -> bytes:
    """A copy of `data` that owns exactly its length. orjson's result keeps its whole output
    buffer (4 KiB even for `{"seconds":0}`); plans and runs keep one per step, so 10k-step
    workflows held 40 MB of empty buffer each."""
    return bytes(memoryview(data))


@dataclass(slots=True)
class AttemptRecord:
    number: int  # 1-based
    span_id: int  # pre-allocated so traceparent can be handed to the action before the span exists
    start_ns: int
    end_ns: int = 0
    status: str = "running"  # completed | failed | cancelled
    error: str | None = None
    exception: BaseException | None = None


@dataclass(slots=True)
class StepRun:
    step: StepDefinition
    index: int  # position in the definition (0-based); order attribute is index + 1
    span_id: int
    status: str = "pending"
    started_ns: int = 0
    ended_ns: int = 0
    input: Any = None  # rendered params (None until rendered)
    input_json: bytes | None = None
    output: Any = None
    output_json: bytes | None = None
    error: str | None = None
    exception: BaseException | None = None
    skip_reason: str | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    static_attrs: dict[str, Any] | None = None  # per-plan span attributes (see execution_telemetry)

    @property
    def retry_count(self) -> int:
        return max(len(self.attempts) - 1, 0)

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_ns or not self.ended_ns:
            return None
        return (self.ended_ns - self.started_ns) / 1e9

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "skipped", "cancelled")
