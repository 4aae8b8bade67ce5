"""Settings and fixtures for every test of the workspace (loaded before any test module)."""

from __future__ import annotations

from typing import Any

import pytest

# The conformance suite's asserts live in floe_core: let pytest explain them as it does a
# test's own. Registered here, before any test imports the suite.
pytest.register_assert_rewrite("floe_core.sinks.testing")


@pytest.fixture(scope="session")
def _span_exporter() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(_span_exporter: Any) -> Any:
    """An ``InMemorySpanExporter`` on the real OpenTelemetry SDK, emptied for this test."""
    _span_exporter.clear()
    return _span_exporter
