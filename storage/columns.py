"""The one rule for values promoted into typed columns (issue 15, finding 4).

A span keeps its exact OTLP bytes; a few of its values are also copied into typed
columns that queries filter and aggregate on. An integer that does not fit its column
(`workflow.step.retry_count` = 2^40, a span kind of 1000) rejects that span or log
record alone, through OTLP `partial_success`, with a message naming the attribute or
field; the rest of the request is stored. The value is never clamped: the stored
span keeps the value as sent, so a clamped copy in the column would give readers two
answers for one span.

Values of another type (a double, a word, a list) are not integers: they are not
promoted (the column stays NULL, which readers treat as absent), exactly as readers
that decode the attribute from the stored span treat them. A string of ASCII digits
counts as the integer it spells, as it does for those readers.
"""

from __future__ import annotations

from typing import Any, Final

from flowscope import conventions as c
from flowscope.workflow_meaning import attribute_int

KIND: Final = "kind"
STATUS_CODE: Final = "status.code"

# Attribute (or OTLP field) -> the inclusive range its column stores. Counts and numbers
# are never negative; the upper bounds are the column types' (collector/sql/migrations).
INT_RANGES: Final[dict[str, tuple[int, int]]] = {
    KIND: (0, 2**8 - 1),  # spans.kind UTINYINT
    STATUS_CODE: (0, 2**8 - 1),  # spans.status_code UTINYINT
    c.STEP_RETRY_COUNT: (0, 2**31 - 1),  # spans.retry_count INTEGER
    c.WORKFLOW_EXECUTION_NUMBER: (0, 2**63 - 1),  # executions.execution_number BIGINT
}


class Unstorable(ValueError):
    """A promoted value does not fit its column: the span or record carrying it is rejected."""


def promoted_int(name: str, value: Any) -> int | None:
    """`value` as the integer stored in `name`'s column; None when it is not an integer.

    Raises Unstorable when it is an integer outside the column's range.
    """
    if value.__class__ is int:  # the common case, without a call (ingest runs it per workflow span)
        low, high = INT_RANGES[name]
        if low <= value <= high:
            return value
    value = attribute_int(value)
    if value is None:
        return None
    if isinstance(value, str):
        raise Unstorable(_out_of_range(name, value))
    low, high = INT_RANGES[name]
    if low <= value <= high:
        return value
    raise Unstorable(_out_of_range(name, value))


def check_int(name: str, value: int) -> None:
    """Raise Unstorable when an OTLP integer field (kind, status code) does not fit its column."""
    low, high = INT_RANGES[name]
    if not low <= value <= high:
        raise Unstorable(_out_of_range(name, value))


def _out_of_range(name: str, value: int | str) -> str:
    low, high = INT_RANGES[name]
    shown = str(value) if len(str(value)) <= 40 else str(value)[:40] + "…"
    return f"{name} = {shown} is out of range: it must be an integer from {low} to {high}"
