"""The tools a user would otherwise pick, driven the way their documentation shows.

ADBC ``adbc_ingest`` (PostgreSQL COPY from Arrow), psycopg 3 COPY into a temp table plus
``INSERT ... ON CONFLICT``, dlt's postgres destination with parquet files, plain httpx posting
and a plain ``@dlt.destination`` function.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from benchmarks import pg
from benchmarks.settings import PG_DSN

__all__ = [
    "adbc_append",
    "adbc_append_parallel",
    "copy_temp_merge",
    "copy_temp_merge_parallel",
    "dlt_function_push",
    "dlt_postgres",
    "halves",
    "httpx_post",
    "httpx_post_parallel",
    "serialize_batches",
]

# dlt asks for a password even where the server trusts the client; any value works there.
_DLT_PG = PG_DSN.replace("postgresql://postgres@", "postgresql://postgres:unused@", 1)
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def adbc_append(schema: str, table: str, data: pa.Table) -> None:
    """``adbc_ingest(mode="create")``: Arrow straight into COPY BINARY, one transaction."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(PG_DSN) as conn:
        with conn.cursor() as cur:
            cur.adbc_ingest(table, data, mode="create", db_schema_name=schema)
        conn.commit()


def halves(data: pa.Table) -> list[pa.Table]:
    """The first and the second half of the rows (key-disjoint: the ids are in order)."""
    middle = data.num_rows // 2
    return [data.slice(0, middle), data.slice(middle)]


def _at_once(jobs: list[Callable[[], None]]) -> None:
    """Run ``jobs`` in parallel threads; raise the first failure."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def adbc_append_parallel(schema: str, table: str, data: pa.Table, streams: int = 2) -> None:
    """The table created from the Arrow schema, then ``adbc_ingest(mode="append")`` of one
    part of the rows per connection, the parts at once (one transaction each)."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(PG_DSN) as conn:
        with conn.cursor() as cur:
            cur.adbc_ingest(table, data.schema.empty_table(), mode="create", db_schema_name=schema)
        conn.commit()

    def ingest(part: pa.Table) -> Callable[[], None]:
        def job() -> None:
            with adbc.connect(PG_DSN) as conn:
                with conn.cursor() as cur:
                    cur.adbc_ingest(table, part, mode="append", db_schema_name=schema)
                conn.commit()

        return job

    step = -(-data.num_rows // streams)
    _at_once([ingest(data.slice(i, step)) for i in range(0, data.num_rows, step)])


def copy_temp_merge_parallel(qualified: str, data: pa.Table) -> None:
    """:func:`copy_temp_merge` of each half of the rows on its own connection, both at once."""
    _at_once([functools.partial(copy_temp_merge, qualified, part) for part in halves(data)])


def copy_temp_merge(qualified: str, data: pa.Table) -> None:
    """COPY into a temp table (CSV written by Arrow), then one ``INSERT ... ON CONFLICT``."""
    with pg.connect(autocommit=False) as conn:
        conn.execute(f"CREATE TEMP TABLE bench_stage (LIKE {qualified}) ON COMMIT DROP")
        pg.copy_arrow(conn, "bench_stage", data)
        conn.execute(pg.upsert_sql(qualified, "bench_stage"))
        conn.commit()


def dlt_postgres(
    pipelines_dir: Path, name: str, schema: str, table: str, data: pa.Table, merge: bool = False
) -> None:
    """dlt pipeline into PostgreSQL with ``loader_file_format="parquet"`` (append or merge)."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.postgres(credentials=_DLT_PG),
        dataset_name=schema,
        pipelines_dir=str(pipelines_dir),
    )
    kwargs: dict[str, Any] = {"write_disposition": "merge", "primary_key": "id"} if merge else {}
    pipeline.run(data, table_name=table, loader_file_format="parquet", **kwargs)


def drop_dlt_pipelines(pipelines_dir: Path) -> None:
    """dlt keeps every load package on disk; a benchmark run should not."""
    shutil.rmtree(pipelines_dir, ignore_errors=True)


def serialize_batches(data: pa.Table, batch_size: int) -> list[bytes]:
    """JSON arrays of ``batch_size`` records (orjson), prepared before the clock starts."""
    import orjson

    return [orjson.dumps(b.to_pylist()) for b in data.to_batches(max_chunksize=batch_size)]


def httpx_post(url: str, bodies: Sequence[bytes]) -> None:
    """One ``httpx.Client``, one POST per pre-serialised body, in order."""
    import httpx

    headers = {"Content-Type": "application/json"}
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            client.post(url, content=body, headers=headers).raise_for_status()


def httpx_post_parallel(url: str, bodies: Sequence[bytes], workers: int) -> None:
    """One shared ``httpx.Client``, ``workers`` threads posting the bodies (each body once)."""
    import httpx

    headers = {"Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(timeout=60, limits=limits) as client:

        def post(body: bytes) -> None:
            client.post(url, content=body, headers=headers).raise_for_status()

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(post, body) for body in bodies]:
                future.result()


def dlt_function_push(pipelines_dir: Path, name: str, url: str, data: pa.Table) -> None:
    """A plain ``@dlt.destination`` function posting each batch of 500 with httpx + orjson."""
    import dlt
    import httpx
    import orjson

    headers = {"Content-Type": "application/json"}
    with httpx.Client(timeout=60) as client:

        @dlt.destination(batch_size=500, name="bench_http")
        def push(items: Any, table: Any) -> None:
            rows = items.to_pylist() if isinstance(items, pa.RecordBatch | pa.Table) else items
            client.post(url, content=orjson.dumps(rows), headers=headers).raise_for_status()

        pipeline = dlt.pipeline(
            pipeline_name=name, destination=push, pipelines_dir=str(pipelines_dir)
        )
        pipeline.run(data, table_name="customers")
