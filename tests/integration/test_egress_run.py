"""``floe egress run`` and ``floe egress history`` end to end: real Iceberg catalog, the dlt
plugin, a local HTTP server, PostgreSQL, through the CLI.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import FloeProject, Recorder

REST_DEST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {{path: /contacts, method: POST, body: array}}
  field_mapping: {{lifetime_value: ltv, segment: customer_segment}}
  batch_size: {batch}
  retry_config: {{max_attempts: 2, initial_backoff_seconds: 0, jitter: false}}
"""

PG_DEST = """\
- name: warehouse
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  config: {{table: customers, schema: {schema}, mode: upsert, primary_key: [customer_id]}}
  batch_size: {batch}
"""


def _rest_project(project: FloeProject, server: Recorder, *, batch: int = 100) -> None:
    server.token = "tok-e2e-5521"
    project.secret("crm-api", token=server.token, base_url=server.url)
    project.write(REST_DEST.format(batch=batch))


def _mapped(h: Any, row: dict[str, Any]) -> dict[str, Any]:
    names = {"lifetime_value": "ltv", "segment": "customer_segment"}
    return {names.get(k, k): h.as_json_value(v) for k, v in row.items()}


@pytest.mark.requirement("B1")
def test_rest_destination_through_the_cli(h: Any, make_project: Any, http_server: Recorder) -> None:
    project = make_project(rows=300)
    _rest_project(project, http_server)

    result = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")

    assert result.exit_code == 0, result.output
    [receipt] = h.json_receipts(result)
    assert receipt["status"] == "success"
    assert receipt["rows_read"] == receipt["rows_delivered"] == 300
    assert receipt["rows_rejected"] == 0
    assert receipt["bytes_transmitted"] == sum(r["bytes"] for r in http_server.requests)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", receipt["checksum"]) and receipt["idempotency_key"]
    assert receipt["snapshot_id"] is not None
    assert [len(r["body"]) for r in http_server.requests] == [100, 100, 100]
    assert all(r["headers"].get("Idempotency-Key") for r in http_server.requests)
    expected = [_mapped(h, row) for row in project.source_rows()]
    got = sorted(http_server.records, key=lambda r: r["customer_id"])
    assert got == expected


@pytest.mark.requirement("B1")
def test_human_receipt_and_history(h: Any, make_project: Any, http_server: Recorder) -> None:
    project = make_project(rows=50)
    _rest_project(project, http_server)

    first = project.cli("egress", "run", "crm", "--spec", project.spec)
    second = project.cli("egress", "run", "--all", "--spec", project.spec)
    history = project.cli("egress", "history", "--spec", project.spec, "--json")
    table = project.cli("egress", "history", "crm", "--spec", project.spec)

    assert first.exit_code == second.exit_code == 0, first.output + second.output
    for expected in ("floe egress receipt: crm", "rows delivered", "50", "idempotency key"):
        assert expected in first.stdout
    runs = json.loads(history.stdout)["runs"]
    assert [r["status"] for r in runs] == ["success", "success"]
    assert runs[0]["idempotency_key"] == runs[1]["idempotency_key"]
    assert history.exit_code == table.exit_code == 0
    assert "floe egress history" in table.stdout and "success" in table.stdout


