"""The ``sql_database`` sink: rows into a table of any database SQLAlchemy can reach.

Config (destination ``config:`` plus the secret): ``url`` (secret), ``table``, ``schema``,
``mode`` (``append`` | ``upsert`` | ``replace``), ``primary_key``, ``create_table``,
``max_connections``; see ``SqlDatabaseSettings``. Each batch is one transaction.

- PostgreSQL with psycopg 3 uses ``COPY`` (``postgres.py``); other databases use
  ``executemany`` (``executemany.py``). The payload body is always the batch as CSV
  (``encode.py``), which is exactly what ``COPY`` receives.
- values are stored exactly or not at all: a row holding a value the table would round or
  replace (NaN on SQLite, a 20-digit decimal in an existing NUMERIC column of SQLite, ...;
  ``exact.py``) is left out of the batch and acknowledged as rejected, with the reason.
- append is exactly-once: each batch's idempotency key is recorded with its rows
  (``delivery_log.py``) and a batch already recorded is skipped.
- upsert inserts or updates by ``primary_key``, and deletes by it (operation ``delete``: the
  batch's keys into a temporary table, then one ``DELETE ... USING`` / ``JOIN``; rows already
  gone are not an error); it also inserts only new keys or updates only existing ones
  (operations ``insert`` and ``update``, set-based through a temporary table too,
  ``keyed.py``: rows that cannot be written so are rejected with the reason). Append
  inserts; replace swaps a staging table in at the end of a successful write (``tables.py``).
  On PostgreSQL a large upsert batch is written as two parts that share no key, in parallel
  on two connections (one transaction each), unless ``max_connections`` is 1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from floe_core.sinks.base import (
    BatchAck,
    Operation,
    Payload,
    RowRejection,
    Sink,
    SinkCapabilities,
    SinkExample,
)
from floe_core.sinks.errors import PluginError, SinkConfigurationError
from pydantic import BaseModel

from floe_ingestion_dlt.sinks.sql.config import (
    MAX_CONNECTIONS,
    SECRET_FIELDS,
    SINK_TYPE,
    SqlDatabaseSettings,
    create_engine,
    display_url,
    target_identity,
    url_endpoints,
)
from floe_ingestion_dlt.sinks.sql.errors import (
    ErrorContext,
    Failure,
    classify,
    map_connect_error,
    map_write_error,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pyarrow as pa
    import sqlalchemy as sa
    from floe_core.plugins.sink import SinkConfig
    from floe_core.sinks.endpoints import Endpoint

    from floe_ingestion_dlt.sinks.sql.delivery_log import DeliveryLog
    from floe_ingestion_dlt.sinks.sql.tables import TablePlan

__all__ = ["SqlDatabaseSink"]


@dataclass(frozen=True)
class _Encoded:
    """``Payload.data`` of a batch some rows of which were refused while encoding.

    Attributes:
        data: What ``Payload.data`` holds otherwise: parameter rows (``executemany``), the
            parts of a split upsert, or ``None``.
        refused: Rows of the batch left out because the table would not store them exactly.
    """

    data: Any
    refused: tuple[RowRejection, ...] = ()

    @classmethod
    def of(cls, data: Any, refused: tuple[RowRejection, ...]) -> Any:
        """``data`` itself when no row was refused, else ``data`` with the refusals."""
        return cls(data, refused) if refused else data


class _Writer(Protocol):
    def write(self, conn: sa.Connection, payload: Payload) -> list[int] | None: ...


class SqlDatabaseSink(Sink):
    """Writes record batches into one table (see the module docstring).

    Args:
        config: ``connection_config`` holds the settings and the secret's ``url``.

    Raises:
        SinkConfigurationError: Invalid settings or URL, unknown dialect, missing driver,
            upsert on a database without upsert, missing table with ``create_table: false``.
        SinkAuthenticationError: The database refused the credentials.
        SinkConnectionError: The database cannot be reached.
    """

    sink_type: ClassVar[str] = SINK_TYPE
    capabilities: ClassVar[SinkCapabilities] = SinkCapabilities(
        default_batch_size=50_000,
        max_concurrency=MAX_CONNECTIONS,
        splits_rejected_batches=True,
        operations=frozenset(
            {Operation.INSERT, Operation.UPDATE, Operation.UPSERT, Operation.DELETE}
        ),
    )
    settings_model: ClassVar[type[BaseModel]] = SqlDatabaseSettings
    secret_fields: ClassVar[frozenset[str]] = SECRET_FIELDS
    key_setting: ClassVar[str | None] = "primary_key"
    example: ClassVar[SinkExample | None] = SinkExample(
        config=(
            "table: customers   # the table rows go to; floe creates it when it is missing\n"
            "mode: upsert       # append | upsert (by primary_key) | replace (the whole table)\n"
            "# schema: public   # PostgreSQL schema or MySQL database; default: the URL's\n"
            "# create_table: true   # false: a missing table is an error instead\n"
        ),
        secret={"url": "sqlite:///.floe/destination.db"},
        destination=(
            "# Source column(s) that identify a row: the table's key for upsert, and runs\n"
            "# send only the rows that changed since the last one.\n"
            "primary_key: [customer_id]\n"
        ),
    )

    @classmethod
    def operations_for(cls, config: Mapping[str, Any]) -> frozenset[Operation]:
        """Mode upsert upserts, inserts, updates and deletes by primary key; modes append and
        replace insert."""
        return _operations(config.get("mode") == "upsert")

    @classmethod
    def secret_keys(cls, config: dict[str, Any]) -> list[list[str]]:
        """``url``: where the database is, with its credentials."""
        return [["url"]]

    @classmethod
    def project_paths(cls, values: dict[str, Any], project_dir: str) -> dict[str, Any]:
        """A relative SQLite file in ``url`` is relative to the project, as every path is."""
        from floe_core.compiler.plan import resolve_sqlite_url

        url = values.get("url")
        if not isinstance(url, str):
            return values
        return {**values, "url": resolve_sqlite_url(url, Path(project_dir))}

    @classmethod
    def endpoints(cls, values: Mapping[str, Any]) -> list[Endpoint]:
        """The database's host and port, or its SQLite file, from ``url``."""
        url = values.get("url")
        return url_endpoints(url) if isinstance(url, str) else []

    @classmethod
    def target(cls, values: Mapping[str, Any]) -> str:
        """Backend, host, port, database, schema and table (``identity``): not the mode, the
        connections or the credentials."""
        settings = SqlDatabaseSettings.from_connection_config(dict(values))
        url = settings.sqlalchemy_url()
        return target_identity(url, settings.db_schema, settings.table)

    def __init__(self, config: SinkConfig) -> None:
        super().__init__(config)
        self.settings = SqlDatabaseSettings.from_connection_config(
            config.connection_config, destination=self.destination
        )
        url = self.settings.sqlalchemy_url(destination=self.destination)
        self._url = url
        self._backend = url.get_backend_name()
        self._copy = self._backend == "postgresql" and url.get_driver_name() == "psycopg"
        self._split_upserts = (
            self._copy and self.settings.mode == "upsert" and self.settings.max_connections > 1
        )
        # Writes the second part of a split upsert batch; made on first use.
        self._helper: ThreadPoolExecutor | None = None
        self._helper_lock = threading.Lock()
        schema, table = self.settings.db_schema, self.settings.table
        where = f"{schema}.{table}" if schema else table
        self._context = ErrorContext(
            destination=self.destination,
            target=f"{display_url(url)} table {where}",
            secrets=tuple(self.settings.secret_values()),
        )
        from floe_ingestion_dlt.sinks.sql.executemany import UPSERT_BACKENDS

        if self.settings.mode == "upsert" and self._backend not in UPSERT_BACKENDS:
            raise SinkConfigurationError(
                f"mode 'upsert' is not supported on {self._backend}",
                destination=self.destination,
                sink_type=SINK_TYPE,
                hint=f"use mode append or replace; upsert works on {', '.join(UPSERT_BACKENDS)}",
            )
        self._engine = create_engine(
            url, destination=self.destination, pool_size=self.settings.max_connections
        )
        self._plan: TablePlan | None = None
        self._writer: _Writer | None = None
        self._log: DeliveryLog | None = None
        try:
            self._check_destination()
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def _new_sqlite_file(self) -> bool:
        """A SQLite database file the first write would create."""
        database = self._url.database
        if self._backend != "sqlite" or not database or database == ":memory:":
            return False
        if self._url.query.get("mode") == "memory" or database.startswith("file:"):
            return False
        return not Path(database).exists()

    @property
    def identity(self) -> str:
        """Backend, host, port, database, schema and table; no user name or password."""
        return target_identity(self._url, self.settings.db_schema, self.settings.table)

    @property
    def description(self) -> str:
        """``table customers in sqlite:////srv/app.db``: the URL without its password."""
        schema, table = self.settings.db_schema, self.settings.table
        return f"table {f'{schema}.{table}' if schema else table} in {display_url(self._url)}"

    @property
    def secret_values(self) -> list[str]:
        """The URL and password, to scrub from messages."""
        return self.settings.secret_values()

    @property
    def effective_capabilities(self) -> SinkCapabilities:
        """``max_connections`` batches in flight; upserts run one batch at a time (so the last
        row of a key wins), as does SQLite.

        Modes append and replace insert; mode upsert upserts, inserts only new keys, updates
        only existing ones and deletes, by primary key.
        """
        upsert = self.settings.mode == "upsert"
        concurrency = 1 if upsert or self._backend == "sqlite" else self.settings.max_connections
        return dataclasses.replace(
            self.capabilities, max_concurrency=concurrency, operations=_operations(upsert)
        )

    def check(self, schema: pa.Schema) -> list[str]:
        """The table's schema, columns, column types and unique key, read and not changed.

        Returns:
            Columns that take only some of the values written (``fits.py``), one line each.
        """
        import sqlalchemy as sa

        from floe_ingestion_dlt.sinks.sql.tables import check

        # A SQLite file a run would create is not created by a check: an empty in-memory
        # database stands in for it (no table yet, the same dialect's types).
        engine = sa.create_engine("sqlite://") if self._new_sqlite_file else self._engine
        try:
            with engine.connect() as conn:
                return check(conn, self.settings, schema, destination=self.destination)
        except PluginError:
            raise
        except Exception as exc:
            raise map_connect_error(exc, self._context) from exc
        finally:
            if engine is not self._engine:
                engine.dispose()

    def open(self, schema: pa.Schema) -> None:
        """Create or check the table (and staging / delivery-log tables) for ``schema``."""
        from floe_ingestion_dlt.sinks.sql.delivery_log import DeliveryLog
        from floe_ingestion_dlt.sinks.sql.tables import prepare

        if self._new_sqlite_file:  # SQLite creates the file, not the directory it is in
            Path(str(self._url.database)).parent.mkdir(parents=True, exist_ok=True)
        # A write often starts after a long pause; a pooled connection the server closed
        # meanwhile fails on first use. SQLAlchemy then discards the pool: try once more.
        for attempt in (1, 2):
            try:
                with self._engine.begin() as conn:
                    plan = prepare(conn, self.settings, schema, destination=self.destination)
                    log = None
                    if self.settings.mode == "append":
                        log = DeliveryLog(plan.db_schema, plan.target)
                        log.ensure(conn)
                break
            except PluginError:
                raise
            except Exception as exc:
                if attempt == 1 and classify(exc) is Failure.CONNECTION:
                    continue
                raise map_write_error(exc, self._context, action="preparing the table") from exc
        self._plan, self._log = plan, log
        self._writer = self._make_writer(plan)

    def encode(self, batch: pa.RecordBatch, operation: Operation | None = None) -> Payload:
        """CSV bytes (the COPY data); for ``executemany`` also the parameter rows.

        Rows holding a value the table would not store exactly (``exact.py``) are left out
        and acknowledged as rejected by ``send``; ``Payload.rows`` counts the rows written.
        A large PostgreSQL upsert batch is encoded as two CSV parts that share no key, one
        after the other in the body. A delete is the CSV of the key columns, with their
        parameter rows.
        """
        from floe_ingestion_dlt.sinks.sql.encode import csv_body, parameter_rows

        operation = operation or self.default_operation
        if operation is Operation.DELETE:
            keys = batch.select(list(self.settings.primary_key))
            rows = parameter_rows(keys, backend=self._backend)
            return Payload(rows=keys.num_rows, body=csv_body(keys), data=rows, operation=operation)
        batch, refused = self._exact_rows(batch)
        if self._split_upserts and operation is Operation.UPSERT:
            from floe_ingestion_dlt.sinks.sql.postgres import (
                PARALLEL_UPSERT_MIN_ROWS,
                KeyParts,
                split_by_key,
            )

            if batch.num_rows >= PARALLEL_UPSERT_MIN_ROWS:
                parts = split_by_key(batch, self.settings.primary_key[0])
                if len(parts) > 1:
                    body, where = KeyParts.join(
                        [part.num_rows for part in parts], [csv_body(part) for part in parts]
                    )
                    data = _Encoded.of(where, refused)
                    return Payload(rows=batch.num_rows, body=body, data=data, operation=operation)
        body = csv_body(batch)
        params = None if self._copy else parameter_rows(batch, backend=self._backend)
        data = _Encoded.of(params, refused)
        return Payload(rows=batch.num_rows, body=body, data=data, operation=operation)

    def _exact_rows(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, tuple[RowRejection, ...]]:
        """The rows the table stores exactly, and the others with why they are refused."""
        import pyarrow as pa

        from floe_ingestion_dlt.sinks.sql.exact import refusals

        limits = self._plan.column_limits if self._plan is not None else None
        refused = refusals(batch, backend=self._backend, limits=limits)
        if not refused:
            return batch, ()
        keep = [True] * batch.num_rows
        for rejection in refused:
            keep[rejection.position] = False
        return batch.filter(pa.array(keep, pa.bool_())), tuple(refused)

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        """Write one batch in one transaction (a batch in parts: one per part, in parallel);
        skip it if its key was committed before. Rows refused while encoding are
        acknowledged as rejections."""
        from floe_ingestion_dlt.sinks.sql.postgres import KeyParts

        writer = self._writer
        if writer is None or self._plan is None:
            raise RuntimeError("SqlDatabaseSink.open() must be called before send()")
        if payload.operation is Operation.DELETE:
            writer = self._deleter(self._plan)
        elif self._keyed(payload.operation):
            writer = self._keyed_writer(self._plan, payload.operation)
        encoded = payload.data if isinstance(payload.data, _Encoded) else _Encoded(payload.data)
        refused = list(encoded.refused)
        inner = dataclasses.replace(payload, data=encoded.data)
        left_out: list[int] = []
        try:
            if payload.rows == 0:
                pass  # every row refused (or none given): nothing to write
            elif isinstance(encoded.data, KeyParts):
                self._write_parts(writer, encoded.data.payloads(payload.body))
            else:
                written = self._write(writer, inner, idempotency_key)
                if written is None:
                    skipped = payload.rows
                    return BatchAck(rows_confirmed=0, rows_skipped=skipped, rejections=refused)
                left_out = written
        except PluginError:
            raise
        except Exception as exc:
            action = f"writing a batch of {payload.rows} rows"
            raise map_write_error(exc, self._context, action=action) from exc
        if left_out:
            from floe_ingestion_dlt.sinks.sql.keyed import KEYED_REASONS

            refused += _positions_in_batch(left_out, refused, KEYED_REASONS[payload.operation])
        return BatchAck(rows_confirmed=payload.rows - len(left_out), rejections=refused)

    def _write(
        self, writer: _Writer, payload: Payload, idempotency_key: str | None
    ) -> list[int] | None:
        """One transaction: the positions of the rows the writer left out, or ``None`` when
        the delivery log says the batch was committed before."""
        with self._engine.connect() as conn:
            try:
                with conn.begin():
                    if (
                        self._log is not None
                        and idempotency_key is not None
                        and not self._log.claim(conn, idempotency_key, payload.rows)
                    ):
                        return None
                    left_out = writer.write(conn, payload)
            except Exception as exc:
                # A driver error from COPY bypasses SQLAlchemy's disconnect detection.
                if classify(exc) is Failure.CONNECTION and not conn.invalidated:
                    conn.invalidate()
                raise
        return list(left_out or ())

    def _write_parts(self, writer: _Writer, parts: list[Payload]) -> None:
        """Write key-disjoint parts at once, the first in this thread; raise the first failure.

        Each part is its own transaction. After a failure the engine sends the whole batch
        again, and an upsert of rows already written changes nothing.
        """
        with self._helper_lock:
            if self._helper is None:
                self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="floe-sql-part")
            helper = self._helper
        others = [helper.submit(self._write, writer, part, None) for part in parts[1:]]
        try:
            self._write(writer, parts[0], None)
        finally:
            errors = [future.exception() for future in others]
        for error in errors:
            if error is not None:
                raise error

    def close(self, success: bool) -> None:
        """In replace mode, swap the staging table in (success) or drop it (failure)."""
        from floe_ingestion_dlt.sinks.sql.tables import drop_staging, finish_replace

        plan = self._plan
        if plan is None or not plan.staging:
            # Nothing to finish; the writer stays usable, so that a caller running several
            # open/send/close cycles in parallel (dlt load jobs) never sees it vanish.
            return
        self._plan = self._writer = self._log = None
        if not success:
            # The write already failed; a failed clean-up must not hide why. The staging table
            # is dropped by the next replace run in any case.
            with contextlib.suppress(Exception), self._engine.begin() as conn:
                drop_staging(conn, plan)
            return
        try:
            with self._engine.begin() as conn:
                finish_replace(conn, plan)
            if plan.target_existed and plan.backend in ("mysql", "mariadb"):
                with self._engine.begin() as conn:
                    drop_staging(conn, plan)
        except Exception as exc:
            with contextlib.suppress(Exception), self._engine.begin() as conn:
                drop_staging(conn, plan)
            action = "replacing the table's rows with the staged ones"
            raise map_write_error(exc, self._context, action=action) from exc

    def dispose(self) -> None:
        """Close the connection pool."""
        with self._helper_lock:
            helper, self._helper = self._helper, None
        if helper is not None:
            helper.shutdown(wait=True)
        self._engine.dispose()

    @property
    def replaces_on_close(self) -> bool:
        """Replace mode swaps the staged rows in at ``close``."""
        return self.settings.mode == "replace"

    def __repr__(self) -> str:
        return f"SqlDatabaseSink({self._context.target!r}, mode={self.settings.mode!r})"

    def _keyed(self, operation: Operation) -> bool:
        """An insert-only or update-only write into an upsert table (``keyed.py``)."""
        return self.settings.mode == "upsert" and operation in (Operation.INSERT, Operation.UPDATE)

    def _keyed_writer(self, plan: TablePlan, operation: Operation) -> _Writer:
        from floe_ingestion_dlt.sinks.sql.keyed import KeyedWriter

        return KeyedWriter(plan, self._engine.dialect, operation, copy=self._copy)

    def _deleter(self, plan: TablePlan) -> _Writer:
        from floe_ingestion_dlt.sinks.sql.keyed import KeyedWriter

        return KeyedWriter(plan, self._engine.dialect, Operation.DELETE, copy=self._copy)

    def _make_writer(self, plan: TablePlan) -> _Writer:
        upsert = self.settings.mode == "upsert"
        if self._copy:
            from floe_ingestion_dlt.sinks.sql.postgres import PostgresCopyWriter

            return PostgresCopyWriter(plan, self._engine.dialect, upsert=upsert)
        from floe_ingestion_dlt.sinks.sql.executemany import ExecutemanyWriter

        return ExecutemanyWriter(plan, self._engine.dialect, upsert=upsert)

    def _check_destination(self) -> None:
        """Connect once (credentials, reachability) and check the table where config allows.

        A SQLite file that does not exist yet is not connected to (that would create it, empty,
        for a check or a dry run that writes nothing): the first write creates it.
        """
        import sqlalchemy as sa

        if self._new_sqlite_file:
            if not self.settings.create_table:
                raise SinkConfigurationError(
                    f"the SQLite file {self._url.database} does not exist, so neither does table "
                    f"{self.settings.table}, and create_table is false",
                    destination=self.destination,
                    sink_type=SINK_TYPE,
                    hint="fix the file in `url`, or set `create_table: true`",
                )
            return
        try:
            with self._engine.connect() as conn:
                if not self.settings.create_table:
                    exists = sa.inspect(conn).has_table(
                        self.settings.table, schema=self.settings.db_schema
                    )
                    if not exists:
                        raise SinkConfigurationError(
                            f"table {self._context.target} does not exist and create_table "
                            "is false",
                            destination=self.destination,
                            sink_type=SINK_TYPE,
                            hint="create the table, or set `create_table: true`",
                        )
        except PluginError:
            raise
        except Exception as exc:
            raise map_connect_error(exc, self._context) from exc


def _operations(upsert: bool) -> frozenset[Operation]:
    if upsert:
        return frozenset({Operation.UPSERT, Operation.INSERT, Operation.UPDATE, Operation.DELETE})
    return frozenset({Operation.INSERT})


def _positions_in_batch(
    positions: list[int], refused: list[RowRejection], reason: str
) -> list[RowRejection]:
    """Rejections at ``positions`` of the rows written, as positions in the batch given.

    Rows refused while encoding (``refused``) were left out of what was written, so the
    written rows' positions skip them.
    """
    skipped = sorted(r.position for r in refused)
    rejections = []
    for position in positions:
        original = position
        for gap in skipped:
            if gap <= original:
                original += 1
        rejections.append(RowRejection(original, reason))
    return rejections
