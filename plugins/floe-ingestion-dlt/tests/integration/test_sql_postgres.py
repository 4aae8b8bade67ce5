"""PostgreSQL upserts of large batches, written as two key-disjoint parts at once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from floe_core.plugins.sink import SinkConfig
from floe_core.sinks.errors import SinkWriteError
from floe_ingestion_dlt.plugin import DltIngestionPlugin
from floe_ingestion_dlt.sinks.sql.postgres import PARALLEL_UPSERT_MIN_ROWS, KeyParts

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FIRST = 2 * PARALLEL_UPSERT_MIN_ROWS  # ids 0 .. FIRST-1 once, then again below HALF
HALF = PARALLEL_UPSERT_MIN_ROWS


def _rows(version: str) -> pa.Table:
    """Every id below FIRST, then the ids below HALF once more with newer values."""
    ids = list(range(FIRST)) + list(range(HALF))
    values = [f"{version} old {i}" for i in range(FIRST)]
    values += [f"{version} new {i}" for i in range(HALF)]
    return pa.table({"id": pa.array(ids, pa.int64()), "v": values})


def _expected(version: str) -> list[tuple[Any, ...]]:
    return [(i, f"{version} {'new' if i < HALF else 'old'} {i}") for i in range(FIRST)]


@pytest.mark.requirement("B5")
def test_large_upsert_batch_goes_in_two_parts_and_the_last_row_of_a_key_wins(
    sql_pg_schema: str,
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    sink = sql_sink(PG_URL, table, schema=sql_pg_schema, mode="upsert", primary_key=["id"])
    data = _rows("a")
    payload = sink.encode(data.to_batches()[0])
    assert isinstance(payload.data, KeyParts) and len(payload.data.rows) == 2
    assert sum(payload.data.rows) == data.num_rows

    for version in ("a", "b", "b"):
        rows = _rows(version)
        acks = sql_drive(sink, rows, batch_size=rows.num_rows, run=version)
        assert [ack.rows_confirmed for ack in acks] == [rows.num_rows]
        assert sql_rows(PG_URL, table, ["id", "v"], schema=sql_pg_schema) == _expected(version)


@pytest.mark.requirement("R16")
def test_a_refused_row_in_one_part_is_isolated_and_every_other_row_delivered(
    sql_pg_schema: str,
    sql_rows: Callable[..., Any],
) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f'CREATE TABLE "{sql_pg_schema}".{table} (id BIGINT PRIMARY KEY, v VARCHAR(12))'
        )
    engine.dispose()
    rows = FIRST
    values = [f"v{i}" for i in range(rows)]
    values[rows - 3] = "far too long for twelve"  # in the upper part
    plugin = DltIngestionPlugin()
    sink = plugin.create_sink(
        SinkConfig(
            sink_type="sql_database",
            connection_config={
                "url": PG_URL,
                "table": table,
                "schema": sql_pg_schema,
                "mode": "upsert",
                "primary_key": ["id"],
            },
            destination_name="warehouse",
            batch_size=rows,
        )
    )
    rejected: list[pa.Table] = []
    data = pa.table({"id": pa.array(range(rows), pa.int64()), "v": values})
    sink.open(data.schema)
    with pytest.raises(SinkWriteError, match="value too long"):
        sink.send(sink.encode(data.to_batches()[0]), "probe")
    sink.close(False)
    # The lower part, without the long value, was committed on its own.
    committed = [row[0] for row in sql_rows(PG_URL, table, ["id"], schema=sql_pg_schema)]
    assert committed == list(range(len(committed)))
    assert 0 < len(committed) < rows - 3
    try:
        result = plugin.write(sink, data, on_rejected=lambda got, _: rejected.append(got))
    finally:
        sink.dispose()

    assert (result.rows_delivered, result.rows_rejected) == (rows - 1, 1)
    assert [got["id"].to_pylist() for got in rejected] == [[rows - 3]]
    stored = sql_rows(PG_URL, table, ["id", "v"], schema=sql_pg_schema)
    assert stored == [(i, f"v{i}") for i in range(rows) if i != rows - 3]


@pytest.mark.requirement("R16")
@pytest.mark.parametrize("locked_part", ["first", "second"])
def test_a_write_stopped_after_one_part_committed_is_completed_by_a_rerun(
    sql_pg_schema: str, sql_rows: Callable[..., Any], locked_part: str
) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    where = f'"{sql_pg_schema}".{table}'
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {where} (id BIGINT PRIMARY KEY, v TEXT)")
        conn.exec_driver_sql(
            f"INSERT INTO {where} SELECT i, 'before' FROM generate_series(0, {FIRST - 1}) i"
        )
    plugin = DltIngestionPlugin()
    sink = plugin.create_sink(
        SinkConfig(
            sink_type="sql_database",
            connection_config={
                # Waiting for a row lock fails after 100 ms: a transient error, retried once.
                "url": PG_URL + "?options=-c%20lock_timeout%3D100",
                "table": table,
                "schema": sql_pg_schema,
                "mode": "upsert",
                "primary_key": ["id"],
            },
            destination_name="warehouse",
            batch_size=FIRST,
            retry_config={"max_attempts": 2, "initial_backoff_seconds": 0.01},
        )
    )
    data = pa.table({"id": pa.array(range(FIRST), pa.int64()), "v": ["after"] * FIRST})
    locked_id = 3 if locked_part == "first" else FIRST - 3
    try:
        # Another session holds one row of one part: that part cannot commit, the other can.
        with engine.connect() as holder, holder.begin():
            holder.exec_driver_sql(f"SELECT 1 FROM {where} WHERE id = {locked_id} FOR UPDATE")
            stopped = plugin.write(sink, data)
        between = sql_rows(PG_URL, table, ["id", "v"], schema=sql_pg_schema)
        rerun = plugin.write(sink, data)
    finally:
        sink.dispose()
        engine.dispose()

    # One part committed whole; the part with the locked row is untouched, all of it.
    after = [i for i, v in between if v == "after"]
    before = [i for i, v in between if v == "before"]
    assert len(between) == FIRST and after and before
    assert locked_id in before
    if locked_part == "first":
        assert min(after) == max(before) + 1  # the upper part went in
    else:
        assert max(after) + 1 == min(before)  # the lower part went in
    assert not stopped.success and stopped.rows_rejected == 0
    assert any("lock" in error for error in stopped.errors), stopped.errors
    # The engine counts a batch only when the sink confirmed all of it: the part that was
    # committed is not reported as delivered (the re-run writes it again, changing nothing).
    assert stopped.rows_delivered == 0
    assert rerun.success and rerun.rows_delivered == FIRST
    assert sql_rows(PG_URL, table, ["id", "v"], schema=sql_pg_schema) == [
        (i, "after") for i in range(FIRST)
    ]


@pytest.mark.requirement("B9")
def test_a_large_upsert_batch_in_two_parts_leaves_out_the_rows_postgresql_cannot_hold(
    sql_pg_schema: str,
    sql_sink: Callable[..., Any],
    sql_drive: Callable[..., Any],
    sql_rows: Callable[..., Any],
) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    sink = sql_sink(PG_URL, table, schema=sql_pg_schema, mode="upsert", primary_key=["id"])
    values = [f"v{i}" for i in range(FIRST)]
    values[7] = values[FIRST - 3] = "NUL \x00 inside"
    data = pa.table({"id": pa.array(range(FIRST), pa.int64()), "v": values})

    [ack] = sql_drive(sink, data, batch_size=FIRST)

    assert ack.rows_confirmed == FIRST - 2
    assert [r.position for r in ack.rejections] == [7, FIRST - 3]
    assert ack.rejections[0].reason == (
        "column 'v': a NUL character (\\x00), which PostgreSQL text cannot hold"
    )
    got = sql_rows(PG_URL, table, ["id", "v"], schema=sql_pg_schema)
    assert got == [(i, f"v{i}") for i in range(FIRST) if i not in (7, FIRST - 3)]


@pytest.mark.requirement("R7")
@pytest.mark.parametrize(
    ("mode", "connections", "in_flight"),
    [("append", 1, 1), ("append", 5, 5), ("replace", 3, 3), ("upsert", 4, 1)],
)
def test_max_connections_is_the_number_of_batches_in_flight_but_upserts_go_one_by_one(
    sql_pg_schema: str,
    sql_sink: Callable[..., Any],
    mode: str,
    connections: int,
    in_flight: int,
) -> None:
    sink = sql_sink(
        PG_URL,
        f"t_{uuid.uuid4().hex[:8]}",
        schema=sql_pg_schema,
        mode=mode,
        primary_key=["id"],
        max_connections=connections,
    )

    assert sink.effective_capabilities.max_concurrency == in_flight


@pytest.mark.requirement("R7")
def test_with_one_connection_a_large_upsert_batch_is_one_transaction(
    sql_pg_schema: str, sql_rows: Callable[..., Any]
) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    where = f'"{sql_pg_schema}".{table}'
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {where} (id BIGINT PRIMARY KEY, v TEXT)")
        conn.exec_driver_sql(
            f"INSERT INTO {where} SELECT i, 'before' FROM generate_series(0, {FIRST - 1}) i"
        )
    plugin = DltIngestionPlugin()
    sink = plugin.create_sink(
        SinkConfig(
            sink_type="sql_database",
            connection_config={
                "url": PG_URL + "?options=-c%20lock_timeout%3D100",
                "table": table,
                "schema": sql_pg_schema,
                "mode": "upsert",
                "primary_key": ["id"],
                "max_connections": 1,
            },
            destination_name="warehouse",
            batch_size=FIRST,
            retry_config={"max_attempts": 2, "initial_backoff_seconds": 0.01},
        )
    )
    data = pa.table({"id": pa.array(range(FIRST), pa.int64()), "v": ["after"] * FIRST})
    try:
        assert not isinstance(sink.encode(data.to_batches()[0]).data, KeyParts)
        # One locked row of the upper half: with two connections the lower half would commit
        # (see above); with one, the batch is one transaction and no row changes.
        with engine.connect() as holder, holder.begin():
            holder.exec_driver_sql(f"SELECT 1 FROM {where} WHERE id = {FIRST - 3} FOR UPDATE")
            stopped = plugin.write(sink, data)
        between = sql_rows(PG_URL, table, ["id", "v"], schema=sql_pg_schema)
        rerun = plugin.write(sink, data)
    finally:
        sink.dispose()
        engine.dispose()

    assert not stopped.success and stopped.rows_delivered == 0
    assert between == [(i, "before") for i in range(FIRST)]
    assert rerun.success and rerun.rows_delivered == FIRST
    assert sql_rows(PG_URL, table, ["id", "v"], schema=sql_pg_schema) == [
        (i, "after") for i in range(FIRST)
    ]
