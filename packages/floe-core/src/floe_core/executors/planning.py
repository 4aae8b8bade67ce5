"""Cutting one snapshot's data files into delivery tasks.

Files are bin-packed by size (largest first, each into the task holding the fewest bytes so
far; rows where a file's size is unknown), so tasks take about as long as each other. A task's
identity is a hash of the destination, the snapshot and its file paths: planned again for the
same snapshot (a retry, a resumed run) it is the same task, and so are the idempotency keys of
its batches, which the engine derives from the task's ``position_prefix``.

The tasks of an incremental sync send a diff against the fingerprints as they were when the run
started, which the next run's differs from: their identity also names the run (``scope``), so a
retried task matches the batches its earlier attempt confirmed, and never another run's.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from floe_core.iceberg.source import DataFile

__all__ = ["FileTask", "plan_tasks"]


@dataclass(frozen=True)
class FileTask:
    """The data files one task reads and delivers.

    Attributes:
        index: Its place in the run's task order (receipts merge in this order).
        identity: Hash of destination, snapshot and file paths; stable across plans.
        files: The file paths, sorted.
        size_bytes: Their total size on storage.
        rows: Their total rows (from the manifests).
    """

    index: int
    identity: str
    files: tuple[str, ...]
    size_bytes: int
    rows: int

    @property
    def position_prefix(self) -> str:
        """Put before each of its batch positions: the batch keys of two tasks never meet."""
        return f"task-{self.identity[:16]}."


def plan_tasks(
    destination: str,
    snapshot_id: int | None,
    files: Sequence[DataFile],
    max_tasks: int,
    *,
    scope: str = "",
) -> list[FileTask]:
    """Bin-pack ``files`` into at most ``max_tasks`` tasks (never an empty one).

    Tasks come out ordered by their first file path, so the same files give the same order.

    Args:
        destination: The destination's name.
        snapshot_id: The pinned snapshot.
        files: The data files to deliver.
        max_tasks: At most this many tasks.
        scope: Also part of each task's identity (an incremental sync names its run).

    Raises:
        ValueError: ``max_tasks`` is less than 1.
    """
    if max_tasks < 1:
        raise ValueError(f"max_tasks must be at least 1, got {max_tasks}")
    count = min(max_tasks, len(files))
    bins: list[list[DataFile]] = [[] for _ in range(count)]
    # (weight so far, bin number): the lightest bin takes the next file; ties by number.
    heap = [(0, number) for number in range(count)]
    for file in sorted(files, key=lambda f: (-_weight(f), f.path)):
        weight, number = heapq.heappop(heap)
        bins[number].append(file)
        heapq.heappush(heap, (weight + _weight(file), number))
    packed = sorted((sorted(b, key=lambda f: f.path) for b in bins), key=lambda b: b[0].path)
    return [
        FileTask(
            index=index,
            identity=_identity(destination, snapshot_id, scope, [f.path for f in chosen]),
            files=tuple(f.path for f in chosen),
            size_bytes=sum(f.size_bytes for f in chosen),
            rows=sum(f.rows for f in chosen),
        )
        for index, chosen in enumerate(packed)
    ]


def _weight(file: DataFile) -> int:
    return file.size_bytes if file.size_bytes > 0 else file.rows


def _identity(destination: str, snapshot_id: int | None, scope: str, paths: list[str]) -> str:
    parts = ["floe-task", destination, str(snapshot_id), *([f"scope {scope}"] if scope else [])]
    text = "\n".join([*parts, *paths])
    return hashlib.sha256(text.encode()).hexdigest()
