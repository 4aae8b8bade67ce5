"""PostgreSQL helpers: a throw-away schema per run, the customers DDL, a COPY loader, checks."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from benchmarks import verify
from benchmarks.settings import PG_DSN

__all__ = [
    "COLUMNS",
    "connect",
    "copy_arrow",
    "create_customers",
    "scratch_schema",
    "server_version",
    "upsert_sql",
    "verify_table",
]

COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "country",
    "lifetime_value",
    "order_count",
    "is_active",
    "updated_at",
    "segment",
)
_DDL = """CREATE TABLE {table} (
    id bigint PRIMARY KEY,
    email text, first_name text, last_name text, country text,
    lifetime_value double precision, order_count integer, is_active boolean,
    updated_at timestamptz, segment text
)"""


def connect(autocommit: bool = True) -> psycopg.Connection[Any]:
    """A psycopg 3 connection to the benchmark server, or a message saying how to start it."""
    try:
        return psycopg.connect(PG_DSN, autocommit=autocommit, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {PG_DSN} ({exc}). "
            "Start it with `bash scripts/services.sh`, or point FLOE_BENCH_PG at another server."
        ) from exc


def server_version() -> str:
    """``SHOW server_version`` of the benchmark server."""
    with connect() as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


@contextmanager
def scratch_schema(prefix: str) -> Iterator[str]:
    """A new schema ``<prefix>_<random>``, dropped with everything in it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with connect() as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def drop_table(qualified: str) -> None:
    """``DROP TABLE IF EXISTS`` (``qualified`` already quoted)."""
    with connect() as conn:
        conn.execute(f"DROP TABLE IF EXISTS {qualified}")


def create_customers(conn: psycopg.Connection[Any], qualified: str) -> None:
    """The customers table with ``id`` as primary key."""
    conn.execute(_DDL.format(table=qualified))


def _csv_chunks(data: pa.Table | Iterable[pa.RecordBatch], rows: int) -> Iterator[bytes]:
    batches = data.to_batches(max_chunksize=rows) if isinstance(data, pa.Table) else data
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for batch in batches:
        buf = io.BytesIO()
        pacsv.write_csv(batch, buf, write_options=options)
        yield buf.getvalue()


def copy_arrow(
    conn: psycopg.Connection[Any], qualified: str, data: pa.Table | Iterable[pa.RecordBatch]
) -> None:
    """``COPY ... FROM STDIN (FORMAT csv)`` of Arrow data, serialised by Arrow's CSV writer."""
    cols = ", ".join(COLUMNS)
    with conn.cursor() as cur, cur.copy(f"COPY {qualified} ({cols}) FROM STDIN (FORMAT csv)") as cp:
        for chunk in _csv_chunks(data, 50_000):
            cp.write(chunk)


def upsert_sql(target: str, staging: str) -> str:
    """``INSERT ... SELECT ... ON CONFLICT (id) DO UPDATE`` of every non-key column."""
    cols = ", ".join(COLUMNS)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c != "id")
    return (
        f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {staging} "
        f"ON CONFLICT (id) DO UPDATE SET {sets}"
    )


def verify_table(qualified: str, expected: verify.Checksum) -> None:
    """Raise ``VerificationError`` unless ``qualified`` holds exactly the expected rows."""
    with connect() as conn:
        try:
            actual = verify.from_postgres(conn, qualified)
        except psycopg.errors.UndefinedTable as exc:
            raise verify.VerificationError(f"{qualified} does not exist") from exc
    verify.check(expected, actual, qualified)
