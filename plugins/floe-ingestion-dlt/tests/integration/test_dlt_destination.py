"""``plugin.dlt_destination(sink)``: a real ``@dlt.destination`` delivering through the sink."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from floe_core.plugins import SinkConfig
from floe_core.sinks.base import Sink
from floe_ingestion_dlt import DltIngestionPlugin


def _sink(api_server: Any, **config: Any) -> Sink:
    return DltIngestionPlugin().create_sink(
        SinkConfig(
            "rest_api",
            {"base_url": api_server.base_url, "path": "/v1/contacts", **config},
            batch_size=10,
            field_mapping={"email": "Email"},
            destination_name="crm",
            retry_config={"initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.01},
        )
    )


def _pipeline(sink: Sink, tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"floe_dlt_dest_{uuid.uuid4().hex[:8]}",
        destination=DltIngestionPlugin().dlt_destination(sink),
        pipelines_dir=str(tmp_path / "pipelines"),
        dataset_name="egress",
    )


@pytest.mark.requirement("R7")
def test_a_dlt_pipeline_delivers_through_the_sink(
    api_server: Any, gold_customers: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "true")
    table = gold_customers(35).select(["id", "email", "segment", "updated_at"])
    api_server.fail_next(500)  # retried inside the destination, like in write()
    with _sink(api_server) as sink:
        info = _pipeline(sink, tmp_path).run(table, table_name="contacts")
    assert not info.has_failed_jobs
    rows = sorted(api_server.rows, key=lambda row: row["id"])
    assert [row["id"] for row in rows] == list(range(35))
    assert rows[3]["Email"] == "c3@example.com"
    assert rows[3]["updated_at"] == "2024-01-01T00:00:03.000003Z"
    assert set(rows[0]) == {"id", "Email", "segment", "updated_at"}
    assert sorted(api_server.batch_sizes()) == [5, 10, 10, 10]
    keys = [r.idempotency_key for r in api_server.data_requests]
    assert len(set(keys)) == 4 and len(keys) == 5
    # with delete_completed_jobs, dlt does not keep the delivered data files
    assert list((tmp_path / "pipelines").rglob("*.parquet")) == []


@pytest.mark.requirement("B5")
def test_a_job_dlt_retries_sends_the_same_keys_and_rows_arrive_once(
    api_server: Any, tmp_path: Path
) -> None:
    # Both attempts of the first batch are stored by the server but their answers are lost:
    # the destination gives up on it, dlt retries the job from that batch, and the retry
    # must carry the key the server has already seen.
    api_server.drop_next(times=2, after_processing=True)
    sink = DltIngestionPlugin().create_sink(
        SinkConfig(
            "rest_api",
            {"base_url": api_server.base_url, "path": "/v1/contacts"},
            batch_size=10,
            destination_name="crm",
            retry_config={
                "max_attempts": 2,
                "initial_backoff_seconds": 0.0,
                "max_backoff_seconds": 0.0,
            },
        )
    )
    with sink:
        info = _pipeline(sink, tmp_path).run(
            pa.table({"id": list(range(30))}), table_name="contacts"
        )
    assert not info.has_failed_jobs
    assert sorted(row["id"] for row in api_server.rows) == list(range(30))
    keys = [r.idempotency_key for r in api_server.data_requests]
    assert len(keys) == 5 and keys[0] == keys[1] == keys[2]
    assert len(set(keys)) == 3
    assert api_server.replays == 2


@pytest.mark.requirement("B6")
def test_refused_rows_fail_the_load_loudly(
    api_server: Any, gold_customers: Any, tmp_path: Path
) -> None:
    api_server.reject_marker = "c4@example.com"
    records = gold_customers(10).select(["id", "email"]).to_pylist()
    with _sink(api_server) as sink, pytest.raises(PipelineStepFailed) as caught:
        _pipeline(sink, tmp_path).run(records, table_name="contacts")
    assert "1 row(s) of table 'contacts' rejected" in str(caught.value)
    assert sorted(row["id"] for row in api_server.rows) == [0, 1, 2, 3, 5, 6, 7, 8, 9]


@pytest.mark.requirement("R7")
def test_the_destination_is_built_lazily_per_sink(api_server: Any) -> None:
    with _sink(api_server) as sink:
        destination = DltIngestionPlugin().dlt_destination(sink)
        assert destination.destination_name == "floe_rest_api"
