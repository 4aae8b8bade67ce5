"""floe plugin contracts: the plugin base, plugin types and capability mixins."""

from floe_core.plugins.ingestion import IngestionConfig, IngestionPlugin, IngestionResult
from floe_core.plugins.metadata import HealthState, HealthStatus, PluginMetadata
from floe_core.plugins.sink import EgressResult, SinkConfig, SinkConnector

__all__ = [
    "EgressResult",
    "HealthState",
    "HealthStatus",
    "IngestionConfig",
    "IngestionPlugin",
    "IngestionResult",
    "PluginMetadata",
    "SinkConfig",
    "SinkConnector",
]
