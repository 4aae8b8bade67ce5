"""Replace mode is atomic: readers see the old rows or the new ones, never an empty or half table.

Batches go to a staging table; the swap (``DELETE`` + ``INSERT ... SELECT``) is one
transaction. A reader polling the table from another connection during a slow multi-batch
replace must only ever see the old rows, then the new ones; a swap that fails part-way must
leave the old rows as they were.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pyarrow as pa
import pytest
import sqlalchemy as sa
from floe_core.plugins.sink import SinkConfig
from floe_core.sinks.errors import SinkWriteError
from floe_ingestion_dlt.plugin import DltIngestionPlugin

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
OLD, NEW = 20_000, 50_000


def _rows(count: int, value: str) -> pa.Table:
    return pa.table({"id": pa.array(range(count), pa.int64()), "v": [value] * count})


def _slowly(table: pa.Table, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The rows in batches, with a pause before each, like a slow read of a large table."""
    for batch in table.to_batches(max_chunksize=batch_rows):
        time.sleep(0.05)
        yield batch


@pytest.fixture
def replace_sink() -> Callable[..., Any]:
    """``replace_sink(url, table, schema=None, batch_size=...)``: a replace-mode sink."""

    def make(url: str, table: str, *, schema: str | None = None, batch_size: int) -> Any:
        plugin = DltIngestionPlugin()
        config = {"url": url, "table": table, "mode": "replace"}
        if schema:
            config["schema"] = schema
        return plugin.create_sink(
            SinkConfig(
                sink_type="sql_database",
                connection_config=config,
                destination_name="warehouse",
                batch_size=batch_size,
            )
        )

    return make


@pytest.mark.requirement("R8")
def test_a_reader_never_sees_an_empty_or_partial_table_during_a_replace(
    sql_pg_schema: str, replace_sink: Callable[..., Any]
) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    plugin = DltIngestionPlugin()
    sink = replace_sink(PG_URL, table, schema=sql_pg_schema, batch_size=5_000)
    try:
        assert plugin.write(sink, _rows(OLD, "old")).success
        query = (
            f'SELECT count(*), count(*) FILTER (WHERE v = \'old\') FROM "{sql_pg_schema}"."{table}"'
        )
        seen: list[tuple[int, int]] = []
        done = threading.Event()

        def read_until_done() -> None:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                while not done.is_set():
                    seen.append(conn.execute(query).fetchone())  # type: ignore[arg-type]

        reader = threading.Thread(target=read_until_done)
        reader.start()
        try:
            result = plugin.write(sink, _slowly(_rows(NEW, "new"), 5_000))
        finally:
            done.set()
            reader.join(timeout=30)
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            seen.append(conn.execute(query).fetchone())  # type: ignore[arg-type]
    finally:
        sink.dispose()

    assert result.success and result.rows_delivered == NEW
    # The reader read all along the write (ten batches with pauses), old rows then new ones.
    assert seen.count((OLD, OLD)) >= 5
    assert set(seen) == {(OLD, OLD), (NEW, 0)}, sorted(set(seen))
    first_new = seen.index((NEW, 0))
    assert all(sample == (NEW, 0) for sample in seen[first_new:])


def _create_checked_table(url: str, schema: str | None, table: str) -> None:
    """A table that refuses ``v = 'forbidden'``, holding three old rows."""
    where = f'"{schema}"."{table}"' if schema else f'"{table}"'
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TABLE {where} (id BIGINT PRIMARY KEY, v VARCHAR(20), "
                "CONSTRAINT no_forbidden CHECK (v <> 'forbidden'))"
            )
            conn.exec_driver_sql(
                f"INSERT INTO {where} (id, v) VALUES (1, 'old'), (2, 'old'), (3, 'old')"
            )
    finally:
        engine.dispose()


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "sqlite"], indirect=True)
def test_a_swap_that_fails_part_way_leaves_the_old_rows(
    sql_backend_url: tuple[str, str, str | None],
    replace_sink: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    _, url, schema = sql_backend_url
    table = f"t_{uuid.uuid4().hex[:8]}"
    _create_checked_table(url, schema, table)
    # The staging table has the target's columns but not its CHECK constraint: every batch
    # is staged, and the swap's INSERT fails after its DELETE has run.
    values = ["new"] * 40
    values[37] = "forbidden"
    new = pa.table({"id": pa.array(range(100, 140), pa.int64()), "v": values})
    plugin = DltIngestionPlugin()
    sink = replace_sink(url, table, schema=schema, batch_size=10)
    try:
        with pytest.raises(SinkWriteError) as caught:
            plugin.write(sink, new)
    finally:
        sink.dispose()

    assert "replacing the table's rows" in str(caught.value)
    assert sql_rows(url, table, ["id", "v"], schema=schema) == [
        (1, "old"),
        (2, "old"),
        (3, "old"),
    ]
    engine = sa.create_engine(url)
    try:
        assert sa.inspect(engine).get_table_names(schema=schema) == [table]
    finally:
        engine.dispose()


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("sql_backend_url", ["postgresql", "mariadb"], indirect=True)
def test_a_row_the_tables_not_null_refuses_is_rejected_while_staging(
    sql_backend_url: tuple[str, str, str | None],
    replace_sink: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    # The staging table is a copy of the target's definition, NOT NULL included, so the row
    # is refused while its batch is staged (and isolated from the good rows) instead of
    # failing the swap at the end.
    _, url, schema = sql_backend_url
    table = f"t_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    preparer = engine.dialect.identifier_preparer
    where = preparer.quote(table) if not schema else f"{preparer.quote_schema(schema)}.{table}"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TABLE {where} (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)"
            )
            conn.exec_driver_sql(f"INSERT INTO {where} (id, v) VALUES (1, 'old'), (2, 'old')")
    finally:
        engine.dispose()
    values: list[str | None] = ["new"] * 6
    values[4] = None
    new = pa.table({"id": pa.array(range(10, 16), pa.int64()), "v": pa.array(values, pa.string())})
    plugin = DltIngestionPlugin()
    sink = replace_sink(url, table, schema=schema, batch_size=3)
    try:
        result = plugin.write(sink, new)
    finally:
        sink.dispose()

    # A replace with a refused row is not swapped in: the old rows stay.
    assert not result.success and result.rows_rejected == 1, result
    assert "it holds none of them" in result.errors[-1]
    assert sql_rows(url, table, ["id", "v"], schema=schema) == [(1, "old"), (2, "old")]


@pytest.mark.requirement("R8")
def test_a_new_table_replaced_into_a_database_other_than_the_urls_lands_there(
    sql_maria_db: str, replace_sink: Callable[..., Any], sql_rows: Callable[..., Any]
) -> None:
    database = sql_maria_db.rsplit("/", 1)[1]
    url = sql_maria_db.rsplit("/", 1)[0] + "/test"
    table = f"t_{uuid.uuid4().hex[:8]}"
    plugin = DltIngestionPlugin()
    sink = replace_sink(url, table, schema=database, batch_size=10)
    try:
        assert plugin.write(sink, _rows(25, "new")).success
    finally:
        sink.dispose()

    assert sql_rows(url, table, ["id", "v"], schema=database) == [(i, "new") for i in range(25)]
    engine = sa.create_engine(url)
    try:
        assert table not in sa.inspect(engine).get_table_names()  # not in the URL's database
        assert sa.inspect(engine).get_table_names(schema=database) == [table]
    finally:
        engine.dispose()
