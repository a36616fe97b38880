"""`storage.wire_values.attributes` reads what the protobuf library reads (pure logic).

Both of its walks, the compiled one (`storage/_wire_walk.c`) and numpy's, are checked. Every
check compares them with `anyvalue.workflow_attributes` over the message the library
decodes from the same bytes: on spans built by the library with every kind of value, on
hand-written encodings no encoder emits (the scanner must hand those to the library or
report them unsure), and on random mutations of real spans.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Any

import numpy as np
import pytest
from flowscope.storage import wire_values
from flowscope.storage.anyvalue import any_value_to_python, is_workflow_key, workflow_attributes
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def _everything(key: str) -> bool:
    return True


def _same(a: Any, b: Any) -> bool:
    """Equal, key order included, NaN equal to NaN and -0.0 apart from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


WALKS = {"compiled": wire_values.attributes, "numpy": wire_values.numpy_attributes}


def test_the_install_built_the_compiled_walk() -> None:
    """`make setup` compiles it (a C compiler is on every machine it runs on); without it ingest
    falls back to the numpy walk, correct but 5-8x slower per workflow span."""
    assert wire_values._wire_walk is not None


def _scan(
    blobs: list[bytes], field: int = wire_values.SPAN_ATTRIBUTES, wanted: Any = is_workflow_key,
    walk: str = "compiled",
) -> Any:  # fmt: skip
    """The scanner over the blobs laid end to end in one buffer, as a request holds its spans."""
    buf = b"".join(blobs)
    ends = np.cumsum([len(b) for b in blobs], dtype=np.int64)
    starts = ends - np.array([len(b) for b in blobs], dtype=np.int64)
    return WALKS[walk](buf, starts, ends, field, wanted)


def _check(blobs: list[bytes], wanted: Any = is_workflow_key, allow_unsure: bool = False) -> None:
    for walk in WALKS:
        _check_walk(blobs, wanted, allow_unsure, walk)


def _check_walk(blobs: list[bytes], wanted: Any, allow_unsure: bool, walk: str) -> None:
    found, unsure = _scan(blobs, wanted=wanted, walk=walk)
    assert len(found) == len(blobs)
    for i, blob in enumerate(blobs):
        attributes = Span.FromString(blob).attributes
        if wanted is is_workflow_key:
            expected = workflow_attributes(attributes)
        else:
            expected = {kv.key: any_value_to_python(kv.value) for kv in attributes if wanted(kv.key)} or None
        if i in unsure:
            assert allow_unsure, f"{walk}: span {i} unexpectedly unsure"
            assert found[i] is None
            continue
        assert _same(found[i], expected), (walk, i, found[i], expected)


def _kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def _nested(depth: int) -> AnyValue:
    """A string in `depth` arrays (kvlists at odd depths): anyvalue.MAX_DEPTH cuts it at 32."""
    value = AnyValue(string_value="leaf")
    for level in range(depth):
        if level % 2:
            value = AnyValue(kvlist_value=KeyValueList(values=[_kv(f"k{level}", value)]))
        else:
            value = AnyValue(array_value=ArrayValue(values=[value]))
    return value


_VALUES = [
    AnyValue(string_value=""),
    AnyValue(string_value="ok"),
    AnyValue(string_value="é€𝄞 unicode"),
    AnyValue(string_value="x" * 12),
    AnyValue(string_value="y" * 13),
    AnyValue(string_value="z" * 200),
    AnyValue(string_value="w" * 20_000),
    AnyValue(int_value=0),
    AnyValue(int_value=3),
    AnyValue(int_value=-1),
    AnyValue(int_value=2**63 - 1),
    AnyValue(int_value=-(2**63)),
    AnyValue(bool_value=True),
    AnyValue(bool_value=False),
    AnyValue(double_value=0.0),
    AnyValue(double_value=-0.0),
    AnyValue(double_value=1.5),
    AnyValue(double_value=float("nan")),
    AnyValue(double_value=float("-inf")),
    AnyValue(bytes_value=b""),
    AnyValue(bytes_value=b"\x00\xff" * 10),
    AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=2)])),
    AnyValue(kvlist_value=KeyValueList(values=[_kv("k", AnyValue(bool_value=True))])),
    AnyValue(array_value=ArrayValue()),
    AnyValue(kvlist_value=KeyValueList()),
    AnyValue(
        array_value=ArrayValue(values=[AnyValue(), AnyValue(double_value=2.0), AnyValue(bytes_value=b"b")])
    ),
    AnyValue(
        kvlist_value=KeyValueList(
            values=[
                _kv("a", AnyValue(int_value=1)),
                _kv("", AnyValue()),
                _kv("a", AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="é")]))),
            ]
        )
    ),
    _nested(31),
    _nested(32),
    _nested(33),
    AnyValue(),
]


