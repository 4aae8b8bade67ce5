"""The public surface of the package is what we mean it to be."""

from __future__ import annotations

import floe_ingestion_dlt
import pytest


@pytest.mark.requirement("R13")
def test_package_exports() -> None:
    assert sorted(floe_ingestion_dlt.__all__) == [
        "DltIngestionPlugin",
        "ErrorCategory",
        "IngestionError",
        "PluginError",
        "SinkAuthenticationError",
        "SinkConfigurationError",
        "SinkConnectionError",
        "SinkTransientWriteError",
        "SinkWriteError",
    ]
    for name in floe_ingestion_dlt.__all__:
        assert getattr(floe_ingestion_dlt, name) is not None
