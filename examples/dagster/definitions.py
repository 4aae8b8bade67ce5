"""The quickstart project as Dagster assets, run whenever its Gold table gets a new snapshot.

Check it: ``uv run dagster definitions validate -f examples/dagster/definitions.py``.
Run it: ``uv run floe demo -p examples/quickstart`` once (it creates the quickstart's
Iceberg table), then
``uv run dagster dev -f examples/dagster/definitions.py`` and materialize
``floe/customers_to_sqlite``, or turn on ``floe_quickstart_snapshot_sensor``.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from floe_orchestrator_dagster import (
    FloeResource,
    FloeRunConfig,
    floe_assets,
    floe_snapshot_sensor,
)

QUICKSTART = Path(__file__).resolve().parent.parent / "quickstart"


@floe_assets(project_dir=QUICKSTART)
def floe_quickstart(
    context: dg.AssetExecutionContext, floe: FloeResource, config: FloeRunConfig
) -> Iterator[dg.MaterializeResult[Any]]:
    """Every destination of the quickstart; each is its own asset."""
    yield from floe.run(context, config)


defs = dg.Definitions(
    assets=[floe_quickstart],
    sensors=[floe_snapshot_sensor(floe_quickstart)],
    resources={"floe": FloeResource(project_dir=str(QUICKSTART))},
)