@pytest.mark.requirement("B6")
def test_rejected_rows_exit_3_and_are_kept(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = make_project(rows=120)
    _rest_project(project, http_server, batch=50)
    http_server.reject_ids = {7, 99}

    result = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")

    assert result.exit_code == 3, result.output
    [receipt] = h.json_receipts(result)
    assert receipt["status"] == "partial"
    assert (receipt["rows_delivered"], receipt["rows_rejected"]) == (118, 2)
    assert sorted(r["customer_id"] for r in http_server.records) == [
        i for i in range(1, 121) if i not in {7, 99}
    ]
    from floe_core.egress.state import StateStore, state_url_for

    with StateStore(state_url_for(project.root, environ={})) as state:
        kept = state.rejected_rows("crm")
    assert sorted(r.row["customer_id"] for r in kept) == [7, 99]
    assert all("400" in r.reason for r in kept)


@pytest.mark.requirement("B1")
def test_a_destination_failing_every_batch_exits_1(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = make_project(rows=30)
    _rest_project(project, http_server)
    http_server.fail_with = 503

    result = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")

    assert result.exit_code == 1, result.output
    [receipt] = h.json_receipts(result)
    assert receipt["status"] == "failed" and receipt["rows_delivered"] == 0
    assert receipt["errors"] and "503" in " ".join(receipt["errors"])
    history = project.cli("egress", "history", "-p", str(project.root), env={"COLUMNS": "80"})
    shown = project.cli("egress", "show", receipt["run_id"][:8], "-p", str(project.root))
    assert history.exit_code == shown.exit_code == 0, history.output + shown.output
    assert "failed" in history.stdout
    assert "first error of each failed or partial run" in history.stdout
    assert receipt["errors"][0] in " ".join(line.strip() for line in history.stdout.splitlines())
    assert receipt["run_id"] in shown.stdout and "503" in shown.stdout


@pytest.mark.requirement("B1")
def test_postgresql_upsert_twice_changes_nothing(h: Any, make_project: Any, pg_schema: str) -> None:
    project = make_project(rows=500)
    project.secret("pg", url=h.pg_url)
    project.write(PG_DEST.format(schema=pg_schema, batch=200))

    first = project.cli("egress", "run", "warehouse", "--spec", project.spec, "--json")
    second = project.cli("egress", "run", "warehouse", "--spec", project.spec, "--json")

    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert h.json_receipts(first)[0]["rows_delivered"] == 500
    assert (
        h.json_receipts(first)[0]["idempotency_key"]
        == h.json_receipts(second)[0]["idempotency_key"]
    )
    rows = h.pg_rows(pg_schema, "customers", "customer_id")
    assert rows == project.source_rows()


@pytest.mark.requirement("B1")
@pytest.mark.requirement("B4")
@pytest.mark.requirement("B9")
def test_100k_rows_into_postgresql_and_http_then_history(
    h: Any, make_project: Any, pg_schema: str, http_server: Recorder
) -> None:
    project = make_project(rows=100_000)
    http_server.token = "tok-100k-77"
    project.secret("crm-api", token=http_server.token, base_url=http_server.url)
    project.secret("pg", url=h.pg_url)
    project.write(REST_DEST.format(batch=500) + PG_DEST.format(schema=pg_schema, batch=5000))

    result = h.run_floe("egress", "run", "--all", "--spec", project.spec, "--json")

    assert result.returncode == 0, result.stderr[-3000:]
    receipts = {r["destination"]: r for r in h.json_receipts(result)}
    assert receipts["crm"]["rows_delivered"] == receipts["warehouse"]["rows_delivered"] == 100_000
    source = project.source_rows()
    assert h.pg_rows(pg_schema, "customers", "customer_id") == source
    got = sorted(http_server.records, key=lambda r: r["customer_id"])
    assert got == [_mapped(h, row) for row in source]

    history = h.run_floe("egress", "history", "--spec", project.spec, "--json")
    assert history.returncode == 0, history.stderr
    assert {
        (r["destination"], r["status"], r["rows_delivered"])
        for r in json.loads(history.stdout)["runs"]
    } == {
        ("crm", "success", 100_000),
        ("warehouse", "success", 100_000),
    }


@pytest.mark.requirement("B9")
def test_shared_state_store_in_postgresql(
    h: Any, make_project: Any, http_server: Recorder, pg_database: str
) -> None:
    project = make_project(rows=40)
    _rest_project(project, http_server)
    env = {"FLOE_STATE_URL": pg_database}

    run = project.cli("egress", "run", "crm", "--spec", project.spec, "--json", env=env)
    history = project.cli("egress", "history", "crm", "--spec", project.spec, "--json", env=env)
    local = project.cli("egress", "history", "--spec", project.spec, "--json")

    assert run.exit_code == history.exit_code == 0, run.output + history.output
    [stored] = json.loads(history.stdout)["runs"]
    assert stored["run_id"] == h.json_receipts(run)[0]["run_id"]
    assert json.loads(local.stdout)["runs"] == []
