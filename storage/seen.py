"""Which spans may already be stored, whatever their start time: a Bloom filter over span ids.

The span dedupe key is (workspace, trace id, span id) alone (issue 15, finding 11). A
global unique index would make every insert probe an index that grows with the table,
and scanning stored rows by id is a full scan, so the writer asks this filter first:
a span it has never seen is new for sure (a Bloom filter has no false negatives), and
only the few it may have seen — exporter retries, ids reused with other content, and
false positives — are looked up in the table.

The filter is the split-block Bloom filter of the Parquet format (256-bit blocks of
eight 32-bit words, one bit set in each word per key), sized for 32 bits per key:
about one false positive per 50,000 new spans, 4 bytes of memory per stored span. It
is built from the table when the server starts; every span queued since is added when
it is queued (`Writer.submit`). When it fills up, another filter twice the size is
added (lookups ask each one), so ingest never waits for a rebuild; after retention
deleted rows it is rebuilt from the table if it holds more than twice the keys still
stored. A key is the low 8 bytes of the trace id XOR the span id (`convert.span_key`;
`collector/sql/ingest/span_keys.sql` computes the same for stored rows): random ids make
random keys, and ids chosen to collide only cost their sender lookups.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.uint64]

BITS_PER_KEY = 32
MIN_CAPACITY = 1 << 20  # keys; 4 MiB
# Parquet's SBBF salts: one odd multiplier per word picks the bit set in that word.
_SALT = np.array(
    [0x47B6137B, 0x44974D91, 0x8824AD5B, 0xA2B7289D, 0x705495C7, 0x2DF1424B, 0x9EFC4947, 0x5C6BFB31],
    dtype=np.uint32,
)
_BULK_CHUNK = 1 << 20  # keys added per step when building from the table (bounds temporary memory)


class _Filter:
    """One split-block Bloom filter of fixed capacity."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.count = 0
        self.blocks = np.zeros((max(1, capacity * BITS_PER_KEY // 256), 8), dtype=np.uint32)

    def _locate(self, keys: Keys) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32]]:
        """Each key's block (from its high 32 bits) and the bit it sets in each of the 8 words."""
        block = ((keys >> np.uint64(32)) * np.uint64(len(self.blocks))) >> np.uint64(32)
        low = keys.astype(np.uint32)  # the low 32 bits
        masks = np.left_shift(np.uint32(1), (low[:, None] * _SALT[None, :]) >> np.uint32(27))
        return block, masks

    def may_contain(self, keys: Keys) -> npt.NDArray[np.bool_]:
        block, masks = self._locate(keys)
        return ((self.blocks[block] & masks) == masks).all(axis=1)  # type: ignore[no-any-return]

    def add(self, keys: Keys) -> None:
        block, masks = self._locate(keys)
        if len(keys) <= 8192:
            np.bitwise_or.at(self.blocks, block, masks)
        else:  # many keys: OR each block's masks together first (ufunc.at is slow per element)
            order = np.argsort(block)
            block, masks = block[order], masks[order]
            starts = np.flatnonzero(np.concatenate(([True], block[1:] != block[:-1])))
            self.blocks[block[starts]] |= np.bitwise_or.reduceat(masks, starts, axis=0)
        self.count += len(keys)


class SpanFilter:
    """The span ids stored so far, as a few Bloom filters (the newest takes new keys)."""

    def __init__(self) -> None:
        self._filters: list[_Filter] = [_Filter(MIN_CAPACITY)]

    @property
    def keys(self) -> int:
        """Keys added (with repeats) since the last rebuild."""
        return sum(f.count for f in self._filters)

    @property
    def nbytes(self) -> int:
        return sum(f.blocks.nbytes for f in self._filters)

    def rebuild(self, keys: Keys) -> None:
        """Start over from `keys` (every span stored), with room for as many again."""
        self._filters = [_Filter(max(MIN_CAPACITY, 2 * len(keys)))]
        for start in range(0, len(keys), _BULK_CHUNK):
            self._filters[0].add(keys[start : start + _BULK_CHUNK])

    def may_contain(self, keys: Keys) -> npt.NDArray[np.bool_]:
        """Per key: False when it was never added (certain), True when it may have been."""
        found = self._filters[0].may_contain(keys)
        for f in self._filters[1:]:
            found |= f.may_contain(keys)
        return found

    def add(self, keys: Keys) -> None:
        newest = self._filters[-1]
        if newest.count + len(keys) > newest.capacity:
            newest = _Filter(max(2 * newest.capacity, len(keys)))
            self._filters.append(newest)
        newest.add(keys)
