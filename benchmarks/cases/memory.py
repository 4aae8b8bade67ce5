"""Memory: peak resident memory of ``floe egress run`` as the table grows (Iceberg -> PostgreSQL).

The same job at two sizes (1M and 5M rows by default) appends into a fresh PostgreSQL table.
Peak RSS is the kernel's high-water mark of the floe process plus its children, sampled every
10 ms. Streaming means the peak should not depend on the table's size.
"""

from __future__ import annotations

import itertools

from benchmarks import pg, verify
from benchmarks.cases import Case, Context
from benchmarks.data import batches, customers_batch
from benchmarks.floe_cli import FloeProject, check_cli
from benchmarks.harness import CaseResult, Target, Variant, VariantResult, run_variants
from benchmarks.settings import PG_SQLALCHEMY_URL


def _size_variant(
    ctx: Context, project: FloeProject, schema: str, rows: int, counter: itertools.count[int]
) -> Variant:
    source = ctx.warehouse.table(rows)
    expected = verify.from_arrow(batches(rows))
    name = f"rows_{rows}"
    current = {"table": ""}

    def prepare() -> None:
        current["table"] = f"mem_{rows}_{next(counter)}"
        project.add_destination(
            name="memory",
            sink_type="sql_database",
            connection_secret_ref="bench-pg",
            source_table=source,
            config={"schema": schema, "table": current["table"], "mode": "append"},
        )

    def run() -> dict[str, float]:
        return project.run("memory", timeout=1800).figures()

    return Variant(
        name,
        f"floe egress run, {rows:,} rows, sql_database append",
        run=run,
        verify=lambda: pg.verify_table(f'"{schema}"."{current["table"]}"', expected),
        prepare=prepare,
        cleanup=lambda: pg.drop_table(f'"{schema}"."{current["table"]}"'),
        check=lambda: check_cli("sql_database"),
        is_floe=True,
    )


def _peak(v: VariantResult | None) -> float | None:
    return v.median_extra("peak_rss_mb") if v is not None and v.ok else None


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    small = ctx.size(1_000_000, 50_000)
    large = small * 5
    result = CaseResult(
        "memory", f"Memory: peak RSS of floe egress run, {small:,} and {large:,} rows"
    )
    project = FloeProject(ctx.scratch("floe_memory"), ctx.warehouse.properties)
    project.add_secret("bench-pg", {"url": PG_SQLALCHEMY_URL})
    counter = itertools.count()
    with pg.scratch_schema("bench_memory") as schema:
        for rows in (small, large):
            variant = _size_variant(ctx, project, schema, rows, counter)
            result.variants += run_variants([variant], rows, ctx.times(2, 1), ctx.log)
    arrow_per_row = customers_batch(1, 10_000).nbytes / 10_000
    for rows in (small, large):
        files = ctx.warehouse.data_files(ctx.warehouse.table(rows))
        biggest = max(files, default=(0, 0))
        result.notes.append(
            f"source {rows:,} rows: {len(files)} data file(s), the largest {biggest[0]:,} rows, "
            f"{biggest[1] / 2**20:.1f} MiB of Parquet, about "
            f"{biggest[0] * arrow_per_row / 2**20:.0f} MiB once decoded to Arrow"
        )
    peak_small, peak_large = _peak(result.variants[0]), _peak(result.variants[1])
    why = "" if peak_large else result.variants[1].status
    result.targets.append(
        Target(f"peak RSS at {large:,} rows <= 600 MB", peak_large, 600, "<=", "MB", why)
    )
    growth = peak_large / peak_small if peak_small and peak_large else None
    result.targets.append(
        Target(
            f"flat: peak at {large:,} rows / peak at {small:,} rows <= 1.25",
            growth,
            1.25,
            "<=",
            "x",
            "" if growth else "both sizes must run",
        )
    )
    return result


CASE = Case("memory", "Memory", run)
