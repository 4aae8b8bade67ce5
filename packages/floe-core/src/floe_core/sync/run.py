"""One destination's incremental sync: plan before anything is sent, then send only the diff.

:class:`SyncRun` is built while a run prepares (so a mass delete is refused before any
destination gets a byte): it picks the read path from the snapshot history, reads the key
columns, and counts the deletes. Then :meth:`SyncRun.deliver` streams the rows to send through
the sink with the mode's operations (upserts first, then deletes) and advances the
fingerprints as batches are confirmed, or :meth:`SyncRun.preview` computes the same diff and
sends nothing (a dry run, ``floe_core.sync.preview``). A run on Ray sends the new and changed
rows from its tasks instead (``floe_core.executors.sync_task``), then calls
:meth:`SyncRun.conclude`, which sends the deletes once and folds the fingerprints, as
:meth:`SyncRun.deliver` does after its upserts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floe_core.egress.errors import EgressConfigError, MassDeleteError
from floe_core.sync.confirmations import Confirmations, Fed
from floe_core.sync.diff import Differ, KeyScan, count_keys, keys_to_rows, scan_keys
from floe_core.sync.fingerprint import config_fingerprint
from floe_core.sync.history import plan_read
from floe_core.sync.modes import ModeOperations, mode_operations
from floe_core.sync.store import FingerprintStore, SyncMeta, empty_fingerprints
from floe_core.sync.stream import rows_to_send
from floe_core.sync.summary import SyncSummary

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from floe_core.compiler import CompiledDestination
    from floe_core.iceberg.source import IcebergSource
    from floe_core.plugins.sink import EgressResult, SinkConnector
    from floe_core.sinks.base import SinkCapabilities

__all__ = ["SyncRun", "Upserted"]

Progress = Callable[[int], None]
Rejected = Callable[["pa.Table", str], None]


@dataclass(frozen=True)
class Upserted:
    """What the writes of a sync's new and changed rows did.

    Attributes:
        results: The writes' results (none when nothing was to be sent).
        inserted: Rows of new keys the destination confirmed.
        updated: Rows of changed keys the destination confirmed.
        complete: Every row fed to the writes was settled batch by batch.
    """

    results: list[EgressResult]
    inserted: int
    updated: int
    complete: bool


class SyncRun:
    """The plan and delivery of one destination's incremental sync.

    Args:
        destination: A compiled destination whose ``sync_mode`` is not ``full``.
        source: Its table, pinned at the current snapshot.
        store: The destination's fingerprints.
        checkpoint: The snapshot the state store says was last delivered completely.
        run_id: This run.
        allow_deletes: Let a mirror run delete more than ``max_delete_fraction``.
        target: ``fingerprint.target_fingerprint`` of where this run writes. When the stored
            fingerprints were sent elsewhere (another table, database or base URL), the run
            starts over: every row is sent, and (unless ``dry_run``) the old fingerprints are
            forgotten first.
        full_refresh: Start over as after a change of target (``--full-refresh``): forget
            what was synced (unless ``dry_run``) and send every row, as on the first run; a
            mirror run deletes nothing this once (floe deletes only keys it knows it sent).
        dry_run: Change nothing in the store.

    Raises:
        EgressConfigError: A ``primary_key`` column is not in the table.
        MassDeleteError: A mirror run would delete too much (nothing was sent).
    """

    def __init__(
        self,
        destination: CompiledDestination,
        source: IcebergSource,
        store: FingerprintStore,
        checkpoint: int | None,
        *,
        run_id: str,
        allow_deletes: bool = False,
        target: str = "",
        full_refresh: bool = False,
        dry_run: bool = False,
    ) -> None:
        self.destination = destination
        self.source = source
        self.store = store
        self.run_id = run_id
        self.key_columns = list(destination.primary_key)
        self.schema = source.schema
        self._check_key_columns()
        meta = store.meta()
        self.target = target or meta.target
        retargeted = bool(target and meta.target and meta.target != target)
        restart = retargeted or full_refresh
        if restart:  # what is stored was sent elsewhere, or is to be forgotten: start over
            if not dry_run:
                store.reset(SyncMeta(target=target, mode=destination.sync_mode))
            meta = SyncMeta(target=target)
        self.meta = meta
        self.config = config_fingerprint(self.schema, destination.field_mapping, self.key_columns)
        comparable = bool(meta.config_fingerprint) and meta.config_fingerprint == self.config
        same_mode = meta.mode == destination.sync_mode
        completed = meta.snapshot_id if checkpoint == meta.snapshot_id and same_mode else None
        self.read = plan_read(source, completed, comparable)
        if retargeted:
            self.read = self.read.full(
                "the destination's target changed (its config or Secret), so it gets every row"
            )
        elif full_refresh:
            self.read = self.read.full("--full-refresh: what was synced is forgotten")
        self.comparable = comparable
        #: Set by :meth:`deliver`: every source row was diffed and every batch sent was
        #: answered for (confirmed, or refused for good), so a row of the source that was
        #: not refused is now at the destination.
        self.went_through = False
        #: Set by :meth:`deliver`: what stopped a write before every batch was answered for
        #: (the destination unreachable, retries exhausted), so the run is ``failed``, not
        #: ``partial``, though some rows were refused before it stopped.
        self.stop_error: BaseException | None = None
        self._differ: Differ | None = None  # the one that splits the rows this run sends
        #: The stored fingerprints, the keys a mirror run deletes and the keys rejected as
        #: not unique; all ``None`` when the table is up to date (nothing is read, not even
        #: the fingerprints, and polars is not imported).
        self.stored: pl.DataFrame | None = None
        #: The stored fingerprints of the keys the read path reads (on a full scan, all of
        #: them): what the diff compares each batch with. Narrowed once here, so that a
        #: batch is looked up among the keys of the files read, not among every key stored.
        self.compared: pl.DataFrame | None = None
        self.gone: pl.Series | None = None
        self.duplicates: pl.Series | None = None
        keys = None
        if self.read.path != "up_to_date":
            import polars as pl

            # Restarted: what the store held is not what the target holds (a dry run leaves it).
            self.stored = empty_fingerprints() if restart else store.load()
            self.compared = self.stored
            self.gone = pl.Series([], dtype=pl.String)
            keys = self._keys(self.read.files)
            if self.read.path in ("appended", "changed"):
                gone, why_not = self._partial_diff(keys)
                if why_not is not None:
                    self.read = self.read.full(why_not)
                    del keys
                    keys = self._keys(None)
                else:
                    self.gone = gone
                    assert keys.keys is not None
                    self.compared = self.stored.filter(pl.col("key").is_in(keys.keys.implode()))
            elif destination.sync_mode == "mirror":
                assert keys.keys is not None
                self.gone = self.stored["key"].filter(
                    ~self.stored["key"].is_in(keys.keys.implode())
                )
            self.duplicates = keys.duplicates
            if destination.sync_mode != "mirror":
                self.gone = pl.Series([], dtype=pl.String)
        #: Rows of the files the read path reads (what :meth:`deliver` diffs), from the key scan.
        self.rows_to_read = keys.rows if keys is not None else 0
        self.summary = SyncSummary(
            mode=destination.sync_mode,
            read_path=self.read.path,
            read_reason=self.read.reason,
            files_read=self.read.files_read,
            files_total=self.read.files_total,
            files_removed=len(self.read.removed),
            snapshot_from=meta.snapshot_id,
            snapshot_to=source.snapshot_id,
            config_changed=bool(meta.config_fingerprint) and not comparable,
        )
        if keys is not None and destination.sync_mode == "mirror":
            rows = keys.rows if self.read.path == "full_scan" else source.row_count
            self._check_deletes(rows or 0, allow_deletes)

    @property
    def up_to_date(self) -> bool:
        """The table is at the snapshot last delivered completely: nothing to read or send."""
        return self.read.path == "up_to_date"

    @property
    def progress_total(self) -> int:
        """The rows a delivery goes through, as its progress counts them: every row the read
        path reads (sent, or left alone), then every key a mirror run deletes."""
        return self.rows_to_read + self.gone_count

    @property
    def gone_count(self) -> int:
        """Keys a mirror run deletes."""
        return 0 if self.gone is None else len(self.gone)

    def _keys(self, files: list[str] | None) -> KeyScan:
        """The key columns of ``files`` (``None``: the whole table). A full scan that is no
        mirror needs only the NULL and duplicate keys: it counts them without holding them."""
        if files is None and self.destination.sync_mode != "mirror":
            return count_keys(
                lambda: self.source.batches(columns=self.key_columns), self.key_columns
            )
        return scan_keys(
            self.source.batches(columns=self.key_columns, files=files), self.key_columns
        )

    def _partial_diff(self, added: KeyScan) -> tuple[pl.Series, str | None]:
        """The keys gone since the last delivery, read from the files removed since.

        Returns:
            The gone keys (floe synced them; no added file has them), or why the files read
            cannot tell, and every file must be read.
        """
        import polars as pl

        assert self.stored is not None and added.keys is not None
        removed: pl.Series | None = pl.Series([], dtype=pl.String)
        if self.read.removed:
            old = self.source.batches(
                columns=self.key_columns,
                files=self.read.removed,
                snapshot_id=self.read.snapshot_from,
            )
            removed = scan_keys(old, self.key_columns).keys
        assert removed is not None
        # The stored keys among the added ones: ``is_in`` hashes its argument, so the small
        # side (the added keys) is the one hashed, not the millions of stored keys.
        synced = self.stored["key"].filter(self.stored["key"].is_in(added.keys.implode()))
        # A synced key in an added file that no removed file had is in a file kept since as
        # well (a duplicate), or came back after it left: only the whole table can say which.
        elsewhere = synced.filter(~synced.is_in(removed.implode()))
        if len(elsewhere):
            return removed, (
                f"{len(elsewhere)} key(s) of the added data files were synced before from "
                "files still in the table or since removed (a duplicate key, or a key that "
                "came back): every file is read"
            )
        if self.source.row_count is None:
            return removed, "the snapshot does not say how many rows it has: every file is read"
        stored = self.stored["key"]  # in the order floe synced them
        gone = stored.filter(stored.is_in(removed.implode()) & ~stored.is_in(added.keys.implode()))
        return gone, None

    def _check_key_columns(self) -> None:
        from floe_core.egress.prepare import check_key_columns

        check_key_columns(self.destination, self.source.table_name, self.schema)

    def _check_deletes(self, rows: int, allow_deletes: bool) -> None:
        assert self.stored is not None
        synced, gone = len(self.stored), self.gone_count
        if allow_deletes or not gone:
            return
        name = self.destination.name
        hint = (
            "if this is intended, run again with --allow-deletes; otherwise check the source "
            "table (or raise max_delete_fraction)"
        )
        if rows == 0:
            raise MassDeleteError(
                f"destination '{name}': the source table is empty; mirroring it would delete "
                f"all {synced} key(s) floe synced. Nothing was sent",
                hint=hint,
            )
        limit = self.destination.max_delete_fraction
        if gone > limit * synced:
            raise MassDeleteError(
                f"destination '{name}': mirroring would delete {gone} of the {synced} key(s) "
                f"floe synced ({gone / synced:.0%}, more than max_delete_fraction "
                f"{limit:g}). Nothing was sent",
                hint=hint,
            )

    # --- the diff -----------------------------------------------------------------------

    def differ(self) -> Differ:
        """What splits source batches against the stored fingerprints (after planning)."""
        assert self.compared is not None and self.duplicates is not None
        return Differ(self.compared, self.key_columns, self.duplicates, comparable=self.comparable)

    def operations(self, supported: frozenset[Any]) -> ModeOperations:
        """The operations the mode sends with, given the sink's.

        Raises:
            EgressConfigError: The sink cannot do an operation the mode needs.
        """
        outcome = mode_operations(self.destination.sync_mode, supported)
        if isinstance(outcome, str):
            raise EgressConfigError(
                f"destination '{self.destination.name}': {outcome}",
                hint="choose another sync_mode, or change the destination's settings",
            )
        return outcome

    def _to_send(
        self, operations: ModeOperations, on_rejected: Rejected | None
    ) -> Iterator[tuple[pa.RecordBatch, Fed]]:
        if self.stored is None:
            return iter(())
        batches = self.source.batches(files=self.read.files)
        self._differ = self.differ()
        return rows_to_send(
            batches, self._differ, operations, self.summary, self.key_columns, on_rejected
        )

    @property
    def rows_read(self) -> int:
        """Rows of the source read into the diff so far: sent (confirmed or refused), left
        alone, or not sent for their key."""
        return self._differ.rows if self._differ is not None else 0

    # --- delivery -----------------------------------------------------------------------

    def nothing_to_send(self) -> EgressResult:
        """The result of a run that finds the table up to date: nothing read, nothing sent,
        the fingerprints and their meta left as they are (no sink is needed for it)."""
        assert self.up_to_date
        return _combined([], 0)

    def capabilities(self, sink: Any) -> SinkCapabilities:
        """The sink's capabilities (what operations it can do).

        Raises:
            EgressConfigError: The sink is not built on floe's sink SDK.
        """
        capabilities = getattr(sink, "effective_capabilities", None)
        if capabilities is None:
            raise EgressConfigError(
                f"destination '{self.destination.name}': sync_mode "
                f"{self.destination.sync_mode!r} needs a sink built on floe's sink SDK, which "
                "says what operations it can do; this plugin's sink does not",
                hint="use sync_mode: full with this sink type",
            )
        result: SinkCapabilities = capabilities
        return result

    def deliver(
        self,
        plugin: SinkConnector,
        sink: Any,
        *,
        batch_size: int,
        on_progress: Progress | None,
        on_rejected: Rejected | None,
    ) -> EgressResult:
        """Send the diff; advance the fingerprints as batches are confirmed.

        Args:
            plugin: The destination's plugin.
            sink: Its sink.
            batch_size: Rows per batch the engine sends to this sink (one for an operation
                it sends one row per request).
            on_progress: Told the rows done so far.
            on_rejected: Told the rows refused (by the destination, or for their key).
        """
        from floe_core.sinks.batching import resolve_batch_size

        capabilities = self.capabilities(sink)
        operations = self.operations(capabilities.operations)
        results: list[EgressResult] = []
        operation = operations.new or operations.changed
        told = _ReadProgress(on_progress, self.summary)
        upserts = Confirmations(
            self.store,
            self.run_id,
            resolve_batch_size(batch_size, capabilities, operation),
            self.key_columns,
            on_rejected,
            told.settled if on_progress is not None else None,
        )
        if self.stored is not None and operation is not None:
            stream = upserts.feed(told.reading(self._to_send(operations, on_rejected)))
            results.append(
                self._write(
                    plugin,
                    sink,
                    _reader(self.schema, stream),
                    operation=operation,
                    on_progress=upserts.on_progress,
                    on_rejected=upserts.on_rejected,
                )
            )
        upserts.flush()
        upserted = Upserted(results, upserts.inserted, upserts.updated, upserts.complete)
        return self.conclude(
            plugin,
            sink,
            upserted,
            batch_size=batch_size,
            on_progress=on_progress,
            on_rejected=on_rejected,
        )

    def conclude(
        self,
        plugin: SinkConnector,
        sink: Any,
        upserted: Upserted,
        *,
        batch_size: int,
        on_progress: Progress | None,
        on_rejected: Rejected | None,
    ) -> EgressResult:
        """After the new and changed rows went: the deletes, once, then the fingerprints' meta.

        The deletes are sent only when every upsert write succeeded (a mirror run never
        deletes on a half-delivered source), from this process.

        Args:
            plugin: The destination's plugin.
            sink: Its sink (the deletes go through it).
            upserted: What the upsert writes did (one local write, or the tasks of a run).
            batch_size: As for :meth:`deliver`.
            on_progress: Told the rows done so far (the upserted rows included).
            on_rejected: Told the rows refused.

        Returns:
            The run's result, upserts and deletes together.
        """
        from floe_core.sinks.batching import resolve_batch_size

        capabilities = self.capabilities(sink)
        operations = self.operations(capabilities.operations)
        results = list(upserted.results)
        summary = self.summary
        deletes = Confirmations(
            self.store,
            self.run_id,
            resolve_batch_size(batch_size, capabilities, operations.gone),
            self.key_columns,
            on_rejected,
            on_progress,
            progress_base=self.rows_to_read,  # the deletes go once every row read is done
        )
        if operations.gone is not None and self.gone_count and all(r.success for r in results):
            stream = deletes.feed(self._deletes(batch_size))
            results.append(
                self._write(
                    plugin,
                    sink,
                    _reader(self.schema, stream),
                    operation=operations.gone,
                    on_progress=deletes.on_progress,
                    on_rejected=deletes.on_rejected,
                )
            )
        deletes.flush()
        summary.inserted, summary.updated = upserted.inserted, upserted.updated
        summary.deleted = deletes.deleted
        summary.sent = upserted.inserted + upserted.updated + deletes.deleted
        result = _combined(results, summary.rejected_keys)
        complete = (
            result.success
            and upserted.complete
            and deletes.complete
            and (operations.gone is None or self.gone_count == deletes.deleted)
        )
        self.went_through = self.read.path == "full_scan" and upserted.complete and deletes.complete
        self._finish(complete)
        return result

    def _write(self, plugin: SinkConnector, sink: Any, reader: Any, **options: Any) -> Any:
        """One write of the diff; a plugin on floe's engine also says what stopped it."""
        from floe_core.sinks.plugin import SinkPlugin

        if not isinstance(plugin, SinkPlugin):
            return plugin.write(sink, reader, **options)
        outcome = plugin.deliver(sink, reader, **options)
        if self.stop_error is None:
            self.stop_error = outcome.error
        return outcome.result

    def _deletes(self, batch_size: int) -> Iterator[tuple[pa.RecordBatch, Fed]]:
        import pyarrow as pa

        assert self.gone is not None
        keys = self.gone.to_arrow().cast(pa.string())
        for start in range(0, len(keys), batch_size):
            chunk = keys.slice(start, batch_size)
            flags = pa.array([False] * len(chunk), pa.bool_())
            yield keys_to_rows(chunk, self.schema, self.key_columns), Fed(chunk, None, flags)

    def _finish(self, complete: bool) -> None:
        """Fold this run's confirmations into the store and say what they mean."""
        # After an incomplete run under a changed configuration, the rows not sent again
        # still have fingerprints of the old one: keep saying so, so they count as changed.
        fresh = not self.meta.config_fingerprint  # every stored row is from this configuration
        config = (
            self.config if complete or self.comparable or fresh else self.meta.config_fingerprint
        )
        snapshot = self.source.snapshot_id if complete else None
        meta = SyncMeta(config, snapshot, self.run_id, self.destination.sync_mode, self.target)
        self.stored = self.compared = None  # the fold reads the files, not the loaded copy
        self.store.compact(meta)

    # --- dry run ------------------------------------------------------------------------

    def preview(self, supported: frozenset[Any] | None = None) -> SyncSummary:
        """The diff a real run would send, with sample payload rows; nothing sent or stored.

        Args:
            supported: The sink's operations, when known; else the mode's preferred ones.
        """
        from floe_core.sync.preview import preview

        return preview(self, supported)

    def rows_to_send(
        self, operations: ModeOperations, on_rejected: Rejected | None
    ) -> Iterator[tuple[pa.RecordBatch, Fed]]:
        """The new and changed rows of the files the read path reads, as a local run feeds
        them to the engine (none when the table is up to date)."""
        return self._to_send(operations, on_rejected)


