"""The sink types this plugin provides, each imported only when it is used.

Adding a sink type: write one module with a ``Sink`` subclass (see ``base.py``) and add a line
to ``SINK_TYPES``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from floe_ingestion_dlt.errors import SinkConfigurationError

if TYPE_CHECKING:
    from floe_ingestion_dlt.sinks.base import Sink

__all__ = ["SINK_TYPES", "available_sinks", "load_sink_class"]

#: sink type -> "module:Class"
SINK_TYPES: dict[str, str] = {
    "rest_api": "floe_ingestion_dlt.sinks.rest_api:RestApiSink",
    "sql_database": "floe_ingestion_dlt.sinks.sql_database:SqlDatabaseSink",
}


def available_sinks() -> list[str]:
    """The sink types, sorted."""
    return sorted(SINK_TYPES)


def load_sink_class(sink_type: str, *, destination: str = "") -> type[Sink]:
    """Import and return the class implementing ``sink_type``.

    Raises:
        SinkConfigurationError: Unknown sink type, or its module cannot be imported (a missing
            optional dependency, with the install command to fix it).
    """
    target = SINK_TYPES.get(sink_type)
    if target is None:
        raise SinkConfigurationError(
            f"unknown sink type {sink_type!r}; available: {', '.join(available_sinks())}",
            destination=destination,
            sink_type=sink_type,
            hint="set sink_type to one of the available types",
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = import_module(module_name)
    except ImportError as exc:
        missing = exc.name or "a dependency"
        raise SinkConfigurationError(
            f"sink type {sink_type!r} needs {missing}, which is not installed",
            destination=destination,
            sink_type=sink_type,
            hint="pip install 'floe-ingestion-dlt[postgres,mysql]' (or the driver you need)",
        ) from exc
    sink_class: type[Sink] = getattr(module, class_name)
    return sink_class
