"""The benchmark cases, one module each, and what they share while a run is going on.

A case module defines ``CASE = Case(...)``; its ``run(ctx)`` builds the variants, runs them
through ``harness.run_variants`` and returns a ``CaseResult`` with the targets checked.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.harness import CaseResult

if TYPE_CHECKING:
    from benchmarks.iceberg import Warehouse
    from benchmarks.servers import HttpServer

__all__ = ["CASE_NAMES", "Case", "Context", "load"]

#: Cases in the order they run.
CASE_NAMES = (
    "pg_append",
    "pg_upsert",
    "rest_push",
    "rest_slow",
    "rest_shaped",
    "small_job",
    "drt_peer",
    "memory",
    "incremental",
    "incremental_1m",
    "no_change",
    "small_change_10m",
    "mirror",
    "sync_state",
    "ray_executor",
    "ray_incremental",
)


@dataclass
class Context:
    """Options of this run and the shared fixtures (created on first use, closed at the end).

    Attributes:
        rows: ``--rows`` override (None: each case's own size).
        repeats: ``--repeats`` override (None: each case's own count).
        quick: Small sizes, fewer repeats: a smoke run of the whole harness.
        work_dir: Scratch space for catalogs, projects and pipelines.
        log: Progress output.
    """

    rows: int | None
    repeats: int | None
    quick: bool
    work_dir: Path
    log: Callable[[str], None]
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def size(self, full: int, quick: int) -> int:
        """Rows for a case: ``--rows``, else the quick or the full size."""
        return self.rows or (quick if self.quick else full)

    def times(self, full: int, quick: int = 2) -> int:
        """Repeats for a case: ``--repeats``, else the quick or the full count."""
        return self.repeats or (quick if self.quick else full)

    @cached_property
    def server(self) -> HttpServer:
        """The local HTTP destination (``/fast/...`` and ``/slow/...``), one per run."""
        from benchmarks.servers import HttpServer

        srv = HttpServer(slow_ms=50)
        self._closers.append(srv.close)
        return srv

    @cached_property
    def warehouse(self) -> Warehouse:
        """The Iceberg SQL catalog (SQLite) with its tables, kept between runs."""
        from benchmarks.iceberg import Warehouse

        return Warehouse(self.work_dir / "iceberg")

    def scratch(self, name: str) -> Path:
        """An empty directory under the work dir."""
        path = self.work_dir / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def on_close(self, closer: Callable[[], None]) -> None:
        """Call ``closer`` when the run ends (a fixture shared by several cases)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Stop servers and the like."""
        while self._closers:
            self._closers.pop()()


@dataclass(frozen=True)
class Case:
    """A named benchmark case."""

    name: str
    title: str
    run: Callable[[Context], CaseResult]


def load(name: str) -> Case:
    """The ``CASE`` of module ``benchmarks.cases.<name>``."""
    if name not in CASE_NAMES:
        raise ValueError(f"unknown case {name!r}; choose from {', '.join(CASE_NAMES)}")
    module = importlib.import_module(f"benchmarks.cases.{name}")
    case: Case = module.CASE
    return case
