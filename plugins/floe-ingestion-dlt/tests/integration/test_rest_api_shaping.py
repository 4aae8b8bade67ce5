"""Records shaped for real APIs, as a real HTTP server on 127.0.0.1 receives them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest
from floe_core.plugins import SinkConfig
from floe_core.sinks.base import Sink
from floe_core.sinks.errors import SinkConfigurationError
from floe_ingestion_dlt import DltIngestionPlugin
from floe_ingestion_dlt.sinks.rest import json_rows


def _contacts(rows: int) -> pa.Table:
    return pa.table(
        {
            "email": [f"c{i}@example.com" for i in range(rows)],
            "ltv": pa.array([f"{i}.5" for i in range(rows)]),
            "segment": [None if i % 2 else "gold" for i in range(rows)],
        }
    )


@pytest.mark.requirement("R14")
def test_dotted_targets_and_static_fields_arrive_as_nested_objects(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any
) -> None:
    sink = make_sink(
        batch_size=100,
        field_mapping={"email": "id", "ltv": "properties.ltv", "segment": "properties.segment"},
        static_fields={"idProperty": "email", "properties.source": "floe", "sync": True},
        max_concurrent_requests=1,  # batches arrive in order
    )
    result = plugin.write(sink, _contacts(150))

    assert result.success, result.errors
    assert api_server.rows[:2] == [
        {
            "idProperty": "email",
            "properties": {"source": "floe", "ltv": "0.5", "segment": "gold"},
            "sync": True,
            "id": "c0@example.com",
        },
        {
            "idProperty": "email",
            "properties": {"source": "floe", "ltv": "1.5", "segment": None},
            "sync": True,
            "id": "c1@example.com",
        },
    ]
    assert len(api_server.rows) == 150
    assert api_server.accepted_bodies[0].startswith(
        b'[{"idProperty":"email","properties":{"source":"floe","ltv":"0.5","segment":"gold"},'
    )
    assert orjson.loads(api_server.accepted_bodies[1])[49]["id"] == "c149@example.com"


# -- fake SaaS APIs ----------------------------------------------------------------------


@pytest.fixture
def connect(plugin: DltIngestionPlugin) -> Iterator[Callable[..., Sink]]:
    """``connect(server, batch_size, field_mapping, static_fields, **config)``: a sink on it."""
    created: list[Sink] = []

    def make(
        server: Any,
        *,
        batch_size: int,
        field_mapping: dict[str, str] | None = None,
        static_fields: dict[str, Any] | None = None,
        **config: Any,
    ) -> Sink:
        sink = plugin.create_sink(
            SinkConfig(
                "rest_api",
                {"base_url": server.base_url, **config},
                batch_size=batch_size,
                field_mapping=field_mapping,
                static_fields=static_fields,
                destination_name="crm",
                retry_config={"initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
            )
        )
        created.append(sink)
        return sink

    yield make
    for sink in created:
        sink.dispose()


HUBSPOT = {
    "path": "/crm/v3/objects/contacts/batch/upsert",
    "body": "envelope",
    "envelope_key": "inputs",
    "id_field": "id",
    "id_from": "properties.email",
    "results_path": "$.errors[*]",
    "result_id_path": "$.context.ids[*]",
    "result_message_path": "$.message",
    "max_concurrent_requests": 1,
}


def _customers(rows: int, bad: set[int]) -> pa.Table:
    return pa.table(
        {
            "email": [f"broken-{i}" if i in bad else f"c{i}@example.com" for i in range(rows)],
            "ltv": pa.array([Decimal(f"{i}.50") for i in range(rows)], pa.decimal128(10, 2)),
            "segment": ["gold" if i % 2 else "silver" for i in range(rows)],
        }
    )


@pytest.mark.requirement("R14")
def test_a_hubspot_style_batch_upsert_gets_its_documented_payload_and_207_refusals(
    plugin: DltIngestionPlugin, connect: Callable[..., Sink], hubspot_api: Any
) -> None:
    table = _customers(250, bad={7, 130})
    hubspot_api.fail_next(429, retry_after="1")  # the rate limit, once
    rejected: list[tuple[list[str], str]] = []
    sink = connect(
        hubspot_api,
        batch_size=100,
        field_mapping={
            "email": "properties.email",
            "ltv": "properties.ltv",
            "segment": "properties.segment",
        },
        static_fields={"idProperty": "email"},
        **HUBSPOT,
    )
    result = plugin.write(
        sink, table, on_rejected=lambda rows, why: rejected.append((rows["email"].to_pylist(), why))
    )

    requests = hubspot_api.data_requests
    # the 429 and its retry (same body, same key), then one request per batch: no bisection
    assert len(requests) == 4
    assert requests[0].body == requests[1].body
    assert requests[0].idempotency_key == requests[1].idempotency_key
    assert requests[1].body.startswith(
        b'{"inputs":[{"id":"c0@example.com","idProperty":"email","properties":'
        b'{"email":"c0@example.com","ltv":"0.50","segment":"silver"}},'
    )
    assert [len(r.json["inputs"]) for r in requests[1:]] == [100, 100, 50]
    assert requests[3].json["inputs"][-1] == {
        "id": "c249@example.com",
        "idProperty": "email",
        "properties": {"email": "c249@example.com", "ltv": "249.50", "segment": "gold"},
    }
    assert result.rows_delivered == 248
    assert result.rows_rejected == 2
    assert rejected == [
        (["broken-7"], "Email address broken-7 is invalid"),
        (["broken-130"], "Email address broken-130 is invalid"),
    ]
    assert len(hubspot_api.rows) == 248
    assert not result.success


@pytest.mark.requirement("R14")
def test_a_salesforce_style_composite_request_keeps_per_record_errors(
    plugin: DltIngestionPlugin, connect: Callable[..., Sink], salesforce_api: Any
) -> None:
    rows = 450
    table = pa.table(
        {
            "last_name": [None if i in (3, 333) else f"Name{i}" for i in range(rows)],
            "email": [f"c{i}@example.com" for i in range(rows)],
        }
    )
    rejected: list[tuple[list[str], str]] = []
    sink = connect(
        salesforce_api,
        batch_size=200,
        field_mapping={"last_name": "LastName", "email": "Email"},
        static_fields={"attributes.type": "Contact"},
        path="/services/data/v59.0/composite/sobjects",
        body="envelope",
        envelope_key="records",
        envelope_fields={"allOrNone": False},
        results_path="$[*]",
        result_ok_path="$.success",
        result_message_path="$.errors[*].message",
        record_id_path="$[?(@.success == true)].id",
        max_concurrent_requests=1,
    )
    result = plugin.write(
        sink, table, on_rejected=lambda rows, why: rejected.append((rows["email"].to_pylist(), why))
    )

    requests = salesforce_api.data_requests
    assert len(requests) == 3  # one per batch: the refused records are not sent again
    assert requests[0].body.startswith(
        b'{"allOrNone":false,"records":[{"attributes":{"type":"Contact"},'
        b'"LastName":"Name0","Email":"c0@example.com"},'
    )
    assert requests[0].json["records"][3] == {
        "attributes": {"type": "Contact"},
        "LastName": None,
        "Email": "c3@example.com",
    }
    assert [len(r.json["records"]) for r in requests] == [200, 200, 50]
    assert result.rows_delivered == 448
    assert rejected == [
        (["c3@example.com"], "Required fields are missing: [LastName]"),
        (["c333@example.com"], "Required fields are missing: [LastName]"),
    ]
    assert len(result.destination_record_ids) == 448
    assert result.destination_record_ids[0] == "003000000000000001"


@pytest.mark.requirement("B6")
def test_an_all_or_nothing_400_naming_the_invalid_inputs_resends_the_others_once(
    plugin: DltIngestionPlugin, connect: Callable[..., Sink], hubspot_create_api: Any
) -> None:
    rejected: list[tuple[list[str], str]] = []
    sink = connect(
        hubspot_create_api,
        batch_size=100,
        field_mapping={
            "email": "properties.email",
            "ltv": "properties.ltv",
            "segment": "properties.segment",
        },
        static_fields={"idProperty": "email"},
        **{**HUBSPOT, "path": "/crm/v3/objects/contacts/batch/create"},
    )
    result = plugin.write(
        sink,
        _customers(250, bad={7, 130, 131}),
        on_rejected=lambda rows, why: rejected.append((rows["email"].to_pylist(), why)),
    )

    requests = hubspot_create_api.data_requests
    # each refused batch once more without its invalid inputs; no bisection
    assert [len(r.json["inputs"]) for r in requests] == [100, 99, 100, 98, 50]
    resent = [item["id"] for item in requests[1].json["inputs"]]
    assert resent == [f"c{i}@example.com" for i in range(100) if i != 7]
    assert requests[1].idempotency_key != requests[0].idempotency_key
    assert result.rows_delivered == 247
    assert result.rows_rejected == 3
    assert rejected == [
        (["broken-7"], "Email address broken-7 is invalid"),
        (["broken-130"], "Email address broken-130 is invalid"),
        (["broken-131"], "Email address broken-131 is invalid"),
    ]
    assert sorted(row["id"] for row in hubspot_create_api.rows) == sorted(
        f"c{i}@example.com" for i in range(250) if i not in (7, 130, 131)
    )


@pytest.mark.requirement("B6")
def test_a_400_whose_results_name_no_record_is_split_as_before(
    plugin: DltIngestionPlugin, connect: Callable[..., Sink], hubspot_create_api: Any
) -> None:
    hubspot_create_api.fail_next(400)  # a 400 with no errors[] at all
    sink = connect(
        hubspot_create_api,
        batch_size=4,
        field_mapping={"email": "properties.email"},
        static_fields={"idProperty": "email"},
        **HUBSPOT,
    )
    result = plugin.write(sink, _customers(4, bad=set()).select(["email"]))

    assert [len(r.json["inputs"]) for r in hubspot_create_api.data_requests] == [4, 2, 2]
    assert result.success
    assert result.rows_delivered == 4


@pytest.mark.requirement("R14")
def test_a_salesforce_style_composite_request_maps_each_subrequest_status(
    plugin: DltIngestionPlugin, connect: Callable[..., Sink], salesforce_composite_api: Any
) -> None:
    rows = 60
    table = pa.table(
        {
            "contact_ref": [f"c{i}" for i in range(rows)],
            "last_name": [None if i in (4, 31) else f"Name{i}" for i in range(rows)],
        }
    )
    rejected: list[tuple[list[str], str]] = []
    sink = connect(
        salesforce_composite_api,
        batch_size=25,
        field_mapping={"contact_ref": "body.External_Id__c", "last_name": "body.LastName"},
        static_fields={"method": "POST", "url": "/services/data/v59.0/sobjects/Contact"},
        path="/services/data/v59.0/composite",
        body="envelope",
        envelope_key="compositeRequest",
        envelope_fields={"allOrNone": False},
        id_field="referenceId",
        id_from="body.External_Id__c",
        results_path="$.compositeResponse[*]",
        result_status_path="$.httpStatusCode",
        result_id_path="$.referenceId",
        result_message_path="$.body[*].message",
        record_id_path="$.compositeResponse[?(@.httpStatusCode == 201)].body.id",
        max_concurrent_requests=1,
    )
    result = plugin.write(
        sink,
        table,
        on_rejected=lambda rows, why: rejected.append((rows["contact_ref"].to_pylist(), why)),
    )

    requests = salesforce_composite_api.data_requests
    assert [len(r.json["compositeRequest"]) for r in requests] == [25, 25, 10]
    assert requests[0].body.startswith(
        b'{"allOrNone":false,"compositeRequest":[{"referenceId":"c0","method":"POST",'
        b'"url":"/services/data/v59.0/sobjects/Contact",'
        b'"body":{"External_Id__c":"c0","LastName":"Name0"}},'
    )
    assert result.rows_delivered == 58
    assert rejected == [
        (["c4"], "Required fields are missing: [LastName]"),
        (["c31"], "Required fields are missing: [LastName]"),
    ]
    assert len(result.destination_record_ids) == 58
    assert len(salesforce_composite_api.rows) == 58


@pytest.mark.requirement("R14")
def test_a_plain_array_with_value_formats_for_an_api_that_wants_numbers(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any
) -> None:
    moments = [
        dt.datetime(2024, 5, 1, 12, 30, 0, 123456, tzinfo=dt.UTC),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=dt.UTC),
        None,
    ]
    table = pa.table(
        {
            "id": [1, 2, 3],
            "at": pa.array(moments, pa.timestamp("us", "UTC")),
            "ltv": pa.array([Decimal("12.50"), Decimal("-0.01"), None], pa.decimal128(10, 2)),
            "active": [True, False, None],
            "meta": pa.array(
                [{"seen": moments[0], "vip": True}] * 3,
                pa.struct([("seen", pa.timestamp("ms", "UTC")), ("vip", pa.bool_())]),
            ),
        }
    )
    sink = make_sink(
        field_mapping={"ltv": "amount.value"},
        timestamp_format="epoch_millis",
        decimal_format="number",
        boolean_format="integer",
    )
    assert plugin.write(sink, table).success
    (body,) = api_server.accepted_bodies
    assert body == (
        b'[{"id":1,"at":1714566600123,"amount":{"value":12.5},"active":1,'
        b'"meta":{"seen":1714566600123,"vip":1}},'
        b'{"id":2,"at":-1,"amount":{"value":-0.01},"active":0,'
        b'"meta":{"seen":1714566600123,"vip":1}},'
        b'{"id":3,"at":null,"amount":{"value":null},"active":null,'
        b'"meta":{"seen":1714566600123,"vip":1}}]'
    )
    strings = make_sink(boolean_format="string")
    assert plugin.write(strings, table.select(["id", "active"])).success
    assert api_server.rows[-3:] == [
        {"id": 1, "active": "true"},
        {"id": 2, "active": "false"},
        {"id": 3, "active": None},
    ]


@pytest.mark.requirement("R14")
def test_defaults_send_the_bytes_they_always_did(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    table = gold_customers(300)
    assert plugin.write(make_sink(batch_size=300), table).success
    assert api_server.accepted_bodies == [json_rows.dumps(json_rows.records(table.to_batches()[0]))]


@pytest.mark.requirement("R14")
def test_an_id_from_the_records_do_not_have_fails_before_sending(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any
) -> None:
    sink = make_sink(id_field="id", id_from="properties.email")
    with pytest.raises(SinkConfigurationError) as caught:
        plugin.write(sink, _contacts(3))
    assert "id_from 'properties.email' is not a field of the records" in str(caught.value)
    assert api_server.data_requests == []
