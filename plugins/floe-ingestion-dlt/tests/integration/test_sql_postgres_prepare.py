"""Writes that prepare the same new PostgreSQL schema and table at once (Ray tasks, parallel
partitions): every one of them opens, none is refused by the catalog."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.mark.requirement("B6")
@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_writes_preparing_a_new_schema_and_table_at_once_all_open(
    sql_sink: Callable[..., Any], mode: str
) -> None:
    schema, table = f"floe_new_{uuid.uuid4().hex[:10]}", "t"
    rows = pa.schema([("id", pa.int64()), ("v", pa.string())])
    key = {"primary_key": ["id"]} if mode == "upsert" else {}
    sinks = [sql_sink(PG_URL, table, schema=schema, mode=mode, **key) for _ in range(6)]
    start = threading.Barrier(len(sinks))
    errors: list[BaseException] = []

    def open_sink(sink: Any) -> None:
        start.wait()
        try:
            sink.open(rows)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_sink, args=(sink,)) for sink in sinks]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        engine = sa.create_engine(PG_URL)
        try:
            assert sa.inspect(engine).has_table(table, schema=schema)
        finally:
            engine.dispose()
    finally:
        for sink in sinks:
            sink.dispose()
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
