"""One delivery task, on a Ray worker: read its data files, deliver them through the engine.

A task builds the destination's sink itself, from the destination's config and the Secret the
driver sealed (:mod:`floe_core.executors.sealed`), opens the source table at the run's pinned
snapshot and reads only its own files (each with the delete files that apply to it, which the
reader applies as a local run's does). The engine runs as in a local run, with four things
shared with the rest of the run:

- the project's ``egress_policy``: while the task runs, every name its sink (or the catalog)
  resolves is checked against it on the worker (:mod:`floe_core.egress.address_guard`), as
  in a local run: a name that answers the worker a denied address is refused there;
- its batch positions start with the task's identity (``FileTask.position_prefix``), so its
  idempotency keys are the same on every attempt and differ from every other task's;
- its rate limit and its part of the destination's concurrency budget come from the run's
  coordinator actor;
- the run journal: before sending, the task reads the batches already confirmed for this
  snapshot (by an earlier attempt of this task whose worker died, or an earlier run that did
  not finish) and does not send them again; each batch the destination confirms is recorded
  there at once. Rejected rows go to the state store as in a local run.

A task of an incremental sync sends its files' diff instead of all their rows
(:mod:`floe_core.executors.sync_task`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.compiler import CompiledDestination
    from floe_core.egress.gate import EgressGate
    from floe_core.egress.journal import RunJournal
    from floe_core.egress.rejects import RejectTracker
    from floe_core.egress.state import StateStore
    from floe_core.executors.planning import FileTask
    from floe_core.executors.sealed import Sealed
    from floe_core.executors.sync_task import SyncCounts, SyncTaskPlan, TaskDiff
    from floe_core.iceberg.source import IcebergSource
    from floe_core.plugins.sink import EgressResult, SinkConfig
    from floe_core.schemas.egress_policy import EgressPolicyConfig
    from floe_core.sinks.base import Sink
    from floe_core.sinks.engine import WriteOutcome
    from floe_core.sinks.plugin import SinkPlugin

__all__ = ["RunSpec", "TaskResult", "deliver_task", "guarded"]


@dataclass(frozen=True)
class RunSpec:
    """What every task of one destination's run is given; no Secret in it is in clear.

    Attributes:
        run_id: The run.
        destination: The compiled destination (its ``config:``, without the Secret).
        plugin: Its plugin, which builds the sink.
        snapshot_id: The snapshot the driver pinned.
        project_dir: The project directory (relative paths in the sink's settings).
        state_url: The state store (run journal, rejected rows).
        sealed: ``{"connection": <Secret keys>, "catalog": <catalog config>}``, encrypted.
        outstanding: Identities of the destination's rejected rows not delivered since.
        key_columns: The destination's primary key columns, if any (rejected rows' identity).
        policy: The manifest's ``egress_policy`` (``None``: only floe's default denial).
        manifest_path: The manifest, named in a refusal.
        sync: The run's incremental sync plan; ``None`` for ``sync_mode: full``.
    """

    run_id: str
    destination: CompiledDestination
    plugin: SinkPlugin
    snapshot_id: int | None
    project_dir: str
    state_url: str
    sealed: Sealed
    outstanding: frozenset[str] = frozenset()
    key_columns: tuple[str, ...] | None = None
    policy: EgressPolicyConfig | None = None
    manifest_path: str | None = None
    sync: SyncTaskPlan | None = None


@dataclass
class TaskResult:
    """What one task did, measured on its worker.

    Attributes:
        index: The task's place in the run's order.
        rows_read: Rows read from its files.
        result: The engine's result.
        stop_error: Why the write stopped, if it did (redacted text).
        seen: Outstanding rejected rows its files still hold.
        refused: Identities of the rows the destination refused in this task.
        sync: An incremental sync's counts (``None`` for ``sync_mode: full``).
    """

    index: int
    rows_read: int
    result: EgressResult
    stop_error: str | None = None
    seen: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    sync: SyncCounts | None = None


def deliver_task(
    spec: RunSpec, task: FileTask, coordinator: Any, stored: pa.Table | None = None
) -> TaskResult:
    """Deliver ``task``'s files; run on a Ray worker (``coordinator`` is the run's actor).

    Args:
        spec: What every task of the run is given.
        task: This task's files.
        coordinator: The run's coordinator actor.
        stored: An incremental sync's stored fingerprints (from Ray's object store).

    Raises:
        FloeError: The sink could not be built, the source not opened, the configuration
            does not fit the data, or the egress policy refused where the sink connects
            (nothing of this task was sent).
    """
    import ray

    from floe_core.egress.destinations import worker_sink_config
    from floe_core.egress.errors import ExecutorError
    from floe_core.egress.journal import RunJournal
    from floe_core.egress.observability import redactor, run_context
    from floe_core.egress.rejects import RejectTracker
    from floe_core.egress.state import StateStore
    from floe_core.executors.sealed import unseal
    from floe_core.iceberg.catalog import catalog_secrets
    from floe_core.iceberg.source import IcebergSource

    destination = spec.destination
    secrets = unseal(spec.sealed, ray.get(coordinator.key.remote()))
    connection: dict[str, str] = secrets["connection"]
    catalog: dict[str, Any] = secrets["catalog"]
    redactor.add([*connection.values(), *catalog_secrets(catalog)])
    tracker = RejectTracker(set(spec.outstanding), spec.key_columns)
    config = worker_sink_config(spec.plugin, destination, connection, spec.project_dir)
    counts: SyncCounts | None = None
    with (
        run_context(run_id=spec.run_id, destination=destination.name),
        guarded(spec, config, catalog),
        StateStore(spec.state_url) as state,
        IcebergSource(
            catalog, destination.source_table or "", snapshot_id=spec.snapshot_id
        ) as source,
    ):
        journal = RunJournal(state)
        done = journal.confirmed(destination.name, spec.snapshot_id)
        sink = _build_sink(spec, config)
        try:
            writer = _Writer(spec, task, sink, state, journal, frozenset(done), tracker)
            if spec.sync is None:
                reader = _Counted(source.batches(files=task.files), tracker)
                outcome = writer.run(reader.stream(), coordinator)
                rows_read = reader.rows
            else:
                if stored is None:
                    raise ExecutorError(
                        "a task of an incremental sync was started without its run's "
                        "fingerprints; nothing of it was sent",
                        hint="run again",
                    )
                diff = _task_diff(spec, spec.sync, task, stored, source, state, sink, writer)
                try:
                    outcome = writer.run(
                        diff.stream(),
                        coordinator,
                        operation=diff.operation,
                        on_progress=diff.confirmations.on_progress,
                        on_rejected=diff.confirmations.on_rejected,
                    )
                finally:  # what was confirmed is recorded, even when the write raised
                    counts = diff.counts()
                rows_read = counts.rows_read
        finally:
            dispose = getattr(sink, "dispose", None)
            if callable(dispose):
                dispose()
    stop = outcome.error
    return TaskResult(
        index=task.index,
        rows_read=rows_read,
        result=outcome.result,
        stop_error=None if stop is None else redactor.text(_error_text(stop)),
        seen=tracker.seen,
        refused=tracker.refused,
        sync=counts,
    )


@contextmanager
def guarded(spec: RunSpec, config: SinkConfig, catalog: dict[str, Any]) -> Iterator[EgressGate]:
    """The project's egress policy on this process while the block runs: where the sink and
    the catalog connect is checked first, then every resolution of their names.

    Raises:
        EgressPolicyError: Where the sink or the catalog connects is refused (on entry, or
            when a name resolves to a denied address inside the block).
    """
    from pathlib import Path

    from floe_core.egress.gate import EgressGate, sink_endpoints

    destination = spec.destination
    gate = EgressGate.for_policy(
        spec.policy,
        project_dir=Path(spec.project_dir),
        manifest_path=Path(spec.manifest_path) if spec.manifest_path else None,
    )
    with gate:
        endpoints = sink_endpoints(spec.plugin, destination.sink_type, config.connection_config)
        gate.check(endpoints, destination.name, destination.sink_type)
        gate.admit_catalog(catalog)
        yield gate


def _build_sink(spec: RunSpec, config: SinkConfig) -> Sink:
    from floe_core.egress.prepare import create_sink

    sink: Sink = create_sink(spec.plugin, spec.destination, config)
    return sink


def _task_diff(
    spec: RunSpec,
    plan: SyncTaskPlan,
    task: FileTask,
    stored: pa.Table,
    source: IcebergSource,
    state: StateStore,
    sink: Sink,
    writer: _Writer,
) -> TaskDiff:
    import secrets
    from pathlib import Path

    from floe_core.executors.sync_task import TaskDiff
    from floe_core.sync.store import fingerprint_store

    # A writer name per attempt: a retry's delta files never replace its dead attempt's.
    name = f"{task.identity[:8]}{secrets.token_hex(4)}"
    store = fingerprint_store(state, Path(spec.project_dir), spec.destination.name, writer=name)
    return TaskDiff(
        plan,
        stored,
        source,
        task.files,
        store,
        spec.run_id,
        sink.effective_capabilities,
        writer.rejected,
    )


class _Writer:
    """The engine's write of one task, with the run's journal, rejects and shared budget."""

    def __init__(
        self,
        spec: RunSpec,
        task: FileTask,
        sink: Sink,
        state: StateStore,
        journal: RunJournal,
        done: frozenset[str],
        tracker: RejectTracker,
    ) -> None:
        from floe_core.egress.observability import get_logger

        self.spec = spec
        self.task = task
        self.sink = sink
        self.state = state
        self.journal = journal
        self.done = done
        self.tracker = tracker
        self.log = get_logger()

    def confirmed(self, key: str, rows: int) -> None:
        """Record a batch the destination confirmed in the run journal."""
        from floe_core.egress.errors import StateStoreError

        spec = self.spec
        try:
            self.journal.record(spec.destination.name, spec.run_id, spec.snapshot_id, key, rows)
        except StateStoreError as exc:  # a retry of this task then sends this batch again
            self.log.warning("egress.journal_not_written", error=str(exc))

    def rejected(self, rows: pa.Table, reason: str) -> None:
        """Keep rows refused for good in the state store, as a local run does."""
        from floe_core.egress.errors import StateStoreError
        from floe_core.egress.observability import redactor
        from floe_core.egress.rejects import row_identity

        spec = self.spec
        reason = redactor.text(reason)
        self.log.warning("egress.rows_rejected", rows=rows.num_rows, reason=reason)
        records = rows.to_pylist()
        key_columns = list(spec.key_columns) if spec.key_columns else None
        try:
            keys = self.state.save_rejected_rows(
                spec.destination.name, spec.run_id, records, reason, key_columns
            )
        except StateStoreError as exc:
            self.log.warning("egress.rejects_not_saved", error=str(exc))
            keys = [row_identity(row, key_columns) for row in records]
        self.tracker.refused.update(keys)

    def run(self, data: pa.RecordBatchReader, coordinator: Any, **options: Any) -> WriteOutcome:
        """Write ``data`` through the engine within the run's budget; options go to the engine
        (``operation``, ``on_progress``, ``on_rejected`` over this writer's)."""
        import ray

        from floe_core.executors.coordinator import SharedRateLimiter
        from floe_core.sinks import engine

        options.setdefault("on_rejected", self.rejected)
        wanted = self.sink.effective_capabilities.max_concurrency
        granted = int(ray.get(coordinator.enter.remote(self.task.index, wanted)))
        try:
            return engine.run(
                self.sink,
                data,
                position_prefix=self.task.position_prefix,
                limiter=SharedRateLimiter(coordinator),
                confirmed=self.done,
                on_confirmed=self.confirmed,
                max_concurrency=granted,
                **options,
            )
        finally:
            coordinator.leave.remote(self.task.index)


class _Counted:
    """The task's source batches, counted and shown to the reject tracker."""

    def __init__(self, reader: pa.RecordBatchReader, tracker: RejectTracker) -> None:
        self.rows = 0
        self._reader = reader
        self._tracker = tracker

    def stream(self) -> pa.RecordBatchReader:
        import pyarrow as pa

        return pa.RecordBatchReader.from_batches(self._reader.schema, self._batches())

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for batch in self._reader:
            self.rows += batch.num_rows
            self._tracker.watch(batch)
            yield batch


def _error_text(exc: BaseException) -> str:
    from floe_core.errors import FloeError

    return str(exc) if isinstance(exc, FloeError) else f"{type(exc).__name__}: {exc}"
