"""floe on Dagster: destinations as assets, runs on new Iceberg snapshots, partitions as row
filters.

- ``floe_assets``: a multi-asset of a project's destinations (``assets``);
- ``FloeResource`` and ``FloeRunConfig``: the in-process run and its config (``resource``);
- ``FloeTranslator`` and ``FloeDestination``: asset keys, lineage and tags (``translator``);
- ``floe_snapshot_sensor``: a run per new source snapshot (``sensor``);
- ``value_filter``, ``time_window_filter``: from a partition to a row filter (``partitions``).
"""

from __future__ import annotations

from floe_orchestrator_dagster.assets import floe_assets
from floe_orchestrator_dagster.partitions import (
    PartitionFilter,
    time_window_filter,
    value_filter,
)
from floe_orchestrator_dagster.resource import FloeResource, FloeRunConfig
from floe_orchestrator_dagster.results import REJECTED_ROWS_CHECK
from floe_orchestrator_dagster.sensor import floe_snapshot_sensor
from floe_orchestrator_dagster.translator import FloeDestination, FloeTranslator

__all__ = [
    "REJECTED_ROWS_CHECK",
    "FloeDestination",
    "FloeResource",
    "FloeRunConfig",
    "FloeTranslator",
    "PartitionFilter",
    "floe_assets",
    "floe_snapshot_sensor",
    "time_window_filter",
    "value_filter",
]
