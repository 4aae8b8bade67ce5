"""Incremental sync, whole process: what a run costs when little or nothing changed.

One Iceberg table of ``rows`` customers in 10 data files (rewritten at the start of each
run: the case changes it), synced into PostgreSQL with ``sync_mode: mirror`` (upsert on
``id``). Each step is a fresh ``floe egress run`` process, timed from outside, and every step
is verified at the destination (the PostgreSQL table's checksum equals the Iceberg table's):

- ``no_change``: nothing changed since the last run (read path ``up_to_date``, no data file
  read);
- ``change_0.1%`` / ``change_1%`` / ``change_10%``: that share of the rows updated by an
  overwrite of the ids at the start of one data file (read path ``changed``: the rewritten
  file and the new rows' file, and the removed file's keys);
- ``mirror_1%``: 1% of the keys deleted from one file: exactly those keys are deleted;
- ``full_resend``: the same table sent whole to another table with ``sync_mode: full``
  (what every run cost before incremental sync; ``mode: replace``, so deletes reach it too),
  the baseline of the ratios.

The environment is byte-compiled first (untimed), as an installed floe is.

The diff's cost against the size of the change is in each step's figures: rows sent, data
files read, and the time.
"""

from __future__ import annotations

import statistics
from typing import Any

import pyarrow as pa

from benchmarks import pg, verify
from benchmarks.cases import Case, Context
from benchmarks.cases.sync_common import byte_compile
from benchmarks.data import SCHEMA, customers_batch
from benchmarks.floe_cli import FloeProject, check_cli
from benchmarks.harness import CaseResult, Target, VariantResult
from benchmarks.iceberg import NAMESPACE
from benchmarks.settings import PG_SQLALCHEMY_URL

_FILES = 10


def fresh_table(ctx: Context, rows: int) -> Any:
    """The case's own table: ``rows`` customers in ``_FILES`` appends (one file each)."""
    catalog = ctx.warehouse._load()
    ident = f"{NAMESPACE}.incremental_{rows}"
    if catalog.table_exists(ident):
        catalog.drop_table(ident)
    table = catalog.create_table(ident, schema=SCHEMA)
    per_file = rows // _FILES
    for start in range(1, rows + 1, per_file):
        count = min(per_file, rows + 1 - start)
        table.append(pa.Table.from_batches([customers_batch(start, count, 0)], schema=SCHEMA))
    return catalog.load_table(ident)


