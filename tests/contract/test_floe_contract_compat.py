"""Plugins and callers written for floe's published sink contract work here unchanged."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from floe_core.plugins import SinkConfig, SinkConnector
from floe_core.sinks import SinkAuthenticationError, SinkConfigurationError, SinkConnectionError
from floe_ingestion_dlt import DltIngestionPlugin


@pytest.mark.requirement("R9")
def test_floes_documented_get_source_config_example_opens_a_rest_catalog() -> None:
    plugin = DltIngestionPlugin()
    assert isinstance(plugin, SinkConnector)
    properties = plugin.get_source_config(
        {"uri": "http://polaris:8181/api/catalog", "warehouse": "floe_warehouse"}
    )
    # What pyiceberg's load_catalog needs to open an Iceberg REST catalog at that URI.
    assert properties["type"] == "rest"
    assert properties["uri"] == "http://polaris:8181/api/catalog"
    assert properties["warehouse"] == "floe_warehouse"


@pytest.mark.requirement("R3")
def test_the_checksum_is_spelled_as_floes_contract_spells_it(tmp_path: object) -> None:
    plugin = DltIngestionPlugin()
    url = f"sqlite:///{tmp_path}/compat.db"
    config = SinkConfig(sink_type="sql_database", connection_config={"url": url, "table": "t"})
    with plugin.create_sink(config) as sink:
        result = plugin.write(sink, pa.table({"id": [1, 2, 3]}))
    assert result.success, result.errors
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", result.checksum)


@pytest.mark.requirement("R4")
def test_refused_credentials_are_a_configuration_error_not_a_transient_one() -> None:
    error = SinkAuthenticationError("credentials refused", sink_type="x", destination="d")
    assert isinstance(error, SinkConfigurationError)
    assert not isinstance(error, SinkConnectionError)
    assert not error.retryable