def test_every_kind_of_value_reads_as_the_library_reads_it() -> None:
    spans = []
    for n, value in enumerate(_VALUES):
        span = Span(trace_id=bytes(range(16)), span_id=bytes(range(8)), name=f"s{n}", kind=2)
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + n
        span.attributes.append(_kv("workflow.step.value", value))
        span.attributes.append(_kv("http.method", AnyValue(string_value="GET")))  # not wanted
        span.attributes.append(_kv("cicd.pipeline.task.name", AnyValue(string_value=f"t{n}")))
        span.attributes.append(_kv("workflow." + "long" * 40, value))  # key of 165 bytes
        span.attributes.append(_kv("error.type", AnyValue(string_value="Boom")))
        span.events.add(name="exception").attributes.append(_kv("workflow.not.top", value))
        span.status.message = "failed"
        spans.append(span.SerializeToString())
    spans.append(Span(name="no attributes").SerializeToString())
    spans.append(b"")  # an empty span
    _check(spans)
    _check(spans, wanted=_everything)


@pytest.mark.parametrize("walk", WALKS)
def test_a_repeated_key_keeps_its_last_value_in_its_first_place(walk: str) -> None:
    span = Span()
    for key, value in [("workflow.a", "1"), ("workflow.b", "2"), ("workflow.a", "3")]:
        span.attributes.append(_kv(key, AnyValue(string_value=value)))
    found, unsure = _scan([span.SerializeToString()], walk=walk)
    assert not unsure
    assert list(found[0].items()) == [("workflow.a", "3"), ("workflow.b", "2")]


def test_more_distinct_keys_than_the_compiled_walk_remembers_read_as_the_library_reads_them() -> None:
    """The compiled walk remembers up to 128 keys a call by their bytes (`KnownKeys`): 600
    distinct keys, wanted and not, many sharing their slot, each again in later spans and
    alongside keys that differ by one byte or only in length, still read as the library does."""
    rnd = random.Random(11)
    keys = [f"workflow.k{i}" for i in range(300)] + [f"other.k{i}" for i in range(300)]
    keys += ["workflow.k1x", "workflow.k", "workflow.", "workflow.k0\u00e9"]
    spans = []
    for _ in range(40):
        span = Span()
        for key in rnd.sample(keys, 30):
            span.attributes.append(_kv(key, AnyValue(int_value=rnd.randrange(1000))))
        spans.append(span.SerializeToString())
    _check(spans)
    _check(spans, wanted=lambda key: key.endswith(("1", "3", "x")))


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (lengths < 128 only)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


