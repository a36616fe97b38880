"""Definition validation that reports every problem at once, each with its location.

Order of work: a cheap iterative size/depth scan first (so hostile input is
rejected before anything expensive), then the pydantic model (all its errors),
then graph and semantic checks on whatever parts are well-formed enough: unknown
and duplicate ids, cycles (named `a -> b -> a`), unknown or disabled actions,
params the action's model rejects (models see the EngineConfig as validation context,
so a `python` callable this configuration does not allow is a problem here),
expressions that do not compile, and expressions that use unknown names or steps
that are not upstream.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowscope.engine.actions import ActionDisabled, ActionRegistry, UnknownAction
from flowscope.engine.actions import registry as default_registry
from flowscope.engine.actions.registry import CONFIG_CONTEXT_KEY
from flowscope.engine.config import EngineConfig
from flowscope.engine.expressions import Expression, ExpressionError, compile_expression
from flowscope.engine.graph import ancestor_sets, find_cycles
from flowscope.engine.model import WorkflowDefinition
from flowscope.engine.templates import compile_template_string, iter_template_strings
from pydantic import BaseModel, ValidationError

MAX_FILE_BYTES = 10 << 20
MAX_DEPTH = 32
MAX_NODES = 500_000
MAX_STRING_LENGTH = 200_000
MAX_PROBLEMS = 1_000
MAX_HINTS = 20  # "did you mean" suggestions per validation
_JSON_TYPES = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,),
}  # fmt: skip


@dataclass(frozen=True)
class ValidationProblem:
    location: str  # e.g. "steps[2].depends_on[0]" ("" for the document itself)
    message: str
    kind: str  # schema | too_large | duplicate_id | unknown_step | cycle | unknown_action |
    # action_disabled | invalid_params | invalid_expression | unknown_name | not_upstream | invalid_json

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class DefinitionError(ValueError):
    """Raised by APIs that need a valid definition; carries every problem."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        self.problems = problems
        super().__init__("invalid workflow definition:\n" + "\n".join(f"  {p}" for p in problems))


def format_loc(loc: tuple[Any, ...] | list[Any], prefix: str = "") -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_definition_file(path: str | Path) -> tuple[Any, list[ValidationProblem]]:
    """Parse a JSON file with a size cap; problems instead of exceptions."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            return None, [ValidationProblem("", f"file larger than {MAX_FILE_BYTES} bytes", "too_large")]
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ValidationProblem("", f"cannot read {p}: {exc}", "invalid_json")]
    try:
        return json.loads(text), []
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f"line {exc.lineno} column {exc.colno}: " if isinstance(exc, json.JSONDecodeError) else ""
        return None, [ValidationProblem("", f"invalid JSON: {where}{exc}", "invalid_json")]


def _scan_size(data: Any) -> list[ValidationProblem]:
    """Iterative walk (no recursion, so deep nesting cannot blow the stack)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return [ValidationProblem("", f"definition has more than {MAX_NODES} values", "too_large")]
        if depth > MAX_DEPTH:
            return [ValidationProblem("", f"definition nested deeper than {MAX_DEPTH} levels", "too_large")]
        if isinstance(item, str):
            if len(item) > MAX_STRING_LENGTH:
                return [
                    ValidationProblem(
                        "", f"a string is longer than {MAX_STRING_LENGTH} characters", "too_large"
                    )
                ]
        elif isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str) or len(k) > 1024:
                    return [
                        ValidationProblem(
                            "", "object keys must be strings of at most 1024 chars", "too_large"
                        )
                    ]
                stack.append((v, depth + 1))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return []


