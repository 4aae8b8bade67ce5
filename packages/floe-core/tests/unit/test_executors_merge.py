"""The results of a run's tasks merged into the one result its receipt is built from."""

from __future__ import annotations

import pytest
from floe_core.executors.merge import merge_results
from floe_core.executors.task import TaskResult
from floe_core.plugins.sink import EgressResult


def _task(
    index: int, rows: int, *, success: bool = True, errors: list[str] | None = None
) -> TaskResult:
    result = EgressResult(
        success=success,
        rows_delivered=rows,
        bytes_transmitted=rows * 10,
        checksum=f"sha256:{index:064x}",
        idempotency_key=f"key-{index}",
        errors=errors or [],
        rows_rejected=1 if errors else 0,
        rows_skipped=index,
    )
    return TaskResult(index=index, rows_read=rows, result=result)


@pytest.mark.requirement("B13")
def test_counts_add_up_and_checksum_follows_task_order_not_finishing_order() -> None:
    tasks = [_task(0, 100), _task(1, 200), _task(2, 300)]

    merged = merge_results(tasks, tasks=3, seconds=1.5)
    shuffled = merge_results([tasks[2], tasks[0], tasks[1]], tasks=3, seconds=9.0)

    assert merged.success
    assert (merged.rows_delivered, merged.bytes_transmitted, merged.rows_skipped) == (600, 6000, 3)
    assert merged.checksum == shuffled.checksum and merged.checksum.startswith("sha256:")
    assert merged.idempotency_key == shuffled.idempotency_key
    assert merge_results(tasks[:2], tasks=2, seconds=1).checksum != merged.checksum


@pytest.mark.requirement("B13")
def test_rejects_and_errors_are_listed_with_their_task() -> None:
    merged = merge_results(
        [_task(0, 10), _task(1, 10, success=False, errors=["1 row refused"])], tasks=2, seconds=1
    )

    assert not merged.success
    assert merged.rows_rejected == 1
    assert merged.errors == ["task 1: 1 row refused"]


@pytest.mark.requirement("B13")
def test_a_task_that_did_not_finish_makes_the_result_unsuccessful() -> None:
    merged = merge_results(
        [_task(0, 10)], tasks=2, failures=["task 1: its worker died 4 times"], seconds=1
    )

    assert not merged.success
    assert merged.rows_delivered == 10
    assert merged.errors == ["task 1: its worker died 4 times"]
