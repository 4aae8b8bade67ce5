"""Egress logs and traces: JSON lines with the run id, secrets scrubbed, OTLP export on demand."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from floe_core.egress.errors import EgressConfigError
from floe_core.egress.observability import (
    Redactor,
    configure_logging,
    get_logger,
    record_error,
    redactor,
    run_context,
    setup_tracing,
    tracer,
)
from floe_core.errors import FloeError
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

SECRET = "pl4nted-Obs-Secret-0042"


@pytest.fixture
def scrubbed() -> Iterator[None]:
    redactor.add([SECRET])
    yield
    redactor.clear()


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_redactor_scrubs_nested_data_longest_first() -> None:
    scrub = Redactor()
    scrub.add(["abcd", "abcdef", "xy"])
    assert scrub.text("k=abcdef and abcd") == "k=*** and ***"
    assert scrub.data({"a": ["abcd", ("abcdef", 3)], "n": 5}) == {"a": ["***", ("***", 3)], "n": 5}
    assert scrub.text("xy stays: too short to be a secret") == "xy stays: too short to be a secret"


@pytest.mark.requirement("B3")
def test_redactor_masks_the_password_of_a_registered_url_and_keeps_where() -> None:
    scrub = Redactor()
    scrub.add(["postgresql://app:pw-Obs-77@db:5432/crm"])

    text = scrub.text("insert on postgresql://app:pw-Obs-77@db:5432/crm table x failed")

    assert text == "insert on postgresql://app:***@db:5432/crm table x failed"


@pytest.mark.requirement("B3")
def test_an_error_to_show_names_where_it_happened_once_and_holds_no_secret() -> None:
    from floe_core.sinks.errors import SinkConnectionError

    scrub = Redactor()
    scrub.add(["tok-Err-4471x"])
    exc = SinkConnectionError(
        "refused token tok-Err-4471x",
        sink_type="rest_api",
        destination="crm",
        hint="tok-Err-4471x?",
    )

    shown = scrub.error(exc)

    assert shown.message == "[rest_api/crm] refused token ***"
    assert shown.hint == "***?"
    assert scrub.error(FloeError("plain")).message == "plain"


@pytest.mark.requirement("B3")
def test_json_logs_carry_the_run_id_and_never_the_secret(scrubbed: None) -> None:
    stream = io.StringIO()
    configure_logging(stream, environ={})
    with run_context(run_id="run-123", destination="crm"):
        get_logger().info("egress.started", url=f"postgresql://u:{SECRET}@h/db", rows=[SECRET])
        logging.getLogger("some.library").warning("connecting with %s", SECRET)
    get_logger().debug("egress.detail")

    lines = _lines(stream)
    assert lines[0]["event"] == "egress.started"
    assert lines[0]["run_id"] == "run-123" and lines[0]["destination"] == "crm"
    assert lines[0]["level"] == "info" and lines[0]["timestamp"].endswith("Z")
    assert lines[1]["logger"] == "some.library" and lines[1]["level"] == "warning"
    assert len(lines) == 2  # debug is below the default level
    assert SECRET not in stream.getvalue()


def test_log_level_from_environment() -> None:
    stream = io.StringIO()
    configure_logging(stream, environ={"FLOE_LOG_LEVEL": "off"})
    get_logger().error("egress.failed")
    logging.getLogger("some.library").error("also silent")
    assert stream.getvalue() == ""
    with pytest.raises(EgressConfigError, match="FLOE_LOG_LEVEL='loud'"):
        configure_logging(stream, environ={"FLOE_LOG_LEVEL": "loud"})


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    processor.shutdown()


@pytest.mark.requirement("B3")
def test_record_error_keeps_type_and_scrubbed_message_only(
    spans: InMemorySpanExporter, scrubbed: None
) -> None:
    with tracer().start_as_current_span("floe.egress.destination") as span:
        record_error(span, RuntimeError(f"bad password {SECRET}"))

    [finished] = [s for s in spans.get_finished_spans() if s.name == "floe.egress.destination"]
    assert finished.status.status_code is trace.StatusCode.ERROR
    assert finished.status.description == "RuntimeError: bad password ***"
    [event] = finished.events
    assert dict(event.attributes or {}) == {
        "exception.type": "RuntimeError",
        "exception.message": "bad password ***",
    }


def test_no_endpoint_no_export() -> None:
    assert setup_tracing({}).exporting is False


@pytest.mark.requirement("R10")
def test_spans_are_exported_over_otlp_http(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[ExportTraceServiceRequest] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces":
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                received.append(request)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    try:
        setup = setup_tracing()
        assert setup.exporting
        with (
            tracer().start_as_current_span("floe.egress.run"),
            tracer().start_as_current_span("floe.egress.compile"),
        ):
            pass
        setup.shutdown()
    finally:
        server.shutdown()
        server.server_close()

    names = {
        span.name
        for request in received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert {"floe.egress.run", "floe.egress.compile"} <= names
