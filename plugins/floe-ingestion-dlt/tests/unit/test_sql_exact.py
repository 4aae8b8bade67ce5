"""Which rows the ``sql_database`` sink refuses because a database would change a value."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa
from floe_ingestion_dlt.sinks.sql.exact import (
    ColumnLimit,
    DecimalLimit,
    FloatLimit,
    FractionLimit,
    column_limit,
    refusals,
)
from sqlalchemy.dialects import mysql, postgresql


def _refused(batch: pa.RecordBatch, backend: str, **limits: ColumnLimit) -> dict[int, str]:
    return {r.position: r.reason for r in refusals(batch, backend=backend, limits=limits)}


def _floats() -> pa.RecordBatch:
    values = [1.5, math.nan, math.inf, -math.inf, -0.0, None]
    return pa.RecordBatch.from_pydict({"x": pa.array(values, pa.float64())})


@pytest.mark.requirement("B9")
def test_nan_is_refused_where_it_would_become_null_and_infinity_where_it_cannot_be_stored() -> None:
    assert _refused(_floats(), "postgresql") == {}
    assert _refused(_floats(), "sqlite") == {1: "column 'x': NaN, which SQLite would store as NULL"}
    reason = "column 'x': NaN or infinity, which MySQL/MariaDB cannot store in a DOUBLE"
    assert _refused(_floats(), "mariadb") == {1: reason, 2: reason, 3: reason}


@pytest.mark.requirement("B9")
def test_unsigned_64_bit_values_beyond_sqlite_integers_are_refused() -> None:
    batch = pa.RecordBatch.from_pydict(
        {"u": pa.array([0, 2**63 - 1, 2**63, 2**64 - 1, None], pa.uint64())}
    )

    assert sorted(_refused(batch, "sqlite")) == [2, 3]
    assert _refused(batch, "postgresql") == _refused(batch, "mariadb") == {}


@pytest.mark.requirement("B9")
def test_nanoseconds_are_refused_and_whole_microseconds_kept() -> None:
    batch = pa.RecordBatch.from_pydict(
        {
            "ts": pa.array([1_000, 1_001, None, -1_000], pa.timestamp("ns", tz="Asia/Kolkata")),
            "t": pa.array([5_000, 5_000, 5_000, 7], pa.time64("ns")),
        }
    )

    for backend in ("postgresql", "mariadb", "sqlite"):
        assert _refused(batch, backend) == {
            1: "column 'ts': nanoseconds, and the database keeps microseconds",
            3: "column 't': nanoseconds, and the database keeps microseconds",
        }


@pytest.mark.requirement("B9")
def test_nul_characters_are_refused_on_postgresql_only() -> None:
    batch = pa.RecordBatch.from_pydict(
        {
            "s": pa.array(["a\x00b", "ab", None]),
            "d": pa.array(["\x00", "x", "y"]).dictionary_encode(),
        }
    )

    assert sorted(_refused(batch, "postgresql")) == [0]
    assert _refused(batch, "sqlite") == _refused(batch, "mariadb") == {}


@pytest.mark.requirement("B9")
@pytest.mark.parametrize(
    ("limit", "value", "kept"),
    [
        (DecimalLimit("NUMERIC", significant=15, int64_whole=True), "99999999999999.999999", False),
        (DecimalLimit("NUMERIC", significant=15, int64_whole=True), "123456789.123456", True),
        (DecimalLimit("NUMERIC", significant=15, int64_whole=True), "9223372036854775807", True),
        (DecimalLimit("NUMERIC", significant=15, int64_whole=True), "9223372036854775808", False),
        (DecimalLimit("NUMERIC", significant=15, int64_whole=True), "1.230000000000000000", True),
        (DecimalLimit("NUMERIC", significant=15, int64_whole=True), "0E-30", True),
        (DecimalLimit("NUMERIC(12, 2)", scale=2), "1.2300", True),
        (DecimalLimit("NUMERIC(12, 2)", scale=2), "1.2345", False),
        (DecimalLimit("NUMERIC(12, 2)", scale=2), "-0.0001", False),
        (DecimalLimit("INTEGER", scale=0), "12.0", True),
        (DecimalLimit("REAL", significant=6), "1234.56", True),
        (DecimalLimit("REAL", significant=6), "1234.567", False),
        # 38 digits: no rounding to the decimal context's 28 digits while counting.
        (DecimalLimit("DOUBLE", significant=15), "1" + "0" * 36 + "1", False),
    ],
)
def test_decimal_limit_keeps_exactly_what_the_column_stores(
    limit: DecimalLimit, value: str, kept: bool
) -> None:
    assert limit.keeps(Decimal(value)) is kept


@pytest.mark.requirement("B9")
def test_decimals_an_existing_column_would_round_are_refused_with_the_column_type() -> None:
    batch = pa.RecordBatch.from_pydict(
        {
            "amount": pa.array(
                [Decimal("99999999999999.999999"), Decimal("1.500000"), None],
                pa.decimal128(20, 6),
            )
        }
    )
    limit = DecimalLimit("NUMERIC(20, 6)", significant=15, int64_whole=True)

    assert _refused(batch, "sqlite", amount=limit) == {
        0: "column 'amount': more than 15 significant digits, which the existing NUMERIC(20, 6) "
        "column would round (SQLite keeps 15 in a column of NUMERIC, INTEGER or REAL affinity; "
        "declare it TEXT to keep every digit)"
    }


@pytest.mark.requirement("B9")
def test_float64_values_a_single_precision_column_would_round_are_refused() -> None:
    batch = pa.RecordBatch.from_pydict({"x": pa.array([0.5, 0.1, math.nan, None, 1e300])})

    assert sorted(_refused(batch, "postgresql", x=FloatLimit("REAL"))) == [1, 4]


@pytest.mark.requirement("B9")
def test_fractions_and_times_of_day_a_column_would_cut_are_refused() -> None:
    noon = dt.datetime(2024, 5, 1, 12)
    before_epoch = dt.datetime(1969, 12, 31, 23, 59, 59, 500_000)
    batch = pa.RecordBatch.from_pydict(
        {
            "at": pa.array(
                [noon, noon.replace(microsecond=1_000), noon.replace(microsecond=1), before_epoch],
                pa.timestamp("us"),
            )
        }
    )

    assert sorted(_refused(batch, "mariadb", at=FractionLimit("DATETIME", 0))) == [1, 2, 3]
    assert sorted(_refused(batch, "mariadb", at=FractionLimit("DATETIME(3)", 3))) == [2]
    assert sorted(_refused(batch, "postgresql", at=FractionLimit("DATE", None))) == [0, 1, 2, 3]


@pytest.mark.requirement("B9")
def test_column_limit_reads_the_existing_column_type() -> None:
    dec = pa.decimal128(20, 6)
    assert column_limit("sqlite", dec, sa.NUMERIC(20, 6)) == DecimalLimit(
        "NUMERIC(20, 6)", significant=15, int64_whole=True
    )
    assert column_limit("sqlite", dec, sa.TEXT()) is None
    assert column_limit("postgresql", dec, sa.NUMERIC(20, 6)) == DecimalLimit(
        "NUMERIC(20, 6)", scale=6
    )
    assert column_limit("postgresql", dec, sa.NUMERIC()) is None  # unconstrained numeric
    assert column_limit("postgresql", dec, sa.NUMERIC(10)) == DecimalLimit("NUMERIC(10)", scale=0)
    assert column_limit("postgresql", dec, postgresql.DOUBLE_PRECISION()) == DecimalLimit(
        "DOUBLE PRECISION", significant=15
    )
    assert column_limit("mariadb", pa.float64(), mysql.FLOAT()) == FloatLimit("FLOAT")
    assert column_limit("mariadb", pa.float64(), mysql.DOUBLE()) is None
    assert column_limit("mariadb", pa.float64(), mysql.REAL()) is None  # a DOUBLE in MySQL
    assert column_limit("postgresql", pa.float64(), postgresql.REAL()) == FloatLimit("REAL")
    ts = pa.timestamp("us", tz="UTC")
    assert column_limit("mariadb", ts, mysql.DATETIME()) == FractionLimit("DATETIME", 0)
    assert column_limit("mariadb", ts, mysql.DATETIME(fsp=6)) is None
    assert column_limit("postgresql", ts, postgresql.TIMESTAMP()) is None
    assert column_limit("postgresql", ts, postgresql.TIMESTAMP(precision=3)) == FractionLimit(
        "TIMESTAMP(3) WITHOUT TIME ZONE", 3
    )
    assert column_limit("postgresql", ts, sa.DATE()) == FractionLimit("DATE", None)
    assert column_limit("sqlite", ts, sa.DATE()) is None  # SQLite keeps the text


@pytest.mark.requirement("B9")
def test_non_finite_floats_inside_nested_values_are_refused_everywhere() -> None:
    batch = pa.RecordBatch.from_pydict(
        {
            "l": pa.array([[1.0, math.nan], [2.0], None, [None]], pa.list_(pa.float64())),
            "m": pa.array(
                [[], [("x", math.inf)], [("y", 1.0)], []], pa.map_(pa.string(), pa.float32())
            ),
            "s": pa.array(
                [{"a": 1}, {"a": 2}, {"a": 3}, {"a": None}], pa.struct([("a", pa.int64())])
            ),
        }
    )

    for backend in ("postgresql", "mariadb", "sqlite"):
        refused = _refused(batch, backend)
        assert sorted(refused) == [0, 1]
        assert refused[0] == (
            "column 'l': NaN or infinity inside a list<item: double>, which JSON cannot hold "
            "(it would become null)"
        )
