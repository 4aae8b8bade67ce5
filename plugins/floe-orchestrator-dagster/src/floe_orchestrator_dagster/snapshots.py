"""Which Iceberg snapshot a destination's source table is at, and which one floe delivered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from floe_core.compiler import EgressPlan
    from floe_core.egress.receipt import Receipt
    from floe_core.egress.state import StateStore

__all__ = ["SnapshotChange", "last_delivery", "snapshot_changes"]

# How far back the history is read for the last run that delivered.
_HISTORY_DEPTH = 50


@dataclass(frozen=True)
class SnapshotChange:
    """A destination's source table now, against what floe delivered to it last.

    Attributes:
        destination: The destination.
        delivered: The snapshot its last delivering run (``success`` or ``partial``) read;
            ``None`` when none did, or it read an empty table.
        current: The table's current snapshot (``None``: the table never had data).
        ever_delivered: Whether any run delivered at all.
    """

    destination: str
    delivered: int | None
    current: int | None
    ever_delivered: bool

    @property
    def changed(self) -> bool:
        """Whether a run would read something it has not delivered."""
        return not self.ever_delivered or self.delivered != self.current

    @property
    def run_key(self) -> str:
        """``<destination>:<delivered>-><current>``: the same change gets the same key."""
        start = str(self.delivered) if self.ever_delivered else "none"
        return f"{self.destination}:{start}->{self.current}"


def last_delivery(state: StateStore, destination: str) -> Receipt | None:
    """The newest run of ``destination`` that delivered (``success`` or ``partial``)."""
    from floe_core.egress.receipt import RunStatus

    for receipt in state.runs(destination, limit=_HISTORY_DEPTH):
        if receipt.status in (RunStatus.SUCCESS, RunStatus.PARTIAL):
            return receipt
    return None


def snapshot_changes(
    plan: EgressPlan,
    destinations: list[str],
    *,
    state_url: str | None = None,
    secrets_dir: Path | None = None,
) -> list[SnapshotChange]:
    """For each destination, its source table's current snapshot and the last one delivered.

    Nothing is created: a state store that does not exist yet means nothing was delivered.

    Raises:
        FloeError: The catalog, a table or the state store cannot be read.
    """
    from floe_core.egress.destinations import catalog_config, select_destinations
    from floe_core.egress.session import project_secrets, resolve_state_url
    from floe_core.egress.state import StateStore, state_store_exists
    from floe_core.iceberg.source import IcebergSource

    chosen = select_destinations(plan, destinations, run_all=False)
    catalog = catalog_config(plan, project_secrets(plan, secrets_dir))
    current: dict[str, int | None] = {}
    for destination in chosen:
        with IcebergSource(catalog, destination.source_table or "") as source:
            current[destination.name] = source.snapshot_id
    url = resolve_state_url(plan, state_url)
    delivered: dict[str, Receipt | None] = dict.fromkeys(current)
    if state_store_exists(url):
        with StateStore(url) as state:
            delivered = {name: last_delivery(state, name) for name in current}
    changes = []
    for name, snapshot in current.items():
        last = delivered[name]
        changes.append(
            SnapshotChange(
                destination=name,
                delivered=last.snapshot_id if last is not None else None,
                current=snapshot,
                ever_delivered=last is not None,
            )
        )
    return changes
