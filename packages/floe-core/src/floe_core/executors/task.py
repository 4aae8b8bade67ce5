"""One delivery task, on a Ray worker: read its data files, deliver them through the engine.

A task builds the destination's sink itself, from the destination's config and the Secret the
driver sealed (:mod:`floe_core.executors.sealed`), opens the source table at the run's pinned
snapshot and reads only its own files. The engine runs as in a local run, with three things
shared with the rest of the run:

- its batch positions start with the task's identity (``FileTask.position_prefix``), so its
  idempotency keys are the same on every attempt and differ from every other task's;
- its rate limit and its part of the destination's concurrency budget come from the run's
  coordinator actor;
- the run journal: before sending, the task reads the batches already confirmed for this
  snapshot (by an earlier attempt of this task whose worker died, or an earlier run that did
  not finish) and does not send them again; each batch the destination confirms is recorded
  there at once. Rejected rows go to the state store as in a local run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.compiler import CompiledDestination
    from floe_core.egress.journal import RunJournal
    from floe_core.egress.rejects import RejectTracker
    from floe_core.egress.state import StateStore
    from floe_core.executors.planning import FileTask
    from floe_core.executors.sealed import Sealed
    from floe_core.plugins.sink import EgressResult
    from floe_core.sinks.base import Sink
    from floe_core.sinks.engine import WriteOutcome
    from floe_core.sinks.plugin import SinkPlugin

__all__ = ["RunSpec", "TaskResult", "deliver_task"]


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
    """

    index: int
    rows_read: int
    result: EgressResult
    stop_error: str | None = None
    seen: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)


def deliver_task(spec: RunSpec, task: FileTask, coordinator: Any) -> TaskResult:
    """Deliver ``task``'s files; run on a Ray worker (``coordinator`` is the run's actor).

    Raises:
        FloeError: The sink could not be built, the source not opened, or the configuration
            does not fit the data (nothing of this task was sent).
    """
    import ray

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
    with (
        run_context(run_id=spec.run_id, destination=destination.name),
        StateStore(spec.state_url) as state,
        IcebergSource(
            catalog, destination.source_table or "", snapshot_id=spec.snapshot_id
        ) as source,
    ):
        journal = RunJournal(state)
        done = journal.confirmed(destination.name, spec.snapshot_id)
        sink = _build_sink(spec, connection)
        try:
            reader = _Counted(source.batches(files=task.files), tracker)
            outcome = _deliver(spec, task, sink, reader, state, journal, done, tracker, coordinator)
        finally:
            dispose = getattr(sink, "dispose", None)
            if callable(dispose):
                dispose()
    stop = outcome.error
    return TaskResult(
        index=task.index,
        rows_read=reader.rows,
        result=outcome.result,
        stop_error=None if stop is None else redactor.text(_error_text(stop)),
        seen=tracker.seen,
        refused=tracker.refused,
    )


def _build_sink(spec: RunSpec, connection: dict[str, str]) -> Sink:
    from floe_core.egress.destinations import build_sink

    sink: Sink = build_sink(spec.plugin, spec.destination, connection, spec.project_dir)
    return sink


def _deliver(
    spec: RunSpec,
    task: FileTask,
    sink: Sink,
    reader: _Counted,
    state: StateStore,
    journal: RunJournal,
    done: dict[str, int],
    tracker: RejectTracker,
    coordinator: Any,
) -> WriteOutcome:
    import ray

    from floe_core.egress.errors import StateStoreError
    from floe_core.egress.observability import get_logger, redactor
    from floe_core.egress.rejects import row_identity
    from floe_core.executors.coordinator import SharedRateLimiter
    from floe_core.sinks import engine

    log = get_logger()
    name = spec.destination.name

    def confirmed(key: str, rows: int) -> None:
        try:
            journal.record(name, spec.run_id, spec.snapshot_id, key, rows)
        except StateStoreError as exc:  # a retry of this task then sends this batch again
            log.warning("egress.journal_not_written", error=str(exc))

    def rejected(rows: pa.Table, reason: str) -> None:
        reason = redactor.text(reason)
        log.warning("egress.rows_rejected", rows=rows.num_rows, reason=reason)
        records = rows.to_pylist()
        key_columns = list(spec.key_columns) if spec.key_columns else None
        try:
            keys = state.save_rejected_rows(name, spec.run_id, records, reason, key_columns)
        except StateStoreError as exc:
            log.warning("egress.rejects_not_saved", error=str(exc))
            keys = [row_identity(row, key_columns) for row in records]
        tracker.refused.update(keys)

    wanted = sink.effective_capabilities.max_concurrency
    granted = int(ray.get(coordinator.enter.remote(task.index, wanted)))
    try:
        return engine.run(
            sink,
            reader.stream(),
            position_prefix=task.position_prefix,
            limiter=SharedRateLimiter(coordinator),
            confirmed=frozenset(done),
            on_confirmed=confirmed,
            on_rejected=rejected,
            max_concurrency=granted,
        )
    finally:
        coordinator.leave.remote(task.index)


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
