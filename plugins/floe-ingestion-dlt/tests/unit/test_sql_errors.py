"""Database errors become floe errors by what the driver reports, not by guesswork."""

from __future__ import annotations

import sqlite3

import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from floe_core.sinks.errors import (
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
    SinkTransientWriteError,
    SinkWriteError,
)
from floe_ingestion_dlt.sinks.sql.config import SqlDatabaseSettings
from floe_ingestion_dlt.sinks.sql.errors import ErrorContext, map_connect_error, map_write_error

CONTEXT = ErrorContext(destination="crm", target="postgresql://db/crm table t", secrets=("pw-123",))


def _wrapped(orig: BaseException) -> sa.exc.DBAPIError:
    error = sa.exc.DBAPIError.instance("INSERT ...", None, orig, Exception)
    assert isinstance(error, sa.exc.DBAPIError)
    return error


def _sqlite(code: int, cls: type[sqlite3.Error] = sqlite3.OperationalError) -> sqlite3.Error:
    error = cls("database is busy")
    error.sqlite_errorcode = code
    return error


@pytest.mark.requirement("R13")
@pytest.mark.parametrize(
    ("orig", "expected"),
    [
        (psycopg.errors.lookup("40P01")("deadlock detected"), SinkTransientWriteError),
        (psycopg.errors.lookup("40001")("could not serialize"), SinkTransientWriteError),
        (psycopg.errors.lookup("57014")("statement timeout"), SinkTransientWriteError),
        (psycopg.errors.lookup("08006")("connection failure"), SinkConnectionError),
        (psycopg.errors.lookup("57P01")("terminating connection"), SinkConnectionError),
        (
            psycopg.OperationalError("server closed the connection unexpectedly"),
            SinkConnectionError,
        ),
        (psycopg.errors.lookup("23505")("duplicate key"), SinkWriteError),
        (psycopg.errors.lookup("22001")("value too long"), SinkWriteError),
        (psycopg.errors.lookup("42501")("permission denied"), SinkConfigurationError),
        (pymysql.err.OperationalError(1213, "Deadlock found"), SinkTransientWriteError),
        (pymysql.err.OperationalError(1205, "Lock wait timeout"), SinkTransientWriteError),
        (pymysql.err.OperationalError(2013, "Lost connection"), SinkConnectionError),
        (pymysql.err.IntegrityError(1062, "Duplicate entry"), SinkWriteError),
        (pymysql.err.DataError(1406, "Data too long"), SinkWriteError),
        (pymysql.err.OperationalError(4025, "CONSTRAINT `c` failed for `db`.`t`"), SinkWriteError),
        (pymysql.err.OperationalError(3819, "Check constraint 'c' is violated."), SinkWriteError),
        (_sqlite(5), SinkTransientWriteError),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), SinkWriteError),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v.__name__,
)
def test_write_errors_by_driver_code(orig: BaseException, expected: type[Exception]) -> None:
    for raised in (orig, _wrapped(orig)):
        error = map_write_error(raised, CONTEXT, action="writing a batch")
        assert type(error) is expected
        assert error.retryable is (expected in (SinkTransientWriteError, SinkConnectionError))


@pytest.mark.requirement("R13")
def test_connect_errors_and_secrets() -> None:
    auth = psycopg.OperationalError(
        'connection failed: FATAL:  password authentication failed for user "u" pw-123'
    )
    refused = psycopg.OperationalError("connection failed: Connection refused")
    no_db = psycopg.OperationalError('connection failed: FATAL:  database "x" does not exist')

    assert type(map_connect_error(auth, CONTEXT)) is SinkAuthenticationError
    assert type(map_connect_error(refused, CONTEXT)) is SinkConnectionError
    assert type(map_connect_error(no_db, CONTEXT)) is SinkConfigurationError
    assert "pw-123" not in str(map_connect_error(auth, CONTEXT))
    assert type(
        map_connect_error(pymysql.err.OperationalError(1045, "Access denied"), CONTEXT)
    ) is (SinkAuthenticationError)


@pytest.mark.requirement("R13")
def test_a_driver_message_quoting_the_url_keeps_its_host_and_database() -> None:
    url = "postgresql://app:pw-in-url-77@db.example:5432/crm"
    settings = SqlDatabaseSettings.from_connection_config({"url": url, "table": "t"})
    context = ErrorContext(
        "crm", "postgresql://db.example:5432/crm table t", secrets=tuple(settings.secret_values())
    )
    orig = psycopg.errors.UndefinedTable(f'relation "t" does not exist on {url} table t')

    error = map_write_error(orig, context, action="insert")

    assert "on postgresql://app:***@db.example:5432/crm table t" in str(error)
    assert "pw-in-url-77" not in str(error)
