"""Memory: peak resident memory of ``floe egress run`` as the table grows (Iceberg -> PostgreSQL).

The same job appends into a fresh PostgreSQL table from three tables: 1M rows (one data
file), 5M rows in five files of 1M, and 5M rows in one data file of five row groups. Peak RSS
is the kernel's high-water mark of the floe process plus its children, sampled every 10 ms.
Streaming means the peak depends neither on the number of files (files are not held
together) nor on the size of one file (a file is read a slice at a time, not whole).
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
    ctx: Context,
    project: FloeProject,
    schema: str,
    rows: int,
    counter: itertools.count[int],
    one_file: bool,
) -> Variant:
    source = ctx.warehouse.table(rows, one_file=one_file)
    expected = verify.from_arrow(batches(rows))
    name = f"rows_{rows}" + ("_one_file" if one_file else "")
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
        f"floe egress run, {rows:,} rows ({_shape(ctx, source)}), sql_database append",
        run=run,
        verify=lambda: pg.verify_table(f'"{schema}"."{current["table"]}"', expected),
        prepare=prepare,
        cleanup=lambda: pg.drop_table(f'"{schema}"."{current["table"]}"'),
        check=lambda: check_cli("sql_database"),
        is_floe=True,
    )


def _shape(ctx: Context, source: str) -> str:
    """How the table is stored: ``5 files`` or ``1 file, 5 row groups``."""
    files = ctx.warehouse.data_files(source)
    if len(files) == 1:
        return f"1 file, {files[0][2]} row group(s)"
    return f"{len(files)} files"


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
    shapes = ((small, False), (large, False), (large, True))
    with pg.scratch_schema("bench_memory") as schema:
        for rows, one_file in shapes:
            variant = _size_variant(ctx, project, schema, rows, counter, one_file)
            result.variants += run_variants([variant], rows, ctx.times(2, 1), ctx.log)
    arrow_per_row = customers_batch(1, 10_000).nbytes / 10_000
    for rows, one_file in shapes:
        files = ctx.warehouse.data_files(ctx.warehouse.table(rows, one_file=one_file))
        biggest = max(files, default=(0, 0, 0))
        result.notes.append(
            f"source {rows:,} rows: {len(files)} data file(s), the largest {biggest[0]:,} rows "
            f"in {biggest[2]} row group(s), {biggest[1] / 2**20:.1f} MiB of Parquet, about "
            f"{biggest[0] * arrow_per_row / 2**20:.0f} MiB once decoded to Arrow"
        )
    peak_small, peak_files, peak_one = (_peak(v) for v in result.variants)
    largest = max((p for p in (peak_files, peak_one) if p), default=None)
    many = _shape(ctx, ctx.warehouse.table(large))
    one = _shape(ctx, ctx.warehouse.table(large, one_file=True))
    result.targets.append(
        Target(
            f"peak RSS at {large:,} rows, in {many} or in {one}, <= 600 MB",
            largest if peak_files and peak_one else None,
            600,
            "<=",
            "MB",
            "" if peak_files and peak_one else "both 5M-row tables must run",
        )
    )
    for peak, what in ((peak_files, f"in {many}"), (peak_one, f"in {one}")):
        growth = peak / peak_small if peak and peak_small else None
        result.targets.append(
            Target(
                f"flat: peak at {large:,} rows {what} / peak at {small:,} rows <= 1.25",
                growth,
                1.25,
                "<=",
                "x",
                "" if growth else "both sizes must run",
            )
        )
    return result


CASE = Case("memory", "Memory", run)
