"""floe's dlt plugin: ingestion into Iceberg, and reverse ETL to REST APIs and SQL databases.

Importing the package is cheap; heavy libraries load when a pipeline or sink is used. The sink
errors are floe-core's (``floe_core.sinks``), re-exported here.
"""

from __future__ import annotations

from floe_core.sinks.errors import (
    ErrorCategory,
    PluginError,
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
    SinkTransientWriteError,
    SinkWriteError,
)

from floe_ingestion_dlt.ingestion.errors import IngestionError
from floe_ingestion_dlt.plugin import DltIngestionPlugin

__all__ = [
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
