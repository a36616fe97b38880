"""Sandboxed expressions: CEL for conditions and `${{ expr }}` parameter templates.

Why CEL through `common-expression-language` (Rust): it is a non-Turing-complete
language with no access to Python objects (the context is plain JSON data, so there
is nothing like `__class__` to escape through), it parses fast, and a compiled
`Program` is reusable. `cel-python` is pure Python and an order of magnitude slower;
it would only be the fallback if the Rust wheel were unavailable.

Bounding evaluation: CEL itself terminates, but its cost is not linear here. The
Rust evaluator deep-copies values on access (`[s, s, ...]` copies `s` each time) and
`map` over a list is quadratic, so a short expression over a large value can run
for minutes while holding the GIL. Every expression is classified at compile time:
cheap ones (no comprehension macros, few `+`) over a small context are evaluated
inline (microseconds); everything else goes to `engine.sandbox`, a child process
with a memory limit that is killed when the time limit passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cel
import orjson
from flowscope.engine.model import MAX_EXPRESSION_LENGTH
from flowscope.engine.sandbox import Sandbox, SandboxError, to_json_value

# Comprehension macros bind a variable and iterate: the source of super-linear cost.
_MACRO_RE = re.compile(r"\.\s*(all|exists|exists_one|map|filter|transformList|transformMap)\s*\(")
_MACRO_VAR_RE = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)")
_STEP_REF_RE = re.compile(r"\bsteps\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")
# Concatenations copy their operands; a handful over a small context stays cheap.
_MAX_INLINE_PLUS = 8


class ExpressionError(Exception):
    """An expression that does not compile, fails, or exceeds a limit."""


@dataclass(frozen=True)
class ExpressionLimits:
    max_length: int = MAX_EXPRESSION_LENGTH
    timeout_seconds: float = 1.0
    # Inline evaluation only when the names it sees serialize to at most this many bytes.
    max_inline_context_bytes: int = 64 * 1024
    max_result_bytes: int = 1 << 20
    sandbox_memory_bytes: int = 1 << 30


@dataclass(frozen=True)
class Expression:
    source: str
    program: Any = field(repr=False)
    heavy: bool  # must be evaluated in the sandbox
    names: frozenset[str]  # free variables (comprehension variables removed)
    step_refs: frozenset[str]  # step ids referenced as steps.<id> / steps['<id>']


def compile_expression(source: str, max_length: int = MAX_EXPRESSION_LENGTH) -> Expression:
    if len(source) > max_length:
        raise ExpressionError(f"expression longer than {max_length} characters")
    if not source.strip():
        raise ExpressionError("empty expression")
    return _compile_cached(source)


@lru_cache(maxsize=4096)
def _compile_cached(source: str) -> Expression:
    try:
        program = cel.compile(source)
    except Exception as exc:  # the library raises ValueError with a caret diagram
        raise ExpressionError(_first_line(str(exc))) from None
    macro_vars = set(_MACRO_VAR_RE.findall(source))
    names = frozenset(v for v in program.variables() if v not in macro_vars)
    refs = frozenset(a or b for a, b in _STEP_REF_RE.findall(source))
    heavy = bool(_MACRO_RE.search(source)) or source.count("+") > _MAX_INLINE_PLUS
    return Expression(source=source, program=program, heavy=heavy, names=names, step_refs=refs)


def _first_line(message: str) -> str:
    # "Failed to parse expression '...': ERROR: <input>:1:8: Syntax error: ..." -> keep the useful part
    text = message.split("\n", 1)[0]
    marker = "ERROR: <input>:"
    return text[text.index(marker) + len("ERROR: ") :] if marker in text else text


def json_size(value: Any) -> int:
    return len(orjson.dumps(value, default=str))


class Evaluator:
    """Evaluates compiled expressions within `ExpressionLimits`; owns the sandbox process."""

    def __init__(self, limits: ExpressionLimits | None = None) -> None:
        self.limits = limits or ExpressionLimits()
        self._sandbox = Sandbox(
            memory_bytes=self.limits.sandbox_memory_bytes, max_result_bytes=self.limits.max_result_bytes
        )

    async def evaluate(self, expr: Expression, names: dict[str, Any], names_size: int | None = None) -> Any:
        """Value of `expr` as JSON data. `names_size` (JSON bytes of `names`) if the caller knows it."""
        if names_size is None:
            names_size = json_size(names)
        if not expr.heavy and names_size <= self.limits.max_inline_context_bytes:
            try:
                value = to_json_value(expr.program.execute(names))
            except Exception as exc:
                raise ExpressionError(f"{type(exc).__name__}: {_first_line(str(exc))}") from None
            if isinstance(value, str | list | dict) and json_size(value) > self.limits.max_result_bytes:
                raise ExpressionError(f"result larger than {self.limits.max_result_bytes} bytes")
            return value
        try:
            return await self._sandbox.evaluate(expr.source, names, self.limits.timeout_seconds)
        except SandboxError as exc:
            raise ExpressionError(str(exc)) from None

    async def close(self) -> None:
        await self._sandbox.close()


def truthy(value: Any) -> bool:
    """Conditions must be booleans; anything else is an error rather than silently truthy."""
    if isinstance(value, bool):
        return value
    raise ExpressionError(f"condition must evaluate to a boolean, got {type(value).__name__}")
