"""The example workflows shipped in `examples/workflows/` (seeded by `flowscope seed` and
`serve --demo`), and inputs that exercise their branches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples" / "workflows"
_MODES = ("fast", "standard", "thorough")  # conditional_workflow.json branches on `mode`


def example_definitions(directory: Path = EXAMPLES_DIR) -> list[tuple[str, dict[str, Any]]]:
    """(file name, definition) of every example, by file name."""
    return [(p.name, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(directory.glob("*.json"))]


def example_inputs(definition: dict[str, Any], run: int) -> dict[str, Any]:
    """Inputs for the `run`-th demo execution: defaults, except `mode`, which cycles so
    that every branch of the conditional example runs."""
    declared = definition.get("inputs") or {}
    if "mode" in declared:
        return {"mode": _MODES[run % len(_MODES)]}
    return {}
