"""Execution inputs: checked against the definition's declared inputs (types, defaults, required)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from flowscope.engine.model import WorkflowDefinition

MAX_INPUT_BYTES = 1 << 20


class InputError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid inputs: " + "; ".join(problems))


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return True


def resolve_inputs(definition: WorkflowDefinition, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Given inputs plus defaults; every declared input is present (null when absent and optional)."""
    given = dict(given or {})
    problems: list[str] = []
    declared = definition.inputs
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            problems.append(f"unknown input '{name}' (declared: {known})")
    resolved: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given and given[name] is not None:
            value = given[name]
            if not _type_ok(spec.type, value):
                problems.append(f"input '{name}' must be of type {spec.type}, got {type(value).__name__}")
            resolved[name] = value
        elif spec.default is not None:
            resolved[name] = copy.deepcopy(spec.default)
        elif spec.required:
            problems.append(f"input '{name}' is required")
        else:
            resolved[name] = None
    if not problems and len(orjson.dumps(resolved, default=str)) > MAX_INPUT_BYTES:
        problems.append(f"inputs larger than {MAX_INPUT_BYTES} bytes")
    if problems:
        raise InputError(problems)
    return resolved


def parse_cli_inputs(definition: WorkflowDefinition, pairs: Iterable[str]) -> dict[str, Any]:
    """`k=v` strings to typed values per the declared type (JSON for objects/arrays)."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            problems.append(f"'{pair}' is not key=value")
            continue
        spec = definition.inputs.get(name)
        kind = spec.type if spec else "string"
        try:
            out[name] = _coerce(kind, raw)
        except ValueError:
            problems.append(f"input '{name}': '{raw}' is not a valid {kind}")
    if problems:
        raise InputError(problems)
    return out


def _coerce(kind: str, raw: str) -> Any:
    if kind == "string":
        return raw
    if kind == "integer":
        return int(raw)
    if kind == "number":
        value = float(raw)
        return int(value) if value.is_integer() and "." not in raw and "e" not in raw.lower() else value
    if kind == "boolean":
        low = raw.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ValueError(raw)
    value = json.loads(raw)
    if not _type_ok(kind, value):
        raise ValueError(raw)
    return value
