"""A floe receipt as Dagster sees it: a materialization with the run's numbers, the
``rejected_rows`` check, or the step's failure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    from floe_core.egress.receipt import Receipt

__all__ = ["REJECTED_ROWS_CHECK", "failure", "materialization", "receipt_metadata"]

#: The asset check every floe asset has: rows the destination refused, against a threshold.
REJECTED_ROWS_CHECK = "rejected_rows"


def receipt_metadata(receipt: Receipt, snapshot_from: int | None) -> dict[str, Any]:
    """The materialization's metadata.

    ``rows_inserted``, ``rows_updated`` and ``rows_deleted`` are there for a destination whose
    ``sync_mode`` tells them apart (any but ``full``, which sends every row with the sink's own
    operation and counts them as ``rows_delivered``). A dry run has ``rows_planned``: what a run
    would send.

    Args:
        receipt: The run's receipt.
        snapshot_from: The snapshot delivered before this run, when there was one.
    """
    sync = receipt.sync
    start = sync.snapshot_from if sync is not None and sync.mode != "full" else snapshot_from
    meta: dict[str, Any] = {
        "status": receipt.status.value,
        "run_id": receipt.run_id,
        "destination": receipt.destination,
        "sink_type": receipt.sink_type,
        "source_table": receipt.source_table,
        "rows_read": receipt.rows_read,
        "rows_delivered": receipt.rows_delivered,
        "rows_rejected": receipt.rows_rejected,
        "rows_skipped": receipt.rows_skipped,
        "bytes_sent": receipt.bytes_transmitted,
        "duration_seconds": round(receipt.duration_seconds, 3),
        "snapshot_from": _snapshot(start),
        "snapshot_to": _snapshot(receipt.snapshot_id),
        "snapshots": f"{_snapshot(start)} -> {_snapshot(receipt.snapshot_id)}",
        "sync_mode": sync.mode if sync is not None else "full",
        "read_path": sync.read_path if sync is not None else "full_scan",
        "dry_run": bool(sync is not None and sync.dry_run),
    }
    if sync is not None and sync.mode != "full":
        meta["rows_inserted"] = sync.inserted
        meta["rows_updated"] = sync.updated
        meta["rows_deleted"] = sync.deleted
        meta["rows_unchanged"] = sync.unchanged
    if sync is not None and sync.dry_run:
        meta["rows_planned"] = sync.sent if sync.mode == "full" else sync.inserted + sync.updated
        if sync.mode != "full":
            meta["rows_planned_deletes"] = sync.deleted
    if receipt.idempotency_key:
        meta["idempotency_key"] = receipt.idempotency_key
    if receipt.errors:
        meta["errors"] = dg.MetadataValue.md("\n".join(f"- {e}" for e in receipt.errors))
    return meta


def materialization(
    receipt: Receipt,
    asset_key: dg.AssetKey,
    *,
    snapshot_from: int | None,
    max_rejected_rows: int,
    with_check: bool,
) -> dg.MaterializeResult[Any]:
    """The materialization of a receipt that is not ``failed``, with its ``rejected_rows``
    check (passed while the rows refused are at most ``max_rejected_rows``)."""
    checks = []
    if with_check:
        passed = receipt.rows_rejected <= max_rejected_rows
        checks.append(
            dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=REJECTED_ROWS_CHECK,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=None
                if passed
                else f"{receipt.rows_rejected} rows rejected by destination "
                f"'{receipt.destination}', more than the {max_rejected_rows} allowed; see "
                f"`floe egress rejected {receipt.destination}`",
                metadata={
                    "rows_rejected": receipt.rows_rejected,
                    "max_rejected_rows": max_rejected_rows,
                    "run_id": receipt.run_id,
                },
            )
        )
    return dg.MaterializeResult(
        asset_key=asset_key,
        metadata=receipt_metadata(receipt, snapshot_from),
        check_results=checks,
    )


def failure(receipts: Sequence[Receipt]) -> dg.Failure:
    """The step's failure for runs that failed: each destination with floe's (redacted)
    errors."""
    lines = [
        f"destination '{r.destination}' ({r.sink_type}) failed, run {r.run_id}: "
        + ("; ".join(r.errors) or "no error recorded")
        for r in receipts
    ]
    return dg.Failure(
        description="\n".join(lines),
        metadata={"run_ids": ", ".join(r.run_id for r in receipts)},
        allow_retries=True,
    )


def _snapshot(snapshot_id: int | None) -> str:
    # As text: Iceberg snapshot ids are 64-bit and JavaScript (Dagster's UI) rounds such ints.
    return str(snapshot_id) if snapshot_id is not None else "none"
