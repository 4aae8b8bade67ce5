"""Rows a destination refuses: kept once per row, retried by every run, resolved once delivered;
``floe egress rejected`` lists them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import FloeProject, Recorder

REST_DEST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {path: /contacts, method: POST, body: array}
  batch_size: 50
  retry_config: {max_attempts: 1}
"""

BAD = {3, 17, 42, 77, 101}


def _rejected(project: FloeProject, *extra: str) -> list[dict[str, Any]]:
    result = project.cli("egress", "rejected", "crm", "--spec", project.spec, "--json", *extra)
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout)["rejected"])


@pytest.mark.requirement("B6")
def test_refused_rows_are_kept_once_retried_and_resolved(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = make_project(rows=120)
    project.secret("crm-api", base_url=http_server.url)
    project.write(REST_DEST)
    http_server.reject_ids = set(BAD)

    first = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")
    after_first = _rejected(project)
    second = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")
    after_second = _rejected(project)
    listing = project.cli("egress", "rejected", "crm", "--spec", project.spec)
    http_server.reject_ids = set()
    sent_before_fix = len(http_server.requests)
    fixed = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")

    assert (first.exit_code, second.exit_code) == (3, 3), first.output + second.output
    assert h.json_receipts(first)[0]["rows_rejected"] == 5
    assert sorted(r["row"]["customer_id"] for r in after_first) == sorted(BAD)
    assert {r["attempts"] for r in after_first} == {1}
    assert sorted(r["row"]["customer_id"] for r in after_second) == sorted(BAD)  # not 10
    assert {r["attempts"] for r in after_second} == {2}
    assert {r["key"] for r in after_second} == {r["key"] for r in after_first}
    assert all("400" in r["reason"] for r in after_second)
    assert all(r["first_seen"] < r["last_seen"] for r in after_second)
    assert "floe egress rejected: crm: 5 rows refused" in listing.stdout
    assert "attempts" in listing.stdout and "#1  5 rows" in listing.stdout  # one reason

    assert fixed.exit_code == 0, fixed.output
    [receipt] = h.json_receipts(fixed)
    retried = {
        record["customer_id"]
        for request in http_server.requests[sent_before_fix:]
        for record in request["body"]
    }
    assert retried >= BAD
    assert _rejected(project) == []
    resolved = _rejected(project, "--all")
    assert len(resolved) == 5
    assert {r["resolved_run_id"] for r in resolved} == {receipt["run_id"]}


@pytest.mark.requirement("B6")
def test_a_refused_row_gone_from_the_source_is_dropped(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = make_project(rows=60)
    project.secret("crm-api", base_url=http_server.url)
    project.write(REST_DEST)
    http_server.reject_ids = {5}
    assert project.cli("egress", "run", "crm", "--spec", project.spec).exit_code == 3
    [kept] = _rejected(project)

    # The row's content changes in the source: the old version is gone, the new one goes out.
    import pyarrow.compute as pc
    from floe_core.iceberg.catalog import open_catalog
    from floe_core.iceberg.source import IcebergSource

    table = open_catalog(project.catalog).load_table("gold.customers")
    with IcebergSource(project.catalog, "gold.customers") as source:
        rows = source.batches().read_all()

    changed = rows.set_column(
        rows.schema.get_field_index("email"),
        "email",
        pc.if_else(pc.equal(rows["customer_id"], 5), "fixed@example.com", rows["email"]),
    )
    table.overwrite(changed)
    http_server.reject_ids = set()

    assert project.cli("egress", "run", "crm", "--spec", project.spec).exit_code == 0
    assert _rejected(project) == [] and _rejected(project, "--all") == []
    assert kept["row"]["customer_id"] == 5


SYNC_DEST = REST_DEST + "  primary_key: [customer_id]\n  sync_mode: upsert\n"


@pytest.mark.requirement("B6")
def test_an_incremental_run_retries_resolves_and_drops_refused_rows(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = make_project(rows=120)
    project.secret("crm-api", base_url=http_server.url)
    project.write(SYNC_DEST)
    http_server.reject_ids = set(BAD)
    first = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")
    assert first.exit_code == 3, first.output
    assert sorted(r["row"]["customer_id"] for r in _rejected(project)) == sorted(BAD)

    # Row 3 leaves the source; the server accepts the others now.
    from floe_core.iceberg.catalog import open_catalog

    table = open_catalog(project.catalog).load_table("gold.customers")
    table.delete("customer_id == 3")
    http_server.reject_ids = {17}
    sent_before = len(http_server.records)
    second = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")

    assert second.exit_code == 3, second.output
    [receipt] = h.json_receipts(second)
    retried = sorted(r["customer_id"] for r in http_server.records[sent_before:])
    assert retried == sorted(BAD - {3, 17})  # only the refused rows were sent again
    [kept] = _rejected(project)
    assert (kept["row"]["customer_id"], kept["attempts"]) == (17, 2)
    resolved = [r for r in _rejected(project, "--all") if r["resolved_run_id"]]
    assert sorted(r["row"]["customer_id"] for r in resolved) == sorted(BAD - {3, 17})
    assert {r["resolved_run_id"] for r in resolved} == {receipt["run_id"]}

    http_server.reject_ids = set()
    third = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")
    assert third.exit_code == 0, third.output
    assert _rejected(project) == []


@pytest.mark.requirement("B9")
def test_an_incremental_run_that_stops_after_refusals_is_failed_not_partial(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    # Rows are refused early, then the destination stops answering: the run did not go
    # through, so it is failed (exit 1), and the refused rows are still kept for the next run.
    project = make_project(rows=2000)
    project.secret("crm-api", base_url=http_server.url)
    one_at_a_time = "body: array, max_concurrent_requests: 1}"
    project.write(SYNC_DEST.replace("body: array}", one_at_a_time))
    http_server.reject_ids = {3}  # in the first batch: its split ends before the limit
    http_server.accept_limit = 30  # of 40 batches

    run = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")

    assert run.exit_code == 1, run.output
    [receipt] = h.json_receipts(run)
    assert receipt["status"] == "failed"
    assert receipt["rows_rejected"] >= 1
    assert receipt["rows_delivered"] < 2000
    assert [r["row"]["customer_id"] for r in _rejected(project)] == [3]


PG_SYNC_DEST = """\
- name: app
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  primary_key: [customer_id]
  config: {{table: customers, schema: {schema}, mode: upsert}}
  field_mapping: {{lifetime_value: ltv}}
  batch_size: 50
"""


def _pg_table(schema: str, ltv: str, check: str = "") -> None:
    """A destination table created beforehand, its ``ltv`` column of type ``ltv``."""
    import psycopg

    columns = (
        "customer_id bigint primary key, email text, first_name text, last_name text, "
        f"country text, ltv {ltv}, orders_count integer, is_active boolean, "
        "last_order_at timestamptz, segment text"
    )
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".customers ({columns}{check})')


def _pg_runs(project: FloeProject, runs: int) -> list[tuple[int, dict[str, Any]]]:
    results = []
    for _ in range(runs):
        run = project.cli("egress", "run", "--all", "--spec", project.spec, "--json")
        [receipt] = json.loads(run.stdout)["receipts"]
        results.append((run.exit_code, receipt))
    return results


@pytest.mark.requirement("B6")
def test_every_row_refused_by_postgresql_fails_every_run_alike(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    # A CHECK constraint no row meets: PostgreSQL refuses every row, run after run (a column
    # type no value fits would be refused by floe before sending). The later runs re-send
    # rows refused before: nothing reaches the table either way, so each run is failed
    # (exit 1), and each read the whole table.
    project = make_project(rows=200)
    project.secret("pg", url=h.pg_url)
    project.write(PG_SYNC_DEST.format(schema=pg_schema))
    _pg_table(pg_schema, "numeric(12, 2)", ", CHECK (customer_id < 0)")

    runs = _pg_runs(project, 3)

    for code, receipt in runs:
        assert (code, receipt["status"]) == (1, "failed"), receipt
        assert (receipt["rows_read"], receipt["rows_rejected"]) == (200, 200)
        assert receipt["rows_delivered"] == 0
    history = project.cli("egress", "history", "-p", str(project.root), "--json")
    assert [r["status"] for r in json.loads(history.stdout)["runs"]] == ["failed"] * 3
    assert len(_rejected_of(project, "app")) == 200  # one record per row, refused 3 times
    assert {r["attempts"] for r in _rejected_of(project, "app")} == {3}
    assert h.pg_rows(pg_schema, "customers", "customer_id") == []


@pytest.mark.requirement("B6")
def test_a_run_after_a_partial_one_that_is_refused_the_same_rows_is_partial_too(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    # Rows 101 to 200 break a CHECK constraint: the first run delivers 100 and has 100
    # refused (partial). The second finds the 100 delivered unchanged and re-sends the 100
    # refused, refused again: the table is where the first run left it, and so is the status.
    project = make_project(rows=200)
    project.secret("pg", url=h.pg_url)
    project.write(PG_SYNC_DEST.format(schema=pg_schema))
    _pg_table(pg_schema, "numeric(12, 2)", ", CHECK (customer_id <= 100)")

    (first_code, first), (second_code, second) = _pg_runs(project, 2)

    assert (first_code, first["status"]) == (3, "partial")
    assert (first["rows_delivered"], first["rows_rejected"], first["rows_read"]) == (100, 100, 200)
    assert (second_code, second["status"]) == (3, "partial")
    assert (second["rows_delivered"], second["rows_rejected"]) == (0, 100)
    assert (second["sync"]["unchanged"], second["rows_read"]) == (100, 200)
    assert len(h.pg_rows(pg_schema, "customers", "customer_id")) == 100


def _rejected_of(project: FloeProject, name: str) -> list[dict[str, Any]]:
    result = project.cli("egress", "rejected", name, "--spec", project.spec, "--json", "-n", "0")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout)["rejected"])


@pytest.mark.requirement("B6")
def test_bad_rows_scattered_through_every_batch_leave_the_good_rows_delivered(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    # One row in 40 breaks a CHECK: every eighth of every 400-row batch holds one, so each
    # batch's eight pieces are all refused, as when every row is refused. The good rows are
    # still delivered and only the bad ones refused.
    project = make_project(rows=2000)
    project.secret("pg", url=h.pg_url)
    project.write(
        PG_SYNC_DEST.format(schema=pg_schema).replace("batch_size: 50", "batch_size: 400")
    )
    _pg_table(pg_schema, "numeric(12, 2)", ", CHECK (customer_id % 40 <> 7)")

    [(code, receipt)] = _pg_runs(project, 1)

    assert (code, receipt["status"]) == (3, "partial")
    assert (receipt["rows_delivered"], receipt["rows_rejected"]) == (1950, 50)
    stored = h.pg_rows(pg_schema, "customers", "customer_id")
    assert len(stored) == 1950 and all(row["customer_id"] % 40 != 7 for row in stored)
    assert len(_rejected_of(project, "app")) == 50
