"""``fits.py``'s table, held to what the real PostgreSQL, MariaDB and SQLite do.

Every pair the table says never fits is written value by value, encoded as the sink encodes
it and sent as the sink sends it (COPY, executemany) but without floe's own checks: the
database must refuse or change every value. Every pair it says fits some rows must store at
least one value. And ``check`` / ``open`` on such a table fail, or warn, naming the column.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from floe_core.sinks.base import Payload
from floe_core.sinks.errors import SinkConfigurationError
from floe_ingestion_dlt.sinks.sql import fits
from floe_ingestion_dlt.sinks.sql.config import create_engine
from floe_ingestion_dlt.sinks.sql.encode import csv_body, parameter_rows
from floe_ingestion_dlt.sinks.sql.executemany import ExecutemanyWriter
from floe_ingestion_dlt.sinks.sql.postgres import PostgresCopyWriter
from floe_ingestion_dlt.sinks.sql.tables import TablePlan

UTC = dt.UTC
#: Per data kind: an Arrow type of that kind and values that come close to fitting elsewhere.
SAMPLES: dict[str, tuple[pa.DataType, list[Any]]] = {
    "boolean": (pa.bool_(), [True, False]),
    "integer": (pa.int64(), [0, 1, 20240102, 123456]),
    "fraction": (
        pa.decimal128(20, 3),
        [
            Decimal("1999.008"),
            Decimal("1.000"),
            Decimal("123456.500"),
            Decimal("20240102000000.000"),
        ],
    ),
    "float": (pa.float64(), [0.0, 1.0, 20240102.0, 123456.0, 1.5]),
    "text": (pa.large_string(), ["abc", "1", "2024-01-02", "12:34:56", "true", '{"a": 1}']),
    "binary": (pa.binary(), [b"1", b"2024-01-02", b"\x12\x34\x56"]),
    "date": (pa.date32(), [dt.date(2024, 1, 2)]),
    "timestamp": (
        pa.timestamp("us", "UTC"),
        [dt.datetime(2024, 1, 2, tzinfo=UTC), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)],
    ),
    "time": (pa.time64("us"), [dt.time(0, 0), dt.time(12, 34, 56)]),
    "nested": (pa.list_(pa.int64()), [[1], []]),
}
#: Per backend and column kind: a column type of that kind.
COLUMNS = {
    "postgresql": {
        "integer": "INTEGER",
        "numeric": "NUMERIC(20, 4)",
        "float": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
        "text": "TEXT",
        "binary": "BYTEA",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "time": "TIME",
        "json": "JSONB",
    },
    "mariadb": {
        "integer": "BIGINT",
        "numeric": "DECIMAL(20, 4)",
        "float": "DOUBLE",
        "text": "LONGTEXT",
        "binary": "LONGBLOB",
        "date": "DATE",
        "timestamp": "DATETIME(6)",
        "time": "TIME(6)",
    },
    "sqlite": {"integer": "INTEGER", "float": "REAL", "text": "TEXT", "binary": "BLOB"},
}
BACKEND = {"postgresql": "postgresql", "mariadb": "mysql", "sqlite": "sqlite"}


def _pairs(backend: str, never: bool) -> list[tuple[str, str]]:
    return [
        (data, column)
        for data in SAMPLES
        for column in COLUMNS[backend]
        if (found := fits.fit(BACKEND[backend], data, column)) is not None and found[0] is never
    ]


def _create(url: str, schema: str | None, table: str, column_type: str, backend: str) -> str:
    where = f'"{schema}".{table}' if schema else table
    strict = " STRICT" if backend == "sqlite" else ""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {where} (v {column_type}){strict}")
    finally:
        engine.dispose()
    return where


def _stored(url: str, schema: str | None, table: str, arrow_type: pa.DataType, value: Any) -> bool:
    """Whether the database keeps ``value`` as sent (read back equal), sent as the sink does."""
    engine = create_engine(sa.make_url(url))
    backend = engine.dialect.name
    plan = TablePlan(backend, schema, table, table, ("v",), (), False, True)
    batch = pa.record_batch([pa.array([value], arrow_type)], names=["v"])
    copy = backend == "postgresql"
    payload = Payload(1, csv_body(batch), None if copy else parameter_rows(batch, backend=backend))
    writer: Any = (
        PostgresCopyWriter(plan, engine.dialect, upsert=False)
        if copy
        else ExecutemanyWriter(plan, engine.dialect, upsert=False)
    )
    where = f'"{schema}".{table}' if schema else table
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DELETE FROM {where}")
            writer.write(conn, payload)
            got = conn.exec_driver_sql(f"SELECT v FROM {where}").scalar()
    except sa.exc.DBAPIError:
        return False
    except Exception as exc:  # psycopg raises its own errors inside COPY
        if type(exc).__module__.startswith(("psycopg", "pymysql", "sqlite3")):
            return False
        raise
    finally:
        engine.dispose()
    return _same(got, value)


def _same(got: Any, sent: Any) -> bool:
    if isinstance(sent, bool) or isinstance(got, bool):
        return type(got) is type(sent) and got == sent
    if isinstance(sent, dt.datetime) and isinstance(got, dt.datetime):
        return got.replace(tzinfo=None) == sent.replace(tzinfo=None)
    if isinstance(sent, bytes):
        return isinstance(got, bytes) and got == sent
    if isinstance(sent, list):
        return bool(got == sent)
    if isinstance(sent, (int, float, Decimal)) and isinstance(got, (int, float, Decimal)):
        return Decimal(str(got)) == Decimal(str(sent))
    return type(got) is type(sent) and got == sent


def _never_cases() -> list[Any]:
    return [
        pytest.param(backend, data, column, id=f"{backend}-{data}-{column}")
        for backend in COLUMNS
        for data, column in _pairs(backend, never=True)
    ]


def _some_cases() -> list[Any]:
    return [
        pytest.param(backend, data, column, id=f"{backend}-{data}-{column}")
        for backend in COLUMNS
        for data, column in _pairs(backend, never=False)
    ]


@pytest.mark.requirement("B1")
@pytest.mark.parametrize(
    ("sql_backend_url", "data", "column"), _never_cases(), indirect=["sql_backend_url"]
)
def test_a_pair_that_never_fits_keeps_no_value_and_is_refused_unsent(
    sql_backend_url: tuple[str, str, str | None], data: str, column: str, sql_sink: Any
) -> None:
    backend, url, schema = sql_backend_url
    arrow_type, values = SAMPLES[data]
    table = f"fit_{uuid.uuid4().hex[:8]}"
    _create(url, schema, table, COLUMNS[backend][column], backend)

    kept = [value for value in values if _stored(url, schema, table, arrow_type, value)]

    assert kept == [], f"{backend} stored {kept} of {data} in a {column} column"
    sink = sql_sink(url, table, schema=schema)
    data_schema = pa.schema([("v", arrow_type)])
    with pytest.raises(SinkConfigurationError, match="can never take the values written: 'v' is"):
        sink.check(data_schema)
    with pytest.raises(SinkConfigurationError, match="can never take"):
        sink.open(data_schema)


@pytest.mark.requirement("B1")
@pytest.mark.parametrize(
    ("sql_backend_url", "data", "column"), _some_cases(), indirect=["sql_backend_url"]
)
def test_a_pair_that_fits_some_rows_keeps_one_and_is_a_warning(
    sql_backend_url: tuple[str, str, str | None], data: str, column: str, sql_sink: Any
) -> None:
    backend, url, schema = sql_backend_url
    arrow_type, values = SAMPLES[data]
    table = f"fit_{uuid.uuid4().hex[:8]}"
    _create(url, schema, table, COLUMNS[backend][column], backend)

    accepted = [value for value in values if _accepted(url, schema, table, arrow_type, value)]

    assert accepted, f"{backend} refused every {data} value in a {column} column"
    warnings = sql_sink(url, table, schema=schema).check(pa.schema([("v", arrow_type)]))
    assert len(warnings) == 1 and warnings[0].startswith("'v' is "), warnings


def _accepted(
    url: str, schema: str | None, table: str, arrow_type: pa.DataType, value: Any
) -> bool:
    """Whether the database takes ``value`` without an error (it may store it changed: a number
    in a binary column is its text's bytes)."""
    engine = create_engine(sa.make_url(url))
    where = f'"{schema}".{table}' if schema else table
    try:
        _stored(url, schema, table, arrow_type, value)
        with engine.connect() as conn:
            return conn.exec_driver_sql(f"SELECT count(*) FROM {where}").scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.requirement("B1")
@pytest.mark.parametrize("sql_backend_url", ["sqlite"], indirect=True)
def test_an_ordinary_sqlite_table_takes_anything(
    sql_backend_url: tuple[str, str, str | None], sql_sink: Any
) -> None:
    _, url, _ = sql_backend_url
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE plain (v INTEGER)")
    engine.dispose()

    assert sql_sink(url, "plain").check(pa.schema([("v", pa.timestamp("us"))])) == []


@pytest.mark.requirement("B1")
@pytest.mark.parametrize("sql_backend_url", ["mariadb"], indirect=True)
def test_a_float_with_a_fraction_is_refused_by_an_integer_column_mariadb_would_round_it_in(
    sql_backend_url: tuple[str, str, str | None], sql_sink: Any, sql_drive: Any
) -> None:
    _, url, _ = sql_backend_url
    _create(url, None, "whole", "BIGINT", "mariadb")
    sink = sql_sink(url, "whole")

    acks = sql_drive(sink, pa.table({"v": pa.array([1.0, 1.5, -2.0], pa.float64())}))

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = sorted(conn.exec_driver_sql("SELECT v FROM whole").scalars())
    engine.dispose()
    assert stored == [-2, 1]
    reasons = [r.reason for ack in acks for r in ack.rejections]
    assert reasons == ["column 'v': a fraction, which the existing BIGINT(20) column would round"]
