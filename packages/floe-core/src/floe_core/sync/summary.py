"""What a sync run did (or, in a dry run, would do): the part of the receipt it fills in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["SyncSummary"]


@dataclass
class SyncSummary:
    """Counts per operation, the snapshot range and how the source was read.

    Attributes:
        mode: The destination's ``sync_mode``.
        read_path: ``up_to_date``, ``appended``, ``changed`` or ``full_scan`` (see
            ``floe_core.sync.history``).
        read_reason: Why that path was taken.
        files_read: Data files of the current snapshot read.
        files_total: Data files in the current snapshot.
        files_removed: ``changed`` only: data files removed since the last delivery, whose
            key columns were read (in the snapshot delivered then) to find the keys gone.
        snapshot_from: The snapshot last delivered completely, if any.
        snapshot_to: The snapshot read.
        config_changed: The sent columns or mapping changed, so every row counted as changed.
        inserted: Rows of keys never synced before, confirmed (dry run: to send).
        updated: Rows of synced keys whose row changed, confirmed (dry run: to send).
        deleted: Keys gone from the source, deleted at the destination (dry run: to delete).
        unchanged: Rows read that were left alone.
        rejected_keys: Source rows not sent because their key is NULL or not unique.
        sent: Rows sent (dry run: to send), every operation together.
        dry_run: Nothing was sent and no state changed.
        samples: Dry run only: up to 5 payload rows per operation, field-mapped.
    """

    mode: str
    read_path: str = "full_scan"
    read_reason: str = ""
    files_read: int = 0
    files_total: int = 0
    files_removed: int = 0
    snapshot_from: int | None = None
    snapshot_to: int | None = None
    config_changed: bool = False
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    rejected_keys: int = 0
    sent: int = 0
    dry_run: bool = False
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyncSummary:
        """Rebuild a summary from ``dataclasses.asdict`` output (unknown keys ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
