"""How a floe destination becomes a Dagster asset: its key, its upstream table, its tags.

``FloeTranslator`` is the override point, as ``DagsterDltTranslator`` and
``DagsterSlingTranslator`` are: subclass it and pass an instance to ``floe_assets``.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

__all__ = ["FloeDestination", "FloeTranslator"]


@dataclass(frozen=True)
class FloeDestination:
    """What a translator is told about one destination of ``floe.yaml``.

    Attributes:
        name: The destination's name.
        sink_type: Its sink type (``sql_database``, ``rest_api``, ...).
        source_table: The Iceberg table it sends, ``namespace.table``.
        sync_mode: What a run sends (``full``, ``upsert``, ``mirror``, ...).
        project: The data product's name (``metadata.name`` of ``floe.yaml``).
        description: The data product's description, when ``floe.yaml`` has one.
        owner: The data product's owner, when ``floe.yaml`` names one.
    """

    name: str
    sink_type: str
    source_table: str
    sync_mode: str
    project: str
    description: str | None = None
    owner: str | None = None


class FloeTranslator:
    """Maps floe destinations to Dagster asset specs; override any method to change one part."""

    def get_asset_key(self, destination: FloeDestination) -> dg.AssetKey:
        """The destination's asset: ``["floe", <destination name>]``."""
        return dg.AssetKey(["floe", destination.name])

    def get_source_asset_key(self, destination: FloeDestination) -> dg.AssetKey:
        """The asset of the Iceberg table it reads: ``["iceberg", <namespace...>, <table>]``,
        the key dagster-iceberg and dbt projects give the same table, so lineage joins up."""
        return dg.AssetKey(["iceberg", *destination.source_table.split(".")])

    def get_kinds(self, destination: FloeDestination) -> set[str]:
        """``{"floe", "iceberg", <sink type>}``."""
        return {"floe", "iceberg", destination.sink_type}

    def get_description(self, destination: FloeDestination) -> str:
        """What the destination does, then the data product's description."""
        what = (
            f"floe reverse ETL: Iceberg table {destination.source_table} to the "
            f"{destination.sink_type} destination '{destination.name}' "
            f"(sync_mode {destination.sync_mode})."
        )
        return f"{what}\n\n{destination.description}" if destination.description else what

    def get_owners(self, destination: FloeDestination) -> list[str]:
        """The data product's owner: an e-mail address as it is, any other name as a team."""
        owner = (destination.owner or "").strip()
        if not owner:
            return []
        return [owner if "@" in owner or owner.startswith("team:") else f"team:{owner}"]

    def get_group_name(self, destination: FloeDestination) -> str | None:
        """The asset group: ``None`` (Dagster's default group)."""
        return None

    def get_asset_spec(self, destination: FloeDestination) -> dg.AssetSpec:
        """The whole spec, from the methods above."""
        return dg.AssetSpec(
            key=self.get_asset_key(destination),
            deps=[self.get_source_asset_key(destination)],
            kinds=self.get_kinds(destination),
            description=self.get_description(destination),
            owners=self.get_owners(destination),
            group_name=self.get_group_name(destination),
        )
