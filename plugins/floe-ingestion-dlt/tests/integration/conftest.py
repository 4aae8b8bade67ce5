"""Fixtures for the ``sql_database`` sink against real databases (all named ``sql_*``).

- ``sql_pg_schema`` / ``sql_maria_db``: a fresh PostgreSQL schema / MariaDB database per
  test, dropped afterwards (the services are shared with other tests);
- ``sql_sqlite_url``: a SQLite file in ``tmp_path``;
- ``sql_awkward``: rows that are hard to move faithfully (nulls in every column, unicode,
  decimals with scale, zoned timestamps, 100k-character strings, binary);
- ``sql_sink`` / ``sql_drive`` / ``sql_rows``: build a sink, push a table through its hook
  (open / encode / send / close) as the engine does, read a table back;
- ``sql_expected``: the value each database returns for an Arrow value.

A test that needs PostgreSQL or MariaDB while it is down fails with how to start it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from floe_core.plugins.sink import SinkConfig
from floe_core.sinks.base import BatchAck
from floe_ingestion_dlt.sinks.sql.sink import SqlDatabaseSink

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIA_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
START_SERVICES = "start the local databases with `bash scripts/services.sh`"
LONG_TEXT = ("floe \u00e9\u6771\u4eac\U0001f680 " * 10_000)[:100_000]


def _require(url: str, name: str) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.fail(f"{name} is not reachable at {url} ({exc.orig}); {START_SERVICES}")
    return engine


@pytest.fixture
def sql_pg_schema() -> Iterator[str]:
    """A new PostgreSQL schema (in database ``test``), dropped with its tables afterwards."""
    engine = _require(PG_URL, "PostgreSQL")
    name = f"floe_sql_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        engine.dispose()


@pytest.fixture
def sql_maria_db() -> Iterator[str]:
    """The URL of a new MariaDB database, dropped afterwards."""
    engine = _require(MARIA_URL, "MariaDB")
    name = f"floe_sql_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        engine.dispose()


@pytest.fixture
def sql_sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'floe.db'}"


@pytest.fixture
def sql_backend_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str, str | None]]:
    """Parametrised over ``postgresql``/``mariadb``/``sqlite``: (backend, url, schema)."""
    backend = request.param
    if backend == "postgresql":
        yield backend, PG_URL, request.getfixturevalue("sql_pg_schema")
    elif backend == "mariadb":
        yield backend, request.getfixturevalue("sql_maria_db"), None
    else:
        yield backend, f"sqlite:///{tmp_path / 'floe.db'}", None


def _awkward(*, nan: bool = False, long_text: bool = True) -> pa.Table:
    utc = dt.UTC
    ny = "America/New_York"
    strings = [
        "plain",
        "",
        None,
        'quote " comma , semicolon ; tab \t newline \n cr \r end',
        "emoji \U0001f600\U0001f680 CJK \u4e2d\u6587\u65e5\u672c\u8a9e"
        "\ud55c\uad6d\uc5b4 \u00e9\u00df",
        "\\N NULL null \\. backslash \\",
        LONG_TEXT if long_text else "long",
        "  padded  ",
    ]
    floats = [1.5, None, -0.0, 1e300, 0.1 + 0.2, float("nan") if nan else 2.25, -1e-300, 3.0]
    return pa.table(
        {
            "id": pa.array(range(1, 9), pa.int64()),
            "i8": pa.array([127, None, -128, 0, 1, 2, 3, 4], pa.int8()),
            "i16": pa.array([32767, None, -32768, 0, 1, 2, 3, 4], pa.int16()),
            "i32": pa.array([2**31 - 1, None, -(2**31), 0, 1, 2, 3, 4], pa.int32()),
            "i64": pa.array([2**63 - 1, None, -(2**63), 0, 1, 2, 3, 4], pa.int64()),
            "f64": pa.array(floats, pa.float64()),
            "f32": pa.array([1.5, None, -2.25, 0.0, 1.0, 2.0, 3.0, 4.0], pa.float32()),
            "dec": pa.array(
                [
                    Decimal("1.20"),
                    None,
                    Decimal("-0.01"),
                    Decimal("12345678901234.56"),
                    Decimal("0.00"),
                    Decimal("-99999999999999.99"),
                    Decimal("3.10"),
                    Decimal("7"),
                ],
                pa.decimal128(16, 2),
            ),
            "flag": pa.array([True, None, False, True, False, True, False, True]),
            "txt": pa.array(strings, pa.string()),
            "ltxt": pa.array(list(reversed(strings)), pa.large_string()),
            "ts_utc": pa.array(
                [
                    dt.datetime(2024, 1, 1, 12, 30, 45, 123456, tzinfo=utc),
                    None,
                    dt.datetime(1970, 1, 1, tzinfo=utc),
                    dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=utc),
                    dt.datetime(2000, 2, 29, 23, 59, 59, 999999, tzinfo=utc),
                    dt.datetime(2024, 3, 31, 1, 0, tzinfo=utc),
                    dt.datetime(2024, 10, 27, 1, 0, tzinfo=utc),
                    dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=utc),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "ts_ny": pa.array(
                [
                    dt.datetime(2024, 7, 4, 9, 0, tzinfo=utc),
                    dt.datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=utc),
                    None,
                    dt.datetime(2024, 3, 10, 7, 30, tzinfo=utc),
                    dt.datetime(2024, 11, 3, 6, 30, tzinfo=utc),
                    None,
                    dt.datetime(2024, 12, 24, 23, 0, tzinfo=utc),
                    dt.datetime(2025, 6, 1, tzinfo=utc),
                ],
                pa.timestamp("us", tz=ny),
            ),
            "ts_naive": pa.array(
                [
                    dt.datetime(2024, 1, 1, 12, 0),
                    None,
                    dt.datetime(1999, 12, 31, 23, 59, 59, 500000),
                    dt.datetime(2024, 2, 29),
                    dt.datetime(2030, 1, 1),
                    dt.datetime(2001, 1, 1, 0, 0, 0, 1),
                    dt.datetime(1980, 5, 5, 5, 5, 5),
                    dt.datetime(2024, 6, 6),
                ],
                pa.timestamp("us"),
            ),
            "day": pa.array(
                [dt.date(2024, 2, 29), None, dt.date(1970, 1, 1), dt.date(9999, 12, 31)]
                + [dt.date(2000, 1, 1)] * 4,
                pa.date32(),
            ),
            "blob": pa.array(
                [b"\x00\x01\xff", None, b"", b"plain", b'\n,"', b"\\x00", b"a" * 1000, b"z"],
                pa.binary(),
            ),
        }
    )


@pytest.fixture
def sql_awkward() -> Callable[..., pa.Table]:
    """``sql_awkward(nan=False, long_text=True)``: 8 rows, 17 columns of awkward values."""
    return _awkward


def _expected(value: Any, arrow_type: pa.DataType, backend: str) -> Any:
    """What ``backend``'s DB-API driver returns for an Arrow value written by the sink."""
    if value is None:
        return None
    if pa.types.is_timestamp(arrow_type):
        naive = value.astimezone(dt.UTC).replace(tzinfo=None) if arrow_type.tz else value
        if backend == "postgresql":
            return naive.replace(tzinfo=dt.UTC) if arrow_type.tz else naive
        if backend == "sqlite":
            text = naive.isoformat(sep=" ", timespec="microseconds")
            return text + "+00:00" if arrow_type.tz else text
        return naive
    if backend == "sqlite":
        if pa.types.is_decimal(arrow_type):
            # Up to 15 digits a number (NUMERIC affinity), wider ones their decimal text.
            return float(value) if arrow_type.precision <= 15 else str(value)
        if pa.types.is_boolean(arrow_type):
            return int(value)
        if pa.types.is_date(arrow_type):
            return value.isoformat()
    if backend == "mariadb" and pa.types.is_boolean(arrow_type):
        return int(value)
    return value


