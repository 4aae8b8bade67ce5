"""Incremental sync into a REST API through per-operation requests: mirror deletes with one
``DELETE /contacts/{id}`` per row, and HubSpot-style batch create / per-row update / batch
archive, through the CLI against a CRM API on 127.0.0.1 that keeps its contacts.

The API (``ContactsApi``, in this folder's conftest) is shaped after the requests real CRMs
take:

- ``POST /contacts``: a JSON array of records, each created or replaced by ``id`` (upsert);
- ``POST /contacts/batch/create``: ``{"inputs": [...]}``; a record whose ``id`` exists
  already is refused in ``{"errors": [{"id": ..., "message": ...}]}`` (HTTP 207), the others
  are created;
- ``PATCH /contacts/{id}``: one record's fields changed; 404 when there is no such contact;
- ``DELETE /contacts/{id}``: 204; 404 when there is no such contact;
- ``POST /contacts/batch/archive``: ``{"inputs": [{"id": ...}, ...]}``, deleted; 204;
- ``HEAD`` / ``GET``: 200 (the sink's probe).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from floe_core.iceberg.catalog import open_catalog

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import ContactsApi, FloeProject


# --- the tests ------------------------------------------------------------------------------

DELETE_PER_ROW = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  primary_key: [customer_id]
  sync_mode: mirror
  field_mapping: {customer_id: id}
  config:
    path: /contacts
    operations:
      delete: {method: DELETE, path: "/contacts/{id}"}
  batch_size: 25
"""

BATCH_ENDPOINTS = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  primary_key: [customer_id]
  sync_mode: {mode}
  field_mapping: {{customer_id: id}}
  config:
    path: /contacts
    results_path: "$.errors[*]"
    result_id_path: "$.id"
    result_message_path: "$.message"
    id_field: contact_id
    id_from: id
    operations:
      insert: {{method: POST, path: /contacts/batch/create, body: envelope, envelope_key: inputs}}
      update: {{method: PATCH, path: "/contacts/{{id}}", fields: [orders_count]}}
      delete:
        method: POST
        path: /contacts/batch/archive
        body: envelope
        envelope_key: inputs
  batch_size: 20
