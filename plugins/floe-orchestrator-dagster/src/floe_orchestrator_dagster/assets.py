"""``floe_assets``: floe destinations as one Dagster multi-asset, one asset per destination."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from floe_orchestrator_dagster.project import load_project
from floe_orchestrator_dagster.resource import DESTINATION_METADATA_KEY
from floe_orchestrator_dagster.results import REJECTED_ROWS_CHECK
from floe_orchestrator_dagster.translator import FloeTranslator

__all__ = ["floe_assets"]


def floe_assets(
    *,
    project_dir: str | Path,
    destinations: Sequence[str] | None = None,
    translator: FloeTranslator | None = None,
    partitions_def: dg.PartitionsDefinition[str] | None = None,
    pool: str | None = None,
    name: str | None = None,
    backfill_policy: dg.BackfillPolicy | None = None,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """A multi-asset of a floe project's destinations; the decorated function runs them::

        @floe_assets(project_dir="examples/quickstart")
        def quickstart(context: dg.AssetExecutionContext, floe: FloeResource,
                       config: FloeRunConfig):
            yield from floe.run(context, config)

    Each destination is an asset (key from the translator, default ``["floe", <name>]``)
    depending on its Iceberg table (``["iceberg", <namespace>, <table>]``), with kinds
    ``{"floe", "iceberg", <sink type>}``, the ``rejected_rows`` check, and the data product's
    description and owner from ``floe.yaml``. The assets can be materialized one at a time
    (subsetting): a run sends only the selected destinations.

    Args:
        project_dir: The directory of ``floe.yaml`` (compiled now: a project that does not
            validate fails loading the definitions, with floe's message).
        destinations: The destinations to include, by name; default every destination.
        translator: Asset keys, dependencies and tags; default ``FloeTranslator()``.
        partitions_def: Partitions of every asset. Each partition is run on its own, over the
            rows of its row filter (``row_filter=`` of ``FloeResource.run``), with its own
            lease and sync state; backfills default to one run per partition.
        pool: A Dagster concurrency pool for the step, e.g. one per destination system, so
            that parallel partitions or runs stay within its rate limit
            (``dagster instance concurrency set <pool> <limit>``).
        name: The op's name; default ``floe_<project name>``.
        backfill_policy: Default: one partition per run when partitioned.

    Raises:
        InvalidProjectError: The project does not validate.
        EgressConfigError: A named destination is not in ``floe.yaml``, or has no
            ``source_table``.
    """
    from floe_core.egress.destinations import select_destinations
    from floe_core.egress.errors import EgressConfigError

    project = load_project(project_dir)
    chosen = select_destinations(project.plan, destinations or [], run_all=destinations is None)
    translator = translator or FloeTranslator()
    specs = []
    for destination in chosen:
        if not destination.source_table:
            raise EgressConfigError(
                f"destination '{destination.name}' has no source_table, so it is no asset",
                hint="add source_table: namespace.table to it, or leave it out of destinations=",
            )
        spec = translator.get_asset_spec(project.describe(destination))
        specs.append(spec.merge_attributes(metadata={DESTINATION_METADATA_KEY: destination.name}))
    checks = [
        dg.AssetCheckSpec(
            REJECTED_ROWS_CHECK,
            asset=spec.key,
            description="Rows the destination refused in the last run, at most the "
            "FloeResource's max_rejected_rows (see `floe egress rejected`).",
        )
        for spec in specs
    ]
    if backfill_policy is None and partitions_def is not None:
        backfill_policy = dg.BackfillPolicy.multi_run(1)
    op_name = name or "floe_" + re.sub(r"[^A-Za-z0-9_]", "_", project.plan.spec.metadata.name)
    return dg.multi_asset(
        name=op_name,
        specs=specs,
        check_specs=checks,
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
        pool=pool,
    )
