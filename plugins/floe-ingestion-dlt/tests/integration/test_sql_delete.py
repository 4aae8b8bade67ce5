"""Deletes by primary key through ``write(..., operation="delete")`` on real databases.

A ``mode: upsert`` destination deletes the rows whose keys a write carries (a table of key
columns, or whole rows); a key the table does not have is not an error. Other modes insert
only, and refuse a delete before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from floe_core.plugins.sink import SinkConfig
from floe_core.sinks import SinkConfigurationError, write
from floe_ingestion_dlt.plugin import DltIngestionPlugin

BACKENDS = ["postgresql", "mariadb", "sqlite"]


@pytest.fixture
def make_sink() -> Iterator[Callable[..., Any]]:
    """``make_sink(url, schema, **config)``: a ``customers`` sink from ``create_sink``."""
    plugin = DltIngestionPlugin()
    made: list[Any] = []

    def make(url: str, schema: str | None, **config: Any) -> Any:
        connection = {"url": url, "table": "customers", **config}
        if schema:
            connection["schema"] = schema
        sink = plugin.create_sink(
            SinkConfig("sql_database", connection, batch_size=2, destination_name="warehouse")
        )
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.dispose()


def _keys(ids: list[int]) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64())})


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("sql_backend_url", BACKENDS, indirect=True)
def test_a_delete_removes_exactly_the_rows_with_those_keys(
    sql_backend_url: tuple[str, str, str | None],
    make_sink: Callable[..., Any],
    sql_rows: Callable[..., list[tuple[Any, ...]]],
    gold_customers: Callable[..., pa.Table],
) -> None:
    _, url, schema = sql_backend_url
    data = gold_customers(30)
    sink = make_sink(url, schema, mode="upsert", primary_key=["id"])
    assert write(sink, data).rows_delivered == 30

    by_key = write(sink, _keys([3, 7, 11, 29, 404]), operation="delete")  # 404: no such row
    whole_rows = write(sink, data.take([0, 1]), operation="delete")  # every column given

    assert by_key.success and whole_rows.success, by_key.errors + whole_rows.errors
    assert (by_key.rows_delivered, by_key.rows_rejected) == (5, 0)
    assert whole_rows.rows_delivered == 2
    kept = sorted(set(range(30)) - {0, 1, 3, 7, 11, 29})
    names = sql_rows(url, "customers", ["id", "name"], schema=schema)
    assert names == [(i, data["name"][i].as_py()) for i in kept]


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("sql_backend_url", BACKENDS, indirect=True)
@pytest.mark.parametrize("mode", ["append", "replace"])
def test_a_delete_is_refused_where_the_mode_only_inserts(
    sql_backend_url: tuple[str, str, str | None],
    mode: str,
    make_sink: Callable[..., Any],
    sql_rows: Callable[..., list[tuple[Any, ...]]],
    gold_customers: Callable[..., pa.Table],
) -> None:
    _, url, schema = sql_backend_url
    sink = make_sink(url, schema, mode=mode, primary_key=["id"])
    write(sink, gold_customers(5))

    with pytest.raises(SinkConfigurationError) as refused:
        write(sink, _keys([1, 2]), operation="delete")

    message = str(refused.value)
    assert "[sql_database/warehouse] this destination cannot delete rows; it supports: insert" in (
        message
    )
    assert "change the destination's settings" in message
    assert [row[0] for row in sql_rows(url, "customers", ["id"], schema=schema)] == list(range(5))
