"""The rest_api sink when things go wrong: retries, refusals, fail-fast, exactly-once."""

from __future__ import annotations

import email.utils
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from floe_core.plugins import SinkConfig
from floe_core.sinks.base import Sink
from floe_core.sinks.errors import (
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
)
from floe_ingestion_dlt import DltIngestionPlugin
from floe_ingestion_dlt.sinks.rest.sink import parse_retry_after

TOKEN = "tok-77d1e0c4-secret"


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return sorted(int(row["id"]) for row in rows)


@pytest.mark.requirement("R8")
def test_429_with_retry_after_is_honoured_then_delivered(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(batch_size=10, max_concurrent_requests=1)
    api_server.fail_next(429, retry_after="1")
    result = plugin.write(sink, gold_customers(20))
    assert result.success
    assert _ids(api_server.rows) == list(range(20))
    first, second = api_server.data_requests[:2]
    assert first.idempotency_key == second.idempotency_key
    # the retry waited for Retry-After, not for the 10 ms backoff
    assert second.at - first.at >= 0.95


@pytest.mark.requirement("R8")
def test_a_retry_after_beyond_the_maximum_stops_the_write_without_retrying_early(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(batch_size=10, max_concurrent_requests=1)  # max_retry_after_seconds: 300
    api_server.fail_next(429, retry_after="3600")
    result = plugin.write(sink, gold_customers(20))
    assert not result.success
    assert result.rows_delivered == 0 and api_server.rows == []
    assert len(api_server.data_requests) == 1
    assert "asked to wait 3600 s" in result.errors[0]
    assert "HTTP 429" in result.errors[0]


@pytest.mark.requirement("R8")
def test_a_429_pauses_the_other_workers_too(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(batch_size=5, max_concurrent_requests=4)
    # Four workers' first requests are at the server together; one of them is answered 429.
    api_server.hold_until_in_flight(4)
    api_server.fail_next(429, retry_after="0.5")
    # The other three answers come late, so none of those workers can send a second request
    # before the throttled worker has paused everyone, however loaded the machine.
    api_server.slow_next(0.2, times=3)
    result = plugin.write(sink, gold_customers(60))
    assert result.success
    assert api_server.peak_in_flight == 4
    requests = sorted(api_server.data_requests, key=lambda r: r.at)
    # the 429 was answered once all four had arrived, so after the fourth arrival
    throttled_at = requests[3].at
    later = [r.at - throttled_at for r in requests[4:]]
    # apart from the three requests already on their way, nothing was sent during the pause
    assert min(later) >= 0.45
    assert _ids(api_server.rows) == list(range(60))


@pytest.mark.requirement("R8")
def test_500s_then_success(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    api_server.fail_next(500, times=2)
    result = plugin.write(make_sink(batch_size=50, max_concurrent_requests=1), gold_customers(50))
    assert result.success
    assert len(api_server.data_requests) == 3
    assert len({r.idempotency_key for r in api_server.data_requests}) == 1
    assert _ids(api_server.rows) == list(range(50))
    # each payload is counted once in the receipt, however often it was retried
    assert result.bytes_transmitted == len(api_server.accepted_bodies[0])


@pytest.mark.requirement("R8")
@pytest.mark.parametrize("after_processing", [False, True])
def test_dropped_connections_are_retried_and_rows_arrive_once(
    plugin: DltIngestionPlugin,
    make_sink: Callable[..., Sink],
    api_server: Any,
    gold_customers: Any,
    after_processing: bool,
) -> None:
    api_server.drop_next(times=2, after_processing=after_processing)
    result = plugin.write(make_sink(batch_size=25, max_concurrent_requests=1), gold_customers(100))
    assert result.success
    assert result.rows_delivered == 100
    assert _ids(api_server.rows) == list(range(100))
    # after processing, the first try stored the rows: both retries were answered from the store
    assert api_server.replays == (2 if after_processing else 0)


@pytest.mark.requirement("R8")
def test_a_batch_that_never_got_an_answer_adds_no_bytes(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(batch_size=10, max_concurrent_requests=1, retry={"max_attempts": 3})
    api_server.drop_next(times=3)
    result = plugin.write(sink, gold_customers(30))
    assert not result.success
    assert len(api_server.data_requests) == 3 and api_server.rows == []
    # the destination neither confirmed nor refused the batch: nothing counts as transmitted
    assert (result.rows_delivered, result.bytes_transmitted) == (0, 0)


@pytest.mark.requirement("R8")
def test_a_slow_answer_times_out_and_is_retried(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    # A timeout no healthy local answer comes near, even on a loaded machine.
    sink = make_sink(batch_size=10, timeout_seconds=1.0, max_concurrent_requests=1)
    api_server.slow_next(2.5)
    result = plugin.write(sink, gold_customers(10))
    assert result.success
    assert len(api_server.data_requests) == 2
    assert _ids(api_server.rows) == list(range(10))


@pytest.mark.requirement("R13")
def test_retries_exhausted_return_a_failed_result_and_stop(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(batch_size=10, max_concurrent_requests=1, retry={"max_attempts": 3})
    plugin.write(sink, gold_customers(10))  # first batch goes through
    api_server.fail_next(503, times=3)
    result = plugin.write(sink, gold_customers(30, start=10))
    assert not result.success
    assert result.rows_delivered == 0
    assert len(result.errors) == 1
    assert "HTTP 503" in result.errors[0] and "after 3 attempts" in result.errors[0]
    assert "rest_api/crm" in result.errors[0]
    # the failing batch was tried 3 times, the later ones never
    assert len(api_server.data_requests) == 1 + 3


@pytest.mark.requirement("B6")
def test_a_bad_record_is_isolated_by_bisecting_and_the_rest_delivered(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    table = gold_customers(64)
    bad_email = "c37@example.com"
    api_server.reject_marker = bad_email
    rejected: list[tuple[pa.Table, str]] = []
    result = plugin.write(
        make_sink(batch_size=32, max_concurrent_requests=1),
        table,
        on_rejected=lambda rows, reason: rejected.append((rows, reason)),
    )
    assert not result.success
    assert result.rows_delivered == 63
    assert result.rows_rejected == 1
    assert _ids(api_server.rows) == [i for i in range(64) if i != 37]
    ((rows, reason),) = rejected
    assert rows.column("email").to_pylist() == [bad_email]
    assert "HTTP 400" in reason and "invalid record" in reason
    assert any("1 row(s) rejected" in error for error in result.errors)
    # 400s are never retried: one request per piece of the bisection
    keys = Counter(r.idempotency_key for r in api_server.data_requests)
    assert max(keys.values()) == 1
    # every piece reached the destination and was answered: each counts once
    assert result.bytes_transmitted == sum(len(r.body) for r in api_server.data_requests)


@pytest.mark.requirement("B6")
@pytest.mark.parametrize("refusal", ["every-row-invalid", "every-body-refused-422"])
def test_a_batch_wide_refusal_is_rejected_whole_after_three_levels_of_splitting(
    plugin: DltIngestionPlugin,
    make_sink: Callable[..., Sink],
    api_server: Any,
    gold_customers: Any,
    refusal: str,
) -> None:
    if refusal == "every-row-invalid":
        api_server.reject_marker = "@example.com"  # in every row's email
        status, why = 400, "invalid record"
    else:
        api_server.fail_next(422, times=1_000)
        status, why = 422, "try again"
    rejected: list[tuple[pa.Table, str]] = []
    result = plugin.write(
        make_sink(batch_size=16, max_concurrent_requests=1),
        gold_customers(48),
        on_rejected=lambda rows, reason: rejected.append((rows, reason)),
    )
    assert not result.success
    assert (result.rows_delivered, result.rows_rejected) == (0, 48)
    assert api_server.rows == []
    # per batch: itself, halves, quarters, eighths, then the first eighth halved down to one
    # row, all refused (bisecting on would take ~2 requests per row)
    assert len(api_server.data_requests) == 3 * 17
    assert [rows.column("id").to_pylist() for rows, _ in rejected] == [
        list(range(0, 16)),
        list(range(16, 32)),
        list(range(32, 48)),
    ]
    assert all(f"HTTP {status}" in reason and why in reason for _, reason in rejected)


@pytest.mark.requirement("R7")
def test_wrong_token_fails_at_create_sink_without_leaking_it(
    plugin: DltIngestionPlugin, api_server: Any
) -> None:
    api_server.required_headers = {"Authorization": f"Bearer {TOKEN}"}
    config = SinkConfig(
        "rest_api",
        {"base_url": api_server.base_url, "path": "/v1/contacts", "token": "wrong-token-value"},
        destination_name="crm",
    )
    with pytest.raises(SinkAuthenticationError) as caught:
        plugin.create_sink(config)
    message = str(caught.value)
    assert caught.value.http_status == 401
    assert "rest_api/crm" in message and "refused the credentials" in message
    assert "wrong-token-value" not in message
    assert api_server.data_requests == []
    assert api_server.probes[0].method == "HEAD"


@pytest.mark.requirement("R7")
def test_health_path_and_method_are_used_for_the_probe(
    plugin: DltIngestionPlugin, api_server: Any
) -> None:
    config = SinkConfig(
        "rest_api",
        {
            "base_url": api_server.base_url + "/api",
            "path": "/contacts",
            "health_path": "/health",
            "health_method": "get",
        },
    )
    plugin.create_sink(config).dispose()
    (probe,) = api_server.probes
    assert (probe.method, probe.path) == ("GET", "/api/health")


@pytest.mark.requirement("R7")
def test_unreachable_host_fails_at_create_sink(
    plugin: DltIngestionPlugin, unused_port: int
) -> None:
    config = SinkConfig(
        "rest_api",
        {"base_url": f"http://127.0.0.1:{unused_port}", "token": TOKEN},
        destination_name="crm",
    )
    with pytest.raises(SinkConnectionError) as caught:
        plugin.create_sink(config)
    assert f"127.0.0.1:{unused_port}" in str(caught.value)
    assert "rest_api/crm" in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.mark.requirement("R7")
def test_an_untrusted_certificate_fails_at_create_sink_and_is_not_retried(
    plugin: DltIngestionPlugin, tls_api_server: Any
) -> None:
    config = SinkConfig(
        "rest_api",
        {"base_url": tls_api_server.base_url, "path": "/v1/contacts", "token": TOKEN},
        destination_name="crm",
    )
    with pytest.raises(SinkConfigurationError) as caught:
        plugin.create_sink(config)
    message = str(caught.value)
    assert "TLS certificate of 127.0.0.1 could not be verified" in message
    assert "verify_tls: false" in message
    assert TOKEN not in message
    assert not caught.value.retryable
    assert tls_api_server.probes == [] and tls_api_server.data_requests == []


@pytest.mark.requirement("R8")
def test_verify_tls_false_delivers_to_a_self_signed_endpoint(
    plugin: DltIngestionPlugin, tls_api_server: Any
) -> None:
    config = SinkConfig(
        "rest_api",
        {"base_url": tls_api_server.base_url, "path": "/v1/contacts", "verify_tls": False},
        destination_name="crm",
        batch_size=2,
    )
    with plugin.create_sink(config) as sink:
        result = plugin.write(sink, pa.table({"id": [1, 2, 3]}))
    assert result.success, result.errors
    assert _ids(tls_api_server.rows) == [1, 2, 3]
    assert result.bytes_transmitted == sum(len(r.body) for r in tls_api_server.data_requests)


@pytest.mark.requirement("R7")
@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"base_url": "not a url"}, "base_url must be an http(s) URL with a host"),
        ({"base_url": "ftp://example.com"}, "base_url must be an http(s) URL"),
        ({"base_url": "http://user:pw@example.com"}, "must not contain a user or password"),
        ({"path": "/x"}, "required key `base_url` is missing (hint: add the key `base_url` to"),
        ({"base_url": "http://h", "bdy": "array"}, "unknown key `bdy` (hint: did you mean `body`?"),
        ({"base_url": "http://h", "body": "csv"}, "body: should be 'array', 'record' or"),
        ({"base_url": "http://h", "body": "envelope"}, "body 'envelope' needs envelope_key"),
        ({"base_url": "http://h", "envelope_key": "x"}, "envelope_key applies only with body"),
        ({"base_url": "http://h", "headers": {"Authorization": "x"}}, "Authorization are set by"),
        ({"base_url": "http://h", "auth": "bearer"}, "auth 'bearer' needs token"),
        ({"base_url": "http://h", "token": TOKEN, "api_key": "k" * 8}, "several schemes"),
        ({"base_url": "http://h", "token": TOKEN, "auth": "none"}, "also holds bearer"),
        ({"base_url": "http://h", "api_key_header": "X-K"}, "api_key_header applies only"),
        ({"base_url": "http://h", "timeout_seconds": 0}, "timeout_seconds: should be more than 0"),
        ({"base_url": "http://h", "record_id_path": "$[["}, "not a valid JSONPath"),
    ],
)
def test_bad_configuration_is_refused_before_connecting(
    plugin: DltIngestionPlugin, config: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        plugin.create_sink(SinkConfig("rest_api", config, destination_name="crm"))
    assert expected in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.mark.requirement("R13")
def test_credentials_refused_mid_write_stop_it(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    sink = make_sink(batch_size=10, max_concurrent_requests=1)
    api_server.fail_next(401)
    result = plugin.write(sink, gold_customers(30))
    assert not result.success
    assert len(api_server.data_requests) == 1
    assert "refused the credentials" in result.errors[0]


@pytest.mark.requirement("R13")
def test_a_wrong_path_stops_the_write_instead_of_rejecting_every_row(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    api_server.fail_next(404)
    result = plugin.write(make_sink(batch_size=10, max_concurrent_requests=1), gold_customers(30))
    assert not result.success
    assert result.rows_rejected == 0
    assert "HTTP 404" in result.errors[0] and "check base_url, path and method" in result.errors[0]


@pytest.mark.requirement("B5")
def test_exactly_once_through_a_misbehaving_server(
    plugin: DltIngestionPlugin, make_sink: Callable[..., Sink], api_server: Any, gold_customers: Any
) -> None:
    api_server.chaos(seed=11, p_429=0.1, p_500=0.1, p_drop=0.1, p_drop_after=0.15)
    table = gold_customers(2000)
    sink = make_sink(batch_size=50, max_concurrent_requests=4, retry={"max_attempts": 30})
    result = plugin.write(sink, table)
    assert result.success, result.errors
    assert result.rows_delivered == 2000
    assert _ids(api_server.rows) == list(range(2000))
    assert api_server.replays > 0  # some batches were applied, lost their answer, and re-sent
    assert len(api_server.data_requests) > 40
    # a second run of the same rows is a no-op at the destination
    again = plugin.write(sink, table)
    assert again.success and again.idempotency_key == result.idempotency_key
    assert len(api_server.rows) == 2000


def test_retry_after_parsing() -> None:
    now = time.time()
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after(date, now=now) or 0) <= 31
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
