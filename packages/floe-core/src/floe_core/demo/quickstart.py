"""``floe demo``: the quickstart project, end to end, with no infrastructure.

It creates the project's embedded Iceberg catalog (SQLite) and local warehouse under
``<project>/.floe/``, fills the Gold table ``gold.customers`` with generated customers (once;
an existing identical table is kept), and runs the project's destination into a local SQLite
database through the same runner as ``floe egress run``. Running it again re-sends the same
rows; the destination upserts on ``customer_id``, so nothing is duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from floe_core.demo.data import DEFAULT_ROWS, QuickstartTable
from floe_core.egress.errors import EgressConfigError

if TYPE_CHECKING:
    from floe_core.compiler import CompiledDestination, EgressPlan
    from floe_core.egress.progress import Progress
    from floe_core.egress.receipt import Receipt
    from floe_core.egress.state import StateStore
    from floe_core.registry import PluginRegistry
    from floe_core.secrets.resolver import SecretResolver

__all__ = ["DEFAULT_PROJECT", "DemoResult", "DestinationCount", "run_demo"]

#: Where ``floe demo`` looks for the quickstart project, relative to the working directory.
DEFAULT_PROJECT = Path("examples/quickstart")

#: The quickstart's destinations of this sink type write a table (whose rows the demo counts)
#: into the database whose SQLAlchemy ``url`` their Secret holds.
_DEMO_TABLE_SINK_TYPE = "sql_database"


@dataclass(frozen=True)
class DestinationCount:
    """Rows a SQL destination table holds after the run (proof that nothing was duplicated)."""

    destination: str
    table: str
    database: str
    rows: int


@dataclass(frozen=True)
class DemoResult:
    """What ``floe demo`` did.

    Attributes:
        catalog: Secret-free description of the catalog it used.
        table: The Gold table it created or found.
        receipts: One receipt per destination run.
        counts: Rows held by each SQL destination table afterwards.
        previous_keys: Destination -> idempotency key of its last successful run before
            this one (absent on a first run).
    """

    catalog: str
    table: QuickstartTable
    receipts: list[Receipt]
    counts: list[DestinationCount]
    previous_keys: dict[str, str]

    def unchanged(self, receipt: Receipt) -> bool:
        """True when ``receipt`` delivered exactly the rows the previous successful run did."""
        return self.previous_keys.get(receipt.destination) == receipt.idempotency_key


def run_demo(
    project_dir: Path = DEFAULT_PROJECT,
    *,
    rows: int = DEFAULT_ROWS,
    registry: PluginRegistry | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Create the quickstart's Gold table if needed and run every destination of the project.

    Raises:
        EgressConfigError: No quickstart project at ``project_dir``.
        FloeError: Anything ``floe egress run`` would refuse.
    """
    from floe_core.compiler import compile_project
    from floe_core.demo.data import create_customers_table
    from floe_core.egress.session import open_runner
    from floe_core.iceberg.catalog import describe_catalog
    from floe_core.registry import PluginRegistry

    spec = project_dir / "floe.yaml"
    if not spec.is_file():
        raise EgressConfigError(
            f"no project in {project_dir.absolute()} (no floe.yaml there)",
            hint="run `floe demo` in a project directory, or point at one with --project DIR "
            "(the floe repository's quickstart: floe demo --project examples/quickstart)",
        )
    registry = registry or PluginRegistry.discover()
    plan = compile_project(spec, registry=registry).unwrap()
    if plan.catalog is None or plan.catalog.get("type") != "sql":
        raise EgressConfigError(
            f"the quickstart needs an embedded sql catalog in {plan.manifest_path}",
            hint="use the manifest shipped in examples/quickstart/",
        )
    destinations = [d for d in plan.destinations if d.source_table]
    if not destinations:
        raise EgressConfigError(
            f"{spec} declares no destination with a source_table",
            hint="use the floe.yaml shipped in examples/quickstart/",
        )
    table = create_customers_table(plan.catalog, destinations[0].source_table or "", rows=rows)
    with open_runner(plan, registry=registry, progress=progress) as runner:
        previous = {d.name: _last_success_key(runner.state, d.name) for d in destinations}
        receipts = runner.run(destinations)
    secrets = runner.secrets
    counts = _sql_counts(plan, destinations, secrets, registry)
    keys = {name: key for name, key in previous.items() if key}
    return DemoResult(describe_catalog(plan.catalog), table, receipts, counts, keys)


def _last_success_key(state: StateStore, destination: str) -> str:
    from floe_core.egress.receipt import RunStatus

    for receipt in state.runs(destination, limit=50):
        if receipt.status is RunStatus.SUCCESS:
            return receipt.idempotency_key
    return ""


def _sql_counts(
    plan: EgressPlan,
    destinations: Sequence[CompiledDestination],
    secrets: SecretResolver,
    registry: PluginRegistry,
) -> list[DestinationCount]:
    """Count the rows of each SQLite destination table (other databases are left alone)."""
    import sqlalchemy as sa

    from floe_core.sinks.plugin import SinkPlugin

    counts = []
    for destination in destinations:
        table = destination.config.get("table")
        plugin = registry.get(destination.plugin_name)
        if (
            destination.sink_type != _DEMO_TABLE_SINK_TYPE
            or not isinstance(table, str)
            or not isinstance(plugin, SinkPlugin)
        ):
            continue
        # The sink's settings with their paths resolved, as the run resolved them.
        secret = secrets.resolve(destination.connection_secret_ref).reveal()
        settings = destination.to_sink_config(secret).connection_config
        url = plugin.project_paths(destination.sink_type, settings, str(plan.project_dir)).get(
            "url"
        )
        if not isinstance(url, str) or not url.startswith("sqlite"):
            continue
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                schema = destination.config.get("schema")
                target = sa.table(table, schema=schema if isinstance(schema, str) else None)
                rows = conn.execute(sa.select(sa.func.count()).select_from(target)).scalar_one()
        finally:
            engine.dispose()
        database = url.split(":///", 1)[-1]
        counts.append(DestinationCount(destination.name, table, database, int(rows)))
    return counts
