"""Workflow definitions for the UI tests (delay actions through the real engine)."""

from __future__ import annotations

from typing import Any

from tests.api.workflows import step


def unique(definition: dict[str, Any], suffix: str) -> dict[str, Any]:
    return {**definition, "name": f"{definition['name']} {suffix}"}


# Long enough to watch it run; quick enough for a test.
LIVE: dict[str, Any] = {
    "name": "ui live",
    "steps": [
        step("prepare", 0.3, name="Prepare"),
        step("crunch", 1.2, name="Crunch", depends_on=["prepare"]),
        step("publish", 0.3, name="Publish", depends_on=["crunch"]),
    ],
}

# Runs until cancelled.
SLOW: dict[str, Any] = {
    "name": "ui slow",
    "steps": [step("quick", 0.01, name="Quick"), step("long", 120, name="Long", depends_on=["quick"])],
}

# The output of "emit" depends on the inputs; "gate" fails when asked to.
VARIANT: dict[str, Any] = {
    "name": "ui variant",
    "inputs": {
        "label": {"type": "string", "default": "alpha"},
        "fail": {"type": "number", "default": 0},
    },
    "steps": [
        step("emit", name="Emit", params={"output": {"label": "${{ label }}", "fixed": 1}}),
        step(
            "gate", name="Gate", depends_on=["emit"],
            params={"fail_probability": "${{ fail }}", "fail_message": "gate closed"},
        ),
        step("same", name="Same", params={"output": {"constant": True}}),
    ],
}  # fmt: skip

LONG_TEXT = "begin-" + "0123456789" * 400 + "-the-very-end"  # 4 KB: beyond the timeline's 200-char summaries
BIG_OUTPUT = {
    "text": LONG_TEXT,
    "items": [f"item-{i}" for i in range(40)],
    "nested": {"a": {"b": {"c": {"d": "deep"}}}},
}
BIG: dict[str, Any] = {
    "name": "ui big output",
    "steps": [step("produce", 0.01, name="Produce", params={"output": BIG_OUTPUT})],
}

# Untrusted data that a careless UI would turn into markup and script.
IMG = "<img src=x onerror=\"window.__xss='img';alert('img')\">"
SCRIPT = "</script><script>window.__xss='script';alert('script')</script>"
HOSTILE_OUTPUT = {"html": IMG, "script": SCRIPT, IMG: SCRIPT, "list": [IMG, SCRIPT]}
HOSTILE: dict[str, Any] = {
    "name": "ui hostile <b>bold</b>",
    "description": IMG,
    "inputs": {"note": {"type": "string", "default": IMG}},
    "steps": [
        step("evil", 0.01, name=f"Evil {IMG}", params={"output": HOSTILE_OUTPUT}),
        step("boom", 0.01, name=f"Boom {SCRIPT}", depends_on=["evil"],
             params={"fail_probability": 1, "fail_message": f"failed with {IMG} {SCRIPT}"}),
    ],
}  # fmt: skip
