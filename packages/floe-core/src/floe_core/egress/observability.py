"""Logs and traces of an egress run, with secret values scrubbed from both.

Logs: structlog, one JSON object per line on stderr, each carrying the ``run_id`` (and
``destination``) of the run it belongs to. Log records of other libraries (pyiceberg, urllib3,
...) go through the same JSON renderer. ``FLOE_LOG_LEVEL`` (debug, info, warning, error, off)
sets the level; the default is ``info``, and ``off`` on a terminal, where the progress bar,
the receipt and the error message say it all.

Traces: OpenTelemetry spans for the run (``floe.egress.run``), compiling the project
(``floe.egress.compile``), preparing each destination (``floe.egress.prepare``: secret, source,
sink), opening the source (``floe.egress.read``) and delivering (``floe.egress.destination``;
the sink plugin adds a span per batch under it). Spans are exported over OTLP/HTTP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the exporter package is imported only then) and go
nowhere otherwise. Exceptions are recorded by type and sanitized message only, no stack.

Every secret value resolved during a run is registered with :data:`redactor`; the log
renderer, span error descriptions, receipts and the CLI's error printer pass text through it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, cast

from opentelemetry import trace

from floe_core.secrets.redact import MIN_SECRET_LENGTH, redact

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor

    from floe_core.errors import FloeError

__all__ = [
    "LOGGER_NAME",
    "TRACER_NAME",
    "Redactor",
    "TracingSetup",
    "configure_logging",
    "get_logger",
    "record_error",
    "redactor",
    "run_context",
    "setup_tracing",
    "span",
    "tracer",
]

LOGGER_NAME = "floe.egress"
TRACER_NAME = "floe.egress"
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "off": 100}


class Redactor:
    """Redacts text and nested data with :func:`floe_core.secrets.redact.redact`.

    Holds the secret values registered during a run; credentials that need no registration
    (URL passwords, ``token=...`` pairs, ``Authorization`` headers) are masked as well.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, values: Iterable[str]) -> None:
        """Register secret values (very short values are ignored: they would mangle text)."""
        self._values.update(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH)

    def clear(self) -> None:
        """Forget every registered value."""
        self._values.clear()

    def text(self, text: str) -> str:
        """``text`` without credentials: registered values and those :func:`redact` finds."""
        return redact(text, self._values)

    def error(self, exc: FloeError) -> FloeError:
        """``exc`` as it may be shown: its message prefixed with ``[<sink type>/<destination>]``
        when it carries them and does not name them already, message and hint redacted."""
        from floe_core.errors import FloeError

        where = "/".join(
            part
            for part in (getattr(exc, "sink_type", ""), getattr(exc, "destination", ""))
            if part
        )
        message = f"[{where}] {exc.message}" if where and where not in exc.message else exc.message
        return FloeError(self.text(message), hint=self.text(exc.hint))

    def data(self, value: Any) -> Any:
        """Scrub strings inside dicts, lists and tuples; other values pass unchanged."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {key: self.data(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.data(item) for item in value)
        return value

    def __call__(self, _logger: Any, _method: str, event_dict: Any) -> Any:
        """structlog processor form."""
        return self.data(event_dict)


#: The process-wide redactor; the runner registers each resolved secret's values with it.
redactor = Redactor()


def _level(environ: Mapping[str, str], default: str) -> int:
    name = (environ.get("FLOE_LOG_LEVEL") or default).strip().lower()
    if name not in _LEVELS:
        from floe_core.egress.errors import EgressConfigError

        raise EgressConfigError(
            f"FLOE_LOG_LEVEL={name!r} is not a log level",
            hint=f"use one of: {', '.join(_LEVELS)}",
        )
    return _LEVELS[name]


def configure_logging(
    stream: TextIO | None = None,
    *,
    default_level: str = "info",
    environ: Mapping[str, str] | None = None,
) -> None:
    """Send structlog and stdlib logging to ``stream`` (stderr) as redacted JSON lines.

    Args:
        stream: Where log lines go; when None, whatever ``sys.stderr`` is at each write.
        default_level: Level when ``FLOE_LOG_LEVEL`` is not set.
        environ: Environment to read (``os.environ`` when None).
    """
    import structlog

    out = stream if stream is not None else cast(TextIO, _Stderr())
    level = _level(os.environ if environ is None else environ, default_level)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redactor,
    ]
    renderer = structlog.processors.JSONRenderer(sort_keys=False, default=str)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(min(level, logging.CRITICAL)),
        logger_factory=(
            structlog.WriteLoggerFactory(file=out)
            if level <= logging.CRITICAL
            else structlog.ReturnLoggerFactory()  # "off": lines are built but go nowhere
        ),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    handler.set_name("floe")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "floe"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))


class _Stderr:
    """Whatever ``sys.stderr`` is at the time of writing (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def get_logger() -> Any:
    """The egress logger (a structlog bound logger)."""
    import structlog

    return structlog.get_logger(LOGGER_NAME)


@contextmanager
def run_context(**values: Any) -> Iterator[None]:
    """Bind ``values`` (e.g. ``run_id``, ``destination``) to every log line inside the block."""
    import structlog

    with structlog.contextvars.bound_contextvars(**values):
        yield


def tracer() -> trace.Tracer:
    """The egress tracer, from the global tracer provider (a no-op one unless configured)."""
    return trace.get_tracer(TRACER_NAME)


@contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[trace.Span]:
    """A span on the egress tracer; an exception leaving it is recorded by :func:`record_error`.

    OpenTelemetry's own exception recording is switched off: it would attach the whole
    stack trace, including messages of chained library errors, to the span.
    """
    with tracer().start_as_current_span(
        name,
        attributes=dict(attributes or {}),
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as exc:
            record_error(current, exc)
            raise


def record_error(span: trace.Span, exc: BaseException) -> None:
    """Mark ``span`` failed with the error's type and redacted message, without a stack."""
    message = redactor.text(str(exc))
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {message}"))
    span.add_event(
        "exception",
        {"exception.type": type(exc).__name__, "exception.message": message},
    )


class TracingSetup:
    """What :func:`setup_tracing` installed; :meth:`shutdown` flushes and detaches it."""

    def __init__(self, processor: SpanProcessor | None = None) -> None:
        self.processor = processor

    @property
    def exporting(self) -> bool:
        """True when spans are being exported."""
        return self.processor is not None

    def shutdown(self) -> None:
        """Send spans still buffered and stop exporting (waits at most a few seconds)."""
        if self.processor is not None:
            self.processor.force_flush(timeout_millis=5000)
            self.processor.shutdown()
            self.processor = None


def setup_tracing(environ: Mapping[str, str] | None = None) -> TracingSetup:
    """Export spans over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

    The exporter reads the standard ``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers,
    timeout). When the process already has an SDK tracer provider, the exporter is added to
    it; otherwise one is created for service ``floe`` (``OTEL_SERVICE_NAME`` overrides).
    """
    env = os.environ if environ is None else environ
    if not (
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return TracingSetup()
    from floe_core.egress.errors import EgressConfigError

    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise EgressConfigError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is not installed",
            hint="pip install 'floe-core[otlp]', or unset OTEL_EXPORTER_OTLP_ENDPOINT",
        ) from exc
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        service = env.get("OTEL_SERVICE_NAME") or "floe"
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        trace.set_tracer_provider(provider)
    processor = BatchSpanProcessor(OTLPSpanExporter())
    provider.add_span_processor(processor)
    return TracingSetup(processor)
