"""Span attributes, sanitized errors, and running without an SDK."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from floe_core.sinks.errors import SinkTransientWriteError
from floe_core.sinks.tracing import SPAN_WRITE, sink_span


@pytest.mark.requirement("R10")
def test_span_carries_the_sink_attributes(spans: Any) -> None:
    with sink_span(SPAN_WRITE, sink_type="rest_api", destination="crm") as operation:
        operation.rows_written = 42
    (span,) = spans.get_finished_spans()
    assert span.name == "floe.sink.write"
    attributes = dict(span.attributes)
    assert attributes["sink.type"] == "rest_api"
    assert attributes["sink.destination"] == "crm"
    assert attributes["sink.rows_written"] == 42
    assert attributes["sink.status"] == "ok"
    assert attributes["sink.duration_ms"] >= 0
    assert span.status.is_ok


@pytest.mark.requirement("R10")
def test_errors_are_recorded_sanitized_with_retry_count_and_http_status(spans: Any) -> None:
    secret = "tok-very-secret-123"
    error = SinkTransientWriteError(
        f"upstream echoed {secret}", http_status=503, attempts=4, destination="crm"
    )
    with (
        pytest.raises(SinkTransientWriteError),
        sink_span(SPAN_WRITE, sink_type="rest_api", destination="crm", secrets=[secret]),
    ):
        raise error
    (span,) = spans.get_finished_spans()
    attributes = dict(span.attributes)
    assert attributes["sink.status"] == "error"
    assert attributes["sink.retry_count"] == 3
    assert attributes["http.status_code"] == 503
    assert not span.status.is_ok
    exported = str(span.to_json())
    assert secret not in exported
    assert "upstream echoed ***" in exported


@pytest.mark.requirement("R10")
def test_spans_are_no_ops_without_an_sdk() -> None:
    code = (
        "from opentelemetry import trace\n"
        "from floe_core.sinks.tracing import sink_span\n"
        "with sink_span('x', sink_type='rest_api', destination='d') as op:\n"
        "    op.rows_written = 1\n"
        "print(type(trace.get_tracer_provider()).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "ProxyTracerProvider"
