"""floe's first-party sinks pass the same conformance suite as a third party's.

- ``rest_api`` against the dlt plugin's recording API server (real HTTP on 127.0.0.1);
- ``sql_database`` in ``mode: upsert`` on PostgreSQL, MariaDB and SQLite: a fresh schema,
  database or file per test, the table created beforehand so that the hooks can put triggers
  and constraints on it. Transient failures are real database errors (a serialization
  failure from a trigger on PostgreSQL, a deadlock SIGNAL on MariaDB); SQLite, which has no
  way to fail a statement only N times, gets "database is locked" injected at the driver.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from floe_core.plugins import SinkConfig
from floe_core.sinks import SinkPlugin
from floe_core.sinks.testing import Destination, SinkConformance
from floe_ingestion_dlt import DltIngestionPlugin

ApiServer = Any
MARIA_ADMIN = "mysql+pymysql://root@127.0.0.1:3306"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


# -- rest_api -------------------------------------------------------------------------------


class RestDestination(Destination):
    """The recording API; the token is required on every request."""

    token = "rest-tok-5b21c9d4"

    def __init__(self, server: ApiServer) -> None:
        self.server = server
        server.required_headers = {"Authorization": f"Bearer {self.token}"}

    @property
    def plugin(self) -> SinkPlugin:
        return DltIngestionPlugin()

    @property
    def secret(self) -> str:
        return self.token

    def sink_config(self, *, batch_size: int | None, retry_config: dict[str, Any]) -> SinkConfig:
        connection = {"base_url": self.server.base_url, "path": "/v1/items", "token": self.token}
        return SinkConfig(
            "rest_api",
            connection,
            batch_size=batch_size,
            retry_config=retry_config,
            destination_name="crm",
        )

    def rows(self) -> list[dict[str, Any]]:
        return list(self.server.rows)

    def batch_sizes(self) -> list[int]:
        return list(self.server.batch_sizes())

    def fail_transiently(self, times: int) -> None:
        self.server.fail_next(503, times=times)

    def answer_retry_after(self, seconds: int) -> None:
        self.server.fail_next(429, retry_after=str(seconds))

    def refuse_row(self, row_id: int) -> None:
        self.server.reject_marker = f"item-{row_id:03d}"


class TestRestApiConformance(SinkConformance):
    @pytest.fixture
    def destination(self, api_server: ApiServer) -> Iterator[RestDestination]:
        yield RestDestination(api_server)


# -- sql_database ---------------------------------------------------------------------------


class SqlDestination(Destination):
    """Table ``items`` (``id`` primary key, ``name``) in a fresh database of one backend."""

    answers_retry_after = False  # databases never ask a client to wait a given time
    password = "sql-pw-conformance-81c2"

    def __init__(self, backend: str, url: str, admin_url: str, schema: str | None) -> None:
        self.backend = backend
        self.url = url
        self.schema = schema
        self.admin = sa.create_engine(admin_url)
        self._listeners: list[Any] = []
        quote = self.admin.dialect.identifier_preparer.quote
        self.table = f"{quote(schema)}.items" if schema else "items"
        text = "TEXT" if backend != "mariadb" else "VARCHAR(200)"
        self._execute(f"CREATE TABLE {self.table} (id BIGINT PRIMARY KEY, name {text})")

    def close(self) -> None:
        for listener in self._listeners:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", listener)
        self.admin.dispose()

    def _execute(self, *statements: str) -> None:
        with self.admin.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    @property
    def plugin(self) -> SinkPlugin:
        return DltIngestionPlugin()

    @property
    def secret(self) -> str | None:
        return None if self.backend == "sqlite" else self.password

    def sink_config(self, *, batch_size: int | None, retry_config: dict[str, Any]) -> SinkConfig:
        connection: dict[str, Any] = {
            "url": self.url,
            "table": "items",
            "mode": "upsert",
            "primary_key": ["id"],
        }
        if self.backend != "sqlite":
            connection["password"] = self.password
        if self.schema:
            connection["schema"] = self.schema
        return SinkConfig(
            "sql_database",
            connection,
            batch_size=batch_size,
            retry_config=retry_config,
            destination_name="warehouse",
        )

    def rows(self) -> list[dict[str, Any]]:
        with self.admin.connect() as conn:
            result = conn.exec_driver_sql(f"SELECT id, name FROM {self.table} ORDER BY id")
            return [dict(row._mapping) for row in result]

    def fail_transiently(self, times: int) -> None:
        if self.backend == "postgresql":
            # nextval is not undone by the failed transaction: the trigger fails `times` times.
            self._execute(
                f'DROP SEQUENCE IF EXISTS "{self.schema}".fails',
                f'CREATE SEQUENCE "{self.schema}".fails',
                f'CREATE OR REPLACE FUNCTION "{self.schema}".fail() RETURNS trigger AS $$ BEGIN '
                f"IF nextval('\"{self.schema}\".fails') <= {times} THEN RAISE EXCEPTION "
                "'conformance: could not serialize access' USING ERRCODE = '40001'; END IF; "
                "RETURN NULL; END $$ LANGUAGE plpgsql",
                f"CREATE OR REPLACE TRIGGER fail BEFORE INSERT ON {self.table} "
                f'FOR EACH STATEMENT EXECUTE FUNCTION "{self.schema}".fail()',
            )
        elif self.backend == "mariadb":
            # A MyISAM counter is not rolled back with the failed statement.
            self._execute(
                "CREATE TABLE IF NOT EXISTS fails (n INT) ENGINE=MyISAM",
                "DELETE FROM fails",
                f"INSERT INTO fails VALUES ({times})",
                "CREATE OR REPLACE TRIGGER fail BEFORE INSERT ON items FOR EACH ROW BEGIN "
                "IF (SELECT n FROM fails) > 0 THEN UPDATE fails SET n = n - 1; "
                "SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, "
                "MESSAGE_TEXT = 'conformance: Deadlock found'; END IF; END",
            )
        else:
            left = [times]

            def locked(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                if statement.startswith("INSERT INTO") and left[0] > 0:
                    left[0] -= 1
                    error = sqlite3.OperationalError("database is locked")
                    error.sqlite_errorcode = 5  # SQLITE_BUSY
                    raise error

            sa.event.listen(sa.engine.Engine, "before_cursor_execute", locked)
            self._listeners.append(locked)

    def refuse_row(self, row_id: int) -> None:
        if self.backend == "sqlite":
            self._execute(
                f"CREATE TRIGGER refuse_{row_id} BEFORE INSERT ON items WHEN NEW.id = {row_id} "
                f"BEGIN SELECT RAISE(ABORT, 'conformance: row {row_id} refused'); END"
            )
        else:
            self._execute(
                f"ALTER TABLE {self.table} ADD CONSTRAINT refuse_{row_id} CHECK (id <> {row_id})"
            )


@pytest.fixture
def maria_user() -> Iterator[str]:
    """A MariaDB user with ``SqlDestination.password``, dropped afterwards."""
    admin = sa.create_engine(MARIA_ADMIN)
    name = f"floe_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE USER '{name}'@'%%' IDENTIFIED BY '{SqlDestination.password}'")
        conn.exec_driver_sql(f"GRANT ALL ON `floe_sql_%%`.* TO '{name}'@'%%'")
    try:
        yield name
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{name}'@'%%'")
        admin.dispose()


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def sql_destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDestination]:
    backend = request.param
    if backend == "postgresql":
        schema = request.getfixturevalue("sql_pg_schema")
        destination = SqlDestination(backend, PG_URL, PG_URL, schema)
    elif backend == "mariadb":
        admin_url = request.getfixturevalue("sql_maria_db")
        user = request.getfixturevalue("maria_user")
        database = admin_url.rsplit("/", 1)[1]
        url = f"mysql+pymysql://{user}@127.0.0.1:3306/{database}"
        destination = SqlDestination(backend, url, admin_url, None)
    else:
        url = f"sqlite:///{tmp_path / 'floe.db'}"
        destination = SqlDestination(backend, url, url, None)
    try:
        yield destination
    finally:
        destination.close()


class TestSqlDatabaseConformance(SinkConformance):
    @pytest.fixture
    def destination(self, sql_destination: SqlDestination) -> Iterator[SqlDestination]:
        yield sql_destination