_KEY = _field(1, b"workflow.x")
_STR = _field(1, b"abc")
_UNCOMMON = [
    # KeyValue layouts no encoder writes: the library reads them
    _field(9, _field(2, _STR) + _KEY),  # value before key
    _field(9, _KEY + _field(2, _STR) + _field(2, bytes([0x18, 5]))),  # two values: merged
    _field(9, _KEY + _field(2, _field(5, _field(1, _STR))) + _field(2, _field(5, _field(1, _STR)))),
    _field(9, _KEY),  # no value
    _field(9, _KEY + _field(1, b"workflow.y") + _field(2, _STR)),  # two keys: the last
    _field(9, _KEY + _field(2, _STR) + bytes([0x18, 1])),  # an unknown field after the value
    _field(9, bytes([0x8A, 0x00, 10]) + b"workflow.x" + _field(2, _STR)),  # a key tag of two bytes
    # AnyValues no encoder writes
    _field(9, _KEY + _field(2, _STR + bytes([0x18, 7]))),  # two oneof fields: the last
    _field(9, _KEY + _field(2, bytes([0x18, 7]) + _STR)),
    _field(9, _KEY + _field(2, _STR + bytes([0x40, 1]))),  # an unknown field in the value
    _field(9, _KEY + _field(2, bytes([0x0A, 0x83, 0x00]) + b"abc")),  # a length of two bytes
    _field(9, _KEY + _field(2, bytes([0x18]) + bytes([0xFF] * 9) + bytes([0x01]))),  # -1 on 10 bytes
    _field(9, _KEY + _field(2, bytes([0x10, 0x02]))),  # a bool of 2
    _field(9, _KEY + _field(2, bytes([0x21]) + struct.pack("<d", 2.5))),
    # field 9 with another wire type is not an attribute
    bytes([9 << 3 | 0, 5]) + _field(9, _KEY + _field(2, _STR)),
    # unknown top-level fields of every wire type
    bytes([0xF8, 0x07, 1]) + bytes([0xF9, 0x07]) + bytes(8) + bytes([0xFD, 0x07]) + bytes(4)
    + _field(9, _KEY + _field(2, _STR)),
]  # fmt: skip


def test_encodings_no_encoder_writes_read_as_the_library_reads_them() -> None:
    _check(_UNCOMMON)
    _check(_UNCOMMON, wanted=_everything)


@pytest.mark.parametrize("walk", WALKS)
def test_bytes_it_cannot_walk_are_reported_unsure(walk: str) -> None:
    group = bytes([15 << 3 | 3, 8, 1, 15 << 3 | 4])  # an unknown group, which upb skips
    blobs = [group + _field(9, _KEY + _field(2, _STR)), _field(9, _KEY + _field(2, _STR))]
    Span.FromString(blobs[0])  # the library takes it
    found, unsure = _scan(blobs, walk=walk)
    assert set(unsure) == {0}
    assert found == [None, {"workflow.x": "abc"}]
    found, unsure = _scan([_field(9, _KEY + _field(2, _STR))[:-1]], walk=walk)  # truncated
    assert set(unsure) == {0}
    long_varint = bytes([0x08]) + bytes([0xFF] * 10) + bytes([0x01])  # over 64 bits
    found, unsure = _scan([long_varint + _field(9, _KEY + _field(2, _STR))], walk=walk)
    assert set(unsure) == {0}


@pytest.mark.parametrize("walk", WALKS)
def test_bytes_that_are_not_utf8_leave_every_item_to_the_library(walk: str) -> None:
    """A key or string value upb would refuse: the walk reads nothing and says so."""
    bad_key = _field(9, _field(1, b"workflow.\xff") + _field(2, _STR))
    bad_value = _field(9, _KEY + _field(2, _field(1, b"\xc3(")))
    good = _field(9, _KEY + _field(2, _STR))
    for bad in (bad_key, bad_value):
        found, unsure = _scan([good, bad], walk=walk)
        assert set(unsure) == {0, 1}
        assert found == [None, None]


@pytest.mark.parametrize("walk", WALKS)
def test_log_records_read_their_own_attribute_field(walk: str) -> None:
    record = LogRecord(event_name="workflow.execution.started")
    record.attributes.append(_kv("workflow.id", AnyValue(string_value="wf")))
    record.body.string_value = "workflow.id"
    found, unsure = _scan([record.SerializeToString()], field=wire_values.LOG_RECORD_ATTRIBUTES, walk=walk)
    assert not unsure
    assert found == [{"workflow.id": "wf"}]


