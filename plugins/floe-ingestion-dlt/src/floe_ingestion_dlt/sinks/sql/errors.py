"""Turning SQLAlchemy and database-driver errors into floe's errors, in one place.

Errors are classified by what the driver reports, in this order: MySQL/MariaDB error numbers
(PyMySQL), PostgreSQL SQLSTATE (psycopg), SQLite result codes, then the DB-API class
(``IntegrityError``, ``DataError``, ...). libpq reports errors that happen while a connection
is being opened (bad password, unknown role or database) without a SQLSTATE, so for those the
server's message is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from floe_core.secrets.redact import redact
from floe_core.sinks.errors import (
    PluginError,
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
    SinkTransientWriteError,
    SinkWriteError,
)

from floe_ingestion_dlt.sinks.sql.config import SINK_TYPE

__all__ = ["ErrorContext", "Failure", "classify", "map_connect_error", "map_write_error"]


class Failure(StrEnum):
    """What kind of failure a database error is."""

    AUTHENTICATION = "authentication"  # credentials or role refused
    CONFIGURATION = "configuration"  # unknown database, file cannot be opened, no permission
    CONNECTION = "connection"  # unreachable, refused, lost, server shutting down
    TRANSIENT = "transient"  # deadlock, serialization failure, lock or statement timeout
    DATA = "data"  # the rows were refused: constraint, too long, bad value
    OTHER = "other"


_PG_AUTH = ("28000", "28P01")
_PG_CONFIG = ("3D000", "3F000", "42501")  # no such database / schema, insufficient privilege
_PG_CONNECTION = ("57P01", "57P02", "57P03")  # admin/crash shutdown, cannot connect now
_PG_TRANSIENT = ("40001", "40P01", "55P03", "57014")  # serialization, deadlock, lock, timeout
_LIBPQ_AUTH_MESSAGES = (
    "password authentication failed",
    "authentication failed",
    "no pg_hba.conf entry",
    "password is required",
    "does not exist",  # role "x" does not exist (database handled first)
)
_MYSQL_AUTH = (1044, 1045, 1698, 1862)
_MYSQL_CONFIG = (1049, 1142, 1146)  # unknown database, command denied, table missing
_MYSQL_CONNECTION = (1040, 1927, 2002, 2003, 2005, 2006, 2013, 2055)
_MYSQL_TRANSIENT = (1205, 1213, 1317, 3024)  # lock wait, deadlock, interrupted, timeout
# Rows refused outside the 1xxx range: CHECK violated (MySQL 8), CONSTRAINT failed (MariaDB).
# PyMySQL raises both as OperationalError, which would otherwise read as a lost connection.
_MYSQL_DATA = (3819, 4025)
_SQLITE_TRANSIENT = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
_SQLITE_CONFIG = (8, 14, 23, 26)  # READONLY, CANTOPEN, AUTH, NOTADB


def classify(exc: BaseException) -> Failure:
    """Decide what kind of failure ``exc`` (a SQLAlchemy or driver exception) is."""
    import sqlalchemy as sa

    orig: BaseException = exc
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        if exc.connection_invalidated:
            return Failure.CONNECTION
        orig = exc.orig
    if isinstance(orig, (TimeoutError, ConnectionError)):
        return Failure.CONNECTION
    module = type(orig).__module__
    # MySQL error numbers are finer than its SQLSTATEs (42000 covers "unknown database").
    if module.startswith("pymysql") and orig.args and isinstance(orig.args[0], int):
        found = _classify_mysql(orig.args[0])
        if found is not Failure.OTHER:
            return found
    sqlstate = getattr(orig, "sqlstate", None)
    if module.startswith("psycopg") and isinstance(sqlstate, str) and sqlstate:
        return _classify_sqlstate(sqlstate)
    if module.startswith("psycopg"):
        return _classify_libpq(orig)
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        primary = sqlite_code & 0xFF
        if primary in _SQLITE_TRANSIENT:
            return Failure.TRANSIENT
        if primary in _SQLITE_CONFIG:
            return Failure.CONFIGURATION
    return _classify_dbapi_class(orig)


def _classify_sqlstate(sqlstate: str) -> Failure:
    if sqlstate in _PG_AUTH:
        return Failure.AUTHENTICATION
    if sqlstate in _PG_CONFIG:
        return Failure.CONFIGURATION
    if sqlstate.startswith("08") or sqlstate in _PG_CONNECTION:
        return Failure.CONNECTION
    if sqlstate in _PG_TRANSIENT or sqlstate.startswith("53"):
        return Failure.TRANSIENT
    if sqlstate[:2] in ("21", "22", "23", "42"):
        return Failure.DATA
    return Failure.OTHER


def _classify_libpq(orig: BaseException) -> Failure:
    if type(orig).__name__ != "OperationalError":
        return _classify_dbapi_class(orig)
    text = str(orig).lower()
    if "database" in text and "does not exist" in text:
        return Failure.CONFIGURATION
    if any(marker in text for marker in _LIBPQ_AUTH_MESSAGES):
        return Failure.AUTHENTICATION
    return Failure.CONNECTION


def _classify_mysql(errno: int) -> Failure:
    if errno in _MYSQL_AUTH:
        return Failure.AUTHENTICATION
    if errno in _MYSQL_CONFIG:
        return Failure.CONFIGURATION
    if errno in _MYSQL_CONNECTION:
        return Failure.CONNECTION
    if errno in _MYSQL_TRANSIENT:
        return Failure.TRANSIENT
    if 1000 <= errno < 2000 or errno in _MYSQL_DATA:
        return Failure.DATA
    return Failure.OTHER


def _classify_dbapi_class(orig: BaseException) -> Failure:
    # PEP 249 class names are the same in every driver.
    names = {cls.__name__ for cls in type(orig).__mro__}
    if names & {"IntegrityError", "DataError", "ProgrammingError", "NotSupportedError"}:
        return Failure.DATA
    if names & {"OperationalError", "InterfaceError"}:
        return Failure.CONNECTION
    return Failure.OTHER


@dataclass(frozen=True)
class ErrorContext:
    """Where an error happened, for its message.

    Attributes:
        destination: Destination name.
        target: Secret-free description of the database and table.
        secrets: Values to scrub from the driver's message.
    """

    destination: str
    target: str
    secrets: tuple[str, ...] = ()

    def error(self, cls: type[PluginError], message: str, hint: str) -> PluginError:
        """An error of type ``cls`` about this destination."""
        return cls(message, destination=self.destination, sink_type=SINK_TYPE, hint=hint)

    def detail(self, exc: BaseException) -> str:
        """The driver's own message, first line only, secrets removed."""
        import sqlalchemy as sa

        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return redact(text, self.secrets)


