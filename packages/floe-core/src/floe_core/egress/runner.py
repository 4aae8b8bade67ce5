"""Run destinations of a compiled project: read the Gold table, push it, keep the receipt.

A run has two phases, so that bad input never sends a byte:

1. **Prepare** every selected destination: resolve its Secret (and the catalog's), check the
   keys the sink needs and where it connects (``egress_policy``, :mod:`floe_core.egress.gate`:
   checked again on every name resolved while the run lasts), open the Iceberg table at its
   current snapshot, check that the field mapping names only columns the table has, and let the
   plugin build the sink (which checks the destination is reachable and accepts the
   credentials). Any failure stops the whole run.
   Before any of this, the run takes the destination's lease (:mod:`floe_core.egress.lease`):
   while another run delivers to it, this one is refused.
2. **Deliver** each destination in turn: stream the table batch by batch into the plugin's
   ``write`` and store the receipt. A destination that fails here does not stop the others.

Every run's receipt is stored in the state store, together with rows the destination rejected
and, after a complete delivery, a checkpoint of the source snapshot. As the destination confirms
batches they are recorded in the run journal (:mod:`floe_core.egress.journal`); a run after one
that did not finish, on the same snapshot, does not send the batches that one delivered (for a
sink built on floe's engine, ``SinkPlugin``).

The sink's connection config is the destination's ``config`` merged with its Secret's keys (a
key in both comes from the Secret). Like every path in a project, a relative path in it (a
SQLite file, say) is relative to the floe.yaml directory: a ``SinkPlugin``'s sink says which
of its settings are paths (``Sink.project_paths``).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from floe_core.egress import prepare as steps
from floe_core.egress.destinations import catalog_config, sink_config
from floe_core.egress.errors import PreparationError, RunInterruptedError, StateStoreError
from floe_core.egress.gate import EgressGate
from floe_core.egress.observability import (
    get_logger,
    record_error,
    redactor,
    run_context,
    span,
)
from floe_core.egress.receipt import Receipt, RunStatus, new_run_id, utc_now
from floe_core.egress.rejects import RejectTracker, row_identity
from floe_core.errors import FloeError

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.compiler import CompiledDestination, EgressPlan
    from floe_core.egress.lease import LeaseKeeper, Leases, Unleased
    from floe_core.egress.progress import Progress
    from floe_core.egress.state import StateStore
    from floe_core.executors.choice import ExecutorType
    from floe_core.iceberg.source import IcebergSource
    from floe_core.plugins.sink import SinkConfig, SinkConnector
    from floe_core.registry import PluginRegistry
    from floe_core.secrets.resolver import SecretResolver
    from floe_core.sync.run import SyncRun

__all__ = ["EgressRunner"]


@dataclass
class _Prepared:
    """A destination ready to deliver: everything checked, nothing sent yet."""

    destination: CompiledDestination
    plugin: SinkConnector
    source: IcebergSource
    sink: Any
    receipt: Receipt
    prepare_seconds: float
    lease: LeaseKeeper | Unleased
    stop: threading.Event
    rejected_errors: list[str] = field(default_factory=list)
    sync: SyncRun | None = None
    resume: frozenset[str] = frozenset()  # keys of batches unfinished runs delivered
    rejects: RejectTracker = field(default_factory=lambda: RejectTracker(set()))


class EgressRunner:
    """Runs destinations of one compiled project.

    Args:
        plan: The compiled project.
        registry: Installed plugins (the one ``plan`` was compiled against).
        secrets: Resolves ``connection_secret_ref`` and the catalog's ``credential_secret_ref``.
        state: Where receipts, rejected rows and checkpoints are stored.
        progress: Told how delivery advances; nothing is shown when None.
        dry_run: Read and diff as a run would, then send nothing, build no sink and store
            nothing; the receipts say what a run would do. Always in this process, with
            any executor (Ray is not started): the diff is planned here either way.
        allow_deletes: Let a ``mirror`` run delete more than its ``max_delete_fraction``.
        full_refresh: Forget what each sync destination was sent and send it every row, as
            on its first run (``--full-refresh``: the destination was emptied or rebuilt).
        clock: Seconds since the epoch, for destination leases (a test passes a fake).
        executor: ``local`` or ``ray``, over the manifest's ``executor.type``
            (:mod:`floe_core.executors`).
    """

    def __init__(
        self,
        plan: EgressPlan,
        *,
        registry: PluginRegistry,
        secrets: SecretResolver,
        state: StateStore,
        progress: Progress | None = None,
        dry_run: bool = False,
        allow_deletes: bool = False,
        full_refresh: bool = False,
        clock: Callable[[], float] = time.time,
        executor: ExecutorType | None = None,
    ) -> None:
        from floe_core.egress.journal import RunJournal
        from floe_core.egress.lease import Leases, lease_seconds
        from floe_core.executors.choice import executor_for

        self.plan = plan
        self.dry_run = dry_run
        self.allow_deletes = allow_deletes
        self.full_refresh = full_refresh
        self.registry = registry
        self.secrets = secrets
        self.state = state
        self.progress = progress
        self.log = get_logger()
        self.leases: Leases = Leases(
            state, seconds=lease_seconds(plan.manifest.state.lease_seconds), clock=clock
        )
        self.journal = RunJournal(state)
        self.gate = EgressGate(plan)  # manifest.yaml's egress_policy, before and while connecting
        self._interrupted = threading.Event()
        self.executor = None if dry_run else executor_for(plan.manifest.executor, executor)
        if dry_run and (executor or plan.manifest.executor.type) != "local":
            # The diff a dry run prints is planned by the same code on either executor.
            self.log.info("egress.dry_run_here", executor="local", configured="ray")

    def run(self, destinations: Sequence[CompiledDestination]) -> list[Receipt]:
        """Prepare every destination, then deliver each; return one receipt per destination.

        Raises:
            FloeError: Preparing a destination failed (nothing was sent to any destination);
                its failed receipt is stored in the run history. Every destination is
                prepared even so, and several failures raise one ``PreparationError``.
            RunInterruptedError: Ctrl-C during delivery: the destination being delivered
                stopped after its batches in flight and was recorded as failed with its true
                counts; destinations after it were not started. The receipts are in it.
        """
        with self.gate:
            return self._run(destinations)

    def _run(self, destinations: Sequence[CompiledDestination]) -> list[Receipt]:
        prepared: list[_Prepared] = []
        failures: list[tuple[str, FloeError]] = []
        try:
            for destination in destinations:
                try:
                    prepared.append(self._prepare(destination))
                except FloeError as exc:  # a problem of this destination: go on to the rest
                    failures.append((destination.name, exc))
        except BaseException:
            for item in prepared:
                _release(item)
            raise
        if failures:
            for item in prepared:
                _release(item)
            if len(failures) == 1:
                raise failures[0][1]
            raise PreparationError(failures, len(destinations))
        receipts: list[Receipt] = []
        for index, item in enumerate(prepared):
            if self._interrupted.is_set():
                for rest in prepared[index:]:
                    _release(rest)
                raise RunInterruptedError(receipts)
            receipts.append(self._deliver(item))
        if self._interrupted.is_set():
            raise RunInterruptedError(receipts)
        return receipts

    # --- prepare ------------------------------------------------------------------------

    def _prepare(self, destination: CompiledDestination) -> _Prepared:
        started = time.perf_counter()
        if self.progress is not None:
            self.progress.preparing(f"preparing {destination.name}")
        receipt = Receipt(
            run_id=new_run_id(),
            destination=destination.name,
            sink_type=destination.sink_type,
            source_table=destination.source_table or "",
            plugin=destination.plugin_name,
        )
        with (
            run_context(run_id=receipt.run_id, destination=destination.name),
            span("floe.egress.prepare", _span_attributes(receipt)),
        ):
            source = None
            keeper = None
            stop = threading.Event()  # set on Ctrl-C, or when another run took the lease over
            try:
                keeper = self._take_lease(receipt, on_lost=stop.set)
                plugin = steps.sink_connector(self.registry, destination)
                secret = steps.destination_secret(self.secrets, destination, plugin)
                config = sink_config(self.plan, plugin, destination, secret)
                self.gate.admit(receipt, plugin, destination, config)  # where it may connect
                catalog = self.gate.admit_catalog(catalog_config(self.plan, self.secrets))
                source = steps.open_source(catalog, destination)
                receipt.snapshot_id = source.snapshot_id
                steps.field_mapping(destination, source.schema)
                sync = self._plan_sync(destination, source, receipt, plugin, config)
                # A dry run opens no connection that could write, and a table still at the
                # snapshot last delivered has nothing to send: no sink at all.
                idle = self.dry_run or (sync is not None and sync.up_to_date)
                sink = None if idle else steps.create_sink(plugin, destination, config)
            except BaseException as exc:
                if source is not None:
                    source.close()
                if keeper is not None:
                    _stop_keeping(keeper)
                self._record_failed_preparation(receipt, exc, time.perf_counter() - started)
                raise
            self.log.info(
                "egress.prepared",
                sink_type=destination.sink_type,
                source_table=destination.source_table,
                snapshot_id=receipt.snapshot_id,
            )
        prepared = _Prepared(
            destination,
            plugin,
            source,
            sink,
            receipt,
            time.perf_counter() - started,
            keeper,
            stop,
            sync=sync,
        )
        # An incremental sync resumes from its fingerprints, not from the journal: what its Ray
        # tasks journal is for their own retries within the run.
        prepared.resume = self._resume_point(receipt) if sync is None else frozenset()
        prepared.rejects = self._outstanding_rejects(destination)
        return prepared

    def _take_lease(self, receipt: Receipt, on_lost: Callable[[], None]) -> LeaseKeeper | Unleased:
        """Hold the destination for this run; a run found dead holding it is marked failed.
        A dry run holds nothing (it neither waits for nor blocks a run).

        Raises:
            LeaseHeldError: Another live run is delivering to the destination.
        """
        from floe_core.egress.lease import LeaseKeeper, Unleased

        if self.dry_run:
            return Unleased(self.leases, receipt.destination, log=self.log)
        lease = self.leases.acquire(receipt.destination, receipt.run_id)
        dead = lease.taken_over
        if dead is not None:
            self.log.warning(
                "egress.lease_taken_over", previous_run_id=dead.run_id, host=dead.host, pid=dead.pid
            )
            self.state.mark_interrupted(
                dead.run_id,
                rows_delivered=self.journal.rows_confirmed(dead.run_id),
                reason=f"interrupted: the run stopped without finishing ({dead.host}, pid "
                f"{dead.pid} renewed its lease for the last time {self.leases.seconds:g} s or "
                f"more before run {receipt.run_id} took it over)",
            )
        return LeaseKeeper(self.leases, lease, on_lost=on_lost, log=self.log)

    # --- rejected rows ------------------------------------------------------------------

    def _outstanding_rejects(self, destination: CompiledDestination) -> RejectTracker:
        from floe_core.egress.rejects import RejectedRows

        key_columns = getattr(destination, "primary_key", None) or None
        try:
            outstanding = RejectedRows(self.state).outstanding_keys(destination.name)
        except StateStoreError as exc:
            self.log.warning("egress.rejects_not_read", error=str(exc))
            outstanding = set()
        return RejectTracker(outstanding, key_columns)

    def _settle_rejects(self, item: _Prepared, *, went_through: bool) -> None:
        """After a run that went through (nothing stopped it: every batch was answered for,
        even if every row was refused) and sent every batch, outstanding rejects it delivered
        are resolved and those gone from the source dropped."""
        from floe_core.egress.rejects import RejectedRows

        receipt, tracker, sync = item.receipt, item.rejects, item.sync
        if not went_through or not tracker.outstanding or item.resume:
            return
        if sync is not None and not sync.went_through:
            return
        if sync is not None:  # it sent only the diff: which outstanding rows are still there?
            tracker.watch_all(item.source.batches(columns=tracker.key_columns))
        try:
            resolved, dropped = RejectedRows(self.state).settle(
                receipt.destination, receipt.run_id, seen=tracker.seen, refused=tracker.refused
            )
        except StateStoreError as exc:
            receipt.errors.append(f"rejected rows not updated: {exc}")
            return
        self.log.info("egress.rejects_settled", resolved=resolved, dropped=dropped)

    # --- run journal --------------------------------------------------------------------

    def _resume_point(self, receipt: Receipt) -> frozenset[str]:
        """Keys of the batches of this snapshot that runs which did not finish delivered."""
        try:
            done = self.journal.confirmed(receipt.destination, receipt.snapshot_id)
        except StateStoreError as exc:  # then everything is sent, as without a journal
            self.log.warning("egress.journal_not_read", error=str(exc))
            return frozenset()
        if done:
            self.log.info("egress.resuming", batches_done=len(done), rows_done=sum(done.values()))
        return frozenset(done)

    def _journal_options(self, item: _Prepared) -> dict[str, Any]:
        """What the run journal adds to a write: batches not to send, and where to record."""
        receipt = item.receipt

        def confirmed(key: str, rows: int) -> None:
            try:
                self.journal.record(
                    receipt.destination, receipt.run_id, receipt.snapshot_id, key, rows
                )
            except StateStoreError as exc:  # a later resume re-sends this batch
                self.log.warning("egress.journal_not_written", error=str(exc))

        return {"confirmed": item.resume, "on_confirmed": confirmed}

    def _plan_sync(
        self,
        destination: CompiledDestination,
        source: IcebergSource,
        receipt: Receipt,
        plugin: SinkConnector,
        config: SinkConfig,
    ) -> SyncRun | None:
        """The incremental sync of a destination with a ``sync_mode`` other than ``full``;
        ``plugin`` and ``config`` say where it writes (``Sink.target``)."""
        if destination.sync_mode == "full":
            return None
        from floe_core.sync.fingerprint import target_fingerprint
        from floe_core.sync.run import SyncRun
        from floe_core.sync.store import fingerprint_store

        checkpoint = self.state.checkpoint(destination.name)
        with span("floe.egress.sync_plan"):
            sync = SyncRun(
                destination,
                source,
                fingerprint_store(self.state, self.plan.project_dir, destination.name),
                checkpoint.snapshot_id if checkpoint is not None else None,
                run_id=receipt.run_id,
                allow_deletes=self.allow_deletes,
                target=target_fingerprint(destination.sink_type, _target(plugin, config)),
                full_refresh=self.full_refresh,
                dry_run=self.dry_run,
            )
        receipt.sync = sync.summary
        return sync

    def _record_failed_preparation(
        self, receipt: Receipt, exc: BaseException, seconds: float
    ) -> None:
        receipt.status = RunStatus.FAILED
        receipt.finished_at = utc_now()
        receipt.duration_seconds = seconds
        receipt.errors = [_error_text(exc)]
        self.log.error("egress.failed", phase="prepare", error=receipt.errors[0])
        if self.dry_run:
            return  # a dry run changes no state, not even the run history
        try:
            self.state.start_run(receipt)
        except StateStoreError as state_error:
            self.log.error("egress.history_not_saved", error=str(state_error))

    # --- deliver ------------------------------------------------------------------------

    def _deliver(self, item: _Prepared) -> Receipt:
        if self.dry_run:
            return self._preview(item)
        receipt = item.receipt
        started = time.perf_counter()
        counter = _RowCounter(item.rejects.watch)
        with (
            run_context(run_id=receipt.run_id, destination=receipt.destination),
            span("floe.egress.destination", _span_attributes(receipt)) as current,
        ):
            try:
                self.state.start_run(receipt)
                # A sync goes through the rows its read path reads (and the keys it deletes).
                total = item.source.row_count if item.sync is None else item.sync.progress_total
                self.log.info("egress.started", rows_total=total)
                if self.progress is not None:
                    self.progress.start(receipt.destination, total)
                result, stop_error = self._send(item, counter)
                went_through = _apply_result(receipt, result, item.rejected_errors, stop_error)
                self._settle_rejects(item, went_through=went_through)
                if item.stop.is_set():
                    receipt.errors.append(self._stop_reason(item, receipt))
            except KeyboardInterrupt:
                receipt.status = RunStatus.FAILED
                receipt.errors.append("interrupted")
                raise
            except Exception as exc:
                record_error(current, exc)
                receipt.status = RunStatus.FAILED
                receipt.errors.append(_error_text(exc))
                self.log.error(
                    "egress.failed",
                    phase="deliver",
                    error=receipt.errors[-1],
                    exc_info=not isinstance(exc, FloeError),
                )
            finally:
                if self.progress is not None:
                    self.progress.finish(receipt.status is not RunStatus.FAILED)
                receipt.rows_read = counter.rows
                receipt.finished_at = utc_now()
                receipt.duration_seconds = item.prepare_seconds + time.perf_counter() - started
                receipt.errors = [redactor.text(error) for error in receipt.errors]
                current.set_attributes(_result_attributes(receipt))
                _release(item)
                self._store(receipt)
        self.log.info(
            "egress.finished",
            run_id=receipt.run_id,
            destination=receipt.destination,
            status=receipt.status.value,
            rows_read=receipt.rows_read,
            rows_delivered=receipt.rows_delivered,
            rows_rejected=receipt.rows_rejected,
            rows_skipped=receipt.rows_skipped,
            bytes=receipt.bytes_transmitted,
            duration_seconds=round(receipt.duration_seconds, 3),
        )
        return receipt

    def _send(self, item: _Prepared, counter: _RowCounter) -> tuple[Any, BaseException | None]:
        """Send a destination's rows: the one place where the stream and operation are chosen.

        ``full``: every row of the snapshot, with the sink's default operation, resumed from
        the run journal. Any other mode: only the diff against the rows floe delivered before
        (``floe_core.sync``), whose fingerprints advance as batches are confirmed, so a run
        after one that did not finish re-sends only what was not confirmed.

        Returns:
            The result, and the error that stopped the write (when the plugin says).
        """
        if item.sync is not None and item.sync.up_to_date:
            return item.sync.nothing_to_send(), None
        if self.executor is not None:
            with _stopped_by_ctrl_c(item.stop, self._interrupted):
                return self.executor.deliver(self, item, counter)
        if item.sync is None:
            return self._write(item, counter.wrap(item.source.batches()))
        from floe_core.sinks.batching import resolve_batch_size

        result = item.sync.deliver(
            item.plugin,
            item.sink,
            batch_size=resolve_batch_size(
                item.destination.batch_size, item.sink.effective_capabilities
            ),
            on_progress=self._on_progress,
            on_rejected=self.rejected_rows_keeper(item),
        )
        counter.rows = item.sync.rows_read
        return result, item.sync.stop_error

    def _preview(self, item: _Prepared) -> Receipt:
        """A dry run of one destination: the diff, counted and sampled; nothing stored."""
        from floe_core.sync.summary import SyncSummary

        receipt = item.receipt
        try:
            if item.sync is not None:
                summary = item.sync.preview(_operations_for(item))
            else:
                rows = item.source.row_count or 0
                summary = SyncSummary(
                    mode="full",
                    read_reason="sync_mode full sends every row",
                    snapshot_to=item.source.snapshot_id,
                    sent=rows,
                    dry_run=True,
                )
            receipt.sync = summary
            receipt.rows_read = summary.inserted + summary.updated + summary.unchanged
            receipt.status = RunStatus.SUCCESS
        except Exception as exc:
            receipt.status = RunStatus.FAILED
            receipt.errors.append(_error_text(exc))
        finally:
            receipt.finished_at = utc_now()
            receipt.duration_seconds = item.prepare_seconds
            _release(item)
        return receipt

    def _write(self, item: _Prepared, reader: Any) -> tuple[Any, BaseException | None]:
        """Deliver through the plugin: the result, and the error that stopped it (if known).

        A plugin built on floe's engine (``SinkPlugin``) gets the run journal, says what
        stopped the write, and is stopped cleanly by Ctrl-C (after the batches in flight);
        any other plugin gets ``on_progress`` and ``on_rejected`` only.
        """
        from floe_core.sinks.plugin import SinkPlugin

        options: dict[str, Any] = {
            "on_progress": self._on_progress,
            "on_rejected": self.rejected_rows_keeper(item),
        }
        if not isinstance(item.plugin, SinkPlugin):
            return item.plugin.write(item.sink, reader, **options), None
        with _stopped_by_ctrl_c(item.stop, self._interrupted):
            outcome = item.plugin.deliver(
                item.sink, reader, **options, **self._journal_options(item), stop=item.stop
            )
        return outcome.result, outcome.error

    def _stop_reason(self, item: _Prepared, receipt: Receipt) -> str:
        if self._interrupted.is_set():
            return f"interrupted after {receipt.rows_delivered} rows delivered; run again to resume"
        return (
            "stopped: another run took over this destination's lease (this run did not "
            f"renew it for {self.leases.seconds:g} s); run again to resume"
        )

    def _on_progress(self, rows_done: int) -> None:
        if self.progress is not None:
            self.progress.update(rows_done)

    def rejected_rows_keeper(self, item: _Prepared) -> Callable[[pa.Table, str], None]:
        """What keeps rows refused in a delivery of ``item``: in the state store, as rejected
        rows of its destination (an executor's deliveries on this process use it too)."""

        def keep(rows: pa.Table, reason: str) -> None:
            reason = redactor.text(reason)
            self.log.warning("egress.rows_rejected", rows=rows.num_rows, reason=reason)
            records = rows.to_pylist()
            key_columns = item.rejects.key_columns
            try:
                keys = self.state.save_rejected_rows(
                    item.receipt.destination, item.receipt.run_id, records, reason, key_columns
                )
            except StateStoreError as exc:
                item.rejected_errors.append(f"rejected rows not saved: {exc}")
                keys = [row_identity(row, key_columns) for row in records]
            item.rejects.refused.update(keys)

        return keep

    def _store(self, receipt: Receipt) -> None:
        try:
            self.state.finish_run(receipt)
            if receipt.status in (RunStatus.SUCCESS, RunStatus.PARTIAL):
                self.journal.clear(receipt.destination)
            if receipt.status is RunStatus.SUCCESS:
                self.state.save_checkpoint(
                    receipt.destination, receipt.source_table, receipt.snapshot_id, receipt.run_id
                )
        except StateStoreError as exc:
            receipt.errors.append(f"receipt not saved to the run history: {exc}")
            self.log.error("egress.history_not_saved", error=str(exc))


class _RowCounter:
    """Counts the rows that flow from the source into the plugin, and shows each batch to
    ``watch``."""

    def __init__(self, watch: Callable[[pa.RecordBatch], None]) -> None:
        self.rows = 0
        self._watch = watch

    def wrap(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        import pyarrow as pa

        return pa.RecordBatchReader.from_batches(reader.schema, self._count(reader))

    def _count(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            self.rows += batch.num_rows
            self._watch(batch)
            yield batch


def _apply_result(
    receipt: Receipt, result: Any, extra_errors: list[str], stop_error: BaseException | None
) -> bool:
    """Counts and status from the sink's result; whether the run went through (every batch
    was answered for: delivered, or refused and kept).

    The status says where the source's rows stand after the run, whatever earlier runs did:
    ``success`` every row is at the destination; ``partial`` some are (delivered now,
    already there from an earlier run: unchanged or skipped) and the rest were refused and
    kept; ``failed`` the run stopped, or none is (every row it sent was refused). So a run
    that re-sends rows refused before gets the status of the run that first sent them.
    """
    receipt.rows_delivered = int(result.rows_delivered)
    receipt.rows_rejected = int(getattr(result, "rows_rejected", 0) or 0)
    receipt.rows_skipped = int(getattr(result, "rows_skipped", 0) or 0)
    receipt.bytes_transmitted = int(result.bytes_transmitted)
    receipt.checksum = str(result.checksum)
    receipt.idempotency_key = str(result.idempotency_key)
    receipt.errors = [*map(str, result.errors), *extra_errors]
    unchanged = receipt.sync.unchanged if receipt.sync is not None else 0
    at_destination = receipt.rows_delivered + receipt.rows_skipped + unchanged
    if stop_error is not None:
        receipt.status = RunStatus.FAILED  # stopped: unreachable, retries exhausted, Ctrl-C
        return False
    if result.success and not receipt.rows_rejected and not extra_errors:
        receipt.status = RunStatus.SUCCESS
    elif receipt.rows_rejected and not at_destination:
        receipt.status = RunStatus.FAILED  # every row was refused: none is at the destination
    elif receipt.rows_rejected or extra_errors:
        receipt.status = RunStatus.PARTIAL  # went through; the refused rows are kept
    else:
        receipt.status = RunStatus.FAILED  # the plugin says it failed, and no row was refused
        return False
    return True


def _target(plugin: SinkConnector, config: SinkConfig) -> str:
    """Where the destination writes (``Sink.target``); ``""`` when its plugin cannot tell,
    or its settings do not parse (building the sink reports those, with their fix)."""
    from floe_core.sinks.plugin import SinkPlugin

    if not isinstance(plugin, SinkPlugin):
        return ""
    try:
        return plugin.target(config.sink_type, config.connection_config)
    except Exception:
        return ""


def _operations_for(item: _Prepared) -> frozenset[Any] | None:
    """The operations the destination's sink can do, asked of its plugin (no sink built)."""
    from floe_core.sinks.plugin import SinkPlugin

    if isinstance(item.plugin, SinkPlugin):
        destination = item.destination
        return item.plugin.operations_for(destination.sink_type, destination.config)
    return None


@contextmanager
def _stopped_by_ctrl_c(stop: threading.Event, interrupted: threading.Event) -> Iterator[None]:
    """While delivering, the first Ctrl-C or SIGTERM (what Kubernetes, systemd and schedulers
    stop a process with) sets ``stop``: the write ends after the batches in flight, so what
    they delivered is counted and journaled, and the receipt says the run was interrupted. A
    second one interrupts at once. Outside the main thread, signals cannot be handled and
    nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        stop.set()

    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, handle) for signum in stops}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _release(item: _Prepared) -> None:
    dispose = getattr(item.sink, "dispose", None)
    if callable(dispose):
        try:
            dispose()
        except Exception as exc:  # releasing must not hide the run's own outcome
            get_logger().warning("egress.dispose_failed", error=_error_text(exc))
    item.source.close()
    _stop_keeping(item.lease)


def _stop_keeping(keeper: LeaseKeeper | Unleased) -> None:
    try:
        keeper.stop()
    except StateStoreError as exc:  # the lease then expires on its own
        get_logger().warning("egress.lease_not_released", error=str(exc))


def _error_text(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, FloeError) else f"{type(exc).__name__}: {exc}"
    return redactor.text(text)


def _span_attributes(receipt: Receipt) -> dict[str, str]:
    return {
        "floe.run_id": receipt.run_id,
        "sink.destination": receipt.destination,
        "sink.type": receipt.sink_type,
        "source.table": receipt.source_table,
    }


def _result_attributes(receipt: Receipt) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "floe.status": receipt.status.value,
        "floe.rows_read": receipt.rows_read,
        "sink.rows_written": receipt.rows_delivered,
        "sink.rows_rejected": receipt.rows_rejected,
        "sink.bytes": receipt.bytes_transmitted,
        "floe.duration_ms": round(receipt.duration_seconds * 1000, 3),
    }
    if receipt.snapshot_id is not None:
        attributes["source.snapshot_id"] = receipt.snapshot_id
    return attributes