class _ReadProgress:
    """Tells ``forward`` the rows of the read done so far: those sent and settled (confirmed
    or refused) and those left alone (unchanged, or not sent for their key), so that a run's
    progress ends at :attr:`SyncRun.progress_total` and moves while unchanged rows stream by."""

    def __init__(self, forward: Progress | None, summary: SyncSummary) -> None:
        self._forward = forward
        self._summary = summary
        self._settled = 0

    def settled(self, rows_done: int) -> None:
        """The engine settled ``rows_done`` of the rows sent so far."""
        self._settled = rows_done
        self._tell()

    def reading(
        self, items: Iterator[tuple[pa.RecordBatch, Fed]]
    ) -> Iterator[tuple[pa.RecordBatch, Fed]]:
        """``items`` as they are, telling the rows left alone as each source batch is split."""
        for item in items:
            self._tell()
            yield item

    def _tell(self) -> None:
        if self._forward is not None:
            summary = self._summary
            self._forward(self._settled + summary.unchanged + summary.rejected_keys)


def _reader(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> pa.RecordBatchReader:
    import pyarrow as pa

    return pa.RecordBatchReader.from_batches(schema, batches)


def _combined(results: list[EgressResult], rejected_keys: int) -> EgressResult:
    """One result for the writes of a run (upserts, then deletes)."""
    from floe_core.plugins.sink import EgressResult

    errors = [error for result in results for error in result.errors]
    if rejected_keys:
        errors.append(
            f"{rejected_keys} source row(s) not sent: their primary key is NULL or "
            "not unique (kept as rejected rows)"
        )
    checksums = "".join(result.checksum for result in results)
    return EgressResult(
        success=all(result.success for result in results) and not rejected_keys,
        rows_delivered=sum(result.rows_delivered for result in results),
        bytes_transmitted=sum(result.bytes_transmitted for result in results),
        duration_seconds=sum(result.duration_seconds for result in results),
        checksum=(
            results[0].checksum
            if len(results) == 1
            else f"sha256:{hashlib.sha256(checksums.encode()).hexdigest()}"
            if results
            else ""
        ),
        delivery_timestamp=results[-1].delivery_timestamp if results else "",
        idempotency_key="+".join(result.idempotency_key for result in results),
        destination_record_ids=[i for result in results for i in result.destination_record_ids],
        errors=errors,
        rows_rejected=sum(result.rows_rejected for result in results) + rejected_keys,
        rows_skipped=sum(result.rows_skipped for result in results),
    )
