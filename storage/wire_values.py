"""Chosen attributes of many spans (or log records) at once, read from their protobuf bytes.

Ingest keeps each span as the bytes the client sent (`collector.wire` cuts them out of the
request) and decodes the workflow attributes of workflow spans. Reading them through the
decoded messages costs ~2 µs per attribute (a upb object for each KeyValue and AnyValue, a
string for each key), and so does walking each span's bytes in Python. This module walks the
bytes of all of a request's spans together: compiled (`_wire_walk.c`, built by the install
where a C compiler is: ~1 µs per workflow span), else a field of every span per numpy step,
gathering keys and values with pyarrow (6-7.5 µs per workflow span, mostly numpy's per-call cost).

It reads the wire format only as far as the encoders write it, and leaves the rest to the
protobuf library:
- a KeyValue not laid out as key then value (once each, lengths < 128 for the key) is parsed
  by the library as a KeyValue;
- a value that is not a single string, int, bool, double or bytes field (arrays, kvlists,
  several oneof fields, unknown fields, empty) is parsed by the library as an AnyValue;
- an item whose fields it cannot walk (groups, truncation, a field past the item's end) is
  reported unsure: the caller reads the decoded message instead.
Either way the values are `anyvalue.any_value_to_python`'s and the keys kept are those
`wanted` says (tests/collector/test_wire_values.py compares it with the library on generated
and fuzzed bytes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from flowscope.storage.anyvalue import any_value_to_python
from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

try:  # built by the install where a C compiler is (pyproject.toml: optional)
    from flowscope.storage import _wire_walk
except ImportError:  # pragma: no cover - an install without a compiler
    _wire_walk = None
    logging.getLogger(__name__).warning(
        "the compiled wire walk (storage/_wire_walk.c) was not built: installed without a C compiler? "
        "Workflow attributes are read with numpy, several times slower per workflow span"
    )

SPAN_ATTRIBUTES = 9  # opentelemetry.proto.trace.v1.Span.attributes
LOG_RECORD_ATTRIBUTES = 6  # opentelemetry.proto.logs.v1.LogRecord.attributes

# AnyValue's oneof as its first tag byte: string_value = 1, bool_value = 2, int_value = 3
# (varints), double_value = 4 (fixed64), bytes_value = 7.
_STRING, _BOOL, _INT, _DOUBLE, _BYTES = 0x0A, 0x10, 0x18, 0x21, 0x3A
_PAD = 32  # zero bytes after the data: a tag and a length read past an item's end stay in bounds

Positions = npt.NDArray[np.int64]
Found = list[dict[str, Any] | None]


class WireError(ValueError):
    """Bytes a wire scanner does not handle (groups, truncation); callers fall back."""


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it (IndexError when truncated)."""
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        b = buf[pos]
        result |= (b & 0x7F) << shift
        pos += 1
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


class Unsure(frozenset[int]):
    """Indexes of the items whose bytes this walk did not read (the caller decodes them)."""


def attributes(
    buf: bytes, starts: Positions, ends: Positions, field: int, wanted: Callable[[str], bool]
) -> tuple[Found, Unsure]:
    """For each item buf[starts[i]:ends[i]]: its attributes (the KeyValues of its top-level
    field `field`) whose key is `wanted`, decoded, in wire order (a repeated key: the last
    wins); None when none is. Also the items it could not read (their entries are None).

    Walked by the compiled walk where it was built (`_wire_walk.c`), else with numpy."""
    if _wire_walk is None:
        return numpy_attributes(buf, starts, ends, field, wanted)
    try:
        found, unsure = _wire_walk.attributes(
            buf, np.ascontiguousarray(starts, dtype=np.int64), np.ascontiguousarray(ends, dtype=np.int64),
            field, wanted, _library_key_value, _library_value,
        )  # fmt: skip
    except (UnicodeDecodeError, DecodeError):  # not bytes upb accepts: let the caller decode them
        return [None] * len(starts), Unsure(range(len(starts)))
    return found, Unsure(unsure)


def _library_key_value(raw: bytes) -> tuple[str, Any]:
    """A KeyValue as the protobuf library reads it: what both walks hand it."""
    kv = KeyValue.FromString(raw)
    return kv.key, any_value_to_python(kv.value)


def _library_value(raw: bytes) -> Any:
    return any_value_to_python(AnyValue.FromString(raw))


