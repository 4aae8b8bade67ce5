"""The steps that prepare one destination, before anything is sent.

A run takes them in order (:mod:`floe_core.egress.runner`) and stops at the first that fails;
``floe check`` takes each on its own and lists every failure
(:mod:`floe_core.egress.preflight`). Each step either returns what the next one needs or
raises the ``FloeError`` a run would end with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from floe_core.egress.destinations import require_secret_keys
from floe_core.egress.errors import EgressConfigError
from floe_core.egress.observability import redactor, span
from floe_core.errors import FloeError
from floe_core.spelling import did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.compiler import CompiledDestination
    from floe_core.iceberg.source import IcebergSource
    from floe_core.plugins.sink import SinkConfig, SinkConnector
    from floe_core.registry import PluginRegistry
    from floe_core.secrets.resolver import ResolvedSecret, SecretResolver
    from floe_core.sinks.shaping import FieldMapping

__all__ = [
    "check_key_columns",
    "create_sink",
    "destination_secret",
    "field_mapping",
    "open_source",
    "sink_connector",
]


def sink_connector(registry: PluginRegistry, destination: CompiledDestination) -> SinkConnector:
    """The installed plugin that implements the destination's sink type.

    Raises:
        EgressConfigError: The plugin is not installed as a sink connector.
    """
    from floe_core.plugins.sink import SinkConnector

    plugin = registry.get(destination.plugin_name)
    if not isinstance(plugin, SinkConnector):
        raise EgressConfigError(
            f"plugin '{destination.plugin_name}' for sink type '{destination.sink_type}' "
            "is not installed as a sink connector",
            hint="run `floe sinks` to see installed sink types",
        )
    return plugin


def destination_secret(
    secrets: SecretResolver, destination: CompiledDestination, plugin: SinkConnector
) -> ResolvedSecret:
    """The destination's Secret, holding the keys its sink needs; its values are redacted
    from then on.

    Raises:
        SecretError: The Secret is missing, unreadable, or lacks a key the sink needs.
    """
    secret = secrets.resolve(destination.connection_secret_ref, destination=destination.name)
    redactor.add(secret.secret_values())
    require_secret_keys(secret, destination, plugin)
    return secret


def open_source(catalog: Mapping[str, Any], destination: CompiledDestination) -> IcebergSource:
    """The destination's source table in ``catalog`` (its settings, credentials resolved:
    :func:`~floe_core.egress.destinations.catalog_config`), opened at its current snapshot,
    delivering only the columns (``columns`` / ``exclude_columns``) and rows (``row_filter``)
    the destination sends.

    Raises:
        EgressConfigError: The destination has no ``source_table``.
        SourceError: The catalog cannot be reached, the table does not exist, or a column
            named by ``columns`` / ``exclude_columns`` is not in it.
    """
    from floe_core.iceberg.source import IcebergSource

    if not destination.source_table:
        raise EgressConfigError(
            f"destination '{destination.name}' has no source_table",
            hint="add source_table: namespace.table (the Iceberg table to send) to it",
        )
    with span("floe.egress.read", {"source.table": destination.source_table}):
        return IcebergSource(
            catalog,
            destination.source_table,
            columns=destination.columns or None,
            exclude_columns=destination.exclude_columns or None,
            row_filter=destination.row_filter,
        )


def field_mapping(
    destination: CompiledDestination, schema: pa.Schema, *, nested: bool = True
) -> FieldMapping:
    """The field mapping for rows of ``schema``: the check the engine makes at write time.

    Args:
        nested: The sink takes dotted targets as nested fields (its capabilities say). Before
            a sink is built only the columns are checked: whether a sink type takes nested
            records ``floe validate`` knows, and the engine checks again with the sink's own
            capabilities when it writes.

    Raises:
        SinkConfigurationError: The mapping names a column the table does not have.
    """
    from floe_core.sinks.shaping import FieldMapping

    return FieldMapping.for_schema(
        schema,
        destination.field_mapping,
        static_fields=destination.static_fields,
        nested=nested,
        destination=destination.name,
        sink_type=destination.sink_type,
    )


def check_key_columns(destination: CompiledDestination, table: str, schema: pa.Schema) -> None:
    """Every ``primary_key`` column is a column of the source table.

    Raises:
        EgressConfigError: Naming the missing columns and the table's columns.
    """
    missing = [c for c in destination.primary_key if c not in schema.names]
    if missing:
        raise EgressConfigError(
            f"destination '{destination.name}': primary_key column(s) "
            f"{', '.join(map(repr, missing))} are not in table "
            f"'{table}' (columns: {', '.join(schema.names)})",
            hint=did_you_mean(missing, schema.names)
            + "primary_key names source columns, before field_mapping",
        )


def create_sink(plugin: SinkConnector, destination: CompiledDestination, config: SinkConfig) -> Any:
    """Build the destination's sink from ``config``
    (:func:`~floe_core.egress.destinations.sink_config`), which checks the destination is
    reachable and takes the credentials.

    Raises:
        FloeError: The plugin's own error (configuration, connection, authentication), or an
            ``EgressConfigError`` naming the plugin when it failed some other way.
    """
    with span("floe.egress.create_sink"):
        try:
            return plugin.create_sink(config)
        except FloeError:
            raise
        except Exception as exc:
            raise EgressConfigError(
                f"plugin '{destination.plugin_name}' could not create the "
                f"{destination.sink_type} sink for destination '{destination.name}': "
                f"{type(exc).__name__}: {redactor.text(str(exc))}",
                hint="check the destination's config and Secret; report a bug to the "
                "plugin's maintainers if the message does not help",
            ) from exc