class _Checker:
    def __init__(self, data: dict[str, Any], config: EngineConfig, registry: ActionRegistry) -> None:
        self.data = data
        self.config = config
        self.registry = registry
        self.problems: list[ValidationProblem] = []
        raw_steps = data.get("steps")
        self.steps: list[Any] = raw_steps if isinstance(raw_steps, list) else []
        raw_inputs = data.get("inputs")
        self.input_names = set(raw_inputs) if isinstance(raw_inputs, dict) else set()
        self.ids: dict[str, int] = {}
        self.allowed_names = self.input_names | {"inputs", "steps"}
        self._hints_left = MAX_HINTS

    def hint(self, word: str, candidates: Any) -> str:
        """" (did you mean 'x'?)" for the first MAX_HINTS problems only: difflib is slow over
        many candidates, and thousands of unknown names would otherwise take minutes."""
        if self._hints_left <= 0:
            return ""
        self._hints_left -= 1
        found = difflib.get_close_matches(word, sorted(candidates), n=1)
        return f" (did you mean '{found[0]}'?)" if found else ""

    def add(self, location: str, message: str, kind: str) -> None:
        self.problems.append(ValidationProblem(location, message, kind))

    def run(self) -> None:
        self._inputs()
        self._ids()
        deps = self._depends_on()
        cyclic = self._cycles(deps)
        ancestors = ancestor_sets(deps, len(self.steps)) if not cyclic else None
        for i, step in enumerate(self.steps):
            if isinstance(step, dict):
                self._step(i, step, ancestors)

    def _inputs(self) -> None:
        raw = self.data.get("inputs")
        if not isinstance(raw, dict):
            return
        for name, spec in raw.items():
            if not isinstance(spec, dict) or spec.get("default") is None:
                continue
            kind = spec.get("type", "string")
            types = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
            value = spec["default"]
            if types and (not isinstance(value, types) or (isinstance(value, bool) and kind != "boolean")):
                self.add(f"inputs.{name}.default", f"default must be of type {kind}", "schema")

    def _ids(self) -> None:
        for i, step in enumerate(self.steps):
            sid = step.get("id") if isinstance(step, dict) else None
            if not isinstance(sid, str):
                continue
            if sid in self.ids:
                self.add(f"steps[{i}].id", f"duplicate step id '{sid}' (also steps[{self.ids[sid]}])",
                         "duplicate_id")  # fmt: skip
            else:
                self.ids[sid] = i

    def _depends_on(self) -> list[list[int]]:
        deps: list[list[int]] = [[] for _ in self.steps]
        for i, step in enumerate(self.steps):
            raw = step.get("depends_on") if isinstance(step, dict) else None
            if not isinstance(raw, list):
                continue
            for j, dep in enumerate(raw):
                if not isinstance(dep, str):
                    continue
                loc = f"steps[{i}].depends_on[{j}]"
                if dep not in self.ids:
                    self.add(loc, f"unknown step '{dep}'{self.hint(dep, self.ids)}", "unknown_step")
                elif self.ids[dep] == i:
                    self.add(loc, "a step cannot depend on itself", "cycle")
                else:
                    deps[i].append(self.ids[dep])
        return deps

    def _cycles(self, deps: list[list[int]]) -> bool:
        cycles = find_cycles(deps)
        for cycle in cycles:
            names = [self.steps[k]["id"] for k in cycle]
            self.add(f"steps[{cycle[0]}].depends_on", "dependency cycle: " + " -> ".join(names + names[:1]),
                     "cycle")  # fmt: skip
        return bool(cycles)

    def _step(self, i: int, step: dict[str, Any], ancestors: list[int] | None) -> None:
        upstream = ancestors[i] if ancestors is not None else None
        cond = step.get("condition")
        if isinstance(cond, str):
            self._expression(f"steps[{i}].condition", cond, upstream, whole=True)
        action = step.get("action")
        if not isinstance(action, dict) or not isinstance(action.get("type"), str):
            return
        params = action.get("params", {})
        templated: set[tuple[Any, ...]] = set()
        if isinstance(params, dict):
            for loc, text in iter_template_strings(params):
                self._expression(f"steps[{i}].action.params.{loc}", text, upstream, whole=False)
            templated = _template_paths(params)
        try:
            spec = self.registry.resolve(action["type"], self.config)
        except UnknownAction as exc:
            self.add(f"steps[{i}].action.type", str(exc), "unknown_action")
            return
        except ActionDisabled as exc:
            self.add(f"steps[{i}].action.type", str(exc), "action_disabled")
            return
        if isinstance(params, dict):
            self._params(f"steps[{i}].action.params", spec.params_model, params, templated)

    def _params(self, prefix: str, model: type[BaseModel], params: dict[str, Any], templated: set) -> None:
        try:
            model.model_validate(params, context={CONFIG_CONTEXT_KEY: self.config})
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                if any(loc[:n] in templated for n in range(1, len(loc) + 1)):
                    continue  # value comes from a template: known only at run time
                self.add(format_loc(loc, prefix), err["msg"], "invalid_params")

    def _expression(self, loc: str, text: str, upstream: int | None, *, whole: bool) -> None:
        try:
            exprs: list[Expression]
            if whole:
                exprs = [compile_expression(text)]
            else:
                node = compile_template_string(text)
                exprs = (
                    [node.expr]
                    if hasattr(node, "expr")
                    else [p for p in node.parts if not isinstance(p, str)]
                )
        except ExpressionError as exc:
            self.add(loc, f"invalid expression: {exc}", "invalid_expression")
            return
        allowed = self.allowed_names
        for expr in exprs:
            for name in sorted(expr.names - allowed):
                self.add(loc, f"unknown name '{name}'{self.hint(name, allowed)}", "unknown_name")
            for ref in sorted(expr.step_refs):
                if ref not in self.ids:
                    self.add(loc, f"unknown step '{ref}'", "unknown_step")
                elif upstream is not None and not (upstream >> self.ids[ref]) & 1:
                    self.add(loc, f"step '{ref}' is not upstream of this step (add it to depends_on)",
                             "not_upstream")  # fmt: skip


def _template_paths(params: dict[str, Any]) -> set[tuple[Any, ...]]:
    out: set[tuple[Any, ...]] = set()
    stack: list[tuple[tuple[Any, ...], Any]] = [((), params)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str) and "${{" in item:
            out.add(path)
        elif isinstance(item, dict):
            stack.extend(((*path, k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend(((*path, n), v) for n, v in enumerate(item))
    return out


def validate_definition(
    data: Any, *, config: EngineConfig | None = None, registry: ActionRegistry | None = None
) -> tuple[WorkflowDefinition | None, list[ValidationProblem]]:
    """The model if `data` is a valid workflow, and every problem found (empty when valid)."""
    if not isinstance(data, dict):
        return None, [ValidationProblem("", "a workflow definition must be a JSON object", "schema")]
    problems = _scan_size(data)
    if problems:
        return None, problems
    config = config or EngineConfig()
    steps = data.get("steps")
    if isinstance(steps, list) and len(steps) > config.max_steps:  # before validating each of them
        message = f"more than {config.max_steps} steps (max_steps)"
        return None, [ValidationProblem("steps", message, "too_large")]
    model: WorkflowDefinition | None = None
    try:
        model = WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False)[:MAX_PROBLEMS]:
            problems.append(ValidationProblem(format_loc(err["loc"]), err["msg"], "schema"))
    checker = _Checker(data, config, registry or default_registry)
    checker.run()
    problems.extend(checker.problems)
    problems = problems[:MAX_PROBLEMS]
    return (model if not problems else None), problems


def require_valid(data: Any, **kwargs: Any) -> WorkflowDefinition:
    if isinstance(data, WorkflowDefinition):
        data = data.model_dump(mode="json", by_alias=True, exclude_unset=True)
    model, problems = validate_definition(data, **kwargs)
    if model is None:
        raise DefinitionError(problems)
    return model
