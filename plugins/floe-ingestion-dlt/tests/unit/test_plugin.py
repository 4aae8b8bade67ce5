"""The plugin facade: identity, sink registry, argument checks, delegation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from floe_core.plugins import IngestionConfig, IngestionPlugin, SinkConfig, SinkConnector
from floe_core.sinks.errors import SinkConfigurationError
from floe_ingestion_dlt import DltIngestionPlugin


@pytest.mark.requirement("R5")
def test_identity_and_capabilities() -> None:
    plugin = DltIngestionPlugin()
    assert isinstance(plugin, IngestionPlugin)
    assert isinstance(plugin, SinkConnector)
    assert plugin.name == "dlt"
    assert plugin.floe_api_version == "1.0"
    assert plugin.version == "0.1.0"
    assert plugin.is_external is False


@pytest.mark.requirement("R6")
def test_available_sinks() -> None:
    assert DltIngestionPlugin().list_available_sinks() == ["rest_api", "sql_database"]


@pytest.mark.requirement("R6")
def test_importing_the_plugin_and_listing_sinks_stays_light() -> None:
    code = (
        "import sys\n"
        "from floe_ingestion_dlt.plugin import DltIngestionPlugin\n"
        "DltIngestionPlugin().list_available_sinks()\n"
        "heavy = ['pyarrow', 'dlt', 'httpx', 'sqlalchemy', 'pyiceberg', 'orjson', 'tenacity']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.requirement("R7")
def test_unknown_sink_type_lists_the_available_ones() -> None:
    config = SinkConfig("kafka", {}, destination_name="events")
    with pytest.raises(SinkConfigurationError) as caught:
        DltIngestionPlugin().create_sink(config)
    assert "unknown sink type 'kafka'; available: rest_api, sql_database" in str(caught.value)
    assert "kafka/events" in str(caught.value)


@pytest.mark.requirement("R7")
def test_bad_retry_config_fails_at_create_sink_before_connecting() -> None:
    config = SinkConfig(
        "rest_api",
        {"base_url": "http://127.0.0.1:9"},
        retry_config={"attempts": 3},
        destination_name="crm",
    )
    with pytest.raises(SinkConfigurationError, match=r"unknown key `attempts`"):
        DltIngestionPlugin().create_sink(config)


@pytest.mark.requirement("R1")
def test_argument_errors() -> None:
    plugin = DltIngestionPlugin()
    with pytest.raises(TypeError, match="SinkConfig"):
        plugin.create_sink({"sink_type": "rest_api"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a sink from create_sink"):
        plugin.write(object(), [])
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*dry_run"):
        plugin.write(object(), [], dry_run=True)


@pytest.mark.requirement("R9")
def test_source_config_comes_from_the_iceberg_source_module(tmp_path: Path) -> None:
    from floe_core.iceberg.source import catalog_properties

    catalog = {
        "type": "sql",
        "name": "lake",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": str(tmp_path / "warehouse"),
    }
    assert DltIngestionPlugin().get_source_config(catalog) == catalog_properties(catalog)


@pytest.mark.requirement("R5")
def test_ingestion_runs_through_the_plugin(tmp_path: Path) -> None:
    from floe_ingestion_dlt.ingestion.pipeline import get_destination_config
    from pyiceberg.catalog import load_catalog

    source = tmp_path / "files"
    source.mkdir()
    (source / "customers.jsonl").write_text(
        '{"id": 1, "name": "Ana"}\n{"id": 2, "name": "Zoë"}\n', encoding="utf-8"
    )
    catalog = {
        "type": "sql",
        "name": "lake",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": (tmp_path / "warehouse").as_uri(),
    }
    plugin = DltIngestionPlugin()
    assert plugin.get_destination_config(catalog) == get_destination_config(catalog)

    pipeline = plugin.create_pipeline(
        IngestionConfig(
            source_type="filesystem",
            source_config={"path": str(source), "file_glob": "*.jsonl"},
            destination_table="bronze.customers",
        ),
        catalog,
        pipelines_dir=tmp_path / "dlt",
    )
    result = plugin.run(pipeline)
    assert result.success, result.errors
    assert result.rows_loaded == 2
    table = load_catalog("lake", **plugin.get_source_config(catalog)).load_table("bronze.customers")
    assert sorted(table.scan().to_arrow().column("name").to_pylist()) == ["Ana", "Zoë"]
