"""What Iceberg's snapshot history says a run must read, so cost grows with the change.

Four read paths, chosen against the snapshot whose delivery last completed:

- ``up_to_date``: the table is still at that snapshot (and the sent columns and mapping are
  unchanged): nothing is read;
- ``appended``: the snapshots since only added data files (appends): the rows since are
  exactly those of the added files, and only those are read;
- ``changed``: the snapshots since also removed data files (an overwrite, a copy-on-write
  delete, a compaction): the added files are read whole, and the removed ones (still there
  in the old snapshot) for their key columns only. A key of a removed file that no added file
  has is gone from the source; a row of an added file is diffed against its fingerprint;
- ``full_scan``: anything else (no completed delivery yet, expired snapshots, a snapshot that
  is not an ancestor, delete files, a schema change, a changed configuration): every data
  file is read and compared with the stored fingerprints.

Both partial paths rest on the table's rows being the rows of its data files, which delete
files (merge-on-read deletes) break: with any, the run reads everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from floe_core.iceberg.source import IcebergSource

__all__ = ["ReadPath", "ReadPlan", "plan_read"]

ReadPath = Literal["up_to_date", "appended", "changed", "full_scan"]


@dataclass(frozen=True)
class ReadPlan:
    """The data files a run reads.

    Attributes:
        path: Which read path was taken.
        files: The data files to read; ``None``: all of the snapshot's.
        files_total: Data files in the current snapshot.
        snapshot_from: The snapshot last delivered completely, if any.
        reason: Why this path, for the receipt.
        removed: ``changed`` only: the data files of ``snapshot_from`` removed since (read
            there, key columns only).
    """

    path: ReadPath
    files: list[str] | None
    files_total: int
    snapshot_from: int | None
    reason: str
    removed: tuple[str, ...] = ()

    @property
    def files_read(self) -> int:
        """How many data files of the current snapshot this plan reads (of ``files_total``;
        the removed ones it reads the keys of are ``removed``)."""
        if self.path == "up_to_date":
            return 0
        return len(self.files) if self.files is not None else self.files_total

    def full(self, reason: str) -> ReadPlan:
        """The full scan that replaces this plan, and why."""
        return ReadPlan("full_scan", None, self.files_total, self.snapshot_from, reason)


def plan_read(source: IcebergSource, completed: int | None, comparable: bool) -> ReadPlan:
    """Choose the read path of a run.

    Args:
        source: The table, pinned at its current snapshot.
        completed: The snapshot whose delivery last completed (checkpoint and fingerprints
            agree on it), or ``None``.
        comparable: The stored fingerprints were computed under the current configuration.
    """
    current = source.snapshot_id
    if comparable and completed is not None and current == completed:
        # Decided from the snapshot id alone: no manifest is read (the file count is the
        # snapshot summary's, when it has one).
        total = _summary_file_count(source)
        return ReadPlan("up_to_date", [], total, completed, "no new snapshot since")
    files = source.data_files()
    total = len(files) if files is not None else _task_count(source)
    if completed is None:
        return ReadPlan("full_scan", None, total, None, "no completed delivery yet")
    if not comparable:
        return ReadPlan("full_scan", None, total, completed, "the sent columns or mapping changed")
    why_not = _unreadable_history(source, completed)
    if why_not is None and files is not None:
        before = source.data_files(completed)
        if before is not None:
            added = sorted(set(files) - set(before))
            removed = tuple(sorted(set(before) - set(files)))
            if not removed:
                return ReadPlan("appended", added, total, completed, "only data files added since")
            return ReadPlan(
                "changed",
                added,
                total,
                completed,
                f"{len(added)} data file(s) added and {len(removed)} removed since",
                removed,
            )
        why_not = "the last delivered snapshot has delete files"
    return ReadPlan("full_scan", None, total, completed, why_not or "delete files in the table")


def _unreadable_history(source: IcebergSource, completed: int) -> str | None:
    """Why the snapshots since ``completed`` cannot say what changed; ``None`` if they can."""
    metadata = source.table.metadata
    start = metadata.snapshot_by_id(completed)
    if start is None:
        return f"snapshot {completed} has expired"
    snapshot = metadata.snapshot_by_id(source.snapshot_id) if source.snapshot_id else None
    while snapshot is not None and snapshot.snapshot_id != completed:
        if snapshot.schema_id != start.schema_id:
            return f"the schema changed in snapshot {snapshot.snapshot_id}"
        parent = snapshot.parent_snapshot_id
        snapshot = metadata.snapshot_by_id(parent) if parent is not None else None
    if snapshot is None:
        return f"snapshot {completed} is not an ancestor of the current one"
    return None


def _summary_file_count(source: IcebergSource) -> int:
    """Data files of the current snapshot as its summary counts them (else as planned)."""
    snapshot = (
        source.table.metadata.snapshot_by_id(source.snapshot_id)
        if source.snapshot_id is not None
        else None
    )
    summary = snapshot.summary if snapshot is not None else None
    counted = summary.additional_properties.get("total-data-files") if summary else None
    return int(counted) if counted is not None else _task_count(source)


def _task_count(source: IcebergSource) -> int:
    if source.snapshot_id is None:
        return 0
    return sum(1 for _ in source.table.scan(snapshot_id=source.snapshot_id).plan_files())
