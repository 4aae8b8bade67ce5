"""``SqlDatabaseSink.check``: what ``open`` would refuse, and column types that never or only
in part take the values, found on real PostgreSQL, MariaDB and SQLite without changing anything."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from floe_core.sinks.errors import SinkConfigurationError

backends = pytest.mark.parametrize(
    "sql_backend_url", ["postgresql", "mariadb", "sqlite"], indirect=True
)
SCHEMA = pa.schema([("id", pa.int64()), ("email", pa.large_string()), ("ltv", pa.float64())])


def _name() -> str:
    return f"chk_{uuid.uuid4().hex[:8]}"


def _execute(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _tables(url: str, schema: str | None) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()


def _qualified(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


@pytest.mark.requirement("B1")
@backends
def test_a_missing_table_floe_may_create_passes_and_is_not_created(
    sql_backend_url: tuple[str, str, str | None], sql_sink: Callable[..., Any]
) -> None:
    _, url, schema = sql_backend_url
    table = _name()
    sink = sql_sink(url, table, schema=schema, mode="upsert", primary_key=["id"])

    sink.check(SCHEMA)

    assert table not in _tables(url, schema)


@pytest.mark.requirement("B1")
@backends
def test_missing_columns_and_key_are_named(
    sql_backend_url: tuple[str, str, str | None], sql_sink: Callable[..., Any]
) -> None:
    _, url, schema = sql_backend_url
    table = _name()
    _execute(url, f"CREATE TABLE {_qualified(schema, table)} (id BIGINT, email TEXT)")
    sink = sql_sink(url, table, schema=schema)

    with pytest.raises(SinkConfigurationError, match="has no column\\(s\\) 'ltv'"):
        sink.check(SCHEMA)
    upsert = sql_sink(url, table, schema=schema, mode="upsert", primary_key=["id"])
    with pytest.raises(SinkConfigurationError, match="no primary key or unique index"):
        upsert.check(SCHEMA.remove(2))


@pytest.mark.requirement("B1")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb"], indirect=True)
def test_a_column_type_that_can_never_take_the_values(
    sql_backend_url: tuple[str, str, str | None], sql_sink: Callable[..., Any]
) -> None:
    _, url, schema = sql_backend_url
    table = _name()
    _execute(
        url,
        f"CREATE TABLE {_qualified(schema, table)} "
        "(id BIGINT, email INTEGER, ltv DOUBLE PRECISION, seen_at INTEGER)",
    )
    sink = sql_sink(url, table, schema=schema)

    with pytest.raises(SinkConfigurationError) as caught:
        sink.check(SCHEMA.append(pa.field("seen_at", pa.timestamp("us"))))

    assert re.search(
        r"can never take the values written: 'seen_at' is INTEGER(\(11\))? and the data writes "
        r"timestamp \(timestamp\[us\]\) values \(and where only some rows fit: 'email' is "
        r"INTEGER(\(11\))? and the data writes text \(large_string\) values: only text that "
        r"reads as INTEGER(\(11\))? is stored; the other rows are refused\)",
        str(caught.value),
    ), caught.value
    assert "'ltv'" not in str(caught.value)


@pytest.mark.requirement("B1")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb"], indirect=True)
def test_a_column_type_that_takes_only_some_values_is_a_warning(
    sql_backend_url: tuple[str, str, str | None], sql_sink: Callable[..., Any]
) -> None:
    _, url, schema = sql_backend_url
    table = _name()
    _execute(
        url,
        f"CREATE TABLE {_qualified(schema, table)} "
        "(id BIGINT, email INTEGER, ltv DOUBLE PRECISION)",
    )

    warnings = sql_sink(url, table, schema=schema).check(SCHEMA)

    assert len(warnings) == 1 and warnings[0].startswith("'email' is INTEGER"), warnings


@pytest.mark.requirement("B1")
@pytest.mark.parametrize("sql_backend_url", ["sqlite"], indirect=True)
def test_sqlite_takes_any_value_in_any_column(
    sql_backend_url: tuple[str, str, str | None], sql_sink: Callable[..., Any]
) -> None:
    _, url, _ = sql_backend_url
    table = _name()
    _execute(url, f"CREATE TABLE {table} (id INTEGER, email INTEGER, ltv REAL)")

    assert sql_sink(url, table).check(SCHEMA) == []
