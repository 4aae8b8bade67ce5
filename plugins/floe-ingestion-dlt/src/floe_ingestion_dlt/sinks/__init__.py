"""The sink types this plugin provides, one subpackage each, imported only when used.

Adding a sink type: a subpackage with a ``floe_core.sinks.Sink`` subclass (its settings
model, client and error mapping beside it) and one line in ``SINK_TYPES``.
"""

from __future__ import annotations

__all__ = ["SINK_TYPES"]

#: sink type -> "module:Class"
SINK_TYPES: dict[str, str] = {
    "rest_api": "floe_ingestion_dlt.sinks.rest.sink:RestApiSink",
    "sql_database": "floe_ingestion_dlt.sinks.sql.sink:SqlDatabaseSink",
}
