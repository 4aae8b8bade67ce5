"""The ``sql_database`` sink as a ``@dlt.destination`` in a real dlt pipeline."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pytest
from floe_core.plugins import SinkConfig
from floe_core.sinks.errors import SinkConfigurationError
from floe_ingestion_dlt import DltIngestionPlugin

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.mark.requirement("R5")
@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_a_dlt_pipeline_loads_postgres_through_the_sink(
    mode: str,
    sql_pg_schema: str,
    tmp_path: Path,
    gold_customers: Callable[..., pa.Table],
    sql_rows: Callable[..., Any],
    sql_expected: Callable[..., Any],
) -> None:
    data = gold_customers(2_500)
    config: dict[str, Any] = {
        "url": PG_URL,
        "table": "customers",
        "schema": sql_pg_schema,
        "mode": mode,
    }
    if mode == "upsert":
        config["primary_key"] = ["id"]
    for run in ("first", "second"):  # a second process loading the same rows
        sink = DltIngestionPlugin().create_sink(
            SinkConfig("sql_database", config, batch_size=1_000, destination_name="warehouse")
        )
        with sink:
            pipeline = dlt.pipeline(
                pipeline_name=f"floe_sql_dlt_{run}_{uuid.uuid4().hex[:8]}",
                destination=DltIngestionPlugin().dlt_destination(sink),
                pipelines_dir=str(tmp_path / run),
                dataset_name="egress",
            )
            info = pipeline.run(data, table_name="customers")
        assert not info.has_failed_jobs

    got = sql_rows(PG_URL, "customers", data.column_names, schema=sql_pg_schema)
    # A second load of the same rows adds nothing: upsert by key, append by delivery log.
    assert got == sql_expected(data, "postgresql")


@pytest.mark.requirement("R5")
def test_running_the_same_pipeline_twice_appends_each_row_once(
    sql_pg_schema: str,
    tmp_path: Path,
    gold_customers: Callable[..., pa.Table],
    sql_rows: Callable[..., Any],
    sql_expected: Callable[..., Any],
) -> None:
    data = gold_customers(1_500)
    config = {"url": PG_URL, "table": "customers", "schema": sql_pg_schema, "mode": "append"}
    sink = DltIngestionPlugin().create_sink(
        SinkConfig("sql_database", config, batch_size=500, destination_name="warehouse")
    )
    with sink:
        pipeline = dlt.pipeline(
            pipeline_name=f"floe_sql_dlt_again_{uuid.uuid4().hex[:8]}",
            destination=DltIngestionPlugin().dlt_destination(sink),
            pipelines_dir=str(tmp_path),
            dataset_name="egress",
        )
        for _ in range(2):  # two load packages, one process, one destination object
            assert not pipeline.run(data, table_name="customers").has_failed_jobs

    got = sql_rows(PG_URL, "customers", data.column_names, schema=sql_pg_schema)
    assert got == sql_expected(data, "postgresql")


@pytest.mark.requirement("R7")
def test_replace_mode_is_refused_as_a_dlt_destination(sql_pg_schema: str) -> None:
    config = {"url": PG_URL, "table": "customers", "schema": sql_pg_schema, "mode": "replace"}
    sink = DltIngestionPlugin().create_sink(
        SinkConfig("sql_database", config, destination_name="warehouse")
    )
    with sink, pytest.raises(SinkConfigurationError, match="append or upsert"):
        DltIngestionPlugin().dlt_destination(sink)
