"""The column-wise JSON encoder writes exactly what the reference (orjson) encoder writes.

Many seeded random tables of awkward values (some inside objects, as dotted field_mapping
targets build them), cut into batches of random sizes, are encoded both ways: the bodies must
be the same bytes, and so parse to the same values, type for type (an int is not a float, -0.0
is not 0.0).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest
from floe_ingestion_dlt.sinks.rest import json_fast, json_rows

UTC = dt.UTC

STRINGS = [
    "",
    "plain",
    'a "quoted" word',
    "back\\slash",
    '\\"',
    "\\\\u0041",
    "\x00",
    "\x1f",
    "nul \x00 inside",
    "\x01\x02\x1e\x7f",
    "line\nbreak\r\n\ttab\x08\x0c",
    "\u2028\u2029",
    "Zoë Łukasz Nguyễn",
    "東京都",
    "😀👩‍👩‍👧",
    "\U0010ffff\ue000",
    "</script>",
    " spaced ",
    "x" * 5_000,
    'mixed "\x00\\\x1f" 😀',
]
FLOATS = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.1,
    2.5,
    100.0,
    1e308,
    -1e308,
    1.7976931348623157e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1e-310,
    1e-7,
    1e-6,
    1e15,
    1e16,
    1e21,
    1e22,
    9007199254740993.0,
    123456789.123456789,
    0.30000000000000004,
    math.nan,
    math.inf,
    -math.inf,
]
FLOAT32S = [0.1, 1.5, -0.0, 3.4e38, 1e-45, 16777216.0, math.nan, math.inf]
MOMENTS = [
    dt.datetime(1970, 1, 1),
    dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    dt.datetime(2024, 5, 1, 12, 30, 5, 120000),
    dt.datetime(1900, 1, 1, 0, 0, 0, 1),
    dt.datetime(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59),
]
DATES = [dt.date(1970, 1, 1), dt.date(2024, 2, 29), dt.date(1, 1, 1), dt.date(9999, 12, 31)]
NAMES = ["id", "", 'quo"te', "back\\slash", "new\nline", "nul\x00", "東京", "😀", "tab\t", "x"]

Column = tuple[pa.DataType, list[Any]]


def _ints(arrow_type: pa.DataType, low: int, high: int) -> Callable[[random.Random], Column]:
    edges = [low, high, 0, 1, -1 if low < 0 else 2, low + 1, high - 1]
    return lambda rng: (
        arrow_type,
        [rng.choice(edges) if rng.random() < 0.5 else rng.randint(low, high) for _ in range(8)],
    )


def _pool(arrow_type: pa.DataType, values: list[Any]) -> Callable[[random.Random], Column]:
    return lambda _rng: (arrow_type, values)


def _in_range(unit: str) -> list[dt.datetime]:
    if unit == "ns":  # nanoseconds since 1970 in 64 bits reach 1677-2262 only
        return [moment for moment in MOMENTS if 1677 < moment.year < 2262]
    if unit == "s":
        return [moment.replace(microsecond=0) for moment in MOMENTS]
    if unit == "ms":
        return [moment.replace(microsecond=moment.microsecond // 1000 * 1000) for moment in MOMENTS]
    return MOMENTS


def _zoned(unit: str, zone: str) -> Callable[[random.Random], Column]:
    values = [moment.replace(tzinfo=UTC) for moment in _in_range(unit) if moment.year > 1]
    return _pool(pa.timestamp(unit, zone), values)


COLUMNS: list[Callable[[random.Random], Column]] = [
    _ints(pa.int64(), -(2**63), 2**63 - 1),
    _ints(pa.int32(), -(2**31), 2**31 - 1),
    _ints(pa.int8(), -128, 127),
    _ints(pa.uint64(), 0, 2**64 - 1),
    _ints(pa.uint16(), 0, 2**16 - 1),
    _pool(pa.float64(), FLOATS),
    _pool(pa.float32(), FLOAT32S),
    _pool(pa.string(), STRINGS),
    _pool(pa.large_string(), STRINGS),
    _pool(pa.string_view(), STRINGS),
    _pool(pa.bool_(), [True, False]),
    _pool(
        pa.decimal128(38, 9),
        [Decimal("12345678901234567890.123456789"), Decimal("-0.000000001"), Decimal(0)],
    ),
    _pool(pa.decimal128(5, 2), [Decimal("1.50"), Decimal("-999.99"), Decimal("0.01")]),
    _pool(pa.decimal256(60, 20), [Decimal("1" * 40 + "." + "9" * 20)]),
    *(_pool(pa.timestamp(unit), _in_range(unit)) for unit in ("s", "ms", "us", "ns")),
    _zoned("us", "UTC"),
    _zoned("ms", "Europe/Paris"),
    _zoned("ns", "+05:30"),
    _zoned("s", "UTC"),
    _pool(pa.date32(), DATES),
    _pool(pa.date64(), DATES),
    _pool(pa.time64("us"), [dt.time(0, 0), dt.time(23, 59, 59, 999999)]),
    _pool(pa.time32("ms"), [dt.time(12, 30, 5, 123000)]),
    _pool(pa.binary(), [b"", b"\x00\xff", "é".encode()]),
    _pool(pa.duration("ms"), [dt.timedelta(seconds=90), dt.timedelta(0)]),
    _pool(pa.list_(pa.string()), [["a", 'b"'], []]),
    _pool(
        pa.struct([("at", pa.timestamp("us", "UTC")), ("n", pa.decimal128(5, 2))]),
        [{"at": dt.datetime(2024, 1, 1, 1, tzinfo=UTC), "n": Decimal("1.50")}],
    ),
    _pool(pa.map_(pa.string(), pa.int64()), [[("k", 1)], []]),
]


def _column(rng: random.Random, rows: int) -> pa.Array:
    arrow_type, values = rng.choice(COLUMNS)(rng)
    null_share = rng.choice([0.0, 0.0, 0.1, 0.5, 1.0])
    drawn = [None if rng.random() < null_share else rng.choice(values) for _ in range(rows)]
    array = pa.array(drawn, arrow_type)
    if rng.random() < 0.15 and (pa.types.is_string(arrow_type) or pa.types.is_integer(arrow_type)):
        array = array.dictionary_encode()
    return array


def _struct(rng: random.Random, rows: int, depth: int) -> pa.Array:
    """An object column of awkward fields (objects inside it too), some objects null."""
    names = rng.sample(NAMES, rng.randint(1, 4))
    children = [
        _struct(rng, rows, depth - 1) if depth and rng.random() < 0.3 else _column(rng, rows)
        for _ in names
    ]
    null_share = rng.choice([0.0, 0.0, 0.2, 1.0])
    mask = pa.array([rng.random() < null_share for _ in range(rows)])
    struct = pa.StructArray.from_arrays(children, names=names, mask=mask if null_share else None)
    if rng.random() < 0.3:  # fields that start at an offset inside the object
        struct = pa.StructArray.from_arrays(
            [child.slice(1) for child in children],
            names=names,
            mask=mask.slice(1) if null_share else None,
        )
        struct = pa.concat_arrays([struct, struct.slice(0, 1)])
    return struct


def _table(seed: int) -> pa.Table:
    rng = random.Random(seed)
    rows = rng.choice([12, 64, 100, 257, 600])
    width = rng.randint(1, 6)
    names = rng.sample(NAMES, width)
    table = pa.table(
        {
            name: _struct(rng, rows, 2) if rng.random() < 0.25 else _column(rng, rows)
            for name in names
        }
    )
    if rng.random() < 0.3:
        table = table.slice(rng.randint(1, 10))  # arrays that start at an offset
    return table


def _batches(table: pa.Table, seed: int) -> list[pa.RecordBatch]:
    rng = random.Random(seed)
    batches, start = [], 0
    while start < table.num_rows:
        size = rng.choice([1, 7, 50, 500])
        batches.append(table.slice(start, size).combine_chunks().to_batches()[0])
        start += size
    return batches


def _strict(value: Any) -> Any:
    """A value where 1 and 1.0, 0.0 and -0.0 compare unequal."""
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, list):
        return [_strict(item) for item in value]
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    return value


def _reference(batch: pa.RecordBatch) -> bytes:
    return json_rows.dumps(json_rows.records(batch))


def _reference_rows(batch: pa.RecordBatch) -> list[bytes]:
    return [json_rows.dumps(row) for row in json_rows.records(batch)]


@pytest.fixture
def no_reference_path(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call to send batches of any size through the fast encoder, and to make any fall-back
    to the reference encoder fail the test."""

    def refuse(batch: pa.RecordBatch) -> list[dict[str, Any]]:
        raise AssertionError("the fast encoder fell back to the reference path")

    def arm() -> None:
        monkeypatch.setattr(json_fast, "MIN_ROWS", 1)
        monkeypatch.setattr(json_rows, "records", refuse)

    return arm


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("seed", range(200))
def test_random_awkward_tables_encode_to_the_reference_bytes(
    seed: int, no_reference_path: Callable[[], None]
) -> None:
    table = _table(seed)
    batches = _batches(table, seed)
    expected = [_reference(batch) for batch in batches]
    expected_rows = [row for batch in batches for row in _reference_rows(batch)]
    no_reference_path()
    arrays = json_fast.json_arrays(batches)
    assert [_strict(orjson.loads(body)) for body in arrays] == [
        _strict(orjson.loads(body)) for body in expected
    ]
    assert arrays == expected
    assert json_fast.json_objects(batches) == expected_rows


