"""The writer's dedupe of a commit's workflow spans and records for the live feed
(storage/duckdb/writer.py `_unique`, `_heard_spans`): its shortcut for the common case (none
stored, no key twice) gives what the item-by-item rule gives, on generated batches."""

from __future__ import annotations

from typing import Any

from flowscope.storage.changes import WorkflowSpan
from flowscope.storage.duckdb.writer import _heard_spans, _unique
from hypothesis import given, settings
from hypothesis import strategies as st


def _first_new(items: list[Any], stored: set[Any], keys: list[Any]) -> list[Any]:
    """The rule, item by item: an item is kept when its key is neither stored nor seen before."""
    seen = set(stored)
    kept = []
    for item, key in zip(items, keys, strict=True):
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


_IDS = st.sampled_from(["a", "b", "c", "d"])  # few ids: repeats and stored keys are common


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["default", "other"]), _IDS, _IDS), max_size=12),
    st.sets(st.tuples(st.sampled_from(["default", "other"]), _IDS, _IDS), max_size=4),
)
def test_heard_spans_keep_each_new_span_once_in_order(
    ids: list[tuple[str, str, str]], stored: set[tuple[str, str, str]]
) -> None:
    spans = [
        WorkflowSpan(ws, trace, span, "", f"s{n}", "step", n, n + 1, 0, "", {})
        for n, (ws, trace, span) in enumerate(ids)
    ]
    heard = _heard_spans(spans, stored, None)
    assert [id(s) for s in heard] == [id(s) for s in _first_new(spans, stored, ids)]
    assert [id(s) for s in _unique(spans, stored, ids)] == [id(s) for s in heard]


def test_the_shortcut_returns_a_new_list_of_every_item() -> None:
    items = [object(), object()]
    kept = _unique(items, set(), ["x", "y"])
    assert kept == items and kept is not items
    assert _unique(items, set(), ["x", "x"]) == items[:1]
    assert _unique(items, {"y"}, ["x", "y"]) == items[:1]
