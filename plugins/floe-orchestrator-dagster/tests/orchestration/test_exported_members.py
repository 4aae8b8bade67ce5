"""The public surface of the package is what we mean it to be."""

from __future__ import annotations

import floe_orchestrator_dagster


def test_package_exports() -> None:
    assert sorted(floe_orchestrator_dagster.__all__) == [
        "FloeDestination",
        "FloeResource",
        "FloeRunConfig",
        "FloeTranslator",
        "PartitionFilter",
        "REJECTED_ROWS_CHECK",
        "floe_assets",
        "floe_snapshot_sensor",
        "time_window_filter",
        "value_filter",
    ]
    for name in floe_orchestrator_dagster.__all__:
        assert getattr(floe_orchestrator_dagster, name) is not None
