"""OpenTelemetry spans for sink operations.

Spans (tracer ``floe_ingestion_dlt``)::

    floe.sink.create_sink      one per create_sink (config check, connection probe)
    floe.sink.write            one per write
    └── floe.sink.send_batch   one per batch sent (retries included), and per piece of a split batch

Every span carries ``sink.type``, ``sink.destination``, ``sink.rows_written``,
``sink.duration_ms`` and ``sink.status`` (``ok``, ``partial``, ``rejected`` or ``error``); failed
ones add ``sink.retry_count``, ``http.status_code`` (when the destination answered over HTTP)
and an ``exception`` event whose message is sanitized. Nothing here needs an SDK: with only
``opentelemetry-api`` installed the spans are no-ops.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from floe_core.sinks.errors import PluginError, sanitize

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.util.types import AttributeValue

__all__ = [
    "ATTR_HTTP_STATUS_CODE",
    "ATTR_SINK_BATCH_POSITION",
    "ATTR_SINK_BATCH_ROWS",
    "ATTR_SINK_BYTES",
    "ATTR_SINK_DESTINATION",
    "ATTR_SINK_DURATION_MS",
    "ATTR_SINK_RETRY_COUNT",
    "ATTR_SINK_ROWS_REJECTED",
    "ATTR_SINK_ROWS_WRITTEN",
    "ATTR_SINK_STATUS",
    "ATTR_SINK_TYPE",
    "SPAN_CREATE_SINK",
    "SPAN_SEND_BATCH",
    "SPAN_WRITE",
    "TRACER_NAME",
    "SinkOperation",
    "current_context",
    "sink_span",
]

TRACER_NAME = "floe_ingestion_dlt"

SPAN_CREATE_SINK = "floe.sink.create_sink"
SPAN_WRITE = "floe.sink.write"
SPAN_SEND_BATCH = "floe.sink.send_batch"

ATTR_SINK_TYPE = "sink.type"
ATTR_SINK_DESTINATION = "sink.destination"
ATTR_SINK_ROWS_WRITTEN = "sink.rows_written"
ATTR_SINK_DURATION_MS = "sink.duration_ms"
ATTR_SINK_STATUS = "sink.status"
ATTR_SINK_RETRY_COUNT = "sink.retry_count"
ATTR_SINK_ROWS_REJECTED = "sink.rows_rejected"
ATTR_SINK_BYTES = "sink.bytes_transmitted"
ATTR_SINK_BATCH_ROWS = "sink.batch_rows"
ATTR_SINK_BATCH_POSITION = "sink.batch_position"
ATTR_HTTP_STATUS_CODE = "http.status_code"


class SinkOperation:
    """The running span of one sink operation; set what was measured before it ends.

    Attributes:
        rows_written: Rows the destination confirmed (``sink.rows_written``).
        status: ``ok``, ``partial``, ``rejected`` or ``error`` (``sink.status``).
    """

    def __init__(self, span: trace.Span, secrets: Iterable[str]) -> None:
        self.span = span
        self.rows_written = 0
        self.status = "ok"
        self.failed = False
        self._secrets = tuple(secrets)

    def set(self, key: str, value: AttributeValue) -> None:
        """Set one more attribute on the span."""
        self.span.set_attribute(key, value)

    def fail(self, error: BaseException, status: str = "error") -> None:
        """Record ``error`` (sanitized) and mark the operation failed."""
        self.status = status
        self.failed = True
        message = sanitize(str(error), self._secrets)
        if isinstance(error, PluginError):
            self.span.set_attribute(ATTR_SINK_RETRY_COUNT, max(0, error.attempts - 1))
            if error.http_status is not None:
                self.span.set_attribute(ATTR_HTTP_STATUS_CODE, error.http_status)
        self.span.add_event(
            "exception",
            {"exception.type": type(error).__name__, "exception.message": message},
        )
        self.span.set_status(Status(StatusCode.ERROR, message))


def current_context() -> Context:
    """The active context, to parent spans started in worker threads."""
    return otel_context.get_current()


@contextmanager
def sink_span(
    name: str,
    *,
    sink_type: str,
    destination: str,
    secrets: Iterable[str] = (),
    parent: Context | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[SinkOperation]:
    """Run the body inside a span carrying the sink attributes.

    An exception escaping the body is recorded (sanitized) and re-raised.

    Args:
        name: Span name (one of the ``SPAN_*`` constants).
        sink_type: ``sink.type``.
        destination: ``sink.destination``.
        secrets: Values to scrub from recorded messages.
        parent: Parent context, for spans started in another thread.
        attributes: Extra attributes set at start.
    """
    tracer = trace.get_tracer(TRACER_NAME)
    started = time.perf_counter()
    start_attributes: dict[str, AttributeValue] = {
        ATTR_SINK_TYPE: sink_type,
        ATTR_SINK_DESTINATION: destination,
    }
    start_attributes.update(attributes or {})
    with tracer.start_as_current_span(
        name,
        context=parent,
        attributes=start_attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        operation = SinkOperation(span, secrets)
        try:
            yield operation
        except BaseException as exc:
            if not operation.failed:
                operation.fail(exc)
            raise
        finally:
            span.set_attribute(ATTR_SINK_ROWS_WRITTEN, operation.rows_written)
            span.set_attribute(ATTR_SINK_DURATION_MS, (time.perf_counter() - started) * 1000.0)
            span.set_attribute(ATTR_SINK_STATUS, operation.status)
            if operation.status == "ok":
                span.set_status(Status(StatusCode.OK))
