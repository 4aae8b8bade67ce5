"""One task's part of an incremental sync on Ray: the diff of its own files, confirmed there.

The driver plans the sync as a local run does (``floe_core.sync.run.SyncRun``: the read path,
the key scan, the gone keys and the mass-delete check, before anything is sent) and puts the
stored fingerprints (keys and 64-bit hashes only, never rows) in Ray's object store once. Each
task of the run then reads the key columns of its own files, keeps the stored fingerprints of
those keys only, and splits its files' batches against them with the same code as a local run
(``floe_core.sync.stream.rows_to_send``): its diff costs what its files hold, and it holds the
fingerprints of its keys, not the table's.

The rows it sends are confirmed where it runs: each batch the destination confirms advances the
fingerprints of its rows (``floe_core.sync.confirmations``), in delta files named for the task
and the attempt, so tasks never overwrite each other's. A retried task (its worker died) diffs
against the same fingerprints the driver planned with, so it cuts the same batches; the run
journal skips those its dead attempt had confirmed, and their rows are recorded again (the same
keys with the same fingerprints), so none is lost from the fingerprints and none is sent twice.
Deletes are no task's: the driver sends them once, after every task went through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from floe_core.iceberg.source import IcebergSource
    from floe_core.sinks.base import Operation, SinkCapabilities
    from floe_core.sync.confirmations import Confirmations
    from floe_core.sync.diff import Differ
    from floe_core.sync.modes import ModeOperations
    from floe_core.sync.store import FingerprintStore

__all__ = ["SyncCounts", "SyncTaskPlan", "TaskDiff"]


@dataclass(frozen=True)
class SyncTaskPlan:
    """What the driver's sync plan gives every task of the run.

    Attributes:
        key_columns: The destination's ``primary_key``.
        duplicates: Keys more than one row of the source has (rejected, never merged).
        comparable: The stored fingerprints were made under the current configuration.
        operations: The operation each part of the diff is sent with.
        batch_size: The destination's ``batch_size`` as the driver resolved it for its sink.
    """

    key_columns: tuple[str, ...]
    duplicates: tuple[str, ...]
    comparable: bool
    operations: ModeOperations
    batch_size: int


@dataclass
class SyncCounts:
    """What one task's part of the diff came to.

    Attributes:
        inserted: Rows of new keys confirmed (by this attempt, or skipped as confirmed by
            an earlier one).
        updated: Rows of changed keys confirmed, likewise.
        unchanged: Rows of its files left alone.
        rejected_keys: Rows not sent for their NULL or duplicate key.
        complete: Every row it fed the engine was settled batch by batch.
        rows_read: Rows of its files read into the diff (the ones the destination refused
            included).
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_keys: int = 0
    complete: bool = False
    rows_read: int = 0


class TaskDiff:
    """The rows one task sends, and the confirmations that advance their fingerprints.

    Args:
        plan: The run's sync plan.
        stored: The stored fingerprints as the driver loaded them (``key``, ``fp``).
        source: The table at the run's snapshot.
        files: The task's data files.
        store: Where its confirmations are recorded (a writer of its own).
        run_id: The run.
        capabilities: Its sink's capabilities.
        on_rejected: Told of rows refused (for their key, or by the destination).
    """

    def __init__(
        self,
        plan: SyncTaskPlan,
        stored: pa.Table,
        source: IcebergSource,
        files: Sequence[str],
        store: FingerprintStore,
        run_id: str,
        capabilities: SinkCapabilities,
        on_rejected: Callable[[pa.Table, str], None],
    ) -> None:
        from floe_core.sinks.batching import resolve_batch_size
        from floe_core.sync.confirmations import Confirmations
        from floe_core.sync.summary import SyncSummary

        self.plan = plan
        self.source = source
        self.files = list(files)
        self.operation: Operation | None = plan.operations.new or plan.operations.changed
        self._on_rejected = on_rejected
        self._stored = self._slice(stored)
        self.confirmations: Confirmations = Confirmations(
            store,
            run_id,
            resolve_batch_size(plan.batch_size, capabilities, self.operation),
            plan.key_columns,
            on_rejected,
            None,
        )
        self._summary = SyncSummary(mode="")  # counts what it leaves alone
        self._differ: Differ | None = None

    def _slice(self, stored: pa.Table) -> pl.DataFrame:
        """The stored fingerprints of the keys this task's files hold (a key scan of them)."""
        import polars as pl

        from floe_core.sync.diff import scan_keys

        keys = scan_keys(
            self.source.batches(columns=list(self.plan.key_columns), files=self.files),
            self.plan.key_columns,
        ).keys
        frame = pl.from_arrow(stored)
        assert isinstance(frame, pl.DataFrame) and keys is not None
        return frame.filter(pl.col("key").is_in(keys.implode()))

    def stream(self) -> pa.RecordBatchReader:
        """The new and changed rows to send, fed through the confirmations."""
        import polars as pl
        import pyarrow as pa

        from floe_core.sync.diff import Differ
        from floe_core.sync.stream import rows_to_send

        differ = Differ(
            self._stored,
            self.plan.key_columns,
            pl.Series(list(self.plan.duplicates), dtype=pl.String),
            comparable=self.plan.comparable,
        )
        self._differ = differ
        batches = self.source.batches(files=self.files)
        rows = rows_to_send(
            batches,
            differ,
            self.plan.operations,
            self._summary,
            self.plan.key_columns,
            self._on_rejected,
        )
        return pa.RecordBatchReader.from_batches(batches.schema, self.confirmations.feed(rows))

    def counts(self) -> SyncCounts:
        """What the task's part came to, once its write ended (its confirmations flushed)."""
        self.confirmations.flush()
        confirmations = self.confirmations
        return SyncCounts(
            inserted=confirmations.inserted,
            updated=confirmations.updated,
            unchanged=self._summary.unchanged,
            rejected_keys=self._summary.rejected_keys,
            complete=confirmations.complete,
            rows_read=self._differ.rows if self._differ is not None else 0,
        )