def _normalize(value: Any) -> Any:
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value


@pytest.fixture
def sql_expected() -> Callable[[pa.Table, str], list[tuple[Any, ...]]]:
    """``sql_expected(table, backend)``: the rows the database should return, by column."""

    def expected(table: pa.Table, backend: str) -> list[tuple[Any, ...]]:
        columns = [
            [_expected(v, field.type, backend) for v in table.column(field.name).to_pylist()]
            for field in table.schema
        ]
        return list(zip(*columns, strict=True))

    return expected


@pytest.fixture
def sql_rows() -> Callable[..., list[tuple[Any, ...]]]:
    """``sql_rows(url, table, columns, schema=None, order_by="id")``: rows, as the driver
    returns them (zoned datetimes in UTC, bytes for binary)."""

    def rows(
        url: str,
        table: str,
        columns: list[str],
        schema: str | None = None,
        order_by: str = "id",
    ) -> list[tuple[Any, ...]]:
        engine = sa.create_engine(url)
        try:
            preparer = engine.dialect.identifier_preparer
            where = preparer.quote(table)
            if schema:
                where = f"{preparer.quote_schema(schema)}.{where}"
            cols = ", ".join(preparer.quote(c) for c in columns)
            with engine.connect() as conn:
                result = conn.exec_driver_sql(f"SELECT {cols} FROM {where} ORDER BY {order_by}")
                return [tuple(_normalize(v) for v in row) for row in result]
        finally:
            engine.dispose()

    return rows


@pytest.fixture
def sql_sink() -> Iterator[Callable[..., SqlDatabaseSink]]:
    """``sql_sink(url, table, **config)``: a ``SqlDatabaseSink``, disposed after the test."""
    made: list[SqlDatabaseSink] = []

    def make(
        url: str, table: str, *, destination: str = "warehouse", **config: Any
    ) -> SqlDatabaseSink:
        connection = {"url": url, "table": table, **config}
        sink = SqlDatabaseSink(
            SinkConfig(
                sink_type="sql_database",
                connection_config=connection,
                destination_name=destination,
            )
        )
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.dispose()


@pytest.fixture
def sql_drive() -> Callable[..., list[BatchAck]]:
    """``sql_drive(sink, table, batch_size=3, run="run-1")``: push ``table`` through the hook.

    Idempotency keys are ``<run>/<batch position>`` unless ``keys`` are given; ``close`` gets
    ``success=True`` unless a send raised.
    """

    def drive(
        sink: SqlDatabaseSink,
        table: pa.Table,
        *,
        batch_size: int = 3,
        run: str = "run-1",
        keys: list[str] | None = None,
    ) -> list[BatchAck]:
        sink.open(table.schema)
        acks = []
        ok = False
        try:
            for position, batch in enumerate(table.to_batches(max_chunksize=batch_size)):
                key = keys[position] if keys else f"{run}/{position}"
                acks.append(sink.send(sink.encode(batch), key))
            ok = True
        finally:
            sink.close(ok)
        return acks

    return drive
