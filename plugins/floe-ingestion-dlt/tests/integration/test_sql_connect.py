"""Creating a ``sql_database`` sink fails fast, with the right error, and never shows a secret."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from floe_core.sinks.errors import (
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
)

from .conftest import PG_URL

PASSWORD = "s3cret-Pa55word"


def _assert_clean(error: BaseException) -> None:
    for text in (str(error), repr(error), getattr(error, "hint", "")):
        assert PASSWORD not in text
    assert "sql_database/warehouse" in str(error)


@pytest.mark.requirement("R7")
@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://floe_no_such_role:{PASSWORD}@127.0.0.1:5432/test",
        f"mysql+pymysql://root:{PASSWORD}@127.0.0.1:3306/test",
        f"mysql+pymysql://floe_no_such_user:{PASSWORD}@127.0.0.1:3306/test",
    ],
    ids=["postgresql-unknown-role", "mariadb-wrong-password", "mariadb-unknown-user"],
)
def test_refused_credentials_raise_authentication_error(
    url: str, sql_sink: Callable[..., Any], sql_pg_schema: str
) -> None:
    with pytest.raises(SinkAuthenticationError) as caught:
        sql_sink(url, "customers")

    _assert_clean(caught.value)
    assert "refused the credentials" in str(caught.value)
    assert not caught.value.retryable


@pytest.mark.requirement("R7")
@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_unreachable_host_raises_connection_error(
    scheme: str, sql_sink: Callable[..., Any], unused_port: int
) -> None:
    url = f"{scheme}://user:{PASSWORD}@127.0.0.1:{unused_port}/test"

    with pytest.raises(SinkConnectionError) as caught:
        sql_sink(url, "customers")

    assert type(caught.value) is SinkConnectionError
    assert caught.value.retryable
    assert "cannot connect" in str(caught.value)
    _assert_clean(caught.value)


@pytest.mark.requirement("R7")
def test_unknown_host_name_raises_connection_error(sql_sink: Callable[..., Any]) -> None:
    url = f"postgresql+psycopg://u:{PASSWORD}@floe-no-such-host.invalid:5432/test"

    with pytest.raises(SinkConnectionError) as caught:
        sql_sink(url, "customers")

    assert type(caught.value) is SinkConnectionError
    _assert_clean(caught.value)


@pytest.mark.requirement("R7")
@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:5432/floe_no_such_database",
        "mysql+pymysql://root@127.0.0.1:3306/floe_no_such_database",
    ],
    ids=["postgresql", "mariadb"],
)
def test_unknown_database_is_a_configuration_error(
    url: str, sql_sink: Callable[..., Any], sql_maria_db: str
) -> None:
    with pytest.raises(SinkConfigurationError, match="floe_no_such_database"):
        sql_sink(url, "customers")


@pytest.mark.requirement("R7")
def test_a_sqlite_file_in_a_missing_directory_is_created_by_the_first_write_only(
    tmp_path: Path, sql_sink: Callable[..., Any], sql_drive: Callable[..., Any]
) -> None:
    database = tmp_path / "missing" / "floe.db"
    rows = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})

    sink = sql_sink(f"sqlite:///{database}", "customers")
    sink.check(rows.schema)  # what `floe check` and a dry run do: nothing created
    assert not database.parent.exists()

    sql_drive(sink, rows)

    assert database.exists()
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (3,)


@pytest.mark.requirement("R7")
def test_missing_table_without_create_table_fails_at_creation(
    sql_pg_schema: str, sql_sink: Callable[..., Any]
) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

    with pytest.raises(SinkConfigurationError, match="does not exist and create_table is false"):
        sql_sink(url, "customers", schema=sql_pg_schema, create_table=False)


@pytest.mark.requirement("R7")
def test_password_kept_apart_from_the_url_is_used_and_hidden(
    sql_sink: Callable[..., Any],
) -> None:
    url = "mysql+pymysql://root@127.0.0.1:3306/test"

    with pytest.raises(SinkAuthenticationError) as caught:
        sql_sink(url, "customers", password=PASSWORD)

    # root has no password here: the password key was applied, and refused.
    assert "Access denied for user 'root'" in str(caught.value)
    _assert_clean(caught.value)


@pytest.mark.requirement("R7")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb"], indirect=True)
def test_a_column_no_value_of_the_data_fits_is_refused_before_sending(
    sql_backend_url: tuple[str, str, str | None],
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
) -> None:
    import sqlalchemy as sa

    _, url, schema = sql_backend_url
    where = f"{schema}.typed" if schema else "typed"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {where} (id BIGINT, name VARCHAR(20))")
    days = [dt.date(2024, 1, day) for day in (1, 2, 3)]
    rows = pa.table({"id": pa.array(days, pa.date32()), "name": ["a", "b", "c"]})
    sink = sql_sink(url, "typed", schema=schema)

    with pytest.raises(
        SinkConfigurationError, match=r"'id' is BIGINT(\(20\))? and the data writes date"
    ):
        sql_drive(sink, rows)

    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {where}").scalar() == 0
    engine.dispose()


@pytest.mark.requirement("R7")
def test_text_into_a_number_column_is_still_written(
    sql_pg_schema: str, sql_sink: Callable[..., Any], sql_drive: Callable[..., Any]
) -> None:
    """Digits in a text column fit a numeric one: a run tries (floe check warns of it)."""
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE TABLE "{sql_pg_schema}".digits (id INTEGER, n NUMERIC)')
    rows = pa.table({"id": [1, 2], "n": ["1.5", "20"]})

    sql_drive(sql_sink(PG_URL, "digits", schema=sql_pg_schema), rows)

    with engine.connect() as conn:
        total = conn.exec_driver_sql(f'SELECT sum(n) FROM "{sql_pg_schema}".digits').scalar()
    assert total is not None and float(total) == 21.5
    engine.dispose()
