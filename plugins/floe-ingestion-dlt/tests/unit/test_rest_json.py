"""Arrow values to JSON: exact, documented shapes."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import orjson
import pyarrow as pa
import pytest
from floe_ingestion_dlt.sinks.rest.json_rows import dumps, records

UTC = dt.UTC


def _one(array: pa.Array) -> list[object]:
    batch = pa.record_batch({"v": array})
    return [row["v"] for row in orjson.loads(dumps(records(batch)))]


@pytest.mark.requirement("R8")
@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("s", "2024-05-01T12:30:05Z"),
        ("ms", "2024-05-01T12:30:05.123Z"),
        ("us", "2024-05-01T12:30:05.123456Z"),
        ("ns", "2024-05-01T12:30:05.123456000Z"),
    ],
)
def test_zoned_timestamps_are_iso_8601_utc_with_the_unit_precision(
    unit: str, expected: str
) -> None:
    moment = dt.datetime(2024, 5, 1, 12, 30, 5, 123456, tzinfo=UTC)
    if unit == "s":
        moment = moment.replace(microsecond=0)
    elif unit == "ms":
        moment = moment.replace(microsecond=123000)
    assert _one(pa.array([moment, None], pa.timestamp(unit, "UTC"))) == [expected, None]


@pytest.mark.requirement("R8")
def test_timestamps_in_other_zones_are_written_in_utc() -> None:
    moment = dt.datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    values = _one(pa.array([moment], pa.timestamp("us", "Europe/Paris")))
    assert values == ["2024-07-01T12:00:00.000000Z"]
    parsed = dt.datetime.fromisoformat(str(values[0]))
    assert parsed == moment


@pytest.mark.requirement("R8")
def test_naive_timestamps_dates_and_times_keep_their_text() -> None:
    assert _one(pa.array([dt.datetime(1, 1, 1)], pa.timestamp("us"))) == [
        "0001-01-01T00:00:00.000000"
    ]
    assert _one(pa.array([dt.date(2024, 2, 29)], pa.date32())) == ["2024-02-29"]
    assert _one(pa.array([dt.date(2024, 2, 29)], pa.date64())) == ["2024-02-29"]
    assert _one(pa.array([dt.time(23, 59, 59, 999999)], pa.time64("us"))) == ["23:59:59.999999"]


@pytest.mark.requirement("R8")
def test_decimals_are_exact_strings_and_big_integers_exact_numbers() -> None:
    decimals = pa.array(
        [Decimal("12345678901234567890.123456789"), Decimal("-0.10"), None], pa.decimal128(38, 9)
    )
    assert _one(decimals) == ["12345678901234567890.123456789", "-0.100000000", None]
    big = [2**63 - 1, -(2**63), 0]
    assert _one(pa.array(big, pa.int64())) == big
    assert orjson.loads(
        dumps(records(pa.record_batch({"u": pa.array([2**64 - 1], pa.uint64())})))
    ) == [{"u": 2**64 - 1}]


@pytest.mark.requirement("R8")
def test_floats_round_trip_and_non_finite_become_null() -> None:
    values = [0.1, 1e-300, 123456789.123456789, math.nan, math.inf, None]
    assert _one(pa.array(values, pa.float64())) == [
        0.1,
        1e-300,
        123456789.123456789,
        None,
        None,
        None,
    ]


@pytest.mark.requirement("R8")
def test_strings_unicode_booleans_binary_and_dictionaries() -> None:
    text = 'Zoë "東京" \\ \n\t \u0000 😀' + "x" * 100_000
    assert _one(pa.array([text, None])) == [text, None]
    assert _one(pa.array([True, False, None])) == [True, False, None]
    assert _one(pa.array([b"\x00\xff", None], pa.binary())) == ["AP8=", None]
    dictionary = pa.array(["gold", "silver", "gold", None]).dictionary_encode()
    assert _one(dictionary) == ["gold", "silver", "gold", None]
    zoned = pa.array([dt.datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("ms", "UTC"))
    assert _one(zoned.dictionary_encode()) == ["2024-01-01T00:00:00.000Z"]


@pytest.mark.requirement("R8")
def test_nested_values() -> None:
    struct = pa.array(
        [{"amount": Decimal("1.50"), "at": dt.datetime(2024, 1, 1, tzinfo=UTC), "tags": ["a"]}],
        pa.struct(
            [
                ("amount", pa.decimal128(5, 2)),
                ("at", pa.timestamp("us", "UTC")),
                ("tags", pa.list_(pa.string())),
            ]
        ),
    )
    # an object's fields are spelled as the same columns at the top level would be
    assert _one(struct) == [{"amount": "1.50", "at": "2024-01-01T00:00:00.000000Z", "tags": ["a"]}]
    assert _one(pa.array([dt.timedelta(seconds=90)], pa.duration("ms"))) == [90.0]


@pytest.mark.requirement("R8")
def test_records_keep_column_order_and_handle_no_columns() -> None:
    batch = pa.record_batch({"b": [1, 2], "a": ["x", None]})
    assert dumps(records(batch)) == b'[{"b":1,"a":"x"},{"b":2,"a":null}]'
    no_columns = pa.RecordBatch.from_pydict({}).slice(0, 0)
    assert records(no_columns) == []
