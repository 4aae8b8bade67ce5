"""Plugin discovery from entry points, broken plugins, and sink capability detection."""

from __future__ import annotations

import textwrap
import uuid
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from floe_core.plugins import (
    EgressResult,
    IngestionConfig,
    IngestionPlugin,
    IngestionResult,
    SinkConfig,
    SinkConnector,
)
from floe_core.registry import PluginRegistry

PLUGIN_MODULE = """
from floe_core.plugins import EgressResult, PluginMetadata, SinkConnector


class Good(PluginMetadata, SinkConnector):
    name = "good"
    version = "1.2.3"
    floe_api_version = "1.0"

    def list_available_sinks(self):
        return ["webhook", "webhook"]

    def create_sink(self, config):
        return config

    def write(self, sink, data, **kwargs):
        return EgressResult(success=True)

    def get_source_config(self, catalog_config):
        return {}


class FutureApi(Good):
    name = "future"
    floe_api_version = "2.0"


class BlankName(Good):
    name = " "


class ListFails(Good):
    name = "listfails"

    def list_available_sinks(self):
        raise RuntimeError("cannot list")


class NotAList(Good):
    name = "notalist"

    def list_available_sinks(self):
        return "webhook"


class Incomplete(PluginMetadata, SinkConnector):
    name = "incomplete"
    version = "1"
    floe_api_version = "1.0"


class NeedsArgs(Good):
    def __init__(self, endpoint):
        self.endpoint = endpoint


class NotAPlugin:
    pass


INSTANCE = Good()
"""


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A freshly named importable module of plugin classes; returns its name."""
    name = f"floe_test_plugins_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(PLUGIN_MODULE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _entry_point(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=target, group="floe.sinks")


def test_a_well_formed_entry_point_is_loaded(plugin_module: str) -> None:
    registry = PluginRegistry.discover(
        groups=(), extra_entry_points=[_entry_point("good", f"{plugin_module}:Good")]
    )
    (info,) = registry.plugins
    assert (info.name, info.version, info.floe_api_version) == ("good", "1.2.3", "1.0")
    assert info.sink_types == ("webhook",)
    assert info.source == f"{plugin_module}:Good"
    assert registry.sink_providers("webhook") == ["good"]
    assert registry.sink_plugins_for("webhook") == [info.plugin]
    assert registry.get("good") is info.plugin
    assert registry.problems == []


def test_an_entry_point_may_name_an_instance(plugin_module: str) -> None:
    registry = PluginRegistry.discover(
        groups=(), extra_entry_points=[_entry_point("good", f"{plugin_module}:INSTANCE")]
    )
    assert registry.sink_types() == {"webhook": ["good"]}


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("floe_no_such_module_xyz:Plugin", "cannot be imported: ModuleNotFoundError"),
        ("{module}:Missing", "cannot be imported: AttributeError"),
        ("{module}:NotAPlugin", "neither a PluginMetadata nor a SinkConnector"),
        ("{module}:Incomplete", "cannot be instantiated: TypeError"),
        ("{module}:NeedsArgs", "cannot be instantiated: TypeError"),
        ("{module}:FutureApi", "is written for floe plugin API '2.0'; this floe supports 1.x"),
        ("{module}:BlankName", "declares an invalid name"),
        ("{module}:ListFails", "failed in list_available_sinks(): RuntimeError: cannot list"),
        ("{module}:NotAList", "did not return a list of sink type names"),
    ],
)
def test_a_broken_plugin_is_reported_and_the_others_still_load(
    plugin_module: str, target: str, message: str
) -> None:
    broken = _entry_point("broken", target.format(module=plugin_module))
    good = _entry_point("good", f"{plugin_module}:Good")
    registry = PluginRegistry.discover(groups=(), extra_entry_points=[broken, good])
    assert [info.name for info in registry.plugins] == ["good"]
    (problem,) = registry.problems
    assert message in problem.message
    assert problem.hint
    assert problem.source == broken.value
    assert message in str(problem)


def test_two_plugins_with_one_name_keep_the_first(plugin_module: str) -> None:
    registry = PluginRegistry.discover(
        groups=(),
        extra_entry_points=[
            _entry_point("good", f"{plugin_module}:Good"),
            _entry_point("good-again", f"{plugin_module}:INSTANCE"),
        ],
    )
    assert [info.source for info in registry.plugins] == [f"{plugin_module}:Good"]
    assert "has the same name" in registry.problems[0].message


class _Ingestion(IngestionPlugin):
    name = "ingest-only"
    version = "1.0.0"
    floe_api_version = "1.0"
    is_external = False

    def create_pipeline(self, config: IngestionConfig) -> Any:
        return config

    def run(self, pipeline: Any, **kwargs: Any) -> IngestionResult:
        return IngestionResult(success=True)

    def get_destination_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        return {}


class _StandaloneSink(SinkConnector):
    def list_available_sinks(self) -> list[str]:
        return ["rest_api"]

    def create_sink(self, config: SinkConfig) -> Any:
        return config

    def write(self, sink: Any, data: Any, **kwargs: Any) -> EgressResult:
        return EgressResult(success=True)

    def get_source_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        return {}


@pytest.mark.requirement("R4")
def test_an_ingestion_plugin_alone_provides_no_sinks() -> None:
    registry = PluginRegistry.discover(groups=(), plugins=[_Ingestion()])
    (info,) = registry.plugins
    assert not info.is_sink_connector
    assert info.sink_types == ()
    assert registry.sink_types() == {}


@pytest.mark.requirement("R15")
def test_a_standalone_sink_connector_is_registered_under_a_given_name() -> None:
    registry = PluginRegistry()
    info = registry.register(_StandaloneSink(), name="webhooks")
    assert info is not None
    assert (info.name, info.version, info.floe_api_version) == ("webhooks", "", "")
    assert registry.sink_providers("rest_api") == ["webhooks"]


@pytest.mark.requirement("R4")
def test_several_providers_of_one_sink_type(named_sinks: Any) -> None:
    registry = PluginRegistry.discover(
        groups=(), plugins=[named_sinks("b", ("rest_api",)), named_sinks("a", ("rest_api", "s3"))]
    )
    assert registry.sink_providers("rest_api") == ["a", "b"]
    assert registry.sink_types() == {"rest_api": ["a", "b"], "s3": ["a"]}
    assert registry.sink_plugins_for("nothing") == []


def test_registering_something_that_is_no_plugin_is_a_problem() -> None:
    registry = PluginRegistry()
    assert registry.register(object(), name="thing") is None
    assert "neither a PluginMetadata nor a SinkConnector" in registry.problems[0].message


def test_discovery_of_installed_plugins_accounts_for_the_dlt_entry_point() -> None:
    registry = PluginRegistry.discover()
    loaded = {info.name for info in registry.plugins}
    broken = {problem.name for problem in registry.problems}
    assert "dlt" in loaded | broken
