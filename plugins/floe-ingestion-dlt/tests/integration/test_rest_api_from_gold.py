"""A Gold Iceberg table to HubSpot- and Salesforce-shaped APIs through ``floe egress run``.

The destinations are declared in floe.yaml as a user would: nested targets, static fields, a
record key placed where each API wants it (derived from ``primary_key`` when ``id_from`` is
not written), and per-record answers mapped to rejected rows.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from floe_core.cli.app import app
from floe_core.demo.data import create_customers_table
from floe_core.iceberg.source import IcebergSource
from typer.testing import CliRunner

ROWS = 400


def _project(root: Path, destinations: str, api: Any) -> Path:
    """A project directory: floe.yaml, manifest.yaml, a Secret, and ``gold.customers``."""
    root.mkdir()
    (root / "floe.yaml").write_text(
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: gold, version: 1.0.0}\n"
        "destinations:\n" + textwrap.indent(textwrap.dedent(destinations), "  "),
        encoding="utf-8",
    )
    (root / "manifest.yaml").write_text(
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: gold}\n"
        "catalog:\n  type: sql\n  name: gold\n  uri: sqlite:///.floe/catalog.db\n"
        "  warehouse: .floe/warehouse\n",
        encoding="utf-8",
    )
    secret = root / "secrets" / "api"
    secret.mkdir(parents=True)
    (secret / "base_url").write_text(api.base_url, encoding="utf-8")
    catalog = {
        "type": "sql",
        "name": "gold",
        "uri": f"sqlite:///{root / '.floe' / 'catalog.db'}",
        "warehouse": (root / ".floe" / "warehouse").as_uri(),
    }
    create_customers_table(catalog, rows=ROWS)
    with IcebergSource(catalog, "gold.customers") as source:
        (root / "source.json").write_text(
            json.dumps(source.batches().read_all().to_pylist(), default=str), encoding="utf-8"
        )
    return root / "floe.yaml"


def _run(spec: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*args, "--spec", str(spec), "--json"])
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _source(spec: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((spec.parent / "source.json").read_text())
    return rows


HUBSPOT = """\
- name: hubspot
  sink_type: rest_api
  connection_secret_ref: api
  source_table: gold.customers
  primary_key: [customer_id]
  field_mapping:
    customer_id: properties.floe_id
    email: properties.email
    first_name: properties.firstname
    last_name: properties.lastname
    country: properties.country
    lifetime_value: properties.ltv
    orders_count: properties.orders_count
    is_active: properties.is_active
    last_order_at: properties.last_order_at
    segment: properties.segment
  static_fields: {idProperty: email}
  batch_size: 100
  config:
    path: /crm/v3/objects/contacts/batch/upsert
    body: envelope
    envelope_key: inputs
    id_field: id
    id_from: properties.email  # HubSpot keys contacts by email, not by the table's key
    results_path: "$.errors[*]"
    result_id_path: "$.context.ids[*]"
    result_message_path: "$.message"
    max_concurrent_requests: 1
