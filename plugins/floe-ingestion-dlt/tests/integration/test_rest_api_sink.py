"""The rest_api sink against a real HTTP server on 127.0.0.1: what arrives, and the receipt."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest
from floe_core.plugins import EgressResult
from floe_core.sinks.base import Sink
from floe_core.sinks.errors import SinkConfigurationError
from floe_ingestion_dlt import DltIngestionPlugin
from floe_ingestion_dlt.sinks.rest import json_rows

TOKEN = "tok-3f9a7c1e-secret"


def _expected_record(table: pa.Table, index: int) -> dict[str, Any]:
    row: dict[str, Any] = table.slice(index, 1).to_pylist()[0]
    value = row["lifetime_value"]
    row["lifetime_value"] = None if value is None else str(value)
    row["updated_at"] = row["updated_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return row


@pytest.mark.requirement("R8")
@pytest.mark.requirement("R16")
def test_every_row_and_value_arrives_in_batches_of_batch_size(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    table = gold_customers(1234)
    progress: list[int] = []
    result = plugin.write(
        make_sink(batch_size=100, max_concurrent_requests=1), table, on_progress=progress.append
    )

    assert result.success, result.errors
    assert result.rows_delivered == 1234
    assert api_server.batch_sizes() == [100] * 12 + [34]
    assert len(api_server.rows) == 1234
    assert api_server.rows[0] == _expected_record(table, 0)
    assert api_server.rows[777] == _expected_record(table, 777)
    assert [row["id"] for row in api_server.rows] == list(range(1234))
    assert progress[-1] == 1234


@pytest.mark.requirement("R3")
def test_receipt_numbers_match_what_the_server_received(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    # one request at a time, so the server sees the payloads in batch order
    result = plugin.write(make_sink(batch_size=64, max_concurrent_requests=1), gold_customers(300))
    bodies = api_server.accepted_bodies
    assert result.bytes_transmitted == sum(len(body) for body in bodies)
    assert result.checksum == "sha256:" + hashlib.sha256(b"".join(bodies)).hexdigest()
    stamp = dt.datetime.fromisoformat(result.delivery_timestamp)
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60
    assert result.duration_seconds > 0
    assert result.rows_rejected == 0 and result.errors == []


@pytest.mark.requirement("B5")
def test_idempotency_keys_are_sent_and_identical_across_two_runs(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    table = gold_customers(250)
    first = plugin.write(make_sink(batch_size=100), table)
    keys_first = [r.idempotency_key for r in api_server.data_requests]
    second = plugin.write(make_sink(batch_size=100), table)
    keys_second = [r.idempotency_key for r in api_server.data_requests][len(keys_first) :]

    assert len(set(keys_first)) == 3
    assert sorted(keys_first) == sorted(keys_second)
    assert first.idempotency_key == second.idempotency_key
    assert first.checksum == second.checksum
    # the server de-duplicated the second run: every row once
    assert len(api_server.rows) == 250
    assert api_server.replays == 3

    other = plugin.write(make_sink(batch_size=100, path="/v1/other"), table)
    assert other.idempotency_key != first.idempotency_key


@pytest.mark.requirement("R8")
def test_headers_and_bearer_auth(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    api_server.required_headers = {"Authorization": f"Bearer {TOKEN}"}
    sink = make_sink(batch_size=10, token=TOKEN, headers={"X-Source": "floe"})
    plugin.write(sink, gold_customers(10))
    (request,) = api_server.data_requests
    assert request.method == "POST"
    assert request.path == "/v1/contacts"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-source"] == "floe"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert len(request.headers["idempotency-key"]) == 64
    assert TOKEN not in repr(sink.config)


@pytest.mark.requirement("R8")
@pytest.mark.parametrize(
    ("secret", "header", "expected"),
    [
        (
            {"username": "ana", "password": "pw-123456"},
            "authorization",
            "Basic " + base64.b64encode(b"ana:pw-123456").decode(),
        ),
        ({"api_key": "key-123456"}, "x-api-key", "key-123456"),
        ({"api_key": "key-123456", "api_key_header": "X-Custom-Key"}, "x-custom-key", "key-123456"),
    ],
)
def test_basic_and_api_key_auth(
    plugin: DltIngestionPlugin,
    make_sink: Callable[..., Sink],
    api_server: Any,
    gold_customers: Any,
    secret: dict[str, str],
    header: str,
    expected: str,
) -> None:
    api_server.required_headers = {header: expected}
    result = plugin.write(make_sink(batch_size=5, **secret), gold_customers(5))
    assert result.success
    assert api_server.probes[0].headers[header] == expected


@pytest.mark.requirement("R8")
def test_envelope_body_and_record_ids_from_the_response(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    api_server.envelope_key = "inputs"
    sink = make_sink(
        batch_size=4,
        body="envelope",
        envelope_key="inputs",
        record_id_path="$.ids[*]",
        method="put",
    )
    result = plugin.write(sink, gold_customers(10))
    requests = api_server.data_requests
    assert {r.method for r in requests} == {"PUT"}
    assert all(list(r.json) == ["inputs"] for r in requests)
    # Batches are in flight together: the server sees them, and numbers records, in any order.
    assert sorted(len(r.json["inputs"]) for r in requests) == [2, 4, 4]
    assert sorted(result.destination_record_ids) == sorted(f"rec-{i}" for i in range(10))


@pytest.mark.requirement("R8")
def test_record_body_sends_one_row_per_request(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(batch_size=50, body="record", record_id_path="$.id", max_concurrent_requests=3)
    result = plugin.write(sink, gold_customers(7))
    assert result.rows_delivered == 7
    assert len(api_server.data_requests) == 7
    assert all(isinstance(r.json, dict) for r in api_server.data_requests)
    assert sorted(row["id"] for row in api_server.rows) == list(range(7))
    assert result.destination_record_ids == [f"rec-{i}" for i in range(7)]
    assert len({r.idempotency_key for r in api_server.data_requests}) == 7


@pytest.mark.requirement("R14")
def test_field_mapping_renames_fields_in_the_json(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(field_mapping={"email": "Email", "lifetime_value": "ltv"})
    plugin.write(sink, gold_customers(3))
    assert api_server.rows[1]["Email"] == "c1@example.com"
    assert api_server.rows[1]["ltv"] == "1.01"
    assert "email" not in api_server.rows[1]


@pytest.mark.requirement("R14")
def test_a_field_mapping_column_missing_from_the_data_sends_nothing(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(field_mapping={"ltv_eur": "ltv"})
    with pytest.raises(SinkConfigurationError, match=r"'ltv_eur'.*available columns: id, name"):
        plugin.write(sink, gold_customers(3))
    assert api_server.data_requests == []


@pytest.mark.requirement("R8")
def test_empty_input_succeeds_and_sends_nothing(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    result = plugin.write(make_sink(), gold_customers(0))
    assert isinstance(result, EgressResult)
    assert result.success
    assert (result.rows_delivered, result.bytes_transmitted) == (0, 0)
    assert api_server.data_requests == []


@pytest.mark.requirement("R8")
def test_concurrent_requests_deliver_every_row_in_order_of_batches(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    # The first eight requests are held until all eight are at the server together.
    api_server.hold_until_in_flight(8)
    api_server.delay = 0.02
    table = gold_customers(400)
    progress: list[int] = []
    result = plugin.write(
        make_sink(batch_size=20, max_concurrent_requests=8), table, on_progress=progress.append
    )
    assert result.success and result.rows_delivered == 400
    # eight requests overlapped, never more
    assert api_server.peak_in_flight == 8
    # each request is one batch: 20 consecutive rows in table order; with the batches put in
    # order of their rows they are the table, row for row, each exactly once
    bodies = [request.json for request in api_server.data_requests]
    batches = sorted(bodies, key=lambda rows: rows[0]["id"])
    assert [[row["id"] for row in rows] for rows in batches] == [
        list(range(start, start + 20)) for start in range(0, 400, 20)
    ]
    # results are taken in batch order whatever order the answers came in
    assert progress == list(range(20, 401, 20))
    in_batch_order = sorted(
        api_server.accepted_bodies, key=lambda body: orjson.loads(body)[0]["id"]
    )
    assert result.checksum == "sha256:" + hashlib.sha256(b"".join(in_batch_order)).hexdigest()


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("workers", [2, 5])
def test_requests_in_flight_reach_max_concurrent_requests_and_never_more(
    plugin: DltIngestionPlugin,
    make_sink: Callable[..., Sink],
    api_server: Any,
    gold_customers: Any,
    workers: int,
) -> None:
    api_server.hold_until_in_flight(workers)
    api_server.delay = 0.01
    sink = make_sink(batch_size=10, max_concurrent_requests=workers)
    result = plugin.write(sink, gold_customers(10 * 6 * workers))
    assert result.success
    assert api_server.peak_in_flight == workers
    assert len(api_server.data_requests) == 6 * workers


@pytest.mark.requirement("R8")
def test_max_requests_per_second_spaces_the_requests(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(batch_size=1, max_requests_per_second=20, max_concurrent_requests=4)
    plugin.write(sink, gold_customers(6))
    times = sorted(r.at for r in api_server.data_requests)
    # six requests at 20/s take at least 5 intervals of 50 ms
    assert times[-1] - times[0] >= 5 * 0.05 * 0.9


@pytest.mark.requirement("R8")
def test_decimal_timestamp_and_unicode_values_arrive_exactly(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any
) -> None:
    table = pa.table(
        {
            "id": pa.array([9_007_199_254_740_993], pa.int64()),
            "amount": pa.array([Decimal("12345678901234.567890")], pa.decimal128(20, 6)),
            "at": pa.array(
                [dt.datetime(2024, 3, 31, 1, 59, 59, 999999, tzinfo=dt.UTC)],
                pa.timestamp("us", tz="America/New_York"),
            ),
            "text": ['Grüße, 東京 😀 "quoted" \\ \n' + "long" * 50_000],
        }
    )
    plugin.write(make_sink(), table)
    (row,) = api_server.rows
    assert row["id"] == 9_007_199_254_740_993
    assert row["amount"] == "12345678901234.567890"
    assert row["at"] == "2024-03-31T01:59:59.999999Z"
    assert row["text"] == table.column("text")[0].as_py()


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("body", ["array", "envelope", "record"])
def test_bodies_are_the_reference_json_of_each_batch(
    plugin: DltIngestionPlugin,
    make_sink: Callable[..., Sink],
    api_server: Any,
    gold_customers: Any,
    body: str,
) -> None:
    # enough rows for the column-wise encoder; its bytes are the orjson reference's
    table = gold_customers(150)
    settings: dict[str, Any] = {"body": body, "max_concurrent_requests": 1}
    if body == "envelope":
        api_server.envelope_key = settings["envelope_key"] = "inputs"
    result = plugin.write(make_sink(batch_size=70, **settings), table)
    assert result.success, result.errors
    rows = [json_rows.records(batch) for batch in table.to_batches(max_chunksize=70)]
    if body == "array":
        expected = [json_rows.dumps(batch_rows) for batch_rows in rows]
    elif body == "envelope":
        expected = [json_rows.dumps({"inputs": batch_rows}) for batch_rows in rows]
    else:
        expected = [json_rows.dumps(row) for batch_rows in rows for row in batch_rows]
    assert api_server.accepted_bodies == expected
