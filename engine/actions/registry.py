"""The registry of step types ("actions").

An action is an async function `fn(params, ctx) -> output` plus a pydantic model
of its params; validation checks a step's params against that model, and the
scheduler hands the validated model instance to `fn`. Sync functions are run in a
worker thread (with the step's trace context attached). Types resolve, in order:
names registered in this process, 'module:function' references (import allowed by
`EngineConfig.python_modules`), and the `flowscope.actions` entry-point group.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib
import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from flowscope.engine.config import EngineConfig
from flowscope.engine.telemetry import traceparent, use_traceparent
from pydantic import BaseModel, ConfigDict

ENTRY_POINT_GROUP = "flowscope.actions"
# Definition validation passes the EngineConfig to params models in pydantic's validation
# context under this key, so a model can refuse what this configuration does not allow
# (the scheduler validates rendered params without it: actions check again when they run).
CONFIG_CONTEXT_KEY = "engine_config"


class ActionError(Exception):
    """A step failure with a message meant for users (no traceback needed)."""


class UnknownAction(LookupError):
    pass


class ActionDisabled(PermissionError):
    pass


@dataclass(frozen=True)
class StepContext:
    """What an action knows about the step it runs."""

    execution_id: str
    workflow_id: str
    step_id: str
    attempt: int
    config: EngineConfig
    base_dir: Path | None = None  # directory of the workflow file, when it came from one
    trace_id: int | None = None  # None with tracing off
    span_id: int = 0  # the attempt span's id
    workspace_id: str = "default"  # whose execution: its files live in its part of the sandbox

    @property
    def traceparent(self) -> str | None:
        """W3C trace context of the attempt span, for code and services the step calls."""
        return traceparent(self.trace_id, self.span_id) if self.trace_id else None


class AnyParams(BaseModel):
    """Params model for actions that take arbitrary JSON."""

    model_config = ConfigDict(extra="allow")


ActionFunc = Callable[[Any, StepContext], Awaitable[Any]]
# Returns None when the action may run under this config, else the reason it may not.
EnabledCheck = Callable[[EngineConfig], str | None]


@dataclass(frozen=True)
class Action:
    name: str
    fn: ActionFunc
    params_model: type[BaseModel]
    enabled: EnabledCheck | None = None

    def disabled_reason(self, config: EngineConfig) -> str | None:
        return self.enabled(config) if self.enabled else None


def is_async_callable(fn: Any) -> bool:
    """Coroutine functions, including objects with an `async def __call__`."""
    call = type(fn).__call__ if not inspect.isfunction(fn) and callable(fn) else None
    return inspect.iscoroutinefunction(fn) or (call is not None and inspect.iscoroutinefunction(call))


def _as_async(fn: Callable[..., Any]) -> ActionFunc:
    if is_async_callable(fn):
        return fn

    async def run_in_thread(params: Any, ctx: StepContext) -> Any:
        return await run_sync(fn, params, ctx, traceparent=ctx.traceparent)

    return run_in_thread


async def run_sync(fn: Callable[..., Any], *args: Any, traceparent: str | None = None, **kwargs: Any) -> Any:
    """Run a blocking callable in a thread, with the attempt's trace context current there."""

    def call() -> Any:
        with use_traceparent(traceparent):
            return fn(*args, **kwargs)

    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(None, functools.partial(ctx.run, call))


class ActionRegistry:
    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}
        self._entry_points_loaded = False
        self._lock = threading.Lock()

    def register(
        self,
        name: str,
        fn: Callable[..., Any],
        params_model: type[BaseModel] | None = None,
        *,
        enabled: EnabledCheck | None = None,
    ) -> Action:
        action = Action(name, _as_async(fn), params_model or AnyParams, enabled)
        with self._lock:
            self._actions[name] = action
        return action

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._actions)

    def resolve(self, type_name: str, config: EngineConfig) -> Action:
        """The action for `type_name`; raises UnknownAction / ActionDisabled with a clear message."""
        action = self._actions.get(type_name)
        if action is None:
            self._load_entry_points()
            action = self._actions.get(type_name)
        if action is None and ":" in type_name:
            action = self._import(type_name, config)
        if action is None:
            known = ", ".join(self.names())
            raise UnknownAction(f"unknown action type '{type_name}' (known: {known})")
        reason = action.disabled_reason(config)
        if reason:
            raise ActionDisabled(f"action '{type_name}' is disabled: {reason}")
        return action

    def _import(self, ref: str, config: EngineConfig) -> Action:
        module = ref.partition(":")[0]
        if not config.python_module_allowed(module):
            raise ActionDisabled(
                f"action '{ref}' is disabled: module '{module}' is not allowed (EngineConfig.python_modules)"
            )
        fn = import_callable(ref)
        return Action(ref, _as_async(fn), getattr(fn, "params_model", None) or AnyParams)

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self._actions:
                continue
            target = ep.load()
            if isinstance(target, Action):
                self._actions[ep.name] = target
            else:
                self.register(ep.name, target, getattr(target, "params_model", None))


def import_callable(ref: str) -> Callable[..., Any]:
    """The function `ref` ('module:function') names, which must be a plain function defined in
    that module itself: no dotted path through other objects, no class, builtin, lambda, alias
    or re-export. An allowed module imports others (shutil, os, ...); following attributes
    from it would reach all of them (`engine.examples:shutil.os.system`)."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise UnknownAction(f"'{ref}' is not a 'module:function' reference")
    if "." in attr:
        raise UnknownAction(f"'{ref}': name a function of module '{module_name}' itself (no dotted path)")
    if attr.startswith("_"):
        raise UnknownAction(f"'{ref}': private names cannot be referenced")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownAction(f"cannot import module '{module_name}': {exc}") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise UnknownAction(f"module '{module_name}' has no attribute '{attr}'")
    if not inspect.isfunction(obj):
        raise UnknownAction(f"'{ref}' is not a function (classes, builtins and objects cannot be called)")
    if obj.__module__ != module.__name__ or obj.__qualname__ != attr:
        raise UnknownAction(
            f"'{ref}' is not a function defined in module '{module_name}' (it is "
            f"'{obj.__module__}:{obj.__qualname__}'; imported names cannot be referenced)"
        )
    return obj  # type: ignore[no-any-return]


registry = ActionRegistry()


def register_action(
    name: str,
    fn: Callable[..., Any],
    params_model: type[BaseModel] | None = None,
    *,
    enabled: EnabledCheck | None = None,
) -> Action:
    """Register a step type in the default registry. `fn(params, ctx)` may be sync or async."""
    return registry.register(name, fn, params_model, enabled=enabled)
