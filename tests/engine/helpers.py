"""Functions workflows in the tests call through the python action."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from pydantic import BaseModel


def current_trace() -> dict[str, Any]:
    """The OTel context the step's code runs in (it should be the attempt span)."""
    ctx = trace.get_current_span().get_span_context()
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


async def current_trace_async() -> dict[str, Any]:
    return current_trace()


def add(a: int, b: int) -> int:
    return a + b


class AddParams(BaseModel):
    a: int
    b: int


def add_action(params: AddParams, ctx: Any) -> dict[str, int]:
    """A plugin-style action: (params model instance, step context) -> output."""
    return {"sum": params.a + params.b}


add_action.params_model = AddParams  # type: ignore[attr-defined]
