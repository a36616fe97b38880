"""Step types. Importing this package registers the built-ins in the default registry."""

from __future__ import annotations

from flowscope.engine.actions.delay import DelayParams, delay
from flowscope.engine.actions.http import HttpParams, http_action, http_enabled
from flowscope.engine.actions.python import PythonParams, python_action, register_function
from flowscope.engine.actions.registry import (
    Action,
    ActionDisabled,
    ActionError,
    ActionRegistry,
    AnyParams,
    StepContext,
    UnknownAction,
    register_action,
    registry,
)
from flowscope.engine.actions.shell import ShellParams, shell_action, shell_enabled
from flowscope.engine.actions.sql import SqlParams, sql_action


def register_builtins(target: ActionRegistry) -> None:
    target.register("delay", delay, DelayParams)
    target.register("python", python_action, PythonParams)
    target.register("sql", sql_action, SqlParams)
    target.register("http", http_action, HttpParams, enabled=http_enabled)
    target.register("shell", shell_action, ShellParams, enabled=shell_enabled)


register_builtins(registry)

__all__ = [
    "Action",
    "ActionDisabled",
    "ActionError",
    "ActionRegistry",
    "AnyParams",
    "StepContext",
    "UnknownAction",
    "register_action",
    "register_builtins",
    "register_function",
    "registry",
]
