"""`python`: call a registered function or an allow-listed 'module:function' with kwargs.

Sync functions run in a worker thread (so they cannot stall other steps) with the
attempt span as the current OTel context: spans they create join the execution's
trace. Async functions run on the loop. The return value is the step's output.
A thread cannot be killed, so a timed-out or cancelled sync call is abandoned
(the step ends at once; the thread finishes in the background).

`callable` is checked when a definition is validated (the validator passes the engine
config as pydantic context) and again when the step runs, since a templated value is
known only then: a registered name, or a function defined in an allowed module itself
(see `import_callable`). While the function runs, `current_step()` is its StepContext,
so helpers such as engine.examples know the sandbox they may use.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

from flowscope.engine.actions.registry import (
    CONFIG_CONTEXT_KEY,
    ActionError,
    StepContext,
    UnknownAction,
    import_callable,
    is_async_callable,
    run_sync,
)
from flowscope.engine.telemetry import use_traceparent
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

_functions: dict[str, Callable[..., Any]] = {}
_lock = threading.Lock()
_current_step: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar(
    "flowscope_python_step", default=None
)


def register_function(name: str, fn: Callable[..., Any]) -> None:
    """Make `fn` callable from workflows as `{"callable": name}` (always allowed)."""
    with _lock:
        _functions[name] = fn


class PythonParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    callable: str = Field(
        ..., min_length=1, max_length=512, description="Registered name or 'module:function'."
    )
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")

    @field_validator("callable")
    @classmethod
    def _callable_allowed(cls, value: str, info: ValidationInfo) -> str:
        config = (info.context or {}).get(CONFIG_CONTEXT_KEY)
        if config is not None:
            try:
                resolve_function(value, config)
            except ActionError as exc:
                raise PydanticCustomError("callable_not_allowed", str(exc)) from None
        return value


def current_step() -> StepContext | None:
    """The step whose python function is running in this thread/task (None elsewhere)."""
    return _current_step.get()


# Module paths from before the code moved under the one `flowscope` package: definitions
# stored by earlier versions name them, and keep working.
_MOVED_MODULES = {"engine.examples": "flowscope.engine.examples"}


def _current_module_path(ref: str) -> str:
    module, sep, name = ref.partition(":")
    return f"{_MOVED_MODULES.get(module, module)}{sep}{name}"


def resolve_function(ref: str, ctx_config: Any) -> Callable[..., Any]:
    ref = _current_module_path(ref)
    fn = _functions.get(ref)
    if fn is not None:
        return fn
    if ":" not in ref:
        raise ActionError(f"no registered function named '{ref}'")
    module = ref.partition(":")[0]
    if not ctx_config.python_module_allowed(module):
        raise ActionError(f"module '{module}' is not allowed (EngineConfig.python_modules)")
    try:
        return import_callable(ref)
    except UnknownAction as exc:
        raise ActionError(str(exc)) from None


async def python_action(params: PythonParams, ctx: StepContext) -> Any:
    fn = resolve_function(params.callable, ctx.config)
    token = _current_step.set(ctx)  # run_sync copies the context, so the worker thread sees it
    try:
        if is_async_callable(fn):
            with use_traceparent(ctx.traceparent):
                return await fn(**params.kwargs)
        return await run_sync(fn, traceparent=ctx.traceparent, **params.kwargs)
    finally:
        _current_step.reset(token)
