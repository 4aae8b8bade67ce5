"""The bytes and parameter rows the ``sql_database`` sink sends."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from floe_ingestion_dlt.sinks.sql.encode import csv_body, parameter_rows


def _batch() -> pa.RecordBatch:
    paris = dt.timezone(dt.timedelta(hours=2))
    return pa.RecordBatch.from_pydict(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "s": pa.array(['a,"b"\nc', "", None]),
            "dec": pa.array([Decimal("1.20"), None, Decimal("-0.05")], pa.decimal128(10, 2)),
            "ok": pa.array([True, False, None]),
            "ts": pa.array(
                [dt.datetime(2024, 6, 1, 14, 30, 0, 123456, tzinfo=paris), None, None],
                pa.timestamp("us", tz="Europe/Paris"),
            ),
            "nts": pa.array([1_700_000_000_123_456_789, None, 0], pa.timestamp("ns")),
            "day": pa.array([dt.date(2024, 2, 29), None, None], pa.date32()),
            "bin": pa.array([b"\x00\xff", b"", None]),
            "tags": pa.array([["x", "y"], None, []], pa.list_(pa.string())),
            "cat": pa.array(["red", None, "red"]).dictionary_encode(),
        }
    )


@pytest.mark.requirement("R8")
def test_csv_body_is_copy_ready() -> None:
    lines = csv_body(_batch()).decode().split("\n")

    assert lines[:2] == [
        '1,"a,""b""',
        'c",1.20,true,2024-06-01 12:30:00.123456,2023-11-14 22:13:20.123456,2024-02-29,'
        '"\\x00ff","[""x"",""y""]","red"',
    ]
    # NULL is an empty unquoted field, an empty string is "".
    assert lines[2] == '2,"",,false,,,,"\\x",,'
    assert lines[3] == '3,,-0.05,,,1970-01-01 00:00:00.000000,,,"[]","red"'


@pytest.mark.requirement("R8")
def test_csv_body_is_deterministic() -> None:
    assert csv_body(_batch()) == csv_body(_batch())


@pytest.mark.requirement("R8")
def test_parameter_rows_per_backend() -> None:
    batch = _batch().select(["id", "dec", "ok", "ts", "day", "bin", "tags"])

    mysql = parameter_rows(batch, backend="mysql")
    lite = parameter_rows(batch, backend="sqlite")

    assert mysql[0] == (
        1,
        "1.20",
        True,
        "2024-06-01 12:30:00.123456",
        "2024-02-29",
        b"\x00\xff",
        '["x","y"]',
    )
    assert lite[0][3] == "2024-06-01 12:30:00.123456+00:00"
    assert mysql[1] == (2, None, False, None, None, b"", None)
