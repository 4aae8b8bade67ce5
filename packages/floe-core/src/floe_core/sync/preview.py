"""A dry run of an incremental sync: the diff counted and sampled, nothing sent or stored.

:func:`preview` reads and diffs exactly as a real run's planning and delivery do (the same
read path, key scan and split of every batch), in the process it runs in: a dry run never
starts Ray, so its counts are the ones the following run reports, on either executor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from floe_core.sync.diff import keys_to_rows

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.sync.run import SyncRun
    from floe_core.sync.summary import SyncSummary

__all__ = ["SAMPLE_ROWS", "preview"]

#: Payload rows a dry run shows per operation.
SAMPLE_ROWS = 5


def preview(sync: SyncRun, supported: frozenset[Any] | None = None) -> SyncSummary:
    """The diff ``sync`` would send, with sample payload rows; nothing sent or stored.

    Args:
        sync: A planned sync.
        supported: The sink's operations, when known; else the mode's preferred ones.
    """
    from floe_core.sinks.base import Operation

    operations = sync.operations(supported or frozenset(Operation))
    summary = sync.summary
    summary.dry_run = True
    mapping = sync.destination.field_mapping or {}
    samples: dict[str, list[dict[str, Any]]] = {}

    def sample(label: str, rows: pa.RecordBatch) -> None:
        kept = samples.setdefault(label, [])
        if len(kept) < SAMPLE_ROWS and rows.num_rows:
            head = rows.slice(0, SAMPLE_ROWS - len(kept))
            kept.extend(
                {mapping.get(k, k): _plain(v) for k, v in row.items()} for row in head.to_pylist()
            )

    for batch, fed in sync.rows_to_send(operations, None):
        if not batch.num_rows:
            continue
        if fed.is_new[0].as_py():
            summary.inserted += batch.num_rows
            sample(f"{(operations.new or Operation.UPSERT).value} (new)", batch)
        else:
            summary.updated += batch.num_rows
            sample(f"{(operations.changed or Operation.UPSERT).value} (changed)", batch)
    if operations.gone is not None and sync.gone is not None and len(sync.gone):
        summary.deleted = len(sync.gone)
        rows = keys_to_rows(sync.gone.head(SAMPLE_ROWS).to_arrow(), sync.schema, sync.key_columns)
        samples["delete"] = [
            {mapping.get(k, k): _plain(row[k]) for k in sync.key_columns}
            for row in rows.to_pylist()
        ]
    summary.sent = summary.inserted + summary.updated + summary.deleted
    summary.samples = {label: rows for label, rows in samples.items() if rows}
    return summary


def _plain(value: Any) -> Any:
    """A sample value as JSON shows it: decimals as exact text, times in ISO-8601."""
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value
