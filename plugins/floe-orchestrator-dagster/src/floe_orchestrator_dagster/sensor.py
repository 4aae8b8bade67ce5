"""``floe_snapshot_sensor``: a run of a floe asset whenever its source table has a snapshot
that floe has not delivered."""

from __future__ import annotations

import json

import dagster as dg

from floe_orchestrator_dagster.resource import DESTINATION_METADATA_KEY, FloeResource

__all__ = ["floe_snapshot_sensor"]


def floe_snapshot_sensor(
    assets: dg.AssetsDefinition,
    *,
    name: str | None = None,
    minimum_interval_seconds: int = 60,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """A sensor over the assets of ``floe_assets``, using the ``floe`` resource.

    Each tick compares every destination's source table's current Iceberg snapshot with the
    one its last delivering run read (floe's run history in the state store) and requests a
    run of that asset alone when they differ, with ``run_key``
    ``"<destination>:<delivered>-><current>"`` (``none`` before the first delivery): the same
    change is never run twice, even across ticks or sensor restarts. The cursor remembers the
    keys requested, so a tick while that run is still going requests nothing new.

    Raises:
        DagsterInvalidDefinitionError: ``assets`` is partitioned (request partitions with a
            schedule or a backfill), or is not from ``floe_assets``.
    """
    if assets.partitions_def is not None:
        raise dg.DagsterInvalidDefinitionError(
            "floe_snapshot_sensor watches unpartitioned floe assets: a snapshot does not say "
            "which partition changed; schedule partitioned assets, or backfill them"
        )
    watched: dict[str, dg.AssetKey] = {}
    for key in assets.keys:
        value = assets.specs_by_key[key].metadata.get(DESTINATION_METADATA_KEY)
        destination = value.value if isinstance(value, dg.MetadataValue) else value
        if not isinstance(destination, str):
            raise dg.DagsterInvalidDefinitionError(
                f"asset {key.to_user_string()} is not a floe asset; build it with floe_assets"
            )
        watched[destination] = key

    @dg.sensor(
        name=name or f"{assets.op.name}_snapshot_sensor",
        asset_selection=list(watched.values()),
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="Runs a floe destination when its Iceberg source table has a new snapshot.",
    )
    def snapshot_sensor(context: dg.SensorEvaluationContext, floe: FloeResource) -> dg.SensorResult:
        requested: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        requests = []
        for change in floe.snapshot_changes(list(watched)):
            if not change.changed or requested.get(change.destination) == change.run_key:
                continue
            requested[change.destination] = change.run_key
            requests.append(
                dg.RunRequest(
                    run_key=change.run_key,
                    asset_selection=[watched[change.destination]],
                    tags={"floe/destination": change.destination},
                )
            )
        return dg.SensorResult(
            run_requests=requests,
            cursor=json.dumps(requested, sort_keys=True),
            skip_reason=None if requests else "every source snapshot is delivered or requested",
        )

    return snapshot_sensor
