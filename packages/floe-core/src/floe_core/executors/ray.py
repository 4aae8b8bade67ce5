"""The driver side of a run on Ray: plan the tasks, submit them, wait, merge the results.

The driver keeps what must be one per run: the destination's lease (renewed by the runner
while the tasks run), the pinned snapshot, the plan, the coordinator actor (rate limit,
concurrency budget, the run's key) and the receipt. Each task is a Ray task running
:func:`floe_core.executors.task.deliver_task`; Ray runs it again when its worker dies (up to
:data:`TASK_RETRIES` times), and the run journal makes that attempt send only the batches the
destination had not confirmed. A task that fails on its own (the destination refused the
credentials, retries exhausted) is not run again: its result says what it delivered.

An incremental sync (``sync_mode`` other than ``full``) was planned on the driver while the
run prepared (``floe_core.sync.run.SyncRun``): its tasks cover the files its read path reads,
each sending its files' diff, and the driver then sends the mirror deletes once, after every
task went through, and folds the fingerprints (``SyncRun.conclude``).

Ray is imported only here and in the modules a worker runs; missing, it is named with the
command that installs it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from floe_core.egress.errors import EgressConfigError, ExecutorError
from floe_core.executors.merge import merge_results
from floe_core.executors.planning import FileTask, plan_tasks

if TYPE_CHECKING:
    from floe_core.egress.runner import EgressRunner, _Prepared, _RowCounter
    from floe_core.executors.sync_task import SyncTaskPlan
    from floe_core.executors.task import RunSpec, TaskResult
    from floe_core.plugins.sink import EgressResult
    from floe_core.schemas.manifest import ExecutorConfig
    from floe_core.sync.run import SyncRun

__all__ = ["INSTALL_HINT", "TASK_RETRIES", "RayExecutor", "import_ray"]

INSTALL_HINT = "pip install 'floe-core[ray]' (or set executor.type: local in manifest.yaml)"
#: Times Ray starts a task again after its worker process died.
TASK_RETRIES = 3
#: Seconds between looks at the run's stop flag while tasks run.
_POLL_SECONDS = 0.5


def import_ray() -> Any:
    """The ``ray`` module.

    Raises:
        ExecutorError: Ray (or ``cryptography``, which seals Secrets for it) is not installed.
    """
    # Ray run by `uv run` would otherwise ship the working directory (a project's secrets/
    # folder with it) to the cluster and start every worker through uv: workers run in the
    # environment floe is installed in, on every node.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import cryptography  # noqa: F401  (sealing Secrets needs it on every node)
        import ray
    except ImportError as exc:
        raise ExecutorError(
            f"executor type ray needs {exc.name or 'ray'}, which is not installed",
            hint=INSTALL_HINT,
        ) from exc
    return ray


class RayExecutor:
    """Delivers a destination's rows from Ray tasks, one per group of data files.

    Args:
        config: The manifest's ``executor:`` section (``address``, ``max_tasks``).

    Raises:
        ExecutorError: Ray is not installed.
    """

    def __init__(self, config: ExecutorConfig) -> None:
        self.ray = import_ray()
        self.address = config.address
        self.max_tasks = config.max_tasks
        self.max_in_flight = config.max_in_flight

    def deliver(
        self, runner: EgressRunner, item: _Prepared, counter: _RowCounter
    ) -> tuple[EgressResult, BaseException | None]:
        """Send the prepared destination's rows through Ray tasks; the merged result.

        ``full``: every data file of the snapshot, bin-packed into tasks. Any other
        ``sync_mode``: the files the sync's read path reads (none when the table is up to
        date), each task sending its files' diff; then the driver sends the mirror deletes,
        once, and folds the fingerprints (``SyncRun.conclude``).

        Raises:
            ExecutorError: The cluster cannot be reached.
            EgressConfigError: The destination's plugin is not built on floe's sink SDK (a
                task needs its engine), or its sink cannot do the operations its
                ``sync_mode`` needs. Nothing was sent.
            SourceError: The table's files cannot be planned.
        """
        started = time.perf_counter()
        destination = item.destination
        sync = item.sync
        if sync is None:
            files = item.source.plan_data_files()
            scope = ""
        else:
            operations = sync.operations(sync.capabilities(item.sink).operations)
            # Nothing to diff (up to date), or a mode that sends no new or changed row: no task.
            sends = operations.new is not None or operations.changed is not None
            diffed = sync.stored is not None and sends
            files = item.source.plan_data_files(sync.read.files) if diffed else []
            scope = f"sync {item.receipt.run_id}"
        tasks = plan_tasks(
            destination.name, item.source.snapshot_id, files, self.max_tasks, scope=scope
        )
        runner.log.info(
            "egress.tasks_planned",
            executor="ray",
            tasks=len(tasks),
            files=sum(len(t.files) for t in tasks),
            bytes=sum(t.size_bytes for t in tasks),
        )
        results: list[TaskResult] = []
        failures: list[str] = []
        if tasks:
            results, failures = self._run_tasks(runner, item, tasks)
        for result in results:
            item.rejects.seen.update(result.seen)
            item.rejects.refused.update(result.refused)
        merged = merge_results(
            results, tasks=len(tasks), failures=failures, seconds=time.perf_counter() - started
        )
        stops = [r.stop_error for r in sorted(results, key=lambda r: r.index) if r.stop_error]
        stop_error: BaseException | None = ExecutorError(stops[0]) if stops else None
        if failures and stop_error is None:
            stop_error = ExecutorError(failures[0])
        counter.rows = sum(r.rows_read for r in results)
        if sync is None:
            return merged, stop_error
        concluded = self._conclude(runner, item, sync, tasks, results, merged, failures)
        return concluded, stop_error or sync.stop_error

    def _run_tasks(
        self, runner: EgressRunner, item: _Prepared, tasks: Sequence[FileTask]
    ) -> tuple[list[TaskResult], list[str]]:
        """Start the run's coordinator, run every task, and end the coordinator."""
        from floe_core.executors.coordinator import start_coordinator
        from floe_core.executors.sealed import new_key

        self._connect()
        self._check_state_reachable(runner.state.url)
        key = new_key()
        capabilities = item.sink.effective_capabilities
        coordinator = start_coordinator(key, capabilities.default_rate_limit, self.max_in_flight)
        runner.log.info("egress.ray_ready", cluster=self.ray.get_runtime_context().gcs_address)
        try:
            spec = self._spec(runner, item, key)
            # The stored fingerprints the diff compares with (keys and hashes of the keys the
            # read path reads, no rows), once for every task.
            stored = None
            if item.sync is not None and item.sync.compared is not None:
                stored = self.ray.put(item.sync.compared.to_arrow())
            # Ray prints its notices (a worker died, a task is retried) to stdout, which holds
            # the receipts (`--json`): while the tasks run, they go to stderr with the logs.
            with contextlib.redirect_stdout(sys.stderr):
                return self._run(spec, tasks, coordinator, stored, item, runner)
        finally:
            self.ray.kill(coordinator)

    def _conclude(
        self,
        runner: EgressRunner,
        item: _Prepared,
        sync: SyncRun,
        tasks: Sequence[FileTask],
        results: Sequence[TaskResult],
        merged: EgressResult,
        failures: Sequence[str],
    ) -> EgressResult:
        """The tasks' diff counts into the sync's summary; then its deletes and fingerprints."""
        from floe_core.sinks.batching import resolve_batch_size
        from floe_core.sync.run import Upserted

        counts = [r.sync for r in results if r.sync is not None]
        sync.summary.unchanged += sum(c.unchanged for c in counts)
        sync.summary.rejected_keys += sum(c.rejected_keys for c in counts)
        every_task = len(counts) == len(tasks) and not failures
        upserted = Upserted(
            [merged] if tasks else [],
            inserted=sum(c.inserted for c in counts),
            updated=sum(c.updated for c in counts),
            complete=every_task and all(c.complete for c in counts),
        )
        capabilities = item.sink.effective_capabilities
        return sync.conclude(
            item.plugin,
            item.sink,
            upserted,
            batch_size=resolve_batch_size(item.destination.batch_size, capabilities),
            on_progress=runner.progress.update if runner.progress is not None else None,
            on_rejected=runner.rejected_rows_keeper(item),
        )

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        try:
            ray.init(address=self.address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ExecutorError(
                f"cannot reach the Ray cluster at {self.address or 'a new local cluster'}: {exc}",
                hint="start it (ray start --head) or fix executor.address in manifest.yaml",
            ) from exc

    def _check_state_reachable(self, state_url: str) -> None:
        """Tasks record the run journal in the state store: on a cluster of several nodes an
        embedded SQLite file would be a different file on each node, and a retry would send
        again what an earlier attempt delivered."""
        if not state_url.startswith("sqlite"):
            return
        nodes = [node for node in self.ray.nodes() if node.get("Alive")]
        if len(nodes) > 1:
            raise ExecutorError(
                f"the Ray cluster has {len(nodes)} nodes and the state store is a SQLite file "
                "on this one; tasks on the others could not record what they delivered",
                hint="set state.url in manifest.yaml (or FLOE_STATE_URL) to a PostgreSQL "
                "database every node reaches",
            )

    def _spec(self, runner: EgressRunner, item: _Prepared, key: bytes) -> RunSpec:
        from floe_core.egress.destinations import catalog_config
        from floe_core.executors.sealed import seal
        from floe_core.executors.task import RunSpec
        from floe_core.sinks.plugin import SinkPlugin

        destination = item.destination
        if not isinstance(item.plugin, SinkPlugin):
            raise EgressConfigError(
                f"destination '{destination.name}': plugin '{destination.plugin_name}' is not "
                "built on floe's sink SDK, so its deliveries cannot be fanned out over Ray",
                hint="use executor type local for it (floe egress run --executor local)",
            )
        secret = runner.secrets.resolve(
            destination.connection_secret_ref, destination=destination.name
        )
        catalog = catalog_config(runner.plan, runner.secrets)
        rejects = item.rejects
        return RunSpec(
            run_id=item.receipt.run_id,
            destination=destination,
            plugin=item.plugin,
            snapshot_id=item.source.snapshot_id,
            project_dir=str(runner.plan.project_dir),
            state_url=runner.state.url,
            sealed=seal({"connection": secret.reveal(), "catalog": catalog}, key),
            outstanding=frozenset(rejects.outstanding),
            key_columns=tuple(rejects.key_columns) if rejects.key_columns else None,
            policy=runner.plan.manifest.egress_policy,
            manifest_path=str(runner.plan.manifest_path) if runner.plan.manifest_path else None,
            sync=self._sync_plan(item),
        )

    def _sync_plan(self, item: _Prepared) -> SyncTaskPlan | None:
        from floe_core.executors.sync_task import SyncTaskPlan
        from floe_core.sinks.batching import resolve_batch_size

        sync = item.sync
        if sync is None:
            return None
        assert sync.duplicates is not None, "an up-to-date table starts no task"
        capabilities = item.sink.effective_capabilities
        return SyncTaskPlan(
            key_columns=tuple(sync.key_columns),
            duplicates=tuple(sync.duplicates.to_list()),
            comparable=sync.comparable,
            operations=sync.operations(capabilities.operations),
            batch_size=resolve_batch_size(item.destination.batch_size, capabilities),
        )

    def _run(
        self,
        spec: RunSpec,
        tasks: Sequence[FileTask],
        coordinator: Any,
        stored: Any,
        item: _Prepared,
        runner: EgressRunner,
    ) -> tuple[list[TaskResult], list[str]]:
        """Submit every task and wait for them; stop them all when the run is stopped."""
        from floe_core.egress.observability import redactor
        from floe_core.executors.task import deliver_task

        ray = self.ray
        remote = ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=False)(
            deliver_task
        )
        spec_ref = ray.put(spec)
        pending = {
            remote.options(name=f"floe-{spec.destination.name}-{task.index}").remote(
                spec_ref, task, coordinator, stored
            ): task
            for task in tasks
        }
        results: list[TaskResult] = []
        failures: list[str] = []
        rows_done = 0
        while pending:
            if item.stop.is_set():
                for ref in pending:
                    ray.cancel(ref, force=False)
            done, _ = ray.wait(list(pending), num_returns=1, timeout=_POLL_SECONDS)
            for ref in done:
                task = pending.pop(ref)
                try:
                    result: TaskResult = ray.get(ref)
                except Exception as exc:
                    failures.append(f"task {task.index}: {redactor.text(_task_error(exc))}")
                    continue
                results.append(result)
                rows_done += result.rows_read  # every row of its files is done
                runner.log.info(
                    "egress.task_finished",
                    task=task.index,
                    rows_delivered=result.result.rows_delivered,
                    rows_skipped=result.result.rows_skipped,
                )
                if runner.progress is not None:
                    runner.progress.update(rows_done)
        return results, failures


def _task_error(exc: BaseException) -> str:
    """What stopped a task, without Ray's traceback: the task's own error where there is one."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    from floe_core.errors import FloeError

    if isinstance(exc, FloeError):
        return str(exc)
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''}"