@pytest.mark.requirement("R8")
def test_every_awkward_value_and_name_at_once(no_reference_path: Callable[[], None]) -> None:
    strings = [*STRINGS, *STRINGS, *STRINGS, *([None] * len(STRINGS))]
    rows = len(strings)
    zoned = [MOMENTS[1].replace(tzinfo=UTC), None]
    table = pa.table(
        {name: pa.array(strings[index:] + strings[:index]) for index, name in enumerate(NAMES[:5])}
        | {
            NAMES[5]: pa.array((FLOATS * 4)[:rows], pa.float64()),
            NAMES[6]: pa.array(([2**63 - 1, -(2**63), 0, None] * rows)[:rows], pa.int64()),
            NAMES[7]: pa.array(zoned * (rows // 2), pa.timestamp("us", "UTC")),
        }
    )
    batches = table.to_batches(max_chunksize=25)
    expected = [_reference(batch) for batch in batches]
    no_reference_path()
    assert json_fast.json_arrays(batches) == expected


@pytest.mark.requirement("R8")
def test_floats_keep_their_type_sign_and_every_digit() -> None:
    values = [*FLOATS, None] * 4
    batch = pa.record_batch({"f": pa.array(values, pa.float64())})
    body = json_fast.json_arrays([batch])[0]
    assert body == _reference(batch)
    parsed = [row["f"] for row in orjson.loads(body)]
    for value, got in zip(values, parsed, strict=True):
        if value is None or not math.isfinite(value):
            assert got is None
        else:
            assert isinstance(got, float) and got.hex() == value.hex()


@pytest.mark.requirement("R8")
def test_each_batch_gets_its_own_body_and_empty_batches_an_empty_array() -> None:
    table = pa.table({"id": range(100), "name": [f"n{i}" for i in range(100)]})
    parts = table.to_batches(max_chunksize=30)
    batches = [parts[0], parts[0].slice(0, 0), *parts[1:]]
    bodies = json_fast.json_arrays(batches)
    assert [len(orjson.loads(body)) for body in bodies] == [30, 0, 30, 30, 10]
    assert bodies[1] == b"[]"
    assert orjson.loads(bodies[2])[0] == {"id": 30, "name": "n30"}


@pytest.mark.requirement("R8")
@pytest.mark.parametrize(
    "batch",
    [
        pa.RecordBatch.from_arrays([pa.array(range(100)), pa.array(range(100))], ["a", "a"]),
        pa.record_batch({"few": [1, 2, 3]}),
        pa.RecordBatch.from_pydict({}),
    ],
    ids=["repeated names", "few rows", "no columns"],
)
def test_batches_the_fast_path_does_not_take_give_the_reference_bytes(
    batch: pa.RecordBatch,
) -> None:
    assert json_fast.json_arrays([batch]) == [_reference(batch)]


@pytest.mark.requirement("R8")
def test_invalid_utf8_fails_as_the_reference_does() -> None:
    offsets = pa.array(range(101), pa.int32()).buffers()[1]
    bad = pa.Array.from_buffers(pa.string(), 100, [None, offsets, pa.py_buffer(b"\xff" * 100)])
    batch = pa.record_batch({"s": bad})
    with pytest.raises(UnicodeDecodeError):
        _reference(batch)
    with pytest.raises(UnicodeDecodeError):
        json_fast.json_arrays([batch])


@pytest.mark.requirement("R14")
def test_constant_columns_as_static_fields_arrive_give_the_reference_bytes(
    no_reference_path: Callable[[], None],
) -> None:
    rows = 100
    zeros = pa.repeat(pa.scalar(0, pa.int32()), rows)
    constants = {
        name: pa.DictionaryArray.from_arrays(zeros, pa.array([value]))
        for name, value in [("s", 'q"uote\x00'), ("n", 7), ("f", -0.0), ("b", False)]
    }
    inner = pa.StructArray.from_arrays([constants["s"], pa.array(range(rows))], names=["type", "i"])
    table = pa.table({**constants, "z": pa.nulls(rows), "attributes": inner})
    batches = table.to_batches(max_chunksize=30)
    expected = [_reference(batch) for batch in batches]
    no_reference_path()
    assert json_fast.json_arrays(batches) == expected
    assert orjson.loads(expected[0])[0] == {
        "s": 'q"uote\x00',
        "n": 7,
        "f": -0.0,
        "b": False,
        "z": None,
        "attributes": {"type": 'q"uote\x00', "i": 0},
    }
