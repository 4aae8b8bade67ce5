"""The compiled egress plan: everything a run needs, validated and with paths resolved."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe_core.plugins.sink import SinkConfig
from floe_core.schemas.floe_spec import DestinationConfig, FloeSpec
from floe_core.schemas.manifest import CatalogConfig, PlatformManifest

__all__ = ["CompiledDestination", "EgressPlan", "resolve_catalog", "resolve_sqlite_url"]

_RELATIVE_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?):///(?!/)([^?]+)(\?.*)?$")


@dataclass(frozen=True)
class CompiledDestination:
    """One destination, checked against the manifest and bound to the plugin that serves it.

    Attributes:
        name: Destination name.
        sink_type: Sink type.
        plugin_name: Installed plugin that provides ``sink_type``.
        connection_secret_ref: Kubernetes Secret with the connection's credentials.
        source_table: Iceberg table to read (``namespace.table``), when declared.
        config: Sink settings from ``floe.yaml`` (no credentials).
        field_mapping: Source column -> destination field renames, when declared.
        batch_size: Rows per batch, when declared.
        retry_config: Retry overrides, when declared (only the keys that were set).
        primary_key: Source columns that identify a row across runs (empty: none).
        sync_mode: What a run sends (``full``, ``insert``, ``update``, ``upsert``, ``mirror``).
        max_delete_fraction: Largest share of synced keys a ``mirror`` run may delete.
        static_fields: Constant fields added to every record, when declared.
        row_filter: Send only the source rows matching this pyiceberg expression (a
            partition of the destination, see ``floe_core.egress.partitions``); ``None``: all.
        columns: The source columns sent, in order (empty: all of them).
        exclude_columns: Source columns left out (empty: none).
    """

    name: str
    sink_type: str
    plugin_name: str
    connection_secret_ref: str
    source_table: str | None
    config: dict[str, Any]
    field_mapping: dict[str, str] | None
    batch_size: int | None
    retry_config: dict[str, Any] | None = None
    primary_key: tuple[str, ...] = ()
    sync_mode: str = "full"
    max_delete_fraction: float = 0.5
    static_fields: dict[str, Any] | None = None
    row_filter: str | None = None
    columns: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()

    @classmethod
    def from_config(
        cls,
        destination: DestinationConfig,
        plugin_name: str,
        *,
        key_setting: str | None = None,
        key_settings: Mapping[str, Any] | None = None,
    ) -> CompiledDestination:
        """Bind a validated destination to ``plugin_name``.

        Args:
            destination: The validated destination.
            plugin_name: The plugin that serves its sink type.
            key_setting: The sink's ``config:`` setting naming its key columns; set from
                ``primary_key`` (through ``field_mapping``) when the destination has one.
            key_settings: Settings the sink takes from ``primary_key`` (its
                ``settings_from_key``), added where ``config:`` does not set them.
        """
        from floe_core.sync.modes import derive_key_setting

        retry = destination.retry_config
        config = {**(key_settings or {}), **(destination.config or {})}
        if key_setting is not None and destination.primary_key:
            config[key_setting], _ = derive_key_setting(
                destination.primary_key, destination.field_mapping, None
            )
        return cls(
            name=destination.name,
            sink_type=destination.sink_type,
            plugin_name=plugin_name,
            connection_secret_ref=destination.connection_secret_ref,
            source_table=destination.source_table,
            config=config,
            field_mapping=dict(destination.field_mapping) if destination.field_mapping else None,
            batch_size=destination.batch_size,
            retry_config=retry.model_dump(exclude_unset=True) if retry is not None else None,
            primary_key=tuple(destination.primary_key or ()),
            sync_mode=destination.effective_sync_mode,
            max_delete_fraction=destination.max_delete_fraction,
            static_fields=dict(destination.static_fields) if destination.static_fields else None,
            columns=tuple(destination.columns or ()),
            exclude_columns=tuple(destination.exclude_columns or ()),
        )

    def to_sink_config(self, secret: Mapping[str, str]) -> SinkConfig:
        """The plugin's ``SinkConfig``: ``config`` merged with the resolved Secret's keys.

        Args:
            secret: Keys and values of the Secret named by ``connection_secret_ref``. A key
                present in both wins from the Secret.
        """
        return SinkConfig(
            sink_type=self.sink_type,
            connection_config={**self.config, **secret},
            field_mapping=dict(self.field_mapping) if self.field_mapping else None,
            retry_config=dict(self.retry_config) if self.retry_config else None,
            batch_size=self.batch_size,
            destination_name=self.name,
            static_fields=dict(self.static_fields) if self.static_fields else None,
        )


@dataclass(frozen=True)
class EgressPlan:
    """A validated project, ready to run.

    Attributes:
        project_dir: Directory of ``floe.yaml``; relative paths were resolved against it.
        spec: The validated ``floe.yaml``.
        manifest: The validated ``manifest.yaml``.
        destinations: Compiled destinations, in file order.
        spec_path: Path of ``floe.yaml``.
        manifest_path: Path of ``manifest.yaml``.
        catalog: The catalog settings with absolute paths (keys ``type``, ``name``, ``uri``
            and, when set, ``warehouse``, ``oauth2_server_uri``, ``scope``, ``properties``);
            ``None`` when the manifest declares no catalog. Credentials are not in it: resolve
            ``catalog_secret_ref``.
        catalog_secret_ref: Kubernetes Secret with the catalog's credentials, when declared.
        secrets_dir: Directory of mounted Secrets, when declared.
        state_url: State store URL (SQLite paths made absolute), when declared.
    """

    project_dir: Path
    spec: FloeSpec
    manifest: PlatformManifest
    destinations: list[CompiledDestination]
    spec_path: Path = field(default=Path("floe.yaml"))
    manifest_path: Path = field(default=Path("manifest.yaml"))
    catalog: dict[str, Any] | None = None
    catalog_secret_ref: str | None = None
    secrets_dir: Path | None = None
    state_url: str | None = None

    @property
    def destination_names(self) -> list[str]:
        """Names of the destinations, in file order."""
        return [d.name for d in self.destinations]

    def destination(self, name: str) -> CompiledDestination | None:
        """The destination called ``name``, or ``None``."""
        return next((d for d in self.destinations if d.name == name), None)


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Make the file of a relative ``sqlite:///file.db`` URL absolute against ``base``."""
    match = _RELATIVE_SQLITE.match(url)
    if match is None or match.group(2) == ":memory:":
        return url
    scheme, relative, query = match.groups()
    absolute = os.path.normpath(base / relative)
    return f"{scheme}:///{absolute}{query or ''}"


def resolve_catalog(catalog: CatalogConfig, base: Path) -> dict[str, Any]:
    """Catalog settings for the Iceberg source, with local paths made absolute.

    A ``sql`` catalog's SQLite file (a plain path or a ``sqlite:///`` URL) and a local
    warehouse path are resolved against ``base``; the warehouse becomes a ``file://`` URI.
    """
    resolved: dict[str, Any] = {"type": catalog.type, "name": catalog.name, "uri": catalog.uri}
    if catalog.type == "sql":
        if "://" in catalog.uri:
            resolved["uri"] = resolve_sqlite_url(catalog.uri, base)
        else:
            resolved["uri"] = os.path.normpath(base / Path(catalog.uri).expanduser())
    if catalog.warehouse is not None:
        warehouse = catalog.warehouse
        if catalog.type == "sql" and "://" not in warehouse:
            warehouse = Path(os.path.normpath(base / warehouse)).as_uri()
        resolved["warehouse"] = warehouse
    for key in ("oauth2_server_uri", "scope"):
        value = getattr(catalog, key)
        if value is not None:
            resolved[key] = value
    if catalog.properties:
        resolved["properties"] = dict(catalog.properties)
    return resolved