def numpy_attributes(
    buf: bytes, starts: Positions, ends: Positions, field: int, wanted: Callable[[str], bool]
) -> tuple[Found, Unsure]:
    """`attributes` walked with numpy: a field of every item per step."""
    n = len(starts)
    found: Found = [None] * n
    if not n:
        return found, Unsure()
    data = np.frombuffer(buf + bytes(_PAD), dtype=np.uint8)
    item, kv_start, kv_stop, unsure = _walk(data, starts, ends, field, len(buf))
    if not item.size:
        return found, Unsure(unsure.tolist())
    order = np.argsort(item, kind="stable")  # the walk took a field of every item per step
    item, kv_start, kv_stop = item[order], kv_start[order], kv_stop[order]
    try:
        keys, values, keep = _key_values(buf, data, kv_start, kv_stop, wanted)
    except (pa.ArrowInvalid, DecodeError):  # not bytes upb accepted: let the caller decode them
        return found, Unsure(range(n))
    item = item[keep]
    if item.size:
        bounds = np.flatnonzero(np.diff(item)) + 1
        firsts = np.concatenate(([0], bounds)).tolist()
        lasts = np.concatenate((bounds, [item.size])).tolist()
        for i, a, b in zip(item[firsts].tolist(), firsts, lasts, strict=True):
            found[i] = dict(zip(keys[a:b], values[a:b], strict=True))
    for i in unsure.tolist():
        found[i] = None
    return found, Unsure(unsure.tolist())


def _varints(data: npt.NDArray[np.uint8], pos: Positions) -> tuple[npt.NDArray[np.uint64], Positions, Any]:
    """The varint at each position, the positions after them, and where a varint was longer
    than 64 bits (those values are wrong: callers treat them as unreadable)."""
    b = data[pos]
    value = (b & 0x7F).astype(np.uint64)
    after = pos + 1
    more = np.flatnonzero(b >= 0x80)
    shift = 7
    bad = np.zeros(len(pos), dtype=bool)
    while more.size:
        if shift > 63:
            bad[more] = True
            break
        b = data[after[more]]
        if shift == 63:
            bad[more[(b & 0x7F) > 1]] = True
        value[more] |= (b & 0x7F).astype(np.uint64) << np.uint64(shift)
        after[more] += 1
        more = more[b >= 0x80]
        shift += 7
    return value, after, bad


def _walk(
    data: npt.NDArray[np.uint8], starts: Positions, ends: Positions, field: int, size: int
) -> tuple[Positions, Positions, Positions, Positions]:
    """(item, start, stop) of every length-delimited occurrence of `field` at the top level of
    each item, and the items whose fields do not end exactly at their end."""
    pos = np.asarray(starts, dtype=np.int64).copy()
    ends = np.asarray(ends, dtype=np.int64)
    live = np.flatnonzero(pos < ends)
    failed = np.zeros(len(pos), dtype=bool)
    items, kv_starts, kv_stops = [], [], []
    while live.size:
        p = pos[live]
        tag, p, bad = _varints(data, p)
        wire_type = tag & np.uint64(7)
        nxt = p.copy()
        ld = np.flatnonzero(wire_type == 2)
        if ld.size:
            length, after, bad_length = _varints(data, p[ld])
            bad[ld[bad_length]] = True
            stop = after + np.minimum(length, size).astype(np.int64)
            nxt[ld] = stop
            mine = (tag[ld] >> np.uint64(3)) == field
            if mine.any():
                items.append(live[ld[mine]])
                kv_starts.append(after[mine])
                kv_stops.append(stop[mine])
        vi = np.flatnonzero(wire_type == 0)
        if vi.size:
            _, nxt[vi], bad_varint = _varints(data, p[vi])
            bad[vi[bad_varint]] = True
        nxt[wire_type == 1] += 8
        nxt[wire_type == 5] += 4
        bad |= (wire_type > 2) & (wire_type != 5)  # groups (3, 4) and invalid types
        pos[live] = nxt
        bad |= nxt > ends[live]
        failed[live[bad]] = True
        live = live[~bad & (nxt < ends[live])]
    failed |= pos != ends
    if items:
        item, kv_start, kv_stop = np.concatenate(items), np.concatenate(kv_starts), np.concatenate(kv_stops)
        ok = ~failed[item]
        item, kv_start, kv_stop = item[ok], kv_start[ok], kv_stop[ok]
    else:
        item = kv_start = kv_stop = np.zeros(0, dtype=np.int64)
    return item, kv_start, kv_stop, np.flatnonzero(failed)


