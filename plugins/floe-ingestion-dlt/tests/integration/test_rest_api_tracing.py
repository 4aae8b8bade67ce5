"""Spans of a real REST delivery, on the OpenTelemetry SDK with an in-memory exporter."""

from __future__ import annotations

from typing import Any

import pytest
from floe_core.plugins import SinkConfig
from floe_core.sinks.errors import SinkAuthenticationError
from floe_ingestion_dlt import DltIngestionPlugin

TOKEN = "tok-5b2e8d90-secret"


def _by_name(spans: Any, name: str) -> list[Any]:
    return [span for span in spans.get_finished_spans() if span.name == name]


@pytest.mark.requirement("R10")
def test_create_write_and_batch_spans(api_server: Any, gold_customers: Any, spans: Any) -> None:
    plugin = DltIngestionPlugin()
    config = SinkConfig(
        "rest_api",
        {"base_url": api_server.base_url, "token": TOKEN, "max_concurrent_requests": 2},
        batch_size=10,
        destination_name="crm",
        retry_config={"initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.01},
    )
    api_server.fail_next(503)
    with plugin.create_sink(config) as sink:
        plugin.write(sink, gold_customers(25))

    (create,) = _by_name(spans, "floe.sink.create_sink")
    (write,) = _by_name(spans, "floe.sink.write")
    batches = _by_name(spans, "floe.sink.send_batch")
    for span in (create, write, *batches):
        assert span.attributes["sink.type"] == "rest_api"
        assert span.attributes["sink.destination"] == "crm"
        assert span.attributes["sink.status"] == "ok"
        assert span.attributes["sink.duration_ms"] >= 0
    assert write.attributes["sink.rows_written"] == 25
    assert sorted(span.attributes["sink.rows_written"] for span in batches) == [5, 10, 10]
    assert all(span.parent.span_id == write.context.span_id for span in batches)
    assert sum(span.attributes["sink.retry_count"] for span in batches) == 1


@pytest.mark.requirement("R10")
def test_failures_carry_http_status_retry_count_and_no_secret(
    api_server: Any, gold_customers: Any, spans: Any
) -> None:
    plugin = DltIngestionPlugin()
    config = SinkConfig(
        "rest_api",
        {"base_url": api_server.base_url, "token": TOKEN, "max_concurrent_requests": 1},
        batch_size=10,
        destination_name="crm",
        retry_config={"max_attempts": 2, "initial_backoff_seconds": 0, "max_backoff_seconds": 0},
    )
    # The API echoes the token, bare, in every error body.
    api_server.echo_on_error = f"request signed with {TOKEN}"
    with plugin.create_sink(config) as sink:
        api_server.fail_next(502, times=2)
        result = plugin.write(sink, gold_customers(10))
    assert not result.success
    (batch,) = _by_name(spans, "floe.sink.send_batch")
    (write,) = _by_name(spans, "floe.sink.write")
    assert batch.attributes["sink.status"] == "error"
    assert batch.attributes["http.status_code"] == 502
    assert batch.attributes["sink.retry_count"] == 1
    assert write.attributes["sink.status"] == "error"
    assert write.attributes["http.status_code"] == 502

    api_server.required_headers = {"Authorization": "Bearer another"}
    with pytest.raises(SinkAuthenticationError):
        plugin.create_sink(config)
    failed_create = _by_name(spans, "floe.sink.create_sink")[-1]
    assert failed_create.attributes["sink.status"] == "error"
    assert failed_create.attributes["http.status_code"] == 401
    # The echoed error text is in the spans, with the token masked where it stood.
    assert "request signed with ***" in batch.status.description
    for span in spans.get_finished_spans():
        assert TOKEN not in span.to_json()
    assert "request signed with ***" in result.errors[0]