def _change(table: Any, first: int, count: int, version: int) -> None:
    """Rows ``first .. first + count - 1`` redrawn as ``version``, in one overwrite."""
    new = pa.Table.from_batches([customers_batch(first, count, version)], schema=SCHEMA)
    table.overwrite(new, overwrite_filter=f"id >= {first} and id < {first + count}")


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(1_000_000, 50_000)
    result = CaseResult(
        "incremental_1m",
        f"Incremental sync into PostgreSQL, whole process, {rows:,}-row table in {_FILES} files",
    )
    try:
        check_cli("sql_database")
    except Exception as exc:
        result.notes.append(f"unavailable: {exc}")
        return result
    table = fresh_table(ctx, rows)
    ident = f"{NAMESPACE}.incremental_{rows}"
    per_file = rows // _FILES
    steps: list[VariantResult] = []
    with pg.scratch_schema("bench_incr") as schema:
        project = FloeProject(ctx.scratch("floe_incremental"), ctx.warehouse.properties)
        project.add_secret("bench-pg", {"url": PG_SQLALCHEMY_URL})
        # The baseline sends the whole table and swaps it in (sql_database mode replace), so
        # its destination matches the source after deletes too.
        for name, mode, target, write in (
            ("synced", "mirror", "mirrored", "upsert"),
            ("full", "full", "resent", "replace"),
        ):
            project.add_destination(
                name=name,
                sink_type="sql_database",
                connection_secret_ref="bench-pg",
                source_table=ident,
                primary_key=["id"],
                sync_mode=mode,
                batch_size=50_000,
                config={"schema": schema, "table": target, "mode": write},
            )
        byte_compile(ctx)

        def check(where: str) -> None:
            expected = verify.from_arrow(table.refresh().scan().to_arrow())
            pg.verify_table(f'"{schema}"."{where}"', expected)

        def step(
            label: str,
            key: str,
            destination: str,
            repeats: int = 1,
            into: VariantResult | None = None,
        ) -> VariantResult:
            measured = into or VariantResult(key, label, rows, is_floe=True)
            try:
                for _ in range(repeats):
                    done = project.run(destination, timeout=1800)
                    receipt = (done.receipt.get("receipts") or [done.receipt])[0]
                    sync = receipt.get("sync") or {}
                    check("mirrored" if destination == "synced" else "resent")
                    measured.seconds.append(done.seconds)
                    measured.extras.append(
                        {
                            "peak_rss_mb": done.peak_rss_mb,
                            "rows_sent": float(sync.get("sent", receipt.get("rows_delivered", 0))),
                            "deleted": float(sync.get("deleted", 0)),
                            "files_read": float(sync.get("files_read", _FILES)),
                        }
                    )
                    ctx.log(f"  {key}: {done.seconds:.2f} s, {sync.get('read_path', 'full')}")
            except Exception as exc:
                measured.status = f"failed: {str(exc)[:300]}"
            if into is None:
                steps.append(measured)
            return measured

        step("first run: every row (full scan)", "first_sync", "synced")
        full = step(
            "full re-send, sync_mode full (baseline; before and after the changes)",
            "full_resend",
            "full",
        )
        no_change = step("no change since the last run", "no_change", "synced", repeats=3)
        changes: list[tuple[float, VariantResult]] = []
        for share, version in ((0.001, 1), (0.01, 2), (0.1, 3)):
            count = max(1, int(rows * share))
            _change(table, 1 + per_file * len(changes), count, version)
            label = f"{share:.1%} of the rows updated in one file (overwrite)"
            changes.append((share, step(label, f"change_{share:.1%}", "synced")))
        deleted = max(1, rows // 100)
        first = 1 + per_file * 4
        table.delete(f"id >= {first} and id < {first + deleted}")
        mirror = step("1% of the keys deleted from one file (mirror)", "mirror_1%", "synced")
        step("", "full_resend", "full", into=full)
    result.variants = steps
    _targets(result, rows, no_change, changes, mirror, full, deleted)
    return result


def _targets(
    result: CaseResult,
    rows: int,
    no_change: VariantResult,
    changes: list[tuple[float, VariantResult]],
    mirror: VariantResult,
    full: VariantResult,
    deleted: int,
) -> None:
    base = full.median_seconds if full.ok else None

    def ratio(step: VariantResult) -> float | None:
        med = step.median_seconds if step.ok else None
        return base / med if base and med else None

    small = next(step for share, step in changes if share == 0.01)
    result.targets += [
        Target(
            "no change: zero data files read",
            no_change.median_extra("files_read") if no_change.ok else None,
            0,
            "<=",
            "files",
        ),
        Target("no change: floe >= 5x faster than a full re-send", ratio(no_change), 5.0),
        Target("1% changed: floe >= 3x faster than a full re-send", ratio(small), 3.0),
        Target(
            f"mirror: exactly the {deleted:,} deleted keys deleted (rows off)",
            abs((mirror.median_extra("deleted") or 0) - deleted) if mirror.ok else None,
            0,
            "<=",
            "rows",
        ),
    ]
    cost = [
        f"{share:.1%}: {step.median_extra('rows_sent') or 0:,.0f} rows sent, "
        f"{step.median_extra('files_read') or 0:.0f} of {_FILES} data files read, "
        f"{step.median_seconds or 0:.2f} s"
        for share, step in changes
        if step.ok
    ]
    result.notes += [
        "Diff cost against change size (one overwrite of the ids at the start of one file): "
        + "; ".join(cost)
        + (f"; full re-send of all {rows:,} rows: {base:.2f} s." if base else "."),
        "Ratios are full re-send time / incremental time, medians from this run. "
        + ", ".join(
            f"{step.name} {r:.1f}x"
            for step in (no_change, *(s for _, s in changes), mirror)
            if (r := ratio(step)) is not None
        ),
        "Every step is checked at PostgreSQL: the table's checksum equals the Iceberg "
        "table's current rows.",
        f"no_change wall times: {', '.join(f'{s:.2f}' for s in no_change.seconds)} s"
        + (f" (median {statistics.median(no_change.seconds):.2f} s)" if no_change.seconds else ""),
    ]


CASE = Case("incremental_1m", "Incremental sync at 1M rows: diff cost against change size", run)
