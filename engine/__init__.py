"""Flowscope workflow engine: JSON-defined DAG workflows, every execution a trace.

Submodules import lazily-heavy things (OTel exporters, duckdb, httpx) only when
used, so `import engine` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DefinitionError",
    "Engine",
    "EngineConfig",
    "ExecutionHandle",
    "ExecutionResult",
    "InputError",
    "StepResult",
    "TelemetryConfig",
    "ValidationProblem",
    "WorkflowDefinition",
    "register_action",
    "register_function",
    "validate_definition",
]

_WHERE = {
    "DefinitionError": "flowscope.engine.validation",
    "Engine": "flowscope.engine.engine",
    "EngineConfig": "flowscope.engine.config",
    "ExecutionHandle": "flowscope.engine.results",
    "ExecutionResult": "flowscope.engine.results",
    "InputError": "flowscope.engine.inputs",
    "StepResult": "flowscope.engine.results",
    "TelemetryConfig": "flowscope.engine.telemetry",
    "ValidationProblem": "flowscope.engine.validation",
    "WorkflowDefinition": "flowscope.engine.model",
    "register_action": "flowscope.engine.actions",
    "register_function": "flowscope.engine.actions",
    "validate_definition": "flowscope.engine.validation",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
