"""What the incremental-sync cases share: their own Iceberg tables, changes to them, the
byte-compiled environment, and the sync part of a receipt."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.cases import Context
from benchmarks.data import SCHEMA, customers_batch
from benchmarks.floe_cli import EgressRun
from benchmarks.iceberg import NAMESPACE
from benchmarks.settings import REPO_ROOT

__all__ = ["byte_compile", "change", "delete_ids", "own_table", "sync_of"]

#: 2025-01-01 in microseconds: every changed row is stamped after it, later than any row of
#: version 0 (whose ``updated_at`` is in 2024), so a cursor on ``updated_at`` finds them.
_EPOCH_2025_US = 1_735_689_600_000_000


def own_table(ctx: Context, name: str, rows: int, files: int, *, keep: bool = False) -> Any:
    """The case's own table ``bench.<name>``: ``rows`` customers in ``files`` appends (a data
    file each), version 0. With ``keep``, a table of that name with ``rows`` rows is reused
    (a case that changes it only rewrites a few of its rows per run)."""
    catalog = ctx.warehouse._load()
    ident = f"{NAMESPACE}.{name}"
    if catalog.table_exists(ident):
        table = catalog.load_table(ident)
        snapshot = table.current_snapshot()
        total = int(snapshot.summary.get("total-records", -1)) if snapshot else -1
        if keep and total == rows:
            ctx.log(f"  reusing {ident} ({rows:,} rows)")
            return table
        catalog.drop_table(ident)
    table = catalog.create_table(ident, schema=SCHEMA)
    per_file = -(-rows // files)
    for start in range(1, rows + 1, per_file):
        count = min(per_file, rows + 1 - start)
        parts = [
            customers_batch(first, min(250_000, start + count - first), 0)
            for first in range(start, start + count, 250_000)
        ]
        table.append(pa.Table.from_batches(parts, schema=SCHEMA))
    ctx.log(f"  wrote {ident}: {rows:,} rows in {files} files")
    return catalog.load_table(ident)


def change(table: Any, first: int, count: int, version: int, stamp: int = 0) -> pa.Table:
    """Rows ``first .. first + count - 1`` redrawn as ``version`` in one overwrite, their
    ``updated_at`` set after 2025-01-01 (plus ``stamp`` seconds); returns the new rows."""
    batch = customers_batch(first, count, version)
    offsets = pc.add(pc.cast(batch.column("id"), pa.int64()), _EPOCH_2025_US + stamp * 1_000_000)
    stamped = batch.set_column(
        SCHEMA.get_field_index("updated_at"),
        SCHEMA.field("updated_at"),
        pc.cast(offsets, pa.timestamp("us", tz="UTC")),
    )
    new = pa.Table.from_batches([stamped], schema=SCHEMA)
    table.overwrite(new, overwrite_filter=f"id >= {first} and id < {first + count}")
    return new


def delete_ids(table: Any, first: int, count: int) -> pa.Table:
    """Delete rows ``first .. first + count - 1``; returns their ids."""
    table.delete(f"id >= {first} and id < {first + count}")
    return pa.table({"id": pa.array(range(first, first + count), pa.int64())})


def byte_compile(ctx: Context) -> None:
    """Write the ``.pyc`` files of the environment (untimed), as an installed floe has them:
    a process started with ``PYTHONDONTWRITEBYTECODE`` would compile every module at every
    start, seconds of each run."""
    paths = [*sysconfig.get_paths()["purelib"].split(os.pathsep)]
    paths += [str(REPO_ROOT / "packages" / "floe-core" / "src")]
    paths += [str(REPO_ROOT / "plugins" / "floe-ingestion-dlt" / "src")]
    done = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *paths],
        capture_output=True,
        check=False,
    )
    ctx.log(f"  byte-compiled the environment (exit {done.returncode})")


def sync_of(done: EgressRun) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first receipt of a run and its ``sync`` part."""
    receipt = (done.receipt.get("receipts") or [done.receipt])[0]
    return receipt, receipt.get("sync") or {}
