"""``DltIngestionPlugin.create_sink`` + ``write`` into real PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from floe_core.iceberg.source import IcebergSource
from floe_core.plugins.sink import SinkConfig
from floe_ingestion_dlt.plugin import DltIngestionPlugin
from floe_ingestion_dlt.sinks.sql.encode import csv_body

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LONG = "\u00e9\u6771\U0001f680" * 40_000  # 120,000 characters


@pytest.fixture
def sql_plugin() -> DltIngestionPlugin:
    """The plugin, as the registry would load it."""
    return DltIngestionPlugin()


@pytest.fixture
def sql_create(sql_plugin: DltIngestionPlugin) -> Iterator[Callable[..., Any]]:
    """``sql_create(url, table, batch_size=None, field_mapping=None, retry_config=None,
    **config)``: a sink from ``create_sink``, disposed afterwards."""
    made: list[Any] = []

    def create(
        url: str,
        table: str,
        *,
        batch_size: int | None = None,
        field_mapping: dict[str, str] | None = None,
        retry_config: dict[str, Any] | None = None,
        **config: Any,
    ) -> Any:
        sink = sql_plugin.create_sink(
            SinkConfig(
                sink_type="sql_database",
                connection_config={"url": url, "table": table, **config},
                field_mapping=field_mapping,
                retry_config=retry_config,
                batch_size=batch_size,
                destination_name="warehouse",
            )
        )
        made.append(sink)
        return sink

    yield create
    for sink in made:
        sink.dispose()


def _customers(gold_customers: Callable[..., pa.Table], rows: int) -> pa.Table:
    table = gold_customers(rows)
    notes = table["note"].to_pylist()
    notes[1] = LONG
    notes[2] = ""
    notes[4] = 'emoji \U0001f600 CJK \u4e2d\u6587 quote " comma , newline \n'
    return table.set_column(table.schema.get_field_index("note"), "note", pa.array(notes))


def _checksum(table: pa.Table, batch_size: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for batch in table.to_batches(max_chunksize=batch_size):
        body = csv_body(batch)
        digest.update(body)
        size += len(body)
    return f"sha256:{digest.hexdigest()}", size


def _rechunked(table: pa.Table, batch_size: int) -> pa.Table:
    # Input split at odd places: the engine re-cuts it to batch_size.
    return pa.Table.from_batches(table.to_batches(max_chunksize=777))


@pytest.mark.requirement("R8")
@pytest.mark.requirement("B5")
def test_postgres_upsert_of_10000_awkward_rows_twice_changes_nothing(
    sql_pg_schema: str,
    sql_create: Callable[..., Any],
    sql_plugin: DltIngestionPlugin,
    sql_rows: Callable[..., Any],
    sql_expected: Callable[..., Any],
    gold_customers: Callable[..., pa.Table],
) -> None:
    data = _customers(gold_customers, 10_000)
    sink = sql_create(
        PG_URL,
        "customers",
        schema=sql_pg_schema,
        mode="upsert",
        primary_key=["id"],
        batch_size=500,
    )

    first = sql_plugin.write(sink, _rechunked(data, 500))
    row_versions = sql_rows(PG_URL, "customers", ["id", "xmin"], schema=sql_pg_schema)
    second = sql_plugin.write(sink, _rechunked(data, 500))

    checksum, size = _checksum(data, 500)
    for result in (first, second):
        assert result.success, result.errors
        assert result.rows_delivered == 10_000
        assert (result.checksum, result.bytes_transmitted) == (checksum, size)
    assert first.idempotency_key == second.idempotency_key
    got = sql_rows(PG_URL, "customers", data.column_names, schema=sql_pg_schema)
    assert got == sql_expected(data, "postgresql")
    # Unchanged rows are not even rewritten: every row keeps its version.
    assert sql_rows(PG_URL, "customers", ["id", "xmin"], schema=sql_pg_schema) == (row_versions)


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb", "sqlite"], indirect=True)
def test_append_through_write_arrives_once_in_batches_of_batch_size(
    sql_backend_url: tuple[str, str, str | None],
    sql_create: Callable[..., Any],
    sql_plugin: DltIngestionPlugin,
    sql_rows: Callable[..., Any],
    sql_expected: Callable[..., Any],
    gold_customers: Callable[..., pa.Table],
) -> None:
    backend, url, schema = sql_backend_url
    data = _customers(gold_customers, 2_345)
    if backend == "sqlite":  # decimals come back as REAL; compare the others exactly
        data = data.drop_columns(["lifetime_value"])
    sink = sql_create(url, "customers", schema=schema, batch_size=1_000)

    first = sql_plugin.write(sink, _rechunked(data, 1_000))
    again = sql_plugin.write(sink, _rechunked(data, 1_000))  # a re-run: nothing is added

    assert first.success and again.success
    assert (first.rows_delivered, first.rows_skipped) == (2_345, 0)
    assert (again.rows_delivered, again.rows_skipped) == (0, 2_345)  # the delivery log's count
    assert sql_rows(url, "customers", data.column_names, schema=schema) == sql_expected(
        data, backend
    )
    logged = sql_rows(url, "_floe_delivery_log", ["row_count"], schema=schema, order_by="1")
    assert sorted(row[0] for row in logged) == [345, 1_000, 1_000]


@pytest.mark.requirement("R14")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb", "sqlite"], indirect=True)
def test_replace_with_field_mapping(
    sql_backend_url: tuple[str, str, str | None],
    sql_create: Callable[..., Any],
    sql_plugin: DltIngestionPlugin,
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    sink = sql_create(
        url,
        "people",
        schema=schema,
        mode="replace",
        primary_key=["person_id"],
        field_mapping={"id": "person_id", "name": "full_name"},
    )
    sql_plugin.write(sink, pa.table({"id": [1, 2], "name": ["Ann", "Bo"]}))

    result = sql_plugin.write(sink, pa.table({"id": [3], "name": ["Cy \u00e7"]}))

    assert result.success and result.rows_delivered == 1
    assert sql_rows(url, "people", ["person_id", "full_name"], schema=schema, order_by="1") == [
        (3, "Cy \u00e7")
    ]


@pytest.mark.requirement("R16")
def test_refused_rows_are_isolated_and_the_rest_delivered(
    sql_pg_schema: str,
    sql_create: Callable[..., Any],
    sql_plugin: DltIngestionPlugin,
    sql_rows: Callable[..., Any],
) -> None:
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f'CREATE TABLE "{sql_pg_schema}".scores (id BIGINT PRIMARY KEY, code VARCHAR(4))'
        )
    engine.dispose()
    rejected: list[tuple[pa.Table, str]] = []
    sink = sql_create(PG_URL, "scores", schema=sql_pg_schema, batch_size=8)
    codes = [f"c{i}" for i in range(20)]
    codes[13] = "far too long"

    result = sql_plugin.write(
        sink,
        pa.table({"id": list(range(20)), "code": codes}),
        on_rejected=lambda rows, reason: rejected.append((rows, reason)),
    )

    assert not result.success
    assert (result.rows_delivered, result.rows_rejected) == (19, 1)
    assert [r[0]["id"].to_pylist() for r in rejected] == [[13]]
    assert "value too long" in rejected[0][1]
    assert [row[0] for row in sql_rows(PG_URL, "scores", ["id"], schema=sql_pg_schema)] == [
        i for i in range(20) if i != 13
    ]


@pytest.mark.requirement("R16")
def test_lock_timeout_is_retried_until_the_lock_is_released(
    sql_pg_schema: str,
    sql_create: Callable[..., Any],
    sql_plugin: DltIngestionPlugin,
    sql_rows: Callable[..., Any],
) -> None:
    url = PG_URL + "?options=-c%20lock_timeout%3D100"
    sink = sql_create(
        url,
        "locked",
        schema=sql_pg_schema,
        mode="upsert",
        primary_key=["id"],
        retry_config={
            "max_attempts": 20,
            "initial_backoff_seconds": 0.05,
            "max_backoff_seconds": 0.2,
        },
    )
    sql_plugin.write(sink, pa.table({"id": [1], "v": ["before"]}))
    locked = threading.Event()

    def hold_lock() -> None:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'LOCK TABLE "{sql_pg_schema}".locked IN EXCLUSIVE MODE')
            locked.set()
            time.sleep(1.0)
        engine.dispose()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(5)
    result = sql_plugin.write(sink, pa.table({"id": [1, 2], "v": ["after", "new"]}))
    holder.join()

    assert result.success, result.errors
    assert sql_rows(url, "locked", ["id", "v"], schema=sql_pg_schema) == [(1, "after"), (2, "new")]


@pytest.mark.requirement("R16")
def test_a_killed_connection_is_replaced_and_the_batch_retried(
    sql_pg_schema: str,
    sql_create: Callable[..., Any],
    sql_plugin: DltIngestionPlugin,
    sql_rows: Callable[..., Any],
) -> None:
    app = f"floe_kill_{uuid.uuid4().hex[:8]}"
    url = f"{PG_URL}?application_name={app}"
    sink = sql_create(
        url, "events", schema=sql_pg_schema, retry_config={"initial_backoff_seconds": 0.01}
    )
    sql_plugin.write(sink, pa.table({"id": [1]}))
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        killed = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE application_name = '{app}'"
        ).scalar_one()
    engine.dispose()

    result = sql_plugin.write(sink, pa.table({"id": [2, 3]}))

    assert killed >= 1
    assert result.success, result.errors
    assert sql_rows(url, "events", ["id"], schema=sql_pg_schema) == [(1,), (2,), (3,)]


@pytest.mark.requirement("R8")
@pytest.mark.requirement("R9")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb", "sqlite"], indirect=True)
def test_iceberg_table_to_database_every_value(
    sql_backend_url: tuple[str, str, str | None],
    tmp_path: Path,
    sql_create: Callable[..., Any],
    sql_plugin: DltIngestionPlugin,
    sql_rows: Callable[..., Any],
    sql_expected: Callable[..., Any],
    gold_customers: Callable[..., pa.Table],
) -> None:
    from pyiceberg.catalog.sql import SqlCatalog

    backend, url, schema = sql_backend_url
    data = _customers(gold_customers, 10_000)
    if backend == "sqlite":
        data = data.drop_columns(["lifetime_value"])
    catalog_config = {
        "type": "sql",
        "name": "local",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": f"file://{tmp_path / 'warehouse'}",
    }
    catalog = SqlCatalog("local", uri=catalog_config["uri"], warehouse=catalog_config["warehouse"])
    catalog.create_namespace("gold")
    catalog.create_table("gold.customers", schema=data.schema).append(data)
    mode = {"postgresql": "upsert", "mariadb": "upsert", "sqlite": "replace"}[backend]
    sink = sql_create(
        url, "customers", schema=schema, mode=mode, primary_key=["id"], batch_size=500
    )

    with IcebergSource(catalog_config, "gold.customers") as source:
        result = sql_plugin.write(sink, source.batches())

    assert result.success and result.rows_delivered == 10_000
    got = sql_rows(url, "customers", data.column_names, schema=schema)
    assert got == sql_expected(data, backend)


@pytest.mark.requirement("B5")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb", "sqlite"], indirect=True)
def test_append_run_that_crashed_resumes_without_duplicates_or_gaps(
    sql_backend_url: tuple[str, str, str | None],
    sql_create: Callable[..., Any],
    sql_plugin: DltIngestionPlugin,
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    data = pa.table(
        {"id": pa.array(range(1_000), pa.int64()), "v": [f"v{i}" for i in range(1_000)]}
    )
    sink = sql_create(url, "events", schema=schema, batch_size=100)

    def dies_after_450_rows() -> Iterator[pa.RecordBatch]:
        yield from data.slice(0, 450).to_batches(max_chunksize=150)
        raise RuntimeError("the source went away")

    crashed = sql_plugin.write(sink, dies_after_450_rows())
    written_before = len(sql_rows(url, "events", ["id"], schema=schema))
    result = sql_plugin.write(sink, data)

    assert not crashed.success
    assert crashed.errors == ["RuntimeError: the source went away"]
    assert crashed.rows_delivered == written_before
    assert 0 < written_before <= 450
    assert result.success
    assert (result.rows_delivered, result.rows_skipped) == (1_000 - written_before, written_before)
    ids = [row[0] for row in sql_rows(url, "events", ["id"], schema=schema)]
    assert ids == list(range(1_000))


@pytest.mark.requirement("R14")
def test_static_fields_and_escaped_dots_are_flat_columns_and_nesting_is_refused(
    sql_plugin: DltIngestionPlugin, tmp_path: Path
) -> None:
    from floe_core.sinks.errors import SinkConfigurationError

    url = f"sqlite:///{tmp_path / 'shaped.db'}"
    sink = sql_plugin.create_sink(
        SinkConfig(
            "sql_database",
            {"url": url, "table": "contacts"},
            field_mapping={"b": r"utm\.source"},
            static_fields={"source": "floe", "n": 3},
        )
    )
    try:
        result = sql_plugin.write(sink, pa.table({"a": [1, 2], "b": ["x", "y"]}))
    finally:
        sink.dispose()
    assert result.success, result.errors
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM contacts ORDER BY a")).mappings().all()
    engine.dispose()
    assert [dict(row) for row in rows] == [
        {"source": "floe", "n": 3, "a": 1, "utm.source": "x"},
        {"source": "floe", "n": 3, "a": 2, "utm.source": "y"},
    ]
    nested = sql_plugin.create_sink(
        SinkConfig("sql_database", {"url": url, "table": "other"}, field_mapping={"b": "x.y"})
    )
    try:
        with pytest.raises(SinkConfigurationError, match="this sink writes flat rows"):
            sql_plugin.write(nested, pa.table({"a": [1], "b": ["x"]}))
    finally:
        nested.dispose()
