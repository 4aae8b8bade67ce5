"""``FloeResource``: runs floe destinations in the Dagster process and reports each as an asset.

The run is floe's own (``floe_core.egress.session.open_runner``, what ``floe egress run``
uses): leases, the run journal, incremental sync, rejected rows and receipts in the state
store behave as they do on the command line. Each destination's receipt becomes a
``MaterializeResult``; a destination whose run ``failed`` fails the step with floe's message
(secrets redacted), after the other destinations' results are reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from floe_orchestrator_dagster.partitions import PartitionFilter
from floe_orchestrator_dagster.project import load_project
from floe_orchestrator_dagster.results import REJECTED_ROWS_CHECK, failure, materialization

if TYPE_CHECKING:
    from floe_core.compiler import CompiledDestination
    from floe_core.errors import FloeError

    from floe_orchestrator_dagster.project import FloeProject
    from floe_orchestrator_dagster.snapshots import SnapshotChange

__all__ = ["DESTINATION_METADATA_KEY", "FloeResource", "FloeRunConfig"]

#: Asset metadata naming the floe destination an asset is.
DESTINATION_METADATA_KEY = "floe/destination"


class FloeRunConfig(dg.Config):
    """Run config of a floe asset (the Launchpad's ``ops.<name>.config``)."""

    dry_run: bool = Field(
        default=False,
        description="Read and diff as a run would; send nothing, change no state, and report "
        "the planned counts (rows_planned) as the materialization's metadata.",
    )
    allow_deletes: bool = Field(
        default=False,
        description="Let a mirror run delete more than its max_delete_fraction of the synced "
        "keys (or everything, when the source is empty), this once.",
    )


class FloeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """A floe project, run in-process.

    Attributes:
        project_dir: The directory of ``floe.yaml``.
        state_url: The state store (SQLAlchemy URL), instead of ``$FLOE_STATE_URL`` or the
            manifest's ``state.url``; give it as ``dg.EnvVar`` when it holds a password.
        secrets_dir: A directory of mounted Secrets, instead of the manifest's ``secrets.dir``.
        max_rejected_rows: The ``rejected_rows`` check fails when a run's destination refused
            more rows than this.
    """

    project_dir: str
    state_url: str | None = None
    secrets_dir: str | None = None
    max_rejected_rows: int = Field(default=0, ge=0)

    def run(
        self,
        context: dg.AssetExecutionContext,
        config: FloeRunConfig | None = None,
        *,
        row_filter: PartitionFilter | str | None = None,
    ) -> Iterator[dg.MaterializeResult[Any]]:
        """Run the destinations of the selected assets; yield one result per destination.

        Args:
            context: The asset's execution context (its selection and partition).
            config: ``dry_run`` and ``allow_deletes``; both off when omitted.
            row_filter: For a partitioned asset: the partition's Iceberg row filter, or a
                function of the context that gives it (``value_filter``,
                ``time_window_filter``). Required exactly when the asset is partitioned.

        Raises:
            dagster.Failure: A destination failed, or the run could not start (floe's error
                and hint, secrets redacted).
        """
        from floe_core.egress.partitions import partition_destination
        from floe_core.egress.receipt import RunStatus
        from floe_core.errors import FloeError

        config = config or FloeRunConfig()
        try:
            project = load_project(self.project_dir)
            selected = _selected(context, project)
            if context.has_partition_key:
                text = _partition_filter(context, row_filter)
                selected = {
                    key: partition_destination(d, context.partition_key, text)
                    for key, d in selected.items()
                }
            elif row_filter is not None:
                raise dg.DagsterInvalidInvocationError(
                    "row_filter is for a partitioned floe asset; this asset has no "
                    "partitions_def (give floe_assets(partitions_def=...), or drop row_filter)"
                )
            receipts, before = self._deliver(project, list(selected.values()), config)
        except FloeError as exc:
            raise _failure(exc) from None
        failed = []
        check_keys = context.selected_asset_check_keys
        for (key, destination), receipt in zip(selected.items(), receipts, strict=True):
            if receipt.status is RunStatus.FAILED:
                failed.append(receipt)
                continue
            context.log.info(
                f"floe: {destination.name} {receipt.status.value}, {receipt.rows_delivered} "
                f"rows delivered, {receipt.rows_rejected} rejected (run {receipt.run_id})"
            )
            yield materialization(
                receipt,
                key,
                snapshot_from=before[destination.name],
                max_rejected_rows=self.max_rejected_rows,
                with_check=dg.AssetCheckKey(key, REJECTED_ROWS_CHECK) in check_keys,
            )
        if failed:
            raise failure(failed)

    def snapshot_changes(self, destinations: list[str]) -> list[SnapshotChange]:
        """Each destination's source snapshot now, against the one floe delivered last."""
        from floe_orchestrator_dagster.snapshots import snapshot_changes

        project = load_project(self.project_dir)
        return snapshot_changes(
            project.plan, destinations, state_url=self.state_url, secrets_dir=self._secrets_dir
        )

    @property
    def _secrets_dir(self) -> Path | None:
        return Path(self.secrets_dir) if self.secrets_dir else None

    def _deliver(
        self,
        project: FloeProject,
        destinations: list[CompiledDestination],
        config: FloeRunConfig,
    ) -> tuple[list[Any], dict[str, int | None]]:
        from floe_core.egress.session import open_runner

        from floe_orchestrator_dagster.snapshots import last_delivery

        with open_runner(
            project.plan,
            registry=project.registry,
            dry_run=config.dry_run,
            allow_deletes=config.allow_deletes,
            state_url=self.state_url,
            secrets_dir=self._secrets_dir,
        ) as runner:
            before = {}
            for destination in destinations:
                last = last_delivery(runner.state, destination.name)
                before[destination.name] = last.snapshot_id if last is not None else None
            return runner.run(destinations), before


def _selected(
    context: dg.AssetExecutionContext, project: FloeProject
) -> dict[dg.AssetKey, CompiledDestination]:
    """The selected assets' destinations, in the order the asset definition lists them."""
    assets_def = context.assets_def
    chosen = {}
    for key in assets_def.keys:
        if key not in context.selected_asset_keys:
            continue
        value = assets_def.specs_by_key[key].metadata.get(DESTINATION_METADATA_KEY)
        name = value.value if isinstance(value, dg.MetadataValue) else value
        if not isinstance(name, str):
            raise dg.DagsterInvalidInvocationError(
                f"asset {key.to_user_string()} is not a floe asset (no "
                f"'{DESTINATION_METADATA_KEY}' metadata); build it with floe_assets"
            )
        chosen[key] = project.destination(name)
    return chosen


def _partition_filter(
    context: dg.AssetExecutionContext, row_filter: PartitionFilter | str | None
) -> str:
    if row_filter is None:
        raise dg.DagsterInvalidInvocationError(
            f"partition '{context.partition_key}' has no row filter: a partitioned floe asset "
            "sends each partition's rows only, so call floe.run(context, config, "
            "row_filter=value_filter('region')) or time_window_filter('updated_at'), or a "
            "function of the context returning an Iceberg row filter"
        )
    return row_filter if isinstance(row_filter, str) else row_filter(context)


def _failure(exc: FloeError) -> dg.Failure:
    """floe's error as the step's failure: message and hint, secrets redacted."""
    from floe_core.egress.observability import redactor

    safe = redactor.error(exc)
    return dg.Failure(
        description=f"{safe.message}\nhint: {safe.hint}" if safe.hint else safe.message,
        metadata={"error": type(exc).__name__},
        allow_retries=False,
    )
