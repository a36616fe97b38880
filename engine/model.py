"""The workflow definition: a typed model of the JSON files users write.

`WorkflowDefinition.model_json_schema()` is what `flowscope schema` publishes, so
field descriptions here double as editor documentation. Structural limits (ids,
lengths, counts) live here too, so a hostile definition is rejected by the model
itself and never reaches the scheduler.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Bounds that keep validation and planning linear and cheap even for hostile input.
MAX_STEPS = 10_000
MAX_INPUTS = 256
MAX_DEPENDENCIES = 1_000
MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 10_000
MAX_EXPRESSION_LENGTH = 2_000
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600.0

# Step ids appear in expressions as `steps.<id>`; ids that are not CEL identifiers
# (e.g. with '-') are still allowed and reachable as `steps['my-id']`.
STEP_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*$"
# Input names are also bound at the top level of expressions, so they must be identifiers.
INPUT_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Names the expression context defines itself, plus CEL reserved words.
RESERVED_INPUT_NAMES = frozenset(
    {
        "inputs", "steps", "true", "false", "null", "in", "as", "break", "const", "continue",
        "else", "for", "function", "if", "import", "let", "loop", "package", "namespace",
        "return", "var", "void", "while", "int", "uint", "double", "bool", "string", "bytes",
        "list", "map", "type", "dyn", "has", "size",
    }
)  # fmt: skip

InputType = Literal["string", "integer", "number", "boolean", "object", "array"]


class TriggerRule(StrEnum):
    """When a step whose dependencies have all finished actually runs."""

    # Default: no dependency failed and at least one completed (or there are none);
    # all dependencies skipped -> skipped. Lets a join run after whichever branch ran.
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    ALL_SUCCESS = "all_success"  # every dependency completed
    ALL_DONE = "all_done"  # run whatever the dependencies' outcome (cleanup steps)
    ONE_FAILED = "one_failed"  # at least one dependency failed (error handlers)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputDefinition(_Strict):
    type: InputType = Field("string", description="JSON type of the value.")
    default: Any = Field(None, description="Value used when the input is not given.")
    required: bool = Field(False, description="The input must be given (a default makes this moot).")
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_LENGTH)


class RetryPolicy(_Strict):
    max_attempts: int = Field(1, ge=1, le=100, description="Total attempts, including the first.")
    initial_backoff_seconds: float = Field(1.0, ge=0, le=3600, description="Wait before the 2nd attempt.")
    backoff_multiplier: float = Field(2.0, ge=1, le=100, description="Each wait is the previous times this.")
    max_backoff_seconds: float = Field(60.0, ge=0, le=86_400, description="Upper bound of one wait.")
    jitter: float = Field(
        0.1, ge=0, le=1, description="Fraction of randomness: a wait is scaled by uniform(1-j, 1+j)."
    )


class ActionDefinition(_Strict):
    type: str = Field(
        ...,
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="Registered action name (delay, python, sql, http, shell, ...) or 'module:function'.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Action parameters. A string that is exactly '${{ expr }}' is replaced by the "
        "expression's value; '${{ expr }}' inside a longer string is interpolated as text.",
    )


class StepDefinition(_Strict):
    id: str = Field(..., min_length=1, max_length=MAX_ID_LENGTH, pattern=STEP_ID_PATTERN)
    name: str | None = Field(
        None, min_length=1, max_length=MAX_NAME_LENGTH, description="Display name (default: the id)."
    )
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_LENGTH)
    action: ActionDefinition
    depends_on: list[str] = Field(default_factory=list, max_length=MAX_DEPENDENCIES)
    condition: str | None = Field(
        None,
        max_length=MAX_EXPRESSION_LENGTH,
        description="CEL expression; when false the step is skipped. Names: the inputs (also at the top "
        "level), `inputs`, and `steps.<id>.output` / `steps.<id>.status` of upstream steps.",
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout_seconds: float | None = Field(
        None, gt=0, le=MAX_TIMEOUT_SECONDS, description="Per-attempt limit; exceeding it fails the attempt."
    )
    trigger_rule: TriggerRule = TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS

    @property
    def display_name(self) -> str:
        return self.name or self.id


class WorkflowDefinition(_Strict):
    """A workflow: a DAG of steps, each running one action."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, title="Flowscope workflow")

    schema_url: str | None = Field(None, alias="$schema", description="Optional JSON Schema reference.")
    name: str = Field(..., min_length=1, max_length=MAX_NAME_LENGTH)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_LENGTH)
    version: str | int | None = Field(None, description="Free-form version label.")
    inputs: dict[str, InputDefinition] = Field(default_factory=dict, max_length=MAX_INPUTS)
    timeout_seconds: float | None = Field(
        3600.0, gt=0, le=MAX_TIMEOUT_SECONDS, description="Whole-execution limit; exceeding it -> timeout."
    )
    max_parallelism: int = Field(16, ge=1, le=10_000, description="Most steps running at once.")
    steps: list[StepDefinition] = Field(..., min_length=1, max_length=MAX_STEPS)

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, InputDefinition]) -> dict[str, InputDefinition]:
        import re

        bad = [k for k in value if not re.match(INPUT_NAME_PATTERN, k) or len(k) > MAX_ID_LENGTH]
        if bad:
            raise ValueError(f"input names must be identifiers of at most {MAX_ID_LENGTH} chars: {bad[:5]}")
        reserved = sorted(k for k in value if k in RESERVED_INPUT_NAMES)
        if reserved:
            raise ValueError(f"input names reserved by the expression language: {reserved}")
        return value

    def step_index(self) -> dict[str, int]:
        return {step.id: i for i, step in enumerate(self.steps)}
