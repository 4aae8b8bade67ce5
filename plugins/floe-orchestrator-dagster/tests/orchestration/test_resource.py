"""``FloeResource.run`` in a real in-process Dagster run: rows delivered, metadata, failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import Api, Project

KEY = "floe/customers_to_sqlite"


@pytest.mark.requirement("B12")
def test_the_quickstart_destination_materializes_into_sqlite_with_its_numbers(
    make_project: Any, define_assets: Any, metadata_of: Any
) -> None:
    project: Project = make_project(rows=200)
    assets = define_assets(project)

    result = dg.materialize([assets], resources={"floe": project.resource()})

    assert result.success
    delivered = project.destination_rows()
    source = project.source_rows()
    assert sorted(r["customer_id"] for r in delivered) == sorted(r["customer_id"] for r in source)
    by_id = {r["customer_id"]: r for r in source}
    assert all(r["customer_segment"] == by_id[r["customer_id"]]["segment"] for r in delivered)
    meta = metadata_of(result)[KEY]
    assert meta["status"] == "success"
    assert meta["rows_read"] == 200
    assert meta["rows_delivered"] == 200
    assert meta["rows_rejected"] == 0
    assert meta["bytes_sent"] > 0
    assert meta["duration_seconds"] > 0
    assert meta["snapshot_from"] == "none"
    assert meta["snapshot_to"] == str(project.snapshot())
    assert meta["snapshots"] == f"none -> {project.snapshot()}"
    assert meta["sync_mode"] == "upsert"  # the quickstart has a primary_key: a sync
    assert meta["read_path"] == "full_scan"
    assert meta["destination"] == "customers_to_sqlite"
    assert meta["dry_run"] is False
    assert len(meta["run_id"]) == 32
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "rejected_rows"
    assert check.passed

    again = dg.materialize([assets], resources={"floe": project.resource()})

    second = metadata_of(again)[KEY]
    assert second["snapshots"] == f"{project.snapshot()} -> {project.snapshot()}"
    assert second["run_id"] != meta["run_id"]
    assert len(project.destination_rows()) == 200  # upserted in place: nothing duplicated


@pytest.mark.requirement("B12")
def test_a_dry_run_sends_nothing_and_reports_the_planned_rows(
    make_project: Any, define_assets: Any, metadata_of: Any
) -> None:
    project: Project = make_project(rows=120)
    assets = define_assets(project)

    result = dg.materialize(
        [assets],
        resources={"floe": project.resource()},
        run_config={"ops": {"floe_quickstart": {"config": {"dry_run": True}}}},
    )

    assert result.success
    meta = metadata_of(result)[KEY]
    assert meta["dry_run"] is True
    assert meta["rows_planned"] == 120
    assert meta["rows_delivered"] == 0
    assert not (project.root / ".floe" / "quickstart.db").exists()  # not even connected to


@pytest.mark.requirement("B12")
def test_incremental_metadata_counts_inserts_updates_and_deletes(
    make_project: Any, define_assets: Any, metadata_of: Any
) -> None:
    project: Project = make_project(rows=50)
    project.write(
        """\
        - name: mirrored
          sink_type: sql_database
          connection_secret_ref: quickstart-sqlite
          source_table: gold.customers
          primary_key: [customer_id]
          sync_mode: mirror
          config: {table: mirrored, mode: upsert}
        """
    )
    assets = define_assets(project)
    floe = {"floe": project.resource()}
    first = metadata_of(dg.materialize([assets], resources=floe))["floe/mirrored"]
    assert (first["rows_inserted"], first["rows_updated"], first["rows_deleted"]) == (50, 0, 0)

    project.append([{**project.source_rows()[0], "customer_id": 1000}])
    second = metadata_of(dg.materialize([assets], resources=floe))["floe/mirrored"]

    assert (second["rows_inserted"], second["rows_updated"], second["rows_deleted"]) == (1, 0, 0)
    assert second["snapshots"] == f"{first['snapshot_to']} -> {project.snapshot()}"
    assert second["read_path"] == "appended"
    assert len(project.destination_rows("mirrored")) == 51

    project.delete("customer_id = 1000")
    third = metadata_of(dg.materialize([assets], resources=floe))["floe/mirrored"]

    assert (third["rows_inserted"], third["rows_updated"], third["rows_deleted"]) == (0, 0, 1)
    assert len(project.destination_rows("mirrored")) == 50


@pytest.mark.requirement("B12")
def test_rejected_rows_make_a_partial_materialization_and_fail_the_check_above_the_threshold(
    make_project: Any, define_assets: Any, metadata_of: Any
) -> None:
    import sqlalchemy as sa

    project: Project = make_project(rows=40)
    engine = sa.create_engine(f"sqlite:///{project.root / '.floe' / 'quickstart.db'}")
    with engine.begin() as conn:  # a destination table that refuses every tenth customer
        conn.execute(
            sa.text(
                "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY "
                "CHECK (customer_id % 10 != 0), email TEXT, first_name TEXT, last_name TEXT, "
                "country TEXT, ltv NUMERIC(12, 2), orders_count INTEGER, is_active BOOLEAN, "
                "last_order_at TIMESTAMP, customer_segment TEXT)"
            )
        )
    engine.dispose()
    assets = define_assets(project)

    strict = dg.materialize([assets], resources={"floe": project.resource()})
    tolerant = dg.materialize([assets], resources={"floe": project.resource(max_rejected_rows=4)})

    assert strict.success  # the rows that went through are materialized
    meta = metadata_of(strict)[KEY]
    assert (meta["status"], meta["rows_delivered"], meta["rows_rejected"]) == ("partial", 36, 4)
    [check] = strict.get_asset_check_evaluations()
    assert not check.passed
    assert "4 rows rejected by destination 'customers_to_sqlite'" in (check.description or "")
    [check] = tolerant.get_asset_check_evaluations()
    assert check.passed


@pytest.mark.requirement("B12")
def test_a_destination_that_fails_fails_the_step_with_floes_message_and_no_secret(
    make_project: Any, define_assets: Any, api: Api, failure_of: Any
) -> None:
    project: Project = make_project(rows=30)
    token = "tok-dagster-Zq81vLx0"
    project.secret("crm-api", base_url=api.url, token=token)
    project.write(
        """\
        - name: crm
          sink_type: rest_api
          connection_secret_ref: crm-api
          source_table: gold.customers
          config: {path: /contacts, method: POST, body: array, auth: bearer}
          retry_config: {max_attempts: 1}
        """
    )
    api.fail_with = 500
    api.echo_on_error = f"bad request from a client sending Bearer {token}"
    assets = define_assets(project)

    result = dg.materialize([assets], resources={"floe": project.resource()}, raise_on_error=False)

    assert not result.success
    text = failure_of(result)
    assert "destination 'crm' (rest_api) failed" in text
    assert "HTTP 500" in text
    assert token not in text
    assert api.records == []


@pytest.mark.requirement("B12")
def test_a_destination_that_cannot_start_fails_the_step_before_sending(
    make_project: Any, define_assets: Any, failure_of: Any
) -> None:
    project: Project = make_project(rows=10)
    password = "pw-dagster-Hq27sPw0"
    project.secret("quickstart-sqlite", url=f"postgresql://floe:{password}@127.0.0.1:1/test")
    assets = define_assets(project)

    result = dg.materialize([assets], resources={"floe": project.resource()}, raise_on_error=False)

    assert not result.success
    text = failure_of(result)
    assert "[sql_database/customers_to_sqlite] cannot connect to" in text
    assert "hint: check that the database is running" in text
    assert password not in text
