"""PostgreSQL upsert, every row conflicting: floe vs COPY-into-temp + ON CONFLICT vs dlt merge.

Before each run (untimed) the table holds version 0 of every row; the run upserts version 1,
which changes every non-key value, so the checksum proves every row was updated. floe and the
COPY baseline write into the same table shape (``id bigint PRIMARY KEY``); dlt writes into a
table its own pipeline created (dlt adds its bookkeeping tables and a staging schema). floe
and COPY-temp-merge each run on one connection and on two (floe: ``max_connections``, the
batch in two key-disjoint parts at once; COPY-temp-merge: each half of the rows on its own
connection, at once), and are compared at the same number of connections.
"""

from __future__ import annotations

import itertools

import pyarrow as pa

from benchmarks import baselines, floe_lib, pg, verify
from benchmarks.cases import Case, Context
from benchmarks.data import customers
from benchmarks.harness import CaseResult, Variant, run_variants
from benchmarks.settings import PG_SQLALCHEMY_URL


def _variants(ctx: Context, schema: str, old: pa.Table, new: pa.Table) -> list[Variant]:
    expected = verify.from_arrow(new)
    counter = itertools.count()
    dlt_dir = ctx.work_dir / "dlt_pg_upsert"
    tables: dict[str, str] = {}

    def qualified(name: str) -> str:
        return f'"{schema}"."{tables[name]}"'

    def fresh(name: str) -> None:
        tables[name] = f"{name}_{next(counter)}"
        with pg.connect() as conn:
            pg.create_customers(conn, qualified(name))
            pg.copy_arrow(conn, qualified(name), old)

    def floe_write(
        table: str, data: pa.Table, batch_size: int | None = None, connections: int = 2
    ) -> None:
        config = {
            "url": PG_SQLALCHEMY_URL,
            "schema": schema,
            "table": table,
            "mode": "upsert",
            "primary_key": ["id"],
            "max_connections": connections,
        }
        floe_lib.write("sql_database", config, data, batch_size=batch_size)

    def floe_warmup() -> None:
        fresh("floe")
        floe_write(tables["floe"], new.slice(0, 1000))
        pg.drop_table(qualified("floe"))

    def dlt_prepare() -> None:
        tables["dlt"] = f"dlt_{next(counter)}"
        baselines.dlt_postgres(dlt_dir, f"bench_{tables['dlt']}", schema, tables["dlt"], old, True)

    def dlt_cleanup() -> None:
        pg.drop_table(qualified("dlt"))
        baselines.drop_dlt_pipelines(dlt_dir)
        with pg.connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_staging" CASCADE')

    def copy_warmup() -> None:
        fresh("copy_merge")
        baselines.copy_temp_merge(qualified("copy_merge"), new.slice(0, 1000))
        pg.drop_table(qualified("copy_merge"))

    return [
        Variant(
            "floe",
            "floe sql_database, mode upsert (2 connections, the default)",
            run=lambda: floe_write(tables["floe"], new),
            verify=lambda: pg.verify_table(qualified("floe"), expected),
            prepare=lambda: fresh("floe"),
            cleanup=lambda: pg.drop_table(qualified("floe")),
            check=lambda: floe_lib.check_sink_type("sql_database"),
            warmup=floe_warmup,
            is_floe=True,
        ),
        Variant(
            "floe_c1",
            "floe sql_database, mode upsert, max_connections 1",
            run=lambda: floe_write(tables["floe_c1"], new, connections=1),
            verify=lambda: pg.verify_table(qualified("floe_c1"), expected),
            prepare=lambda: fresh("floe_c1"),
            cleanup=lambda: pg.drop_table(qualified("floe_c1")),
            check=lambda: floe_lib.check_sink_type("sql_database"),
            is_floe=True,
        ),
        Variant(
            "floe_b500",
            "floe sql_database, mode upsert, batch_size 500 (one transaction per 500 rows)",
            run=lambda: floe_write(tables["floe_b500"], new, batch_size=500),
            verify=lambda: pg.verify_table(qualified("floe_b500"), expected),
            prepare=lambda: fresh("floe_b500"),
            cleanup=lambda: pg.drop_table(qualified("floe_b500")),
            check=lambda: floe_lib.check_sink_type("sql_database"),
            is_floe=True,
        ),
        Variant(
            "copy_merge",
            "psycopg COPY into temp table + INSERT ... ON CONFLICT DO UPDATE, one connection",
            run=lambda: baselines.copy_temp_merge(qualified("copy_merge"), new),
            verify=lambda: pg.verify_table(qualified("copy_merge"), expected),
            prepare=lambda: fresh("copy_merge"),
            cleanup=lambda: pg.drop_table(qualified("copy_merge")),
            warmup=copy_warmup,
        ),
        Variant(
            "copy_merge2",
            "the same on two connections (each half of the rows, at once)",
            run=lambda: baselines.copy_temp_merge_parallel(qualified("copy_merge2"), new),
            verify=lambda: pg.verify_table(qualified("copy_merge2"), expected),
            prepare=lambda: fresh("copy_merge2"),
            cleanup=lambda: pg.drop_table(qualified("copy_merge2")),
        ),
        Variant(
            "dlt",
            'dlt postgres, write_disposition="merge" (parquet)',
            run=lambda: baselines.dlt_postgres(
                dlt_dir, f"bench_{tables['dlt']}", schema, tables["dlt"], new, True
            ),
            verify=lambda: pg.verify_table(qualified("dlt"), expected),
            prepare=dlt_prepare,
            cleanup=dlt_cleanup,
        ),
    ]


def run(ctx: Context) -> CaseResult:
    """Measure, verify, compare."""
    rows = ctx.size(100_000, 20_000)
    result = CaseResult("pg_upsert", f"PostgreSQL upsert, {rows:,} rows, every row conflicting")
    old, new = customers(rows, 0), customers(rows, 1)
    with pg.scratch_schema("bench_upsert") as schema:
        result.variants = run_variants(
            _variants(ctx, schema, old, new), rows, ctx.times(5), ctx.log
        )
    result.targets += [
        result.ratio_target(
            "floe_c1", "copy_merge", 0.9, "floe >= 0.9x COPY-temp-merge, one connection each"
        ),
        result.ratio_target(
            "floe", "copy_merge2", 0.9, "floe >= 0.9x COPY-temp-merge, two connections each"
        ),
    ]
    ratio, _ = result.ratio("floe", "dlt")
    if ratio:
        result.notes.append(f"floe vs dlt merge: {ratio:.2f}x.")
    return result


CASE = Case("pg_upsert", "PostgreSQL upsert", run)
