"""Bin-packing a snapshot's data files into delivery tasks with stable identities."""

from __future__ import annotations

import pytest
from floe_core.executors.planning import plan_tasks
from floe_core.iceberg.source import DataFile


def _files(*sizes: int) -> list[DataFile]:
    return [
        DataFile(f"s3://wh/data/{n:03d}.parquet", size, size // 10) for n, size in enumerate(sizes)
    ]


@pytest.mark.requirement("B13")
def test_files_are_packed_into_at_most_max_tasks_of_about_equal_bytes() -> None:
    files = _files(900, 800, 700, 600, 500, 400, 300, 200, 100, 100)

    tasks = plan_tasks("crm", 7, files, max_tasks=4)

    assert len(tasks) == 4
    assert sorted(path for task in tasks for path in task.files) == sorted(f.path for f in files)
    sizes = [task.size_bytes for task in tasks]
    assert sum(sizes) == 4600 and max(sizes) - min(sizes) <= 100
    assert [task.index for task in tasks] == [0, 1, 2, 3]
    assert sum(task.rows for task in tasks) == 460


@pytest.mark.requirement("B13")
def test_fewer_files_than_max_tasks_give_one_task_per_file_and_no_empty_task() -> None:
    tasks = plan_tasks("crm", 7, _files(10, 20), max_tasks=64)

    assert [len(task.files) for task in tasks] == [1, 1]
    assert plan_tasks("crm", 7, [], max_tasks=4) == []


@pytest.mark.requirement("B13")
def test_the_same_files_give_the_same_tasks_whatever_order_they_are_listed_in() -> None:
    files = _files(5, 9, 1, 7, 3, 3)

    first = plan_tasks("crm", 7, files, max_tasks=3)
    again = plan_tasks("crm", 7, list(reversed(files)), max_tasks=3)

    assert first == again
    assert len({task.identity for task in first}) == 3
    assert len({task.position_prefix for task in first}) == 3


@pytest.mark.requirement("B13")
def test_a_task_identity_names_destination_snapshot_and_file_set() -> None:
    files = _files(5, 9)
    [base] = plan_tasks("crm", 7, files, max_tasks=1)

    assert plan_tasks("crm", 8, files, max_tasks=1)[0].identity != base.identity
    assert plan_tasks("erp", 7, files, max_tasks=1)[0].identity != base.identity
    assert plan_tasks("crm", 7, files[:1], max_tasks=1)[0].identity != base.identity


def test_files_of_unknown_size_are_packed_by_rows() -> None:
    files = [DataFile(f"f{n}", 0, rows) for n, rows in enumerate([100, 100, 1, 1])]

    tasks = plan_tasks("crm", 1, files, max_tasks=2)

    assert sorted(task.rows for task in tasks) == [101, 101]


def test_max_tasks_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tasks"):
        plan_tasks("crm", 1, _files(1), max_tasks=0)


@pytest.mark.requirement("B13")
def test_a_scope_makes_other_identities_for_the_same_files_and_the_same_ones_again() -> None:
    """An incremental sync names its run: a retry in the run matches its tasks, the next
    run's tasks (another diff of the same files) never do."""
    files = _files(5, 9, 1, 7)
    full = [t.identity for t in plan_tasks("crm", 7, files, max_tasks=2)]
    run_a = [t.identity for t in plan_tasks("crm", 7, files, max_tasks=2, scope="sync a")]
    again = [t.identity for t in plan_tasks("crm", 7, files, max_tasks=2, scope="sync a")]
    run_b = [t.identity for t in plan_tasks("crm", 7, files, max_tasks=2, scope="sync b")]

    assert run_a == again
    assert not set(run_a) & set(run_b) and not set(run_a) & set(full)
    assert full == [t.identity for t in plan_tasks("crm", 7, files, max_tasks=2, scope="")]
