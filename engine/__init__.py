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
    "DefinitionError": "engine.validation",
    "Engine": "engine.engine",
    "EngineConfig": "engine.config",
    "ExecutionHandle": "engine.results",
    "ExecutionResult": "engine.results",
    "InputError": "engine.inputs",
    "StepResult": "engine.results",
    "TelemetryConfig": "engine.telemetry",
    "ValidationProblem": "engine.validation",
    "WorkflowDefinition": "engine.model",
    "register_action": "engine.actions",
    "register_function": "engine.actions",
    "validate_definition": "engine.validation",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
