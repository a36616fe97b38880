"""`delay`: sleep, optionally with jitter and random failure (demos, chaos tests, no-op steps)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from flowscope.engine.actions.registry import ActionError, StepContext
from pydantic import BaseModel, ConfigDict, Field


class DelayParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(0.0, ge=0, le=86_400, description="How long to sleep; 0 returns at once.")
    jitter: float = Field(0.0, ge=0, le=3600, description="Extra uniform(0, jitter) seconds.")
    fail_probability: float = Field(0.0, ge=0, le=1, description="Chance that the attempt fails.")
    fail_message: str = Field("Simulated failure", max_length=1000)
    output: Any = Field(None, description="Output of the step (default: {'slept_seconds': ...}).")


async def delay(params: DelayParams, ctx: StepContext) -> Any:
    seconds = params.seconds + (random.uniform(0, params.jitter) if params.jitter else 0.0)
    if seconds > 0:
        await asyncio.sleep(seconds)
    if params.fail_probability and random.random() < params.fail_probability:
        raise ActionError(params.fail_message)
    if params.output is not None:
        return params.output
    return {"slept_seconds": round(seconds, 6)}
