"""The rule by which `flowscope maintain` rewrites a lake table's files in trace id order
(storage/ducklake/key_ranges.py): pure logic, no lake."""

from __future__ import annotations

import itertools

from flowscope.storage.ducklake.key_ranges import MAX_RUNS, SETTLED_NS, KeyFile, key_chunks, to_rewrite

MB = 2**20
NOW_NS = 1_800_000_000 * 10**9
OLD_NS = NOW_NS - SETTLED_NS - 1


def _file(name: str, first: str, last: str, size: int = 100 * MB, newest_ns: int = OLD_NS) -> KeyFile:
    return KeyFile(name, size, first, last, newest_ns)


def test_a_files_share_of_the_id_space() -> None:
    assert _file("a", "0" * 32, "f" * 32).share == 1.0
    assert abs(_file("a", "40000000" + "0" * 24, "7fffffff" + "f" * 24).share - 0.25) < 1e-9
    assert _file("a", "", "0fffffff").share == 1 / 16  # records without a trace: the empty id
    assert KeyFile("a", 1, None, None, None).share == 1.0  # no statistics: anywhere
    assert _file("a", "zz", "zz").share == 1.0  # not a hex id


def test_wide_files_are_rewritten_once_they_hold_two_target_files() -> None:
    wide = [_file(f"w{i}", "00", "ff", 60 * MB) for i in range(5)]
    assert to_rewrite(wide[:4], target_bytes=128 * MB, now_ns=NOW_NS) == []  # 240 MB: not yet
    assert to_rewrite(wide, target_bytes=128 * MB, now_ns=NOW_NS) == wide  # 300 MB: two target files' worth
    # A small table's one file spans every id whatever is done: it is left alone.
    assert to_rewrite([_file("one", "00", "ff", 100 * MB)], target_bytes=128 * MB, now_ns=NOW_NS) == []


def test_narrow_files_are_left_alone_until_too_many_runs_overlap() -> None:
    def run(tag: str) -> list[KeyFile]:  # one rewrite's files: four quarters of the id space
        return [_file(f"{tag}{q}", f"{q * 4:x}0", f"{q * 4 + 3:x}f") for q in range(4)]

    narrow = [f for k in range(MAX_RUNS) for f in run(f"r{k}")]
    wide = [_file("w", "00", "ff", 10 * MB)]
    assert to_rewrite(narrow + wide, target_bytes=128 * MB, now_ns=NOW_NS) == []
    more = narrow + run("extra") + wide
    assert to_rewrite(more, target_bytes=128 * MB, now_ns=NOW_NS) == more  # a read would open too many: all


def test_recent_files_stay_in_time_order() -> None:
    """Scans by time read the recent files: only files all of whose rows are settled move."""
    old = [_file(f"o{i}", "00", "ff", 100 * MB) for i in range(3)]
    recent = [_file(f"r{i}", "00", "ff", 100 * MB, newest_ns=NOW_NS - SETTLED_NS + 1) for i in range(3)]
    unknown = [KeyFile("u", 100 * MB, "00", "ff", None)]
    assert to_rewrite(old + recent + unknown, target_bytes=128 * MB, now_ns=NOW_NS) == old
    assert to_rewrite(recent + unknown, target_bytes=128 * MB, now_ns=NOW_NS) == []


def test_key_chunks_cover_every_id_once() -> None:
    assert key_chunks(100 * MB, 256 * MB) == [(None, None)]
    chunks = key_chunks(1000 * MB, 256 * MB)
    bounds = [None, "40000000", "80000000", "c0000000", None]
    assert chunks == list(itertools.pairwise(bounds))
    ids = ["", "0" * 32, "3fffffff" + "f" * 8, "40000000", "c0000000" + "1", "f" * 32]
    for key in ids:
        holding = [c for c in chunks if (c[0] is None or key >= c[0]) and (c[1] is None or key < c[1])]
        assert len(holding) == 1, key
