"""A 10M-row table synced once by floe into PostgreSQL, shared by ``no_change`` and
``small_change_10m`` within one benchmark run.

The Iceberg table ``bench.sync_<rows>`` (100 data files of 100,000 rows) is written once and
kept in the benchmark warehouse between runs: a run of ``small_change_10m`` overwrites a few
thousand of its rows, which leaves it a 10M-row table of the same shape. Each benchmark run
syncs it afresh (``sync_mode: upsert`` on ``id`` into a new PostgreSQL schema, a whole
``floe egress run`` process, measured: a first sync writes every fingerprint), so the cases
start from a destination and a state that agree, whatever an earlier run left.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from benchmarks import pg, verify
from benchmarks.cases import Context
from benchmarks.cases.sync_common import byte_compile, own_table, sync_of
from benchmarks.floe_cli import EgressRun, FloeProject, check_cli
from benchmarks.settings import PG_SQLALCHEMY_URL

__all__ = ["DESTINATION", "FILES", "Synced", "synced"]

DESTINATION = "synced_10m"
FILES = 100
_TIMEOUT = 3600.0


@dataclass
class Synced:
    """The synced table: the Iceberg table, the floe project, the PostgreSQL table."""

    table: Any
    project: FloeProject
    qualified: str
    first: EgressRun
    rows: int

    def run(self, *extra: str) -> tuple[EgressRun, dict[str, Any]]:
        """One ``floe egress run`` of the destination; its receipt's ``sync`` part."""
        done = self.project.run(DESTINATION, _TIMEOUT, *extra)
        return done, sync_of(done)[1]

    def expected(self) -> verify.Checksum:
        """The checksum of the table's current rows, streamed."""
        return verify.from_arrow(self.table.refresh().scan().to_arrow_batch_reader())

    def check(self) -> None:
        """PostgreSQL holds exactly the table's rows (count and checksum)."""
        pg.verify_table(self.qualified, self.expected())


_SHARED: dict[int, Synced] = {}


def synced(ctx: Context, rows: int) -> Synced:
    """The table of ``rows`` rows, synced (once per benchmark run)."""
    if rows in _SHARED:
        return _SHARED[rows]
    check_cli("sql_database")
    table = own_table(ctx, f"sync_{rows}", rows, FILES, keep=True)
    stack = contextlib.ExitStack()
    schema = stack.enter_context(pg.scratch_schema("bench_sync10m"))
    ctx.on_close(stack.close)
    project = FloeProject(ctx.scratch(f"floe_sync_{rows}"), ctx.warehouse.properties)
    project.add_secret("bench-pg", {"url": PG_SQLALCHEMY_URL})
    project.add_destination(
        name=DESTINATION,
        sink_type="sql_database",
        connection_secret_ref="bench-pg",
        source_table=f"bench.sync_{rows}",
        primary_key=["id"],
        sync_mode="upsert",
        batch_size=50_000,
        config={"schema": schema, "table": "synced", "mode": "upsert"},
    )
    byte_compile(ctx)
    first = project.run(DESTINATION, _TIMEOUT)
    ctx.log(f"  first sync of {rows:,} rows: {first.seconds:.1f} s, {first.peak_rss_mb:.0f} MB")
    shared = Synced(table, project, f'"{schema}"."synced"', first, rows)
    shared.check()
    _SHARED[rows] = shared
    return shared