"""


def _table(project: FloeProject) -> Any:
    return open_catalog(project.catalog).load_table(("gold", "customers"))


def _change_orders(project: FloeProject, ids: set[int]) -> None:
    """Rewrite the table in one overwrite snapshot, with ``orders_count + 1000`` for ``ids``."""
    table = _table(project)
    data = table.scan().to_arrow()
    hit = pc.is_in(data["customer_id"], pa.array(sorted(ids), pa.int64()))
    orders = pc.if_else(
        hit, pc.add(data["orders_count"], pa.scalar(1000, pa.int32())), data["orders_count"]
    )
    table.overwrite(
        data.set_column(data.schema.get_field_index("orders_count"), "orders_count", orders)
    )


def _run(project: FloeProject, h: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = project.cli("egress", "run", "crm", *args, "--spec", project.spec, "--json")
    [receipt] = h.json_receipts(result)
    return result.exit_code, receipt


def test_mirror_deletes_each_gone_contact_with_one_delete_request(
    h: Any, make_project: Any, contacts: ContactsApi
) -> None:
    project = make_project(rows=60)
    project.secret("crm-api", base_url=contacts.url)
    project.write(DELETE_PER_ROW)
    result = project.cli("validate", "--spec", project.spec)
    assert result.exit_code == 0, result.output

    code, first = _run(project, h)
    assert code == 0, first
    assert sorted(contacts.contacts) == sorted(str(i) for i in range(1, 61))
    assert len(contacts.calls("POST", "/contacts")) == 3  # 60 rows in batches of 25
    code, second = _run(project, h)
    assert code == 0 and second["sync"]["sent"] == 0
    assert len(contacts.requests) == 3

    del contacts.contacts["7"]  # gone from the CRM already: its DELETE answers 404
    _table(project).delete(delete_filter="customer_id <= 7")
    code, preview = _run(project, h, "--dry-run")
    assert code == 0 and preview["sync"]["deleted"] == 7
    assert len(contacts.requests) == 3  # a dry run sends nothing
    code, real = _run(project, h)
    assert code == 0, real
    assert real["sync"]["deleted"] == 7 and real["sync"]["unchanged"] == 53
    deletes = contacts.calls("DELETE")
    assert sorted(path for _, path, _ in deletes) == sorted(f"/contacts/{i}" for i in range(1, 8))
    assert all(body is None for _, _, body in deletes)
    assert len(contacts.calls("POST")) == 3  # no row was sent again
    assert sorted(contacts.contacts, key=int) == [str(i) for i in range(8, 61)]

    code, after = _run(project, h)
    assert code == 0 and after["sync"]["sent"] == 0


def test_insert_update_and_delete_through_batch_endpoints_and_per_row_updates(
    h: Any, make_project: Any, contacts: ContactsApi
) -> None:
    project = make_project(rows=50)
    project.secret("crm-api", base_url=contacts.url)
    contacts.contacts["50"] = {"contact_id": 50, "id": 50, "note": "not floe's"}
    project.write(BATCH_ENDPOINTS.format(mode="insert"))

    code, inserted = _run(project, h)
    assert code == 3, inserted  # the CRM refused one record: it exists already
    assert inserted["sync"]["inserted"] == 49 and inserted["rows_rejected"] == 1
    creates = contacts.calls("POST", "/contacts/batch/create")
    assert sorted(len(body["inputs"]) for _, _, body in creates) == [10, 20, 20]
    sent = sorted(record["contact_id"] for _, _, body in creates for record in body["inputs"])
    assert sent == list(range(1, 51))
    assert contacts.contacts["50"]["note"] == "not floe's"  # never overwritten
    assert contacts.calls("POST", "/contacts") == creates  # nothing upserted

    project.write(BATCH_ENDPOINTS.format(mode="update"))
    _change_orders(project, {2, 3})
    code, updated = _run(project, h)
    assert code == 0, updated
    assert (updated["sync"]["inserted"], updated["sync"]["updated"]) == (0, 2)
    patches = contacts.calls("PATCH")
    source = {row["customer_id"]: row for row in project.source_rows()}
    assert sorted((path, body["orders_count"]) for _, path, body in patches) == [
        ("/contacts/2", source[2]["orders_count"]),
        ("/contacts/3", source[3]["orders_count"]),
    ]
    assert all(set(body) == {"orders_count"} for _, _, body in patches)
    assert contacts.contacts["2"]["orders_count"] >= 1000

    project.write(BATCH_ENDPOINTS.format(mode="mirror"))
    _table(project).delete(delete_filter="customer_id <= 4")
    code, mirrored = _run(project, h)
    assert code == 0, mirrored
    # mirror upserts: the key the CRM refused to create before is upserted now
    assert (mirrored["sync"]["inserted"], mirrored["sync"]["deleted"]) == (1, 4)
    assert len(contacts.calls("POST", "/contacts")) == len(creates) + 2  # + upsert + archive
    [(_, _, archive)] = contacts.calls("POST", "/contacts/batch/archive")
    assert sorted(record["id"] for record in archive["inputs"]) == [1, 2, 3, 4]
    assert all(set(record) == {"id"} for record in archive["inputs"])
    assert "1" not in contacts.contacts and "5" in contacts.contacts


def test_an_update_of_a_contact_the_crm_no_longer_has_is_rejected_not_created(
    h: Any, make_project: Any, contacts: ContactsApi
) -> None:
    project = make_project(rows=20)
    project.secret("crm-api", base_url=contacts.url)
    project.write(BATCH_ENDPOINTS.format(mode="upsert"))
    assert _run(project, h)[0] == 0
    assert len(contacts.contacts) == 20

    del contacts.contacts["3"]  # removed in the CRM by someone else
    _change_orders(project, {2, 3})
    project.write(BATCH_ENDPOINTS.format(mode="update"))
    code, updated = _run(project, h)
    assert code == 3, updated  # partial: one row refused
    assert (updated["sync"]["updated"], updated["rows_rejected"]) == (1, 1)
    assert any("not there" in error for error in updated["errors"]), updated["errors"]
    assert "3" not in contacts.contacts  # an update never creates
    assert contacts.contacts["2"]["orders_count"] >= 1000
    rejected = project.cli("egress", "rejected", "crm", "--spec", project.spec, "--json")
    assert rejected.exit_code == 0, rejected.output
    assert "not there" in rejected.stdout
