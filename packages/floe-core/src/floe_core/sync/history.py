"""What Iceberg's snapshot history says a run must read, so cost grows with the change.

Three read paths, chosen against the snapshot whose delivery last completed:

- ``up_to_date``: the table is still at that snapshot (and the sent columns and mapping are
  unchanged): nothing is read;
- ``appended``: every snapshot since is an ``append`` on the same schema, so the rows since
  are exactly those of the data files added since: only those are read;
- ``full_scan``: anything else (no completed delivery yet, an overwrite or delete, expired
  snapshots, delete files, a schema change, a changed configuration): every data file is read
  and compared with the stored fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from floe_core.iceberg.source import IcebergSource

__all__ = ["ReadPath", "ReadPlan", "plan_read"]

ReadPath = Literal["up_to_date", "appended", "full_scan"]


@dataclass(frozen=True)
class ReadPlan:
    """The data files a run reads.

    Attributes:
        path: Which read path was taken.
        files: The data files to read; ``None``: all of the snapshot's.
        files_total: Data files in the current snapshot.
        snapshot_from: The snapshot last delivered completely, if any.
        reason: Why this path, for the receipt.
    """

    path: ReadPath
    files: list[str] | None
    files_total: int
    snapshot_from: int | None
    reason: str

    @property
    def files_read(self) -> int:
        """How many data files this plan reads."""
        if self.path == "up_to_date":
            return 0
        return len(self.files) if self.files is not None else self.files_total


def plan_read(source: IcebergSource, completed: int | None, comparable: bool) -> ReadPlan:
    """Choose the read path of a run.

    Args:
        source: The table, pinned at its current snapshot.
        completed: The snapshot whose delivery last completed (checkpoint and fingerprints
            agree on it), or ``None``.
        comparable: The stored fingerprints were computed under the current configuration.
    """
    current = source.snapshot_id
    files = source.data_files()
    total = len(files) if files is not None else _task_count(source)
    if completed is None:
        return ReadPlan("full_scan", None, total, None, "no completed delivery yet")
    if not comparable:
        return ReadPlan("full_scan", None, total, completed, "the sent columns or mapping changed")
    if current == completed:
        return ReadPlan("up_to_date", [], total, completed, "no new snapshot since")
    why_not = _not_only_appends(source, completed)
    if why_not is None and files is not None:
        before = source.data_files(completed)
        if before is not None and set(before) <= set(files):
            added = sorted(set(files) - set(before))
            return ReadPlan("appended", added, total, completed, "only appends since")
        why_not = "the data files of the last delivered snapshot are not all still there"
    return ReadPlan("full_scan", None, total, completed, why_not or "delete files in the table")


def _not_only_appends(source: IcebergSource, completed: int) -> str | None:
    """Why the snapshots since ``completed`` are not all appends on its schema; None if they are."""
    metadata = source.table.metadata
    start = metadata.snapshot_by_id(completed)
    if start is None:
        return f"snapshot {completed} has expired"
    snapshot = metadata.snapshot_by_id(source.snapshot_id) if source.snapshot_id else None
    while snapshot is not None and snapshot.snapshot_id != completed:
        operation = snapshot.summary.operation.value if snapshot.summary is not None else "?"
        if operation != "append":
            return f"snapshot {snapshot.snapshot_id} is an {operation}"
        if snapshot.schema_id != start.schema_id:
            return f"the schema changed in snapshot {snapshot.snapshot_id}"
        parent = snapshot.parent_snapshot_id
        snapshot = metadata.snapshot_by_id(parent) if parent is not None else None
    if snapshot is None:
        return f"snapshot {completed} is not an ancestor of the current one"
    return None


def _task_count(source: IcebergSource) -> int:
    if source.snapshot_id is None:
        return 0
    return sum(1 for _ in source.table.scan(snapshot_id=source.snapshot_id).plan_files())