"""


@pytest.mark.requirement("B1")
@pytest.mark.requirement("B6")
def test_a_gold_table_reaches_a_hubspot_style_api_as_its_batch_upsert_documents(
    tmp_path: Path, hubspot_api: Any
) -> None:
    spec = _project(tmp_path / "p", HUBSPOT, hubspot_api)

    receipt = _run(spec, "egress", "run", "hubspot")["receipts"][0]

    source = _source(spec)
    no_email = [row for row in source if row["email"] is None]
    assert no_email, "the generated table has customers without an email"
    assert receipt["status"] == "partial"
    assert receipt["rows_rejected"] == len(no_email)
    assert receipt["rows_delivered"] == ROWS - len(no_email)
    requests = hubspot_api.data_requests
    assert len(requests) == ROWS // 100  # one per batch: the refusals need no bisection
    first, row = requests[0].json["inputs"][0], source[0]
    assert first == {
        "id": row["email"],
        "idProperty": "email",
        "properties": {
            "floe_id": row["customer_id"],
            "email": row["email"],
            "firstname": row["first_name"],
            "lastname": row["last_name"],
            "country": row["country"],
            "ltv": row["lifetime_value"],
            "orders_count": row["orders_count"],
            "is_active": row["is_active"],
            "last_order_at": first["properties"]["last_order_at"],
            "segment": row["segment"],
        },
    }
    assert first["properties"]["last_order_at"].endswith("Z")
    delivered = sorted(item["properties"]["floe_id"] for item in hubspot_api.rows)
    assert delivered == [r["customer_id"] for r in source if r["email"] is not None]
    rejected = _run(spec, "egress", "rejected", "hubspot")
    assert "invalid" in json.dumps(rejected)


SALESFORCE = """\
- name: salesforce
  sink_type: rest_api
  connection_secret_ref: api
  source_table: gold.customers
  primary_key: [customer_id]
  field_mapping:
    customer_id: body.External_Id__c
    email: body.Email
    first_name: body.FirstName
    last_name: body.LastName
    country: body.MailingCountry
    lifetime_value: body.LTV__c
    orders_count: body.Orders__c
    is_active: body.Active__c
    last_order_at: body.Last_Order__c
    segment: body.Segment__c
  static_fields: {method: POST, url: /services/data/v59.0/sobjects/Contact}
  batch_size: 25
  config:
    path: /services/data/v59.0/composite
    body: envelope
    envelope_key: compositeRequest
    envelope_fields: {allOrNone: false}
    id_field: referenceId  # id_from: body.External_Id__c, from primary_key
    results_path: "$.compositeResponse[*]"
    result_status_path: "$.httpStatusCode"
    result_id_path: "$.referenceId"
    result_message_path: "$.body[*].message"
    max_concurrent_requests: 1
"""


@pytest.mark.requirement("B1")
@pytest.mark.requirement("B6")
def test_a_gold_table_reaches_a_salesforce_style_composite_api_keyed_by_its_primary_key(
    tmp_path: Path, salesforce_composite_api: Any
) -> None:
    spec = _project(tmp_path / "p", SALESFORCE, salesforce_composite_api)

    receipt = _run(spec, "egress", "run", "salesforce")["receipts"][0]

    source = _source(spec)
    no_name = {r["customer_id"] for r in source if not r["last_name"]}
    assert no_name, "the generated table has customers without a last name"
    assert (receipt["rows_delivered"], receipt["rows_rejected"]) == (
        ROWS - len(no_name),
        len(no_name),
    )
    requests = salesforce_composite_api.data_requests
    assert len(requests) == ROWS // 25
    first, row = requests[0].json["compositeRequest"][0], source[0]
    assert first == {
        "referenceId": row["customer_id"],
        "method": "POST",
        "url": "/services/data/v59.0/sobjects/Contact",
        "body": {
            "External_Id__c": row["customer_id"],
            "Email": row["email"],
            "FirstName": row["first_name"],
            "LastName": row["last_name"],
            "MailingCountry": row["country"],
            "LTV__c": row["lifetime_value"],
            "Orders__c": row["orders_count"],
            "Active__c": row["is_active"],
            "Last_Order__c": first["body"]["Last_Order__c"],
            "Segment__c": row["segment"],
        },
    }
    created = sorted(record["External_Id__c"] for record in salesforce_composite_api.rows)
    assert created == sorted(r["customer_id"] for r in source if r["last_name"])


@pytest.mark.requirement("R14")
def test_validate_asks_for_id_from_when_a_composite_primary_key_makes_it_ambiguous(
    tmp_path: Path, salesforce_composite_api: Any
) -> None:
    spec = _project(
        tmp_path / "p",
        SALESFORCE.replace("[customer_id]", "[customer_id, email]"),
        salesforce_composite_api,
    )
    result = CliRunner().invoke(app, ["validate", "--spec", str(spec)])

    assert result.exit_code != 0
    assert "primary_key has 2 columns (body.External_Id__c, body.Email)" in result.output
    assert "set id_from to the field the API keys records by" in result.output
    assert "1 problem" in result.output  # not also "id_field needs id_from" on its own
