"""CEL expressions and templates: names, types, and the sandbox's time/size bounds."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flowscope.engine.expressions import (
    Evaluator,
    ExpressionError,
    ExpressionLimits,
    compile_expression,
    truthy,
)
from flowscope.engine.templates import ParamsTemplate

from tests.engine.conftest import run

NAMES = {
    "mode": "fast",
    "inputs": {"mode": "fast"},
    "steps": {"a": {"output": {"n": 3, "items": [1, 2, 3]}, "status": "completed"}},
}


async def _eval(source: str, names: dict[str, Any] = NAMES, limits: ExpressionLimits | None = None) -> Any:
    ev = Evaluator(limits)
    try:
        return await ev.evaluate(compile_expression(source), names)
    finally:
        await ev.close()


def test_names_inputs_top_level_and_steps() -> None:
    assert run(_eval("mode == 'fast'")) is True
    assert run(_eval("inputs.mode == 'fast' && steps.a.status == 'completed'")) is True
    assert run(_eval("steps.a.output.n * 2")) == 6
    assert run(_eval("steps['a'].output.items.size()")) == 3


def test_compile_reports_names_and_step_refs() -> None:
    e = compile_expression("steps.a.output.items.exists(x, x > n) && steps['b-1'].status == 'ok'")
    assert e.names == {"steps", "n"}
    assert e.step_refs == {"a", "b-1"}
    assert e.heavy  # a comprehension: evaluated in the sandbox


def test_no_python_escape() -> None:
    with pytest.raises(ExpressionError):
        run(_eval("mode.__class__"))
    with pytest.raises(ExpressionError):
        run(_eval("steps.a.output.__dict__"))
    with pytest.raises(ExpressionError, match="Undefined variable or function: '__import__'"):
        run(_eval("__import__('os').system('true')"))


def test_errors_are_expression_errors() -> None:
    for source in ("1 / 0", "missing_name", "steps.zzz.output", "1 + 'a'", "9223372036854775807 + 1"):
        with pytest.raises(ExpressionError):
            run(_eval(source))


def test_length_limit() -> None:
    with pytest.raises(ExpressionError, match="longer than 2000"):
        compile_expression("1 + " * 600 + "1")


def test_condition_must_be_boolean() -> None:
    assert truthy(True) is True
    with pytest.raises(ExpressionError, match="boolean"):
        truthy("yes")


def test_quadratic_expression_is_stopped_by_the_time_limit() -> None:
    names = {"l": list(range(3000))}
    limits = ExpressionLimits(timeout_seconds=0.5)
    t0 = time.perf_counter()
    with pytest.raises(ExpressionError, match=r"exceeded 0\.5s"):
        run(_eval("l.map(x, l.map(y, x + y)).size()", names, limits))
    assert time.perf_counter() - t0 < 5


def test_copy_bomb_over_large_value_goes_to_the_sandbox_and_is_bounded() -> None:
    names = {"s": "x" * 200_000}  # over the inline context limit -> sandbox
    bomb = "[" + ",".join(["s"] * 400) + "]"
    limits = ExpressionLimits(timeout_seconds=2, max_result_bytes=1 << 20, sandbox_memory_bytes=512 << 20)
    with pytest.raises(ExpressionError, match=r"larger than|memory|exceeded"):
        run(_eval(bomb, names, limits))


def test_inline_result_size_is_bounded() -> None:
    names = {"s": "x" * 60_000}
    limits = ExpressionLimits(max_result_bytes=100_000)
    with pytest.raises(ExpressionError, match="result larger than 100000 bytes"):
        run(_eval("s + s", names, limits))


def test_sandbox_survives_a_timeout_and_keeps_working() -> None:
    async def go() -> tuple[Any, Any]:
        ev = Evaluator(ExpressionLimits(timeout_seconds=0.5))
        names = {"l": list(range(3000))}
        with pytest.raises(ExpressionError):
            await ev.evaluate(compile_expression("l.map(x, l.map(y, x)).size()"), names)
        ok = await ev.evaluate(compile_expression("[1, 2, 3].map(x, x * 2)"), {})
        ts = await ev.evaluate(compile_expression("timestamp('2024-01-01T00:00:00Z')"), {})
        await ev.close()
        return ok, ts

    ok, ts = run(go())
    assert ok == [2, 4, 6]
    assert ts == "2024-01-01T00:00:00+00:00"


def test_templates_keep_type_or_interpolate() -> None:
    async def go() -> dict[str, Any]:
        tpl = ParamsTemplate(
            {
                "n": "${{ steps.a.output.n }}",
                "obj": "${{ steps.a.output }}",
                "text": "mode=${{ mode }} n=${{ steps.a.output.n }} list=${{ steps.a.output.items }}",
                "nested": [{"deep": "${{ mode == 'fast' }}"}],
                "plain": "no template",
            }
        )
        assert not tpl.static
        assert tpl.step_refs == {"a"}
        ev = Evaluator()
        try:
            return await tpl.render(ev, NAMES, 100)
        finally:
            await ev.close()

    out = run(go())
    assert out == {
        "n": 3,
        "obj": {"n": 3, "items": [1, 2, 3]},
        "text": "mode=fast n=3 list=[1,2,3]",
        "nested": [{"deep": True}],
        "plain": "no template",
    }


def test_static_params_are_passed_through() -> None:
    tpl = ParamsTemplate({"seconds": 1, "output": {"x": "plain"}})
    assert tpl.static
