"""PostgreSQL append: floe ``sql_database`` vs ADBC ``adbc_ingest`` vs dlt (parquet).

Each run creates its own table (every tool creates it from the Arrow schema) and appends all
rows in one job; the clock covers connecting, creating the table and loading. floe and ADBC
each run on one connection and on two (floe: ``max_connections``, two batches in flight;
ADBC: the rows in two halves, ingested at once on two connections), and are compared at the
same number of connections.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pyarrow as pa

from benchmarks import baselines, floe_lib, pg, verify
from benchmarks.cases import Case, Context
from benchmarks.data import customers
from benchmarks.harness import CaseResult, Variant, run_variants
from benchmarks.settings import PG_SQLALCHEMY_URL


def _variants(ctx: Context, schema: str, data: pa.Table) -> list[Variant]:
    expected = verify.from_arrow(data)
    small = data.slice(0, 1000)
    counter = itertools.count()
    dlt_dir = ctx.work_dir / "dlt_pg_append"

    def variant(
        name: str, label: str, load: Callable[[str, pa.Table], None], is_floe: bool = False
    ) -> Variant:
        current = {"table": ""}

        def prepare() -> None:
            current["table"] = f"{name}_{next(counter)}"

        def run() -> None:
            load(current["table"], data)

        def check() -> None:
            pg.verify_table(f'"{schema}"."{current["table"]}"', expected)

        def cleanup() -> None:
            pg.drop_table(f'"{schema}"."{current["table"]}"')
            baselines.drop_dlt_pipelines(dlt_dir)

        def warmup() -> None:
            load(f"{name}_warmup", small)
            pg.drop_table(f'"{schema}"."{name}_warmup"')

        return Variant(
            name,
            label,
            run,
            check,
            prepare=prepare,
            cleanup=cleanup,
            warmup=warmup,
            is_floe=is_floe,
            check=(lambda: floe_lib.check_sink_type("sql_database")) if is_floe else None,
        )

    def floe_load(
        table: str, rows: pa.Table, batch_size: int | None = None, connections: int = 2
    ) -> None:
        config = {
            "url": PG_SQLALCHEMY_URL,
            "schema": schema,
            "table": table,
            "mode": "append",
            "max_connections": connections,
        }
        floe_lib.write("sql_database", config, rows, batch_size=batch_size)

    return [
        variant(
            "floe", "floe sql_database, mode append (2 connections, the default)", floe_load, True
        ),
        variant(
            "floe_c1",
            "floe sql_database, mode append, max_connections 1",
            lambda t, d: floe_load(t, d, connections=1),
            is_floe=True,
        ),
        variant(
            "floe_b500",
            "floe sql_database, mode append, batch_size 500 (one transaction per 500 rows)",
            lambda t, d: floe_load(t, d, batch_size=500),
            is_floe=True,
        ),
        variant(
            "adbc",
            "ADBC adbc_ingest (COPY BINARY from Arrow), one connection",
            lambda t, d: baselines.adbc_append(schema, t, d),
        ),
        variant(
            "adbc2",
            "ADBC adbc_ingest, two connections (each half of the rows, at once)",
            lambda t, d: baselines.adbc_append_parallel(schema, t, d),
        ),
        variant(
            "dlt",
            'dlt postgres destination, loader_file_format="parquet"',
            lambda t, d: baselines.dlt_postgres(dlt_dir, f"bench_{t}", schema, t, d),
        ),
    ]


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(1_000_000, 50_000)
    result = CaseResult("pg_append", f"PostgreSQL append, {rows:,} rows")
    data = customers(rows)
    with pg.scratch_schema("bench_append") as schema:
        result.variants = run_variants(_variants(ctx, schema, data), rows, ctx.times(5), ctx.log)
    result.targets += [
        result.ratio_target("floe_c1", "adbc", 0.7, "floe >= 0.7x ADBC, one connection each"),
        result.ratio_target("floe", "adbc2", 0.7, "floe >= 0.7x ADBC, two connections each"),
    ]
    ratio, _ = result.ratio("floe", "dlt")
    result.notes.append(
        "Every tool creates its table from the Arrow schema inside the timed run. "
        + (f"floe vs dlt parquet: {ratio:.2f}x." if ratio else "")
    )
    return result


CASE = Case("pg_append", "PostgreSQL append", run)