_SCALARS = st.one_of(
    st.builds(lambda v: AnyValue(string_value=v), st.text(max_size=300)),
    st.builds(lambda v: AnyValue(int_value=v), st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: AnyValue(bool_value=v), st.booleans()),
    st.builds(lambda v: AnyValue(double_value=v), st.floats(allow_nan=True)),
    st.builds(lambda v: AnyValue(bytes_value=v), st.binary(max_size=40)),
    st.just(AnyValue()),
)
_ANY = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.builds(lambda vs: AnyValue(array_value=ArrayValue(values=vs)), st.lists(inner, max_size=3)),
        st.builds(
            lambda kvs: AnyValue(kvlist_value=KeyValueList(values=[_kv(k, v) for k, v in kvs])),
            st.lists(st.tuples(st.text(max_size=5), inner), max_size=3),
        ),
    ),
    max_leaves=6,
)
_KEYS = st.one_of(
    st.sampled_from(["workflow.id", "workflow.step.id", "cicd.pipeline.name", "error.type", "other", ""]),
    st.text(max_size=140).map(lambda s: "workflow." + s),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.tuples(_KEYS, _ANY), max_size=8), min_size=1, max_size=6))
def test_generated_spans_read_as_the_library_reads_them(spans: list[list[tuple[str, AnyValue]]]) -> None:
    blobs = []
    for n, attributes in enumerate(spans):
        span = Span(name=f"s{n}", span_id=bytes(8), start_time_unix_nano=n)
        span.attributes.extend(_kv(k, v) for k, v in attributes)
        blobs.append(span.SerializeToString())
    _check(blobs)
    _check(blobs, wanted=_everything)


def test_mutated_spans_read_as_the_library_reads_them_or_are_unsure() -> None:
    """Random byte flips, cuts and insertions in real spans: wherever the library still decodes
    the bytes, the scanner reads the same attributes or says it is unsure; it never raises."""
    rnd = random.Random(11)
    bases = []
    for n, value in enumerate(_VALUES):
        span = Span(trace_id=bytes(16), span_id=bytes(8), name="step", kind=1)
        span.attributes.append(_kv("workflow.step.id", AnyValue(string_value=f"s{n}")))
        span.attributes.append(_kv("workflow.value", value))
        span.attributes.append(_kv("cicd.pipeline.task.run.id", AnyValue(int_value=n - 5)))
        bases.append(span.SerializeToString())
    accepted: list[bytes] = []
    while len(accepted) < 3000:
        blob = bytearray(rnd.choice(bases))
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(len(blob) + 1)
            action = rnd.random()
            if action < 0.5 and at < len(blob):
                blob[at] = rnd.randrange(256)
            elif action < 0.75:
                blob[at:at] = bytes([rnd.randrange(256)])
            else:
                del blob[at : at + rnd.randint(1, 4)]
        try:
            Span.FromString(bytes(blob))
        except DecodeError:
            continue
        accepted.append(bytes(blob))
    for start in range(0, len(accepted), 300):
        _check(accepted[start : start + 300], allow_unsure=True)
        _check(accepted[start : start + 300], wanted=_everything, allow_unsure=True)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)), max_size=8))
def test_any_bytes_are_read_or_refused_without_a_crash(data: bytes, bounds: list[tuple[int, int]]) -> None:
    """Both walks over arbitrary bytes (what a client may send inside a request the library
    accepted, or not): items within the buffer are read or reported unsure, and the
    compiled walk raises nothing (the numpy walk may refuse with IndexError or ValueError, after
    which convert decodes the request instead)."""
    inside = [(min(a, b), max(a, b)) for a, b in bounds if max(a, b) <= len(data)]
    starts = np.array([a for a, _ in inside], dtype=np.int64)
    ends = np.array([b for _, b in inside], dtype=np.int64)
    for name, walk in WALKS.items():
        try:
            found, unsure = walk(data, starts, ends, wire_values.SPAN_ATTRIBUTES, _everything)
        except (IndexError, ValueError):
            if name == "compiled":
                raise
            continue
        assert len(found) == len(inside)
        assert all(found[i] is None for i in unsure)
