"""`${{ expr }}` templates inside action params.

A string that is exactly one `${{ expr }}` becomes the expression's value with its
type (a number stays a number, an object stays an object); a string with embedded
templates is interpolated as text (strings as-is, other values as JSON). Params are
compiled once per workflow; a params tree without templates is `static` and is
passed through untouched, which is the common (and benchmarked) case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from flowscope.engine.expressions import Evaluator, Expression, ExpressionError, compile_expression

TEMPLATE_RE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True)
class _Whole:
    expr: Expression


@dataclass(frozen=True)
class _Interpolated:
    parts: tuple[str | Expression, ...]


def has_template(value: str) -> bool:
    return "${{" in value


def compile_template_string(value: str) -> _Whole | _Interpolated:
    """Compile one string; raises ExpressionError naming the first bad expression."""
    matches = list(TEMPLATE_RE.finditer(value))
    if not matches:
        raise ExpressionError("unterminated '${{' (expected '${{ expression }}')")
    if len(matches) == 1 and matches[0].span() == (0, len(value)):
        return _Whole(compile_expression(matches[0].group(1).strip()))
    parts: list[str | Expression] = []
    pos = 0
    for m in matches:
        if m.start() > pos:
            parts.append(value[pos : m.start()])
        parts.append(compile_expression(m.group(1).strip()))
        pos = m.end()
    if pos < len(value):
        tail = value[pos:]
        if has_template(tail):
            raise ExpressionError("unterminated '${{' (expected '${{ expression }}')")
        parts.append(tail)
    return _Interpolated(tuple(parts))


def iter_template_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(location, string) for every string containing '${{' in a params tree."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        loc, item = stack.pop()
        if isinstance(item, str):
            if has_template(item):
                yield loc, item
        elif isinstance(item, dict):
            stack.extend((f"{loc}.{k}" if loc else str(k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{loc}[{i}]", v) for i, v in reversed(list(enumerate(item))))


class ParamsTemplate:
    """Compiled params of one step."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.raw = params
        self._compiled: dict[str, _Whole | _Interpolated] = {}
        for _loc, text in iter_template_strings(params):
            if text not in self._compiled:
                self._compiled[text] = compile_template_string(text)
        self.static = not self._compiled
        refs: set[str] = set()
        for node in self._compiled.values():
            exprs = (
                [node.expr] if isinstance(node, _Whole) else [p for p in node.parts if not isinstance(p, str)]
            )
            for e in exprs:
                refs |= e.step_refs
        self.step_refs = frozenset(refs)

    async def render(self, evaluator: Evaluator, names: dict[str, Any], names_size: int) -> dict[str, Any]:
        if self.static:
            return self.raw
        return await self._render(self.raw, evaluator, names, names_size)

    async def _render(self, value: Any, ev: Evaluator, names: dict[str, Any], size: int) -> Any:
        if isinstance(value, str):
            node = self._compiled.get(value)
            if node is None:
                return value
            if isinstance(node, _Whole):
                return await ev.evaluate(node.expr, names, size)
            out: list[str] = []
            for part in node.parts:
                if isinstance(part, str):
                    out.append(part)
                else:
                    v = await ev.evaluate(part, names, size)
                    out.append(v if isinstance(v, str) else orjson.dumps(v).decode())
            return "".join(out)
        if isinstance(value, dict):
            return {k: await self._render(v, ev, names, size) for k, v in value.items()}
        if isinstance(value, list):
            return [await self._render(v, ev, names, size) for v in value]
        return value
