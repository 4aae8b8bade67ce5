"""Every value reaches every SQL destination exactly, or its row is rejected with a reason.

The property test builds random awkward Arrow tables (seeded ``random``: decimals at their
maximum precision, integer extremes, -0.0, NaN, infinities, timestamps at the edges of the
calendar and with nanoseconds, dates, times, 4-byte emoji and long unicode, NUL characters,
binary, booleans, lists), writes them through the engine to PostgreSQL, MariaDB and SQLite,
reads the table back with the database's own driver and checks, row by row, that each value
read equals the value sent, or that the row was reported rejected, with a reason, because the
database cannot hold one of its values. Which rows those are is decided independently here
(``_unstorable``), so that neither a silently changed value nor a needless rejection passes.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import random
import struct
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from floe_core.plugins.sink import SinkConfig
from floe_core.sinks.engine import write
from floe_core.sinks.errors import SinkConfigurationError
from floe_ingestion_dlt.sinks.sql.sink import SqlDatabaseSink

BACKENDS = ["postgresql", "mariadb", "sqlite"]
backends = pytest.mark.parametrize("sql_backend_url", BACKENDS, indirect=True)

ROWS = 60
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_UTC = EPOCH.replace(tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)
_MIN_US = (dt.datetime(1, 1, 1) - EPOCH) // _US
_MAX_US = (dt.datetime(9999, 12, 31, 23, 59, 59, 999999) - EPOCH) // _US
_DAY_US = 86_400_000_000

# Decimal types at their edges: the decimal(20, 6), all-fraction, integral, 38 digits
# (decimal128's maximum), MySQL's widest DECIMAL(65, 30), and 76 digits (decimal256's
# maximum, which MySQL cannot hold: written to PostgreSQL and SQLite only).
DECIMALS = {
    "dec_20_6": pa.decimal128(20, 6),
    "dec_15_4": pa.decimal128(15, 4),
    "dec_15_15": pa.decimal128(15, 15),
    "dec_18_0": pa.decimal128(18, 0),
    "dec_38_10": pa.decimal128(38, 10),
    "dec_65_30": pa.decimal256(65, 30),
    "dec_76_38": pa.decimal256(76, 38),
}
TEXT_PIECES = [
    "plain",
    "",
    " padded ",
    "\U0001f600\U0001f680",  # 4-byte UTF-8 (utf8mb4 on MariaDB)
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # ZWJ sequence
    "\u4e2d\u6587\u65e5\u672c\u8a9e\ud55c\uad6d\uc5b4",
    "e\u0301 \u00e9 \u00df",  # combining accent and precomposed
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",  # right to left
    '" , ; \t \n \r \\ \\N NULL null \\.',
    "\ufeff\u2028\u2029\U0010ffff",
]


def _decimal(rng: random.Random, t: pa.Decimal128Type) -> Decimal:
    digits = t.precision if rng.random() < 0.4 else rng.randint(1, t.precision)
    unscaled = int("9" * digits) if rng.random() < 0.2 else rng.randrange(10**digits)
    value = Decimal(f"{unscaled}e{-t.scale}")  # exact: scaleb rounds to 28 digits
    return value.copy_negate() if rng.random() < 0.5 else value  # unary minus rounds


def _float64(rng: random.Random) -> float:
    special = [-0.0, 0.0, math.nan, math.inf, -math.inf, 5e-324, -5e-324, 1.7976931348623157e308]
    if rng.random() < 0.25:
        return rng.choice(special)
    bits = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
    return bits if math.isfinite(bits) else 0.1 + 0.2


def _float32(rng: random.Random) -> float:
    if rng.random() < 0.25:
        return rng.choice(
            [-0.0, 0.0, math.nan, math.inf, -math.inf, 1.4e-45, 3.4028234663852886e38]
        )
    value = struct.unpack("<f", rng.getrandbits(32).to_bytes(4, "little"))[0]
    return value if math.isfinite(value) else 1.5


def _text(rng: random.Random, *, nul: bool = True) -> str:
    if rng.random() < 0.05:
        return ("floe \U0001f680 \u6771\u4eac " * 12_000)[: rng.randint(50_000, 100_000)]
    pieces = [rng.choice(TEXT_PIECES) for _ in range(rng.randint(1, 4))]
    if nul and rng.random() < 0.04:
        pieces.insert(rng.randint(0, len(pieces)), "\x00")
    return "".join(pieces)


def _timestamp_us(rng: random.Random) -> int:
    edges = [_MIN_US, _MAX_US, 0, -1, _MIN_US + 1, _MAX_US - _DAY_US]
    return rng.choice(edges) if rng.random() < 0.3 else rng.randint(_MIN_US, _MAX_US)


def _nullable(rng: random.Random, make: Callable[[], Any]) -> Any:
    return None if rng.random() < 0.1 else make()


def _awkward_table(seed: int, backend: str) -> pa.Table:
    rng = random.Random(seed)

    def column(make: Callable[[], Any], arrow_type: pa.DataType) -> pa.Array:
        return pa.array([_nullable(rng, make) for _ in range(ROWS)], arrow_type)

    def ints(bits: int, signed: bool) -> Callable[[], int]:
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        edges = [low, high, 0, 1, high - 1] + ([2**63 - 1, 2**63] if high == 2**64 - 1 else [])
        return lambda: rng.choice(edges) if rng.random() < 0.4 else rng.randint(low, high)

    def ns_timestamp() -> int:
        # Nanosecond timestamps span 1677..2262; most carry whole microseconds.
        micros = rng.randint(-(2**63) // 1000 + 1, (2**63 - 1) // 1000 - 1)
        return micros * 1000 + (rng.randint(1, 999) if rng.random() < 0.1 else 0)

    columns: dict[str, pa.Array] = {
        "id": pa.array(range(ROWS), pa.int64()),
        "i8": column(ints(8, True), pa.int8()),
        "i16": column(ints(16, True), pa.int16()),
        "i32": column(ints(32, True), pa.int32()),
        "i64": column(ints(64, True), pa.int64()),
        "u8": column(ints(8, False), pa.uint8()),
        "u16": column(ints(16, False), pa.uint16()),
        "u32": column(ints(32, False), pa.uint32()),
        "u64": column(
            lambda: ints(64, False)() if rng.random() < 0.3 else rng.randint(0, 2**62), pa.uint64()
        ),
        "f32": column(lambda: _float32(rng), pa.float32()),
        "f64": column(lambda: _float64(rng), pa.float64()),
        "flag": column(lambda: rng.random() < 0.5, pa.bool_()),
        "txt": column(lambda: _text(rng), pa.string()),
        "ltxt": column(lambda: _text(rng), pa.large_string()),
        "cat": column(lambda: rng.choice(TEXT_PIECES), pa.string()).dictionary_encode(),
        "blob": column(lambda: rng.randbytes(rng.choice([0, 1, 16, 300, 10_000])), pa.binary()),
        "ts": column(lambda: _timestamp_us(rng), pa.timestamp("us")),
        "ts_utc": column(lambda: _timestamp_us(rng), pa.timestamp("us", tz="UTC")),
        "ts_ny": column(lambda: _timestamp_us(rng), pa.timestamp("us", tz="America/New_York")),
        "ts_ms": column(lambda: _timestamp_us(rng) // 1000, pa.timestamp("ms")),
        "ts_ns": column(ns_timestamp, pa.timestamp("ns", tz="Asia/Kolkata")),
        "day": column(
            lambda: (
                rng.choice([-719_162, 2_932_896, 0, -1, 19_782])
                if rng.random() < 0.4
                else rng.randint(-719_162, 2_932_896)
            ),
            pa.date32(),
        ),
        "clock": column(
            lambda: rng.choice([0, _DAY_US - 1]) if rng.random() < 0.3 else rng.randrange(_DAY_US),
            pa.time64("us"),
        ),
        "tags": column(
            lambda: [
                rng.choice([None, 0, -(2**63), 2**63 - 1, rng.randint(-(2**40), 2**40)])
                for _ in range(rng.randint(0, 4))
            ],
            pa.list_(pa.int64()),
        ),
        "readings": column(
            lambda: [
                rng.choice([math.nan, math.inf]) if rng.random() < 0.02 else _float64(rng)
                for _ in range(rng.randint(0, 3))
            ],
            pa.list_(pa.float64()),
        ),
    }
    for name, arrow_type in DECIMALS.items():
        if backend == "mariadb" and arrow_type.precision > 65:
            continue  # refused when the table is created: test_decimal_wider_than_mariadb
        columns[name] = column(functools.partial(_decimal, rng, arrow_type), arrow_type)
    return pa.table(columns)


def _unstorable(table: pa.Table, backend: str) -> set[int]:
    """Ids of the rows ``backend`` cannot hold exactly (decided without the sink's code)."""
    ids = table.column("id").to_pylist()
    bad: set[int] = set()

    def mark(name: str, cannot_hold: Callable[[Any], bool]) -> None:
        for row_id, value in zip(ids, table.column(name).to_pylist(), strict=True):
            if value is not None and cannot_hold(value):
                bad.add(row_id)

    for row_id, value in zip(ids, table.column("ts_ns").cast(pa.int64()).to_pylist(), strict=True):
        if value is not None and value % 1000:
            bad.add(row_id)  # every database here keeps microseconds
    # JSON has no NaN or infinity (they would become null).
    mark("readings", lambda v: any(x is not None and not math.isfinite(x) for x in v))
    if backend == "sqlite":
        mark("f32", math.isnan)  # SQLite stores NaN as NULL
        mark("f64", math.isnan)
        mark("u64", lambda v: v > 2**63 - 1)  # signed 64-bit integers
    if backend == "mariadb":
        mark("f32", lambda v: not math.isfinite(v))  # no NaN or infinity in a DOUBLE
        mark("f64", lambda v: not math.isfinite(v))
    if backend == "postgresql":
        mark("txt", lambda v: "\x00" in v)  # text cannot hold NUL
        mark("ltxt", lambda v: "\x00" in v)
    return bad


def _same_float(got: float, sent: float) -> bool:
    # -0.0 == 0.0 in IEEE 754 and SQL; SQLite and MariaDB store -0.0 as 0.0 (documented).
    return (math.isnan(got) and math.isnan(sent)) or got == sent


def _as_float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _micros(value: Any) -> int:
    """A timestamp read back, as microseconds since the epoch (naive ones: UTC)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        return int((value - EPOCH_UTC) // _US)
    return int((value - EPOCH) // _US)


def _time_micros(value: Any) -> int:
    if isinstance(value, dt.timedelta):  # PyMySQL reads TIME as a duration
        return int(value // _US)
    if isinstance(value, str):
        value = dt.time.fromisoformat(value)
    return int(
        ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
    )


def _sent_values(table: pa.Table, name: str) -> list[Any]:
    """The values sent, in the form ``_equal`` compares: timestamps and times as integers."""
    column = table.column(name)
    t = column.type
    if pa.types.is_timestamp(t):
        return list(
            pc.cast(column, pa.timestamp("us", t.tz), safe=False).cast(pa.int64()).to_pylist()
        )
    if pa.types.is_time(t):
        return list(column.cast(pa.int64()).to_pylist())
    if pa.types.is_dictionary(t):
        return list(column.cast(t.value_type).to_pylist())
    return list(column.to_pylist())


def _equal(got: Any, sent: Any, arrow_type: pa.DataType) -> bool:
    if sent is None or got is None:
        return bool(got is None and sent is None)
    if pa.types.is_timestamp(arrow_type):
        return bool(_micros(got) == sent)
    if pa.types.is_time(arrow_type):
        return bool(_time_micros(got) == sent)
    if pa.types.is_date(arrow_type):
        return bool((dt.date.fromisoformat(got) if isinstance(got, str) else got) == sent)
    if pa.types.is_decimal(arrow_type):
        # A decimal reads back as a Decimal, as decimal text, or as a number of up to 15
        # digits (SQLite NUMERIC affinity), whose shortest repr is those digits.
        return bool(Decimal(str(got)) == sent)
    if pa.types.is_float32(arrow_type):
        return bool(_same_float(_as_float32(float(got)), sent))
    if pa.types.is_floating(arrow_type):
        return bool(_same_float(float(got), sent))
    if pa.types.is_boolean(arrow_type):
        return bool(got in (0, 1) and bool(got) == sent)
    if pa.types.is_integer(arrow_type):
        return bool(isinstance(got, int | Decimal) and got == sent)
    if pa.types.is_list(arrow_type):
        items = json.loads(got) if isinstance(got, str) else got
        if not pa.types.is_floating(arrow_type.value_type):
            return bool(items == sent)
        # PostgreSQL's jsonb prints 1e+300 as 1000...0: the same JSON number, read as an int.
        return len(items) == len(sent) and all(
            (g is None and s is None) or (g is not None and s is not None and float(g) == s)
            for g, s in zip(items, sent, strict=True)
        )
    if pa.types.is_binary(arrow_type):
        return bool(bytes(got) == sent)
    return bool(got == sent)


def _sink(url: str, table: str, schema: str | None, **config: Any) -> SqlDatabaseSink:
    connection = {"url": url, "table": table, **config}
    if schema is not None:
        connection["schema"] = schema
    return SqlDatabaseSink(
        SinkConfig(
            sink_type="sql_database",
            connection_config=connection,
            destination_name="warehouse",
            batch_size=17,
        )
    )


def _read(
    url: str, table: str, schema: str | None, columns: list[str]
) -> dict[int, tuple[Any, ...]]:
    # Zoned timestamps in UTC: year 1 in a zone west of Greenwich would be year 0.
    options = {"options": "-c TimeZone=UTC"} if url.startswith("postgresql") else {}
    engine = sa.create_engine(url, connect_args=options)
    try:
        preparer = engine.dialect.identifier_preparer
        where = preparer.quote(table)
        if schema:
            where = f"{preparer.quote_schema(schema)}.{where}"
        names = ", ".join(preparer.quote(c) for c in columns)
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT {names} FROM {where}").fetchall()
    finally:
        engine.dispose()
    return {row[0]: tuple(row) for row in rows}


@pytest.mark.requirement("B9")
@backends
@pytest.mark.parametrize(("seed", "mode"), [(s, ("upsert", "append")[s % 2]) for s in range(1, 7)])
def test_every_value_reads_back_equal_or_its_row_is_rejected_with_a_reason(
    seed: int, mode: str, sql_backend_url: tuple[str, str, str | None]
) -> None:
    backend, url, schema = sql_backend_url
    data = _awkward_table(seed, backend)
    name = f"exact_{uuid.uuid4().hex[:8]}"
    rejected: list[tuple[pa.Table, str]] = []
    with _sink(url, name, schema, mode=mode, primary_key=["id"]) as sink:
        result = write(sink, data, on_rejected=lambda rows, why: rejected.append((rows, why)))

    unstorable = _unstorable(data, backend)
    rejected_ids = {i for rows, _ in rejected for i in rows.column("id").to_pylist()}
    assert rejected_ids == unstorable, (
        f"rejected but storable: {sorted(rejected_ids - unstorable)}; "
        f"storable only by changing a value, yet not rejected: {sorted(unstorable - rejected_ids)}"
    )
    assert all(why.startswith("column '") and len(why) > 20 for _, why in rejected), rejected
    assert result.rows_rejected == len(unstorable)
    assert result.rows_delivered == ROWS - len(unstorable)
    assert result.success == (not unstorable)

    got = _read(url, name, schema, data.column_names)
    assert sorted(got) == sorted(set(range(ROWS)) - unstorable)
    for index, field in enumerate(data.schema):
        sent = _sent_values(data, field.name)
        for row_id, row in got.items():
            value = row[index]
            assert _equal(value, sent[row_id], field.type), (
                f"{backend} {field.name} ({field.type}) id {row_id}: sent {sent[row_id]!r:.200}, "
                f"read back {value!r:.200}"
            )


@pytest.mark.requirement("B9")
@backends
def test_decimal_20_6_at_its_maximum_reads_back_digit_for_digit(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    amounts = [
        Decimal("99999999999999.999999"),
        Decimal("-99999999999999.999999"),
        Decimal("12345678901234.567891"),
        Decimal("0.000001"),
    ]
    data = pa.table({"id": range(4), "amount": pa.array(amounts, pa.decimal128(20, 6))})

    acks = sql_drive(sql_sink(url, "amounts", schema=schema), data)

    assert sum(a.rows_confirmed for a in acks) == 4
    assert not any(a.rejections for a in acks)
    got = [row[1] for row in sql_rows(url, "amounts", ["id", "amount"], schema=schema)]
    assert [Decimal(str(value)) for value in got] == amounts


def _create(url: str, ddl: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(ddl)
    finally:
        engine.dispose()


@pytest.mark.requirement("B9")
def test_sqlite_table_of_numeric_affinity_rejects_digits_it_would_round(
    sql_sqlite_url: str,
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    # The table an earlier floe created: NUMERIC affinity keeps 15 significant digits.
    _create(sql_sqlite_url, "CREATE TABLE amounts (id BIGINT, amount NUMERIC(20, 6))")
    amounts = [
        Decimal("99999999999999.999999"),  # 20 digits: would become 100000000000000
        Decimal("123456789.123456"),  # 15 digits
        Decimal("99999999999999.000000"),  # integral: an exact INTEGER
        Decimal("1.100000"),
    ]
    data = pa.table({"id": range(4), "amount": pa.array(amounts, pa.decimal128(20, 6))})

    acks = sql_drive(sql_sink(sql_sqlite_url, "amounts"), data, batch_size=4)

    (ack,) = acks
    assert ack.rows_confirmed == 3
    assert [r.position for r in ack.rejections] == [0]
    assert ack.rejections[0].reason == (
        "column 'amount': more than 15 significant digits, which the existing NUMERIC(20, 6) "
        "column would round (SQLite keeps 15 in a column of NUMERIC, INTEGER or REAL "
        "affinity; declare it TEXT to keep every digit)"
    )
    got = sql_rows(sql_sqlite_url, "amounts", ["id", "amount"])
    assert [(i, Decimal(str(v))) for i, v in got] == [(i, amounts[i]) for i in (1, 2, 3)]


@pytest.mark.requirement("B9")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb"], indirect=True)
def test_existing_numeric_column_with_a_smaller_scale_rejects_digits_it_would_round(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    backend, url, schema = sql_backend_url
    where = f'"{schema}".prices' if schema else "prices"
    _create(url, f"CREATE TABLE {where} (id BIGINT, price NUMERIC(12, 2))")
    prices = [Decimal("1.2345"), Decimal("1.2300"), Decimal("-7.0000"), Decimal("0.0001")]
    data = pa.table({"id": range(4), "price": pa.array(prices, pa.decimal128(12, 4))})

    (ack,) = sql_drive(sql_sink(url, "prices", schema=schema), data, batch_size=4)

    assert ack.rows_confirmed == 2
    assert [r.position for r in ack.rejections] == [0, 3]
    assert ack.rejections[0].reason == (
        "column 'price': more than 2 digit(s) after the point, which the existing "
        f"{'NUMERIC' if backend == 'postgresql' else 'DECIMAL'}(12, 2) column would round"
    )
    got = sql_rows(url, "prices", ["id", "price"], schema=schema)
    assert got == [(1, Decimal("1.23")), (2, Decimal("-7.00"))]


@pytest.mark.requirement("B9")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb"], indirect=True)
def test_existing_numeric_column_rejects_floats_with_digits_it_would_round(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    """Both databases round a float into NUMERIC(p, s) to s digits without an error."""
    backend, url, schema = sql_backend_url
    where = f'"{schema}".ledger' if schema else "ledger"
    _create(url, f"CREATE TABLE {where} (id BIGINT, amount NUMERIC(12, 2), whole NUMERIC(9))")
    data = pa.table(
        {
            "id": range(5),
            "amount": pa.array([35327.61, 0.1, 1.005, 2.5, -0.125], pa.float64()),
            "whole": pa.array([1.0, 2.0, 3.0, 4.5, 5.0], pa.float64()),
        }
    )

    (ack,) = sql_drive(sql_sink(url, "ledger", schema=schema), data, batch_size=5)

    reasons = {r.position: r.reason for r in ack.rejections}
    kind = "NUMERIC" if backend == "postgresql" else "DECIMAL"
    assert sorted(reasons) == [2, 3, 4]
    assert reasons[2] == (
        "column 'amount': more than 2 digit(s) after the point, which the existing "
        f"{kind}(12, 2) column would round"
    )
    assert reasons[3].startswith("column 'whole': more than 0 digit(s) after the point")
    assert reasons[4].startswith("column 'amount'")
    got = sql_rows(url, "ledger", ["id", "amount", "whole"], schema=schema)
    assert got == [(0, Decimal("35327.61"), Decimal("1")), (1, Decimal("0.10"), Decimal("2"))]


@pytest.mark.requirement("B9")
def test_decimal_wider_than_mariadb_decimal_is_refused_before_anything_is_written(
    sql_maria_db: str, sql_sink: Callable[..., Any]
) -> None:
    data = pa.table(
        {"id": [1], "wide": pa.array([Decimal("1." + "0" * 38)], pa.decimal256(76, 38))}
    )
    sink = sql_sink(sql_maria_db, "wide")

    with pytest.raises(SinkConfigurationError) as caught:
        sink.open(data.schema)

    message = str(caught.value)
    assert "column 'wide'" in message
    assert "does not fit MySQL/MariaDB's DECIMAL" in message
    assert "cast it to a decimal that does (e.g. decimal(65, 30)) or to a string" in message
    engine = sa.create_engine(sql_maria_db)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.requirement("B9")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb"], indirect=True)
def test_existing_narrower_float_and_time_columns_reject_what_they_would_round_or_cut(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    backend, url, schema = sql_backend_url
    where = f'"{schema}".events' if schema else "events"
    # A user's table: single-precision floats, whole seconds (MySQL's DATETIME is
    # DATETIME(0)), milliseconds, and days only.
    single, seconds = ("REAL", "TIMESTAMP(0)") if backend == "postgresql" else ("FLOAT", "DATETIME")
    _create(url, f"CREATE TABLE {where} (id BIGINT, x {single}, at {seconds}, t TIME(3), d DATE)")
    noon = dt.datetime(2024, 5, 1, 12, 0, 0)
    data = pa.table(
        {
            "id": range(5),
            "x": pa.array([0.5, 0.1, 3.0, 1e300, -2.25], pa.float64()),
            "at": pa.array(
                [noon, noon, noon.replace(microsecond=1), noon, noon], pa.timestamp("us")
            ),
            "t": pa.array(
                [dt.time(1, 2, 3, 4000), dt.time(0), dt.time(0), dt.time(0), dt.time(0, 0, 0, 1)],
                pa.time64("us"),
            ),
            "d": pa.array(
                [noon.replace(hour=0)] * 3 + [noon, noon.replace(hour=0)], pa.timestamp("us")
            ),
        }
    )

    (ack,) = sql_drive(sql_sink(url, "events", schema=schema), data, batch_size=5)

    reasons = {r.position: r.reason for r in ack.rejections}
    assert sorted(reasons) == [1, 2, 3, 4]
    assert reasons[1].startswith(f"column 'x': a value the existing single-precision {single}")
    assert reasons[2].startswith("column 'at': more than 0 fractional digit(s)")
    assert reasons[3].startswith("column 'x'")  # 1e300 has no float32; it also has a time
    assert reasons[4].startswith("column 't': more than 3 fractional digit(s)")
    got = sql_rows(url, "events", ["id", "x", "at", "d"], schema=schema)
    assert got == [(0, 0.5, noon, dt.date(2024, 5, 1))]


@pytest.mark.requirement("B9")
@backends
def test_upsert_keys_differing_only_in_case_or_trailing_space_stay_apart(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    keys = ["a", "A", "a ", "\u00e1", "a\u0301"]
    data = pa.table({"k": keys, "v": range(len(keys))})
    sink = sql_sink(url, "keyed", schema=schema, mode="upsert", primary_key=["k"])

    sql_drive(sink, data, batch_size=5)
    sql_drive(sink, data, batch_size=5)  # a second run finds each row by its own key

    got = sql_rows(url, "keyed", ["k", "v"], schema=schema, order_by="v")
    assert got == list(zip(keys, range(len(keys)), strict=True))


@pytest.mark.requirement("B9")
@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_a_batch_whose_every_row_is_refused_writes_nothing_and_rejects_them_all(
    mode: str,
    sql_sqlite_url: str,
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    data = pa.table({"id": [1, 2, 3], "x": [math.nan] * 3})
    sink = sql_sink(sql_sqlite_url, "floats", mode=mode, primary_key=["id"])

    acks = sql_drive(sink, data, batch_size=2)

    assert [(a.rows_confirmed, [r.position for r in a.rejections]) for a in acks] == [
        (0, [0, 1]),
        (0, [0]),
    ]
    assert {r.reason for a in acks for r in a.rejections} == {
        "column 'x': NaN, which SQLite would store as NULL"
    }
    assert sql_rows(sql_sqlite_url, "floats", ["id", "x"]) == []
