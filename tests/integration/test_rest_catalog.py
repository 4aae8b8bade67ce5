"""``floe egress run`` reading Gold tables through an Iceberg REST catalog shaped like Polaris.

The catalog (``rest_catalog/``) is a real HTTP server on 127.0.0.1 over a SQLite-backed
pyiceberg catalog with Parquet files; the tables are written through the REST catalog itself.
Every answer the server gave is checked against the Iceberg REST OpenAPI document when the
``rest_catalog`` fixture ends.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from floe_ingestion_dlt import DltIngestionPlugin
from floe_test_rest_catalog import VENDED_TOKEN_KEY, RecordingFileIO
from pyiceberg.catalog import load_catalog

TO_POSTGRES = """\
- name: warehouse
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  config: {{table: customers, schema: {schema}, mode: {mode}, primary_key: [customer_id]}}
"""
TO_API = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {path: /contacts, auth: bearer}
  batch_size: 1000
"""


def _with_destinations(project: Any, http_server: Any, pg_schema: str, mode: str) -> None:
    project.secret("pg", url="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    http_server.token = "crm-token-" + secrets.token_hex(6)
    project.secret("crm-api", token=http_server.token, base_url=http_server.url)
    project.write(TO_POSTGRES.format(schema=pg_schema, mode=mode) + TO_API)


@pytest.mark.requirement("R9")
def test_a_100k_row_table_read_through_the_rest_catalog_arrives_with_every_value(
    make_rest_project: Any, rest_catalog: Any, http_server: Any, pg_schema: str, h: Any
) -> None:
    project = make_rest_project(rows=100_000)
    _with_destinations(project, http_server, pg_schema, mode="upsert")

    result = project.cli("egress", "run", "warehouse", "crm", "--json", "--spec", project.spec)

    assert result.exit_code == 0, result.output
    receipts = {r["destination"]: r for r in h.json_receipts(result)}
    assert receipts["warehouse"]["rows_delivered"] == 100_000
    assert receipts["crm"]["rows_delivered"] == 100_000
    source = project.source_rows()
    assert len(source) == 100_000
    assert h.pg_rows(pg_schema, "customers", "customer_id") == source
    sent = sorted(http_server.records, key=lambda r: r["customer_id"])
    assert sent == [{k: h.as_json_value(v) for k, v in row.items()} for row in source]
    # Polaris's handshake: config for the warehouse, client credentials with the scope, and
    # every later path under the prefix the config announced.
    configs = rest_catalog.requests("GET /v1/config")
    assert configs and all(s.status == 200 for s in configs)
    tokens = rest_catalog.requests("POST /v1/oauth/tokens")
    assert {(t.form["grant_type"], t.form["client_id"], t.form["scope"]) for t in tokens} == {
        ("client_credentials", rest_catalog.client_id, "PRINCIPAL_ROLE:ALL")
    }
    assert rest_catalog.requests("GET /v1/polaris-gold/namespaces/gold/tables/customers$")
    assert not rest_catalog.requests("GET /v1/gold_wh/")


@pytest.mark.requirement("R9")
def test_an_expired_token_is_refreshed_in_the_middle_of_a_run(
    make_rest_project: Any, rest_catalog: Any, http_server: Any, pg_schema: str, h: Any
) -> None:
    project = make_rest_project(rows=500)
    _with_destinations(project, http_server, pg_schema, mode="append")
    rest_catalog.expires_in = 2
    # The tokens in hand run out just before each destination first loads its table.
    rest_catalog.expire_tokens_before("GET .*/tables/customers$", occurrences=(1, 3))
    issued_before = len(rest_catalog.tokens_issued)

    result = project.cli("egress", "run", "warehouse", "crm", "--spec", project.spec)

    assert result.exit_code == 0, result.output
    loads = rest_catalog.requests("GET .*/tables/customers$")
    assert [s.status for s in loads] == [401, 200, 401, 200]
    refused, accepted = loads[0], loads[1]
    assert refused.headers["Authorization"] != accepted.headers["Authorization"]
    assert (
        accepted.headers["Authorization"]
        == f"Bearer {rest_catalog.tokens_issued[issued_before + 2]}"
    )
    assert len(rest_catalog.tokens_issued) - issued_before == 6  # config, session, refresh x2
    source = project.source_rows()
    assert h.pg_rows(pg_schema, "customers", "customer_id") == source
    assert len(http_server.records) == 500


@pytest.mark.requirement("R9")
def test_data_files_are_read_with_the_credentials_the_catalog_vends(
    make_rest_project: Any, rest_catalog: Any, http_server: Any, pg_schema: str, h: Any
) -> None:
    project = make_rest_project(rows=300)
    _with_destinations(project, http_server, pg_schema, mode="append")
    vended = "vended-" + secrets.token_hex(8)
    rest_catalog.vended_config = {
        "py-io-impl": "floe_test_rest_catalog.server.RecordingFileIO",
        VENDED_TOKEN_KEY: vended,
    }
    RecordingFileIO.opened.clear()

    result = project.cli("egress", "run", "warehouse", "--spec", project.spec)

    assert result.exit_code == 0, result.output
    load = rest_catalog.requests("GET .*/tables/customers$")[-1]
    assert load.headers["X-Iceberg-Access-Delegation"] == "vended-credentials"
    table = rest_catalog.backing().load_table("gold.customers")
    data_files = {task.file.file_path for task in table.scan().plan_files()}
    opened_with_vended = {path for path, token in RecordingFileIO.opened if token == vended}
    assert data_files and data_files <= opened_with_vended
    assert all(token == vended for _, token in RecordingFileIO.opened)
    assert h.pg_rows(pg_schema, "customers", "customer_id") == project.source_rows()
    assert vended not in result.output


@pytest.mark.requirement("R9")
def test_get_source_config_opens_the_rest_catalog(
    make_rest_project: Any, rest_catalog: Any
) -> None:
    make_rest_project(rows=10)
    properties = DltIngestionPlugin().get_source_config(rest_catalog.catalog_config())

    catalog = load_catalog("polaris", **properties)

    assert ("gold",) in catalog.list_namespaces()
    assert catalog.load_table("gold.customers").scan().to_arrow().num_rows == 10
    assert properties["warehouse"] == rest_catalog.warehouse
    assert properties["oauth2-server-uri"] == rest_catalog.url + "/api/catalog/v1/oauth/tokens"
