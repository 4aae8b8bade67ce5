"""Insert-only and update-only writes by primary key (``keyed.py``) on real databases.

A ``mode: upsert`` table takes ``write(..., operation="insert")``, which adds only rows whose
key it does not have and rejects the others (their rows stay as they were), and
``operation="update"``, which changes only rows whose key it has and rejects the others
(nothing is created).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from floe_core.plugins.sink import SinkConfig
from floe_core.sinks import write
from floe_ingestion_dlt.plugin import DltIngestionPlugin

BACKENDS = ["postgresql", "mariadb", "sqlite"]


@pytest.fixture
def make_sink() -> Iterator[Callable[..., Any]]:
    """``make_sink(url, schema, batch_size)``: an upsert sink into ``customers`` keyed by id."""
    plugin = DltIngestionPlugin()
    made: list[Any] = []

    def make(url: str, schema: str | None, batch_size: int = 4) -> Any:
        connection = {"url": url, "table": "customers", "mode": "upsert", "primary_key": ["id"]}
        if schema:
            connection["schema"] = schema
        config = SinkConfig(
            "sql_database", connection, batch_size=batch_size, destination_name="warehouse"
        )
        sink = plugin.create_sink(config)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.dispose()


def _renamed(table: pa.Table, prefix: str) -> pa.Table:
    names = pc.binary_join_element_wise(prefix, table["name"], "")
    return table.set_column(table.schema.get_field_index("name"), "name", names)


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("sql_backend_url", BACKENDS, indirect=True)
def test_an_insert_adds_only_new_keys_and_rejects_the_ones_the_table_has(
    sql_backend_url: tuple[str, str, str | None],
    make_sink: Callable[..., Any],
    sql_rows: Callable[..., list[tuple[Any, ...]]],
    gold_customers: Callable[..., pa.Table],
) -> None:
    _, url, schema = sql_backend_url
    sink = make_sink(url, schema)
    assert write(sink, gold_customers(10)).rows_delivered == 10
    rejected: list[tuple[list[int], str]] = []

    # keys 6..9 are in the table; 10..13 are new
    result = write(
        sink,
        _renamed(gold_customers(8, start=6), "new "),
        operation="insert",
        on_rejected=lambda rows, reason: rejected.append((rows["id"].to_pylist(), reason)),
    )

    assert (result.rows_delivered, result.rows_rejected) == (4, 4)
    assert sorted(i for ids, _ in rejected for i in ids) == [6, 7, 8, 9]
    assert all("in the table already" in reason for _, reason in rejected)
    names = dict(sql_rows(url, "customers", ["id", "name"], schema=schema))
    assert sorted(names) == list(range(14))
    assert all(not names[i].startswith("new ") for i in range(10))  # never overwritten
    assert all(names[i].startswith("new ") for i in range(10, 14))


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("sql_backend_url", BACKENDS, indirect=True)
def test_an_update_changes_only_existing_keys_and_creates_nothing(
    sql_backend_url: tuple[str, str, str | None],
    make_sink: Callable[..., Any],
    sql_rows: Callable[..., list[tuple[Any, ...]]],
    gold_customers: Callable[..., pa.Table],
) -> None:
    _, url, schema = sql_backend_url
    sink = make_sink(url, schema, batch_size=50)
    assert write(sink, gold_customers(10)).rows_delivered == 10
    rejected: list[int] = []

    result = write(
        sink,
        _renamed(gold_customers(6, start=7), "changed "),  # 7..9 exist, 10..12 do not
        operation="update",
        on_rejected=lambda rows, reason: rejected.extend(rows["id"].to_pylist()),
    )

    assert (result.rows_delivered, result.rows_rejected) == (3, 3)
    assert sorted(rejected) == [10, 11, 12]
    rows = dict(sql_rows(url, "customers", ["id", "name"], schema=schema))
    assert sorted(rows) == list(range(10))
    assert [rows[i].startswith("changed ") for i in range(10)] == [False] * 7 + [True] * 3
    # every other column is written too
    emails = dict(sql_rows(url, "customers", ["id", "email"], schema=schema))
    assert emails[8] == "c8@example.com"
