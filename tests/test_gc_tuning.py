"""`gc_tuning.collect_less`, which `serve` runs once startup is done (pure logic, in this process)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from flowscope import gc_tuning


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_startup_garbage_is_collected_the_rest_frozen_and_young_collections_spaced(restored_gc: None) -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    garbage = weakref.ref(a)
    kept = _Node()
    del a, b
    gc.disable()  # no collection before collect_less's own
    try:
        gc_tuning.collect_less()
    finally:
        gc.enable()
    assert garbage() is None, "the startup cycle was frozen instead of collected"
    assert gc.get_freeze_count() > 0
    assert all(obj is not kept for obj in gc.get_objects()), "what startup kept is still collected"
    assert gc.get_threshold()[0] == gc_tuning.YOUNG_THRESHOLD

