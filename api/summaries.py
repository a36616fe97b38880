"""Bounded summaries of step input/output for timelines, and lenient JSON parsing.

The timeline must stay small whatever a step consumed or produced, so each value is
cut to a budget (long strings, long lists, many keys, deep nesting) and the summary
says so with `"_truncated": true`. Full values come from the step details endpoint.
"""

from __future__ import annotations

from typing import Any

import orjson

TRUNCATED_KEY = "_truncated"
MAX_STRING = 200  # characters kept of a string
MAX_ITEMS = 10  # list items kept
MAX_KEYS = 20  # object keys kept
MAX_DEPTH = 3  # nesting kept below the top level
MAX_BYTES = 2048  # JSON size of a whole summary


def parse_json(text: str | None) -> tuple[Any, bool]:
    """(value, ok). Invalid JSON (e.g. cut by the emitter's size cap) comes back as the text."""
    if text is None:
        return None, True
    try:
        return orjson.loads(text), True
    except orjson.JSONDecodeError:
        return text, False


def as_object(value: Any) -> dict[str, Any] | None:
    """Spec fields such as `input_variables` are objects: wrap anything else as {"value": ...}."""
    if value is None or isinstance(value, dict):
        return value
    return {"value": value}


class _Cutter:
    def __init__(self) -> None:
        self.cut = False

    def __call__(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                self.cut = True
                return value[:MAX_STRING] + "…"
            return value
        if isinstance(value, list):
            if depth >= MAX_DEPTH:
                self.cut = True
                return f"[{len(value)} items]"
            if len(value) > MAX_ITEMS:
                self.cut = True
            return [self(v, depth + 1) for v in value[:MAX_ITEMS]]
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                self.cut = True
                return f"{{{len(value)} keys}}"
            if len(value) > MAX_KEYS:
                self.cut = True
            return {k: self(v, depth + 1) for k, v in list(value.items())[:MAX_KEYS]}
        return value


def summarize(text: str | None, truncated_at_source: bool = False) -> dict[str, Any] | None:
    """A bounded object summarizing the JSON text of a step's input or output."""
    if text is None:
        return None
    value, ok = parse_json(text)
    cutter = _Cutter()
    if not ok:  # cut by the emitter: show the start of the text
        summary: dict[str, Any] = {"preview": cutter(text, 0)}
        cutter.cut = True
    else:
        summary = as_object(cutter(value, 0)) or {}
    while len(orjson.dumps(summary)) > MAX_BYTES and summary:
        summary.pop(next(reversed(summary)))  # drop keys from the end until it fits
        cutter.cut = True
    if cutter.cut or truncated_at_source:
        summary[TRUNCATED_KEY] = True
    return summary
