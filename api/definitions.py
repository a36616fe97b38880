"""Workflow definition validation for the API: the engine's validator, every problem
reported in one 422 with its location (FastAPI's error shape, plus the engine's
`location` string such as `steps[2].depends_on[0]`)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException
from flowscope.api.context import AppContext

_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _loc(location: str) -> list[str | int]:
    """`steps[2].depends_on[0]` -> ["steps", 2, "depends_on", 0]."""
    return [int(idx) if idx else name for name, idx in _PART.findall(location)]


def validate_or_422(context: AppContext, data: Any, prefix: tuple[str, ...] = ("body", "definition")) -> Any:
    """The engine's definition model for `data`, or a 422 listing every problem."""
    if context.engine is not None:
        model, problems = context.engine.validate(data)  # its config decides which actions are enabled
    else:
        from flowscope.engine.validation import validate_definition

        # Before the engine runs: the config it will run with.
        model, problems = validate_definition(data, config=context.engine_config)
    if model is None:
        raise problems_422(problems, prefix)
    return model


def problems_422(problems: list[Any], prefix: tuple[str, ...] = ("body", "definition")) -> HTTPException:
    """The 422 listing every definition problem (`engine.validation.ValidationProblem`)."""
    return HTTPException(
        422,
        [
            {
                "loc": [*prefix, *_loc(p.location)],
                "location": p.location,
                "msg": p.message,
                "type": f"workflow_definition.{p.kind}",
            }
            for p in problems
        ],
    )
