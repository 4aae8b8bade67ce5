"""Shared fixtures for floe-core's configuration, registry, compiler and CLI tests."""

from __future__ import annotations

import copy
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from floe_core.plugins import EgressResult, PluginMetadata, SinkConfig, SinkConnector
from floe_core.registry import PluginRegistry

REPO_ROOT = Path(__file__).resolve().parents[4]

MINIMAL_SPEC: dict[str, Any] = {
    "apiVersion": "floe.dev/v1",
    "kind": "FloeSpec",
    "metadata": {"name": "crm-sync", "version": "1.0.0"},
}

ENTERPRISE_MANIFEST: dict[str, Any] = {
    "apiVersion": "floe.dev/v1",
    "kind": "Manifest",
    "metadata": {"name": "acme-platform"},
    "scope": "enterprise",
    "catalog": {"type": "sql", "uri": "sqlite:///.floe/catalog.db", "warehouse": ".floe/wh"},
    "approved_sinks": ["rest_api", "sql_database"],
}


def destination(**overrides: Any) -> dict[str, Any]:
    """A valid destination entry for floe.yaml, with ``overrides`` applied."""
    entry: dict[str, Any] = {
        "name": "contacts_to_crm",
        "sink_type": "rest_api",
        "connection_secret_ref": "crm-api",
        "source_table": "gold.customers",
        "config": {"path": "/contacts", "method": "POST"},
    }
    entry.update(overrides)
    return entry


class NamedSinks(PluginMetadata, SinkConnector):
    """A plugin that provides the sink types it is given, and records what it is sent."""

    def __init__(self, name: str = "testsinks", sink_types: tuple[str, ...] = ()) -> None:
        self._name = name
        self._sink_types = list(sink_types or ("rest_api", "sql_database"))
        self.written: list[dict[str, Any]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return "9.9.9"

    @property
    def floe_api_version(self) -> str:
        return "1.0"

    def list_available_sinks(self) -> list[str]:
        return list(self._sink_types)

    def create_sink(self, config: SinkConfig) -> SinkConfig:
        return config

    def write(self, sink: Any, data: Any, **kwargs: Any) -> EgressResult:
        rows = list(data)
        self.written.extend(rows)
        return EgressResult(success=True, rows_delivered=len(rows))

    def get_source_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        return dict(catalog_config)


@pytest.fixture
def spec_data() -> dict[str, Any]:
    """A valid floe.yaml document without destinations (a deep copy, free to modify)."""
    return copy.deepcopy(MINIMAL_SPEC)


@pytest.fixture
def manifest_data() -> dict[str, Any]:
    """A valid enterprise manifest approving rest_api and sql_database (a deep copy)."""
    return copy.deepcopy(ENTERPRISE_MANIFEST)


@pytest.fixture
def make_destination() -> Callable[..., dict[str, Any]]:
    """Factory for valid destination entries."""
    return destination


@pytest.fixture
def sinks_registry() -> PluginRegistry:
    """A registry holding one plugin, ``testsinks``, providing rest_api and sql_database."""
    registry = PluginRegistry()
    registry.register(NamedSinks())
    return registry


@pytest.fixture
def named_sinks() -> type[NamedSinks]:
    """The plugin class behind ``sinks_registry``, to build more plugins."""
    return NamedSinks


@pytest.fixture
def write_project(tmp_path: Path) -> Callable[..., Path]:
    """Write floe.yaml and manifest.yaml (dicts or text) into a fresh directory.

    Returns the path of floe.yaml. ``manifest=None`` writes no manifest.
    """

    def write(spec: dict[str, Any] | str, manifest: dict[str, Any] | str | None = None) -> Path:
        project = tmp_path / "project"
        project.mkdir(exist_ok=True)
        spec_path = project / "floe.yaml"
        spec_path.write_text(_text(spec), encoding="utf-8")
        if manifest is not None:
            (project / "manifest.yaml").write_text(_text(manifest), encoding="utf-8")
        return spec_path

    return write


@pytest.fixture
def repo_root() -> Path:
    """The repository root (examples/ lives there)."""
    return REPO_ROOT


def _text(document: dict[str, Any] | str) -> str:
    if isinstance(document, str):
        return document
    return yaml.safe_dump(document, sort_keys=False)


# -- tracing --------------------------------------------------------------------------------


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


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port nobody listens on, for the whole test.

    The port stays bound to a socket that never listens: connecting is refused, and no other
    process (a parallel test's server) can take the port meanwhile.
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])
