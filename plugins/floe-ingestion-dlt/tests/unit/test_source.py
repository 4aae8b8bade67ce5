"""The plugin re-exports floe-core's Iceberg reader for standalone users."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from floe_core.iceberg import catalog as core_catalog
from floe_core.iceberg import source as core_source
from floe_ingestion_dlt import source


def test_reexports_are_floe_cores_objects() -> None:
    assert source.__all__ == ["IcebergSource", "catalog_properties", "open_catalog"]
    assert source.IcebergSource is core_source.IcebergSource
    assert source.catalog_properties is core_source.catalog_properties
    assert source.open_catalog is core_catalog.open_catalog


@pytest.mark.requirement("R9")
def test_standalone_read_through_the_plugin_module(tmp_path: Path) -> None:
    config = {"type": "sql", "uri": str(tmp_path / "c.db"), "warehouse": str(tmp_path / "wh")}
    catalog = source.open_catalog(config, create=True)
    catalog.create_namespace("gold")
    rows = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["Åsa", "Øyvind"]})
    catalog.create_table("gold.people", rows.schema).append(rows)
    catalog.close()
    with source.IcebergSource(config, "gold.people") as reader:
        assert reader.batches(columns=["name"]).read_all().to_pylist() == [
            {"name": "Åsa"},
            {"name": "Øyvind"},
        ]
