"""The rows a sync sends, batch by batch: each source batch split against the fingerprints.

:func:`rows_to_send` is the one place that turns source batches into what a sync writes (new
rows, changed rows, each with its keys and fingerprints for the store once confirmed) and
counts what it leaves alone: a local run calls it over the files its read path reads, a task
of a run on Ray over its own files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from floe_core.sync.confirmations import Fed
from floe_core.sync.diff import DUPLICATE_KEY_REASON, NULL_KEY_REASON

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.sync.diff import Differ
    from floe_core.sync.modes import ModeOperations
    from floe_core.sync.summary import SyncSummary

__all__ = ["rows_to_send"]


def rows_to_send(
    batches: Iterable[pa.RecordBatch],
    differ: Differ,
    operations: ModeOperations,
    summary: SyncSummary,
    key_columns: Sequence[str],
    on_rejected: Callable[[pa.Table, str], None] | None,
) -> Iterator[tuple[pa.RecordBatch, Fed]]:
    """The new and changed rows of ``batches`` the mode sends, each with what it was fed as.

    Rows left alone are counted in ``summary.unchanged`` (a mode that does not send new or
    changed rows leaves those too); rows with a NULL or duplicate key are counted in
    ``summary.rejected_keys`` and handed to ``on_rejected`` with the reason.
    """
    import pyarrow as pa

    columns = ", ".join(key_columns)
    for batch in batches:
        split = differ.split(batch)
        summary.unchanged += split.unchanged
        for rows, reason in (
            (split.null_keys, NULL_KEY_REASON),
            (split.duplicate_keys, DUPLICATE_KEY_REASON),
        ):
            if rows.num_rows:
                summary.rejected_keys += rows.num_rows
                if on_rejected is not None:
                    on_rejected(pa.Table.from_batches([rows]), reason.format(columns=columns))
        if operations.new is not None:
            flags = pa.array([True] * split.new.num_rows, pa.bool_())
            yield split.new, Fed(split.new_keys, split.new_fps, flags)
        else:
            summary.unchanged += split.new.num_rows
        if operations.changed is not None:
            flags = pa.array([False] * split.changed.num_rows, pa.bool_())
            yield split.changed, Fed(split.changed_keys, split.changed_fps, flags)
        else:
            summary.unchanged += split.changed.num_rows
