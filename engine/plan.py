"""A validated definition compiled for running: indices, actions, expressions, static params.

Built once per definition and reused by every execution of it (the engine caches
plans), so per-execution work is only the run itself. Params without templates
are validated into the action's params model here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from flowscope.engine.actions import Action, ActionRegistry
from flowscope.engine.config import EngineConfig
from flowscope.engine.execution_telemetry import step_attributes
from flowscope.engine.expressions import Expression, compile_expression
from flowscope.engine.graph import ancestor_sets
from flowscope.engine.model import StepDefinition, WorkflowDefinition
from flowscope.engine.state import exact_bytes
from flowscope.engine.templates import ParamsTemplate
from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class StepPlan:
    step: StepDefinition
    index: int
    deps: tuple[int, ...]  # unique dependency indices
    dependents: tuple[int, ...]
    upstream: tuple[int, ...]  # transitive dependencies: the steps an expression may see
    action: Action
    condition: Expression | None
    params: ParamsTemplate
    static_params: BaseModel | None  # validated once when params have no templates
    static_input_json: bytes | None
    static_attrs: dict[str, Any]  # span attributes that are the same in every execution

    @property
    def needs_names(self) -> bool:
        return self.condition is not None or not self.params.static


class WorkflowPlan:
    def __init__(
        self,
        definition: WorkflowDefinition,
        config: EngineConfig,
        registry: ActionRegistry,
        base_dir: Path | None = None,
    ) -> None:
        self.definition = definition
        self.base_dir = base_dir
        index = definition.step_index()
        deps = [sorted({index[d] for d in s.depends_on}) for s in definition.steps]
        dependents: list[list[int]] = [[] for _ in deps]
        for i, ds in enumerate(deps):
            for d in ds:
                dependents[d].append(i)
        ancestors = ancestor_sets(deps, len(deps))
        if ancestors is None:
            raise ValueError("definition has a dependency cycle")  # validation rejects these first
        steps: list[StepPlan] = []
        for i, s in enumerate(definition.steps):
            action = registry.resolve(s.action.type, config)
            params = ParamsTemplate(s.action.params)
            static = action.params_model.model_validate(s.action.params) if params.static else None
            bits = ancestors[i]
            upstream = tuple(k for k in range(bits.bit_length()) if (bits >> k) & 1) if bits else ()
            steps.append(
                StepPlan(
                    step=s, index=i, deps=tuple(deps[i]), dependents=tuple(dependents[i]),
                    upstream=upstream, action=action,
                    condition=compile_expression(s.condition) if s.condition else None,
                    params=params, static_params=static,
                    static_input_json=(
                        exact_bytes(orjson.dumps(s.action.params, default=str)) if params.static else None
                    ),
                    static_attrs=step_attributes(s, i),
                )
            )  # fmt: skip
        self.steps = steps
        self.roots = [p.index for p in steps if not p.deps]

    def names_base(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Expression names every step sees: inputs at the top level and under `inputs`."""
        return {**inputs, "inputs": inputs}
