"""Small workflow definitions the API tests run through the real engine (delay actions)."""

from __future__ import annotations

from typing import Any


def step(step_id: str, seconds: float = 0.02, **extra: Any) -> dict[str, Any]:
    params = {"seconds": seconds, **extra.pop("params", {})}
    return {"id": step_id, "action": {"type": "delay", "params": params}, **extra}


SEQUENCE: dict[str, Any] = {
    "name": "sequence",
    "inputs": {"mode": {"type": "string", "default": "standard"}},
    "steps": [
        step("initialize", name="Initialize", params={"output": {"processed_records": 100}}),
        step("process", depends_on=["initialize"], params={"output": {"results": "success"}}),
        step("finalize", depends_on=["process"]),
    ],
}

# b fails every attempt (2 attempts: one retry); c is skipped by its condition; d runs anyway.
FAILING: dict[str, Any] = {
    "name": "failing",
    "inputs": {"mode": {"type": "string", "default": "fast"}},
    "steps": [
        step("a", name="Prepare"),
        step(
            "b", depends_on=["a"], params={"fail_probability": 1, "fail_message": "boom"},
            retry={"max_attempts": 2, "initial_backoff_seconds": 0.05, "jitter": 0},
        ),
        step("c", depends_on=["a"], condition="mode == 'thorough'"),
        step("d", depends_on=["b", "c"], trigger_rule="all_done"),
    ],
}  # fmt: skip

CONDITIONAL: dict[str, Any] = {
    "name": "conditional",
    "inputs": {"mode": {"type": "string", "required": True}},
    "steps": [
        step("evaluate"),
        step("fast", depends_on=["evaluate"], condition="mode == 'fast'"),
        step("standard", depends_on=["evaluate"], condition="mode == 'standard'"),
        step("thorough", depends_on=["evaluate"], condition="mode == 'thorough'"),
        step("aggregate", depends_on=["fast", "standard", "thorough"]),
    ],
}

# Runs until cancelled (or the test ends): first step quick, then a long one, then one never reached.
SLOW: dict[str, Any] = {
    "name": "slow",
    "steps": [
        step("quick", 0.01),
        step("long", 60, depends_on=["quick"]),
        step("after", depends_on=["long"]),
    ],
}

TIMEOUT: dict[str, Any] = {
    "name": "times-out",
    "timeout_seconds": 0.3,
    "steps": [step("sleepy", 10)],
}
