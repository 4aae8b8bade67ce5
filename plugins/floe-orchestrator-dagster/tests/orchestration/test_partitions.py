"""Partitions: each is its own floe run over its row filter, with its own lease and history."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest
from floe_core.egress.state import StateStore
from floe_orchestrator_dagster import time_window_filter, value_filter

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import Api, Project

CRM = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {path: /contacts, method: POST, body: array}
  batch_size: 10
  retry_config: {max_attempts: 1}
"""


@pytest.mark.requirement("B12")
def test_two_partitions_materialized_at_once_deliver_exactly_their_rows(
    make_project: Any, define_assets: Any, api: Api, metadata_of: Any
) -> None:
    project: Project = make_project(rows=300)
    project.secret("crm-api", base_url=api.url)
    project.write(CRM)
    regions = dg.StaticPartitionsDefinition(["US", "DE"])
    assets = define_assets(
        project, partitions_def=regions, pool="crm-api", row_filter=value_filter("country")
    )
    api.gate.clear()  # every batch waits until both partitions have one in flight
    results: dict[str, dg.ExecuteInProcessResult] = {}

    def materialize(key: str) -> None:
        results[key] = dg.materialize(
            [assets], partition_key=key, resources={"floe": project.resource()}
        )

    threads = [threading.Thread(target=materialize, args=(key,)) for key in ("US", "DE")]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while api.countries_in_flight() != {"US", "DE"}:
        assert time.monotonic() < deadline, "both partitions never had a batch in flight"
        assert all(t.is_alive() for t in threads), "a partition ended before sending"
        time.sleep(0.05)
    api.gate.set()
    for thread in threads:
        thread.join(timeout=300)

    assert results["US"].success and results["DE"].success
    source = Counter(row["country"] for row in project.source_rows())
    sent = Counter(record["country"] for record in api.records)
    assert sent == {"US": source["US"], "DE": source["DE"]}
    ids = [record["customer_id"] for record in api.records]
    assert len(ids) == len(set(ids))  # no row twice
    for key in ("US", "DE"):
        meta = metadata_of(results[key])["floe/crm"]
        assert (meta["status"], meta["rows_delivered"]) == ("success", source[key])
        assert meta["destination"] == f"crm@{key}"
    with StateStore(f"sqlite:///{project.root / '.floe' / 'state.db'}") as state:
        assert set(state.destinations()) == {"crm@US", "crm@DE"}
    assert assets.op.pool == "crm-api"
    assert assets.backfill_policy == dg.BackfillPolicy.multi_run(1)


@pytest.mark.requirement("B12")
def test_a_daily_partition_sends_the_rows_of_its_day(
    make_project: Any, define_assets: Any, metadata_of: Any
) -> None:
    project: Project = make_project(rows=400)
    day = project.source_rows()[0]["last_order_at"].astimezone(UTC).date()
    start, end = (datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(d) for d in (0, 1))
    expected = sorted(
        row["customer_id"]
        for row in project.source_rows()
        if row["last_order_at"] is not None and start <= row["last_order_at"] < end
    )
    daily = dg.DailyPartitionsDefinition(start_date="2000-01-01")
    assets = define_assets(
        project, partitions_def=daily, row_filter=time_window_filter("last_order_at")
    )

    result = dg.materialize(
        [assets], partition_key=day.isoformat(), resources={"floe": project.resource()}
    )

    assert result.success
    assert sorted(r["customer_id"] for r in project.destination_rows()) == expected
    meta = metadata_of(result)["floe/customers_to_sqlite"]
    assert meta["rows_delivered"] == len(expected)
    assert meta["destination"] == f"customers_to_sqlite@{day.isoformat()}"


def test_the_time_window_bounds_follow_the_column_type() -> None:
    window = dg.TimeWindow(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))

    class Context:
        partition_key = "2024-05-01"
        partition_time_window = window

    context: Any = Context()
    assert time_window_filter("at")(context) == (
        "at >= '2024-05-01T00:00:00+00:00' and at < '2024-05-02T00:00:00+00:00'"
    )
    assert time_window_filter("at", "timestamp")(context) == (
        "at >= '2024-05-01T00:00:00' and at < '2024-05-02T00:00:00'"
    )
    assert time_window_filter("on", "date")(context) == "on >= '2024-05-01' and on < '2024-05-02'"
    context.partition_key = "O'Brien"
    assert value_filter("name")(context) == "name = 'O''Brien'"


def test_a_partitioned_asset_without_a_row_filter_fails_and_sends_nothing(
    make_project: Any, define_assets: Any, failure_of: Any
) -> None:
    project: Project = make_project(rows=20)
    assets = define_assets(project, partitions_def=dg.StaticPartitionsDefinition(["US"]))

    result = dg.materialize(
        [assets],
        partition_key="US",
        resources={"floe": project.resource()},
        raise_on_error=False,
    )

    assert not result.success
    assert "partition 'US' has no row filter" in failure_of(result)
    assert not (project.root / ".floe" / "quickstart.db").exists()