def map_connect_error(exc: BaseException, context: ErrorContext) -> PluginError:
    """The floe error for a failure while connecting to the database."""
    failure = classify(exc)
    detail = context.detail(exc)
    if failure is Failure.AUTHENTICATION:
        return context.error(
            SinkAuthenticationError,
            f"{context.target} refused the credentials: {detail}",
            "check the user name and password in the destination's secret",
        )
    if failure is Failure.CONFIGURATION:
        return context.error(
            SinkConfigurationError,
            f"cannot use {context.target}: {detail}",
            "check the database name, path and permissions in the url",
        )
    return context.error(
        SinkConnectionError,
        f"cannot connect to {context.target}: {detail}",
        "check that the database is running and that host and port in the url are right",
    )


def map_write_error(exc: BaseException, context: ErrorContext, *, action: str) -> PluginError:
    """The floe error for a failure while writing (``action`` says what was being done)."""
    failure = classify(exc)
    message = f"{action} on {context.target} failed: {context.detail(exc)}"
    if failure is Failure.CONNECTION:
        return context.error(
            SinkConnectionError, message, "the connection was lost; the batch is retried"
        )
    if failure is Failure.TRANSIENT:
        return context.error(
            SinkTransientWriteError,
            message,
            "the database was busy (lock, deadlock, timeout); retrying",
        )
    if failure is Failure.AUTHENTICATION:
        return context.error(
            SinkAuthenticationError, message, "check the credentials in the destination's secret"
        )
    if failure is Failure.CONFIGURATION:
        return context.error(
            SinkConfigurationError, message, "check the table, schema and the user's privileges"
        )
    return context.error(
        SinkWriteError,
        message,
        "the database refused the rows; fix the data or the table definition",
    )