def _key_values(
    buf: bytes, data: npt.NDArray[np.uint8], start: Positions, stop: Positions, wanted: Callable[[str], bool]
) -> tuple[list[str], list[Any], npt.NDArray[np.bool_]]:
    """The wanted keys and their values among the KeyValues buf[start:stop], and which of
    the KeyValues those are."""
    n = len(start)
    key_len = data[start + 1].astype(np.int64)
    key_end = start + 2 + key_len
    plain = (data[start] == 0x0A) & (key_len < 0x80) & (key_end + 1 < stop)
    plain &= data[np.where(plain, key_end, start)] == 0x12
    value_len, value_start, bad = _varints(data, np.where(plain, key_end + 1, start))
    plain &= ~bad & (value_start + value_len.astype(np.int64) == stop)
    keys = np.empty(n, dtype=object)
    values = np.empty(n, dtype=object)
    keep = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(plain)
    if rows.size:
        codes = _gather(data, start[rows] + 2, key_end[rows], pa.string_view()).cast(pa.string())
        codes = codes.dictionary_encode()  # a few distinct keys: `wanted` and a str once for each
        distinct = np.empty(len(codes.dictionary), dtype=object)
        distinct[:] = codes.dictionary.to_pylist()
        chosen = np.array([wanted(key) for key in distinct], dtype=bool)
        indices = codes.indices.to_numpy(zero_copy_only=False)
        kept = chosen[indices]
        keep[rows] = kept
        rows = rows[kept]
        keys[rows] = distinct[indices[kept]]
        _values(buf, data, value_start[rows], stop[rows], rows, values)
    for k in np.flatnonzero(~plain).tolist():  # any other layout: the library's reading
        key, value = _library_key_value(buf[start[k] : stop[k]])
        if wanted(key):
            keep[k] = True
            keys[k] = key
            values[k] = value
    return keys[keep].tolist(), values[keep].tolist(), keep


def _values(
    buf: bytes, data: npt.NDArray[np.uint8], start: Positions, stop: Positions, rows: Positions,
    out: npt.NDArray[np.object_],
) -> None:  # fmt: skip
    """Each AnyValue buf[start:stop] decoded into out[rows[i]]."""
    tag = np.where(start < stop, data[start], 0)
    done = np.zeros(len(start), dtype=bool)
    # strings and bytes: one length-delimited field that fills the value
    for want, kind in ((_STRING, pa.string_view()), (_BYTES, pa.binary_view())):
        sel = np.flatnonzero(tag == want)
        if not sel.size:
            continue
        length, after, bad = _varints(data, start[sel] + 1)
        sel, after = _where(sel, after, ~bad & (after + length.astype(np.int64) == stop[sel]))
        _put(out, rows[sel], _gather(data, after, stop[sel], kind).to_pylist())
        done[sel] = True
    for want in (_INT, _BOOL):
        sel = np.flatnonzero(tag == want)
        if not sel.size:
            continue
        value, after, bad = _varints(data, start[sel] + 1)
        sel, value = _where(sel, value, ~bad & (after == stop[sel]))
        _put(out, rows[sel], (value != 0).tolist() if want == _BOOL else value.view(np.int64).tolist())
        done[sel] = True
    sel = np.flatnonzero((tag == _DOUBLE) & (start + 9 == stop))
    if sel.size:
        raw = data[(start[sel] + 1)[:, None] + np.arange(8)]
        _put(out, rows[sel], np.ascontiguousarray(raw).view("<f8").ravel().tolist())
        done[sel] = True
    for i in np.flatnonzero(~done).tolist():  # anything else: the library's reading
        out[rows[i]] = _library_value(buf[start[i] : stop[i]])


def _where(sel: Positions, other: Any, ok: npt.NDArray[np.bool_]) -> tuple[Positions, Any]:
    return sel[ok], other[ok]


def _put(out: npt.NDArray[np.object_], rows: Positions, values: list[Any]) -> None:
    """out[rows] = values, element by element (numpy would read a list of lists as a 2-D array)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    out[rows] = column


def _gather(data: npt.NDArray[np.uint8], start: Positions, stop: Positions, kind: pa.DataType) -> pa.Array:
    """data[start[i]:stop[i]] for each i, as a string_view (UTF-8 checked) or binary_view array
    over `data` itself: no byte is copied until the values become Python objects."""
    n = len(start)
    size = stop - start
    views = np.zeros((n, 16), dtype=np.uint8)  # Arrow's view layout: int32 size, then 12 bytes
    views[:, :4] = size.astype("<i4").view(np.uint8).reshape(n, 4)
    inline = np.where(size > 12, 4, size)  # short values are inline; long ones keep a 4-byte prefix
    views[:, 4:] = data[start[:, None] + _TWELVE] * (inline[:, None] > _TWELVE)
    long = size > 12
    views[long, 12:] = start[long].astype("<i4").view(np.uint8).reshape(-1, 4)  # buffer 0, offset
    array = pa.Array.from_buffers(kind, n, [None, pa.py_buffer(views), pa.py_buffer(data)])
    array.validate(full=True)  # UTF-8: from a message upb accepted, but checked all the same
    return array


_TWELVE = np.arange(12)
