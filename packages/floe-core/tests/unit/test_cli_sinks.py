"""``floe sinks``: sink types by plugin, and broken plugins."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from typing import Any

from floe_core.cli.app import app
from floe_core.registry import PluginRegistry
from typer.testing import CliRunner

runner = CliRunner()


def _registry(named_sinks: Any) -> PluginRegistry:
    registry = PluginRegistry.discover(
        groups=(),
        extra_entry_points=[
            EntryPoint(name="ghost", value="floe_no_such_plugin_abc:Plugin", group="floe.sinks")
        ],
        plugins=[named_sinks("webhooks", ("webhook", "slack"))],
    )
    return registry


def test_lists_sink_types_by_plugin_and_broken_plugins(named_sinks: Any) -> None:
    result = runner.invoke(app, ["sinks"], obj=_registry(named_sinks))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["plugin", "version", "api", "sink", "types"]
    assert lines[1].split() == ["webhooks", "9.9.9", "1.0", "webhook,", "slack"]
    assert (
        "✗ plugin 'ghost' (floe_no_such_plugin_abc:Plugin) cannot be imported: "
        "ModuleNotFoundError" in result.stdout
    )
    assert "fix: reinstall or upgrade" in result.stdout


def test_json_output(named_sinks: Any) -> None:
    result = runner.invoke(app, ["sinks", "--json"], obj=_registry(named_sinks))
    report = json.loads(result.stdout)
    assert report["plugins"] == [
        {
            "name": "webhooks",
            "version": "9.9.9",
            "floe_api_version": "1.0",
            "ingestion": False,
            "sink_types": ["webhook", "slack"],
            "source": "registered",
        }
    ]
    assert report["sink_types"] == {"slack": ["webhooks"], "webhook": ["webhooks"]}
    assert report["plugin_problems"][0]["plugin"] == "ghost"


def test_no_sink_plugin_at_all() -> None:
    result = runner.invoke(app, ["sinks"], obj=PluginRegistry())
    assert result.exit_code == 0
    assert "No installed plugin provides a sink type." in result.stdout


def test_installed_plugins_are_discovered() -> None:
    result = runner.invoke(app, ["sinks", "--json"])
    report = json.loads(result.stdout)
    broken = [p["plugin"] for p in report["plugin_problems"]]
    names = [p["name"] for p in report["plugins"]] + broken
    assert "dlt" in names


def test_with_no_sink_plugin_the_fix_names_the_package_and_where_to_get_it() -> None:
    empty = PluginRegistry.discover(groups=(), plugins=[])

    result = runner.invoke(app, ["sinks"], obj=empty, env={"COLUMNS": "400"})

    assert result.exit_code == 0
    assert "No installed plugin provides a sink type." in result.stdout
    assert "install floe-ingestion-dlt (not on a public index)" in result.stdout
    assert "pip install dist/floe_ingestion_dlt-*.whl" in result.stdout
    assert "#subdirectory=plugins/floe-ingestion-dlt" in result.stdout
    assert "README: Installing floe into your own environment" in result.stdout
