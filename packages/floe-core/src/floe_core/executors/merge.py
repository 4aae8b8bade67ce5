"""The results of a run's tasks as one result, the one its receipt is built from.

Counts and bytes add up; errors are listed in task order, each with its task; the checksum is
SHA-256 over the tasks' checksums in task order and the idempotency key likewise over their
keys, so the same snapshot delivered the same way gives the same checksum and key however the
tasks were scheduled. A task that did not finish (lost after all its retries, or never run
because the run was stopped) makes the whole result unsuccessful.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from floe_core.plugins.sink import EgressResult

if TYPE_CHECKING:
    from floe_core.executors.task import TaskResult

__all__ = ["merge_results"]


def merge_results(
    results: Sequence[TaskResult], *, tasks: int, failures: Sequence[str] = (), seconds: float
) -> EgressResult:
    """One result for a run of ``tasks`` tasks.

    Args:
        results: The results of the tasks that ran to the end, in any order.
        tasks: How many tasks the run planned.
        failures: Why the others did not (one line each).
        seconds: The run's wall time of delivery.
    """
    ordered = sorted(results, key=lambda r: r.index)
    errors = [f"task {r.index}: {error}" for r in ordered for error in r.result.errors]
    errors.extend(failures)
    success = len(ordered) == tasks and not failures and all(r.result.success for r in ordered)
    return EgressResult(
        success=success,
        rows_delivered=sum(r.result.rows_delivered for r in ordered),
        bytes_transmitted=sum(r.result.bytes_transmitted for r in ordered),
        duration_seconds=seconds,
        checksum=f"sha256:{_chain('floe-tasks', (r.result.checksum for r in ordered))}",
        delivery_timestamp=datetime.now(UTC).isoformat(timespec="microseconds"),
        idempotency_key=_chain("floe-task-writes", (r.result.idempotency_key for r in ordered)),
        destination_record_ids=[i for r in ordered for i in r.result.destination_record_ids],
        errors=errors,
        rows_rejected=sum(r.result.rows_rejected for r in ordered),
        rows_skipped=sum(r.result.rows_skipped for r in ordered),
    )


def _chain(label: str, parts: object) -> str:
    hasher = hashlib.sha256(f"{label}\n".encode())
    for part in parts:  # type: ignore[attr-defined]
        hasher.update(f"{part}\n".encode())
    return hasher.hexdigest()
