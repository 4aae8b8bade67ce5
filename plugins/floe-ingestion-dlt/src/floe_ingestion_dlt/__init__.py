"""floe's dlt plugin: ingestion into Iceberg, and reverse ETL to REST APIs and SQL databases.

Importing the package is cheap; heavy libraries load when a pipeline or sink is used.
"""

from __future__ import annotations

from floe_ingestion_dlt.errors import (
    ErrorCategory,
    IngestionError,
    PluginError,
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
    SinkPartialWriteError,
    SinkTransientWriteError,
    SinkWriteError,
)
from floe_ingestion_dlt.plugin import DltIngestionPlugin

__all__ = [
    "DltIngestionPlugin",
    "ErrorCategory",
    "IngestionError",
    "PluginError",
    "SinkAuthenticationError",
    "SinkConfigurationError",
    "SinkConnectionError",
    "SinkPartialWriteError",
    "SinkTransientWriteError",
    "SinkWriteError",
]
