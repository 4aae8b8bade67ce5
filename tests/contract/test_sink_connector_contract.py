"""The SinkConnector contract is stable and implementable by anyone.

These tests pin what third-party plugins rely on: the four abstract methods and their
signatures, the fields of SinkConfig and EgressResult, and capability detection by isinstance.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
import typing
from typing import Any

import pytest
from floe_core.plugins import (
    EgressResult,
    IngestionConfig,
    IngestionPlugin,
    IngestionResult,
    PluginMetadata,
    SinkConfig,
    SinkConnector,
)
from floe_core.registry import PluginRegistry


class CompleteSink(SinkConnector):
    """A standalone connector: no PluginMetadata, no IngestionPlugin."""

    def list_available_sinks(self) -> list[str]:
        return ["memory"]

    def create_sink(self, config: SinkConfig) -> dict[str, Any]:
        return {"config": config, "rows": []}

    def write(self, sink: Any, data: Any, **kwargs: Any) -> EgressResult:
        sink["rows"].extend(data)
        return EgressResult(success=True, rows_delivered=len(sink["rows"]))

    def get_source_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        return {"uri": catalog_config["uri"]}


class IngestOnly(IngestionPlugin):
    @property
    def name(self) -> str:
        return "ingest-only"

    @property
    def version(self) -> str:
        return "1.0.0"

    @property
    def floe_api_version(self) -> str:
        return "1.0"

    @property
    def is_external(self) -> bool:
        return False

    def create_pipeline(self, config: IngestionConfig) -> Any:
        return config

    def run(self, pipeline: Any, **kwargs: Any) -> IngestionResult:
        return IngestionResult(success=True, rows_loaded=1)

    def get_destination_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        return {}


class IngestAndSink(IngestOnly, CompleteSink):
    """Both an ingestion plugin and a sink connector, like the dlt plugin."""


@pytest.mark.requirement("R1")
def test_exactly_four_abstract_methods() -> None:
    assert SinkConnector.__abstractmethods__ == frozenset(
        {"list_available_sinks", "create_sink", "write", "get_source_config"}
    )


@pytest.mark.requirement("R1")
def test_method_signatures_are_pinned() -> None:
    def params(name: str) -> list[tuple[str, str]]:
        signature = inspect.signature(getattr(SinkConnector, name))
        return [(p.name, p.kind.name) for p in signature.parameters.values()]

    assert params("list_available_sinks") == [("self", "POSITIONAL_OR_KEYWORD")]
    assert params("create_sink") == [
        ("self", "POSITIONAL_OR_KEYWORD"),
        ("config", "POSITIONAL_OR_KEYWORD"),
    ]
    assert params("write") == [
        ("self", "POSITIONAL_OR_KEYWORD"),
        ("sink", "POSITIONAL_OR_KEYWORD"),
        ("data", "POSITIONAL_OR_KEYWORD"),
        ("kwargs", "VAR_KEYWORD"),
    ]
    assert params("get_source_config") == [
        ("self", "POSITIONAL_OR_KEYWORD"),
        ("catalog_config", "POSITIONAL_OR_KEYWORD"),
    ]
    hints = typing.get_type_hints(SinkConnector.write)
    assert hints["return"] is EgressResult


@pytest.mark.requirement("R1")
def test_a_complete_implementation_works() -> None:
    connector = CompleteSink()
    sink = connector.create_sink(SinkConfig(sink_type="memory", connection_config={}))
    result = connector.write(sink, [{"id": 1}, {"id": 2}])
    assert result == EgressResult(success=True, rows_delivered=2)
    assert connector.get_source_config({"uri": "sqlite:///c.db"}) == {"uri": "sqlite:///c.db"}


@pytest.mark.requirement("R1")
@pytest.mark.parametrize(
    "missing", ["list_available_sinks", "create_sink", "write", "get_source_config"]
)
def test_an_incomplete_implementation_cannot_be_instantiated(missing: str) -> None:
    members = {
        name: getattr(CompleteSink, name)
        for name in SinkConnector.__abstractmethods__
        if name != missing
    }
    incomplete = type("Incomplete", (SinkConnector,), members)
    with pytest.raises(TypeError, match=missing):
        incomplete()


@pytest.mark.requirement("R4")
def test_capability_detection_by_isinstance() -> None:
    assert not isinstance(IngestOnly(), SinkConnector)
    both = IngestAndSink()
    assert isinstance(both, SinkConnector)
    assert isinstance(both, IngestionPlugin)
    assert isinstance(both, PluginMetadata)
    assert both.run(None).rows_loaded == 1


@pytest.mark.requirement("R15")
def test_a_standalone_sink_connector_is_not_a_plugin_metadata_and_still_works() -> None:
    connector = CompleteSink()
    assert not isinstance(connector, PluginMetadata)
    assert not issubclass(SinkConnector, PluginMetadata)
    registry = PluginRegistry()
    registry.register(connector, name="memory-sinks")
    assert registry.sink_plugins_for("memory") == [connector]


def _fields(cls: type) -> dict[str, tuple[Any, Any]]:
    hints = typing.get_type_hints(cls)
    result = {}
    for field in dataclasses.fields(cls):
        default: Any = field.default
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        result[field.name] = (hints[field.name], default)
    return result


@pytest.mark.requirement("R2")
def test_sink_config_fields_are_pinned() -> None:
    assert _fields(SinkConfig) == {
        "sink_type": (str, dataclasses.MISSING),
        "connection_config": (dict[str, Any], {}),
        "field_mapping": (dict[str, str] | None, None),
        "retry_config": (dict[str, Any] | None, None),
        "batch_size": (int | None, None),
        "destination_name": (str, ""),
        # added after floe's published fields, with a default: plugins built for floe work
        "static_fields": (dict[str, str | int | float | bool | None] | None, None),
    }


@pytest.mark.requirement("R2")
def test_sink_config_needs_only_a_sink_type_as_in_floes_contract() -> None:
    config = SinkConfig(sink_type="rest_api")
    assert config.connection_config == {}
    assert config.batch_size is None


@pytest.mark.requirement("R3")
def test_egress_result_fields_are_pinned() -> None:
    assert _fields(EgressResult) == {
        "success": (bool, dataclasses.MISSING),
        "rows_delivered": (int, 0),
        "bytes_transmitted": (int, 0),
        "duration_seconds": (float, 0.0),
        "checksum": (str, ""),
        "delivery_timestamp": (str, ""),
        "idempotency_key": (str, ""),
        "destination_record_ids": (list[str], []),
        "errors": (list[str], []),
        "rows_rejected": (int, 0),
        "rows_skipped": (int, 0),  # added after the others, with a default: old plugins work
    }


@pytest.mark.requirement("R2")
def test_sink_config_validates_at_construction() -> None:
    bads: list[dict[str, Any]] = [
        {"sink_type": " "},
        {"batch_size": 0},
        {"batch_size": True},
        {"field_mapping": {"email": "Email", "mail": "Email"}},
        {"field_mapping": {"email": " "}},
    ]
    for bad in bads:
        with pytest.raises(ValueError):
            SinkConfig(**{"sink_type": "memory", "connection_config": {}, **bad})
    with pytest.raises(ValueError, match=r"\['mail'\] maps to 'Email', which 'email' already"):
        SinkConfig("memory", field_mapping={"email": "Email", "mail": "Email"})
    config = SinkConfig(sink_type="memory", connection_config={"token": "t-secret-1"})
    assert config.batch_size is None
    assert "t-secret-1" not in repr(config)


@pytest.mark.requirement("R5")
def test_the_installed_dlt_plugin_fulfils_both_contracts() -> None:
    registry = PluginRegistry.discover()
    info = registry.info("dlt")
    assert info is not None, f"the dlt plugin failed to load: {registry.problems}"
    assert isinstance(info.plugin, IngestionPlugin)
    assert isinstance(info.plugin, SinkConnector)
    assert {"rest_api", "sql_database"} <= set(info.sink_types)
    assert info.floe_api_version.split(".")[0] == "1"


def test_plugin_discovery_stays_light() -> None:
    code = (
        "import json, sys\n"
        "from floe_core.registry import PluginRegistry\n"
        "registry = PluginRegistry.discover()\n"
        "registry.sink_types()\n"
        "heavy = ('pyarrow', 'dlt', 'pyiceberg')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []
