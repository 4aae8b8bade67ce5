"""Encoding a record batch for a SQL database: CSV bytes, and DB-API parameter rows.

The CSV is what PostgreSQL's ``COPY ... FROM STDIN (FORMAT csv)`` reads, and it is the
``Payload.body`` of every ``sql_database`` batch, whatever the database (for MySQL and SQLite
it is the deterministic record of the rows that the parameter rows carry):

- RFC 4180, UTF-8, no header, columns in the order of the batch;
- NULL is an empty unquoted field, an empty string is ``""`` (every string is quoted);
- timestamps with a zone are written as UTC wall time, without an offset (the PostgreSQL
  session runs in UTC); all timestamps have microsecond precision (a row with finer digits
  is refused before encoding, ``exact.py``, so nothing is cut);
- booleans are ``true``/``false``; decimals keep their scale (``1.20``); floats are written
  in the shortest form that reads back to the same value (``nan``, ``inf`` included);
- binary values are PostgreSQL hex (``\\x0aff``); lists, structs and maps are JSON text.

Everything is done with Arrow kernels except the rare binary and nested columns.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["csv_body", "parameter_rows"]


def csv_body(batch: pa.RecordBatch) -> bytes:
    """The batch as COPY-ready CSV bytes (see the module docstring for the format)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = [_for_csv(column) for column in batch.columns]
    prepared = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
    sink = io.BytesIO()
    pacsv.write_csv(prepared, sink, pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


def parameter_rows(batch: pa.RecordBatch, *, backend: str) -> list[tuple[Any, ...]]:
    """The batch as DB-API parameter tuples for ``executemany``.

    Temporal values and decimals are passed as ISO / decimal text, which MySQL reads exactly
    and SQLite stores as it is in a column of TEXT affinity (a column of NUMERIC affinity
    converts a decimal to a number: ``types.py`` says when that is exact); timestamps with a
    zone as UTC (on SQLite with a ``+00:00`` suffix).
    """
    columns = [_for_parameters(column, backend=backend) for column in batch.columns]
    return list(zip(*columns, strict=True)) if columns else []


def _decoded(column: pa.Array) -> pa.Array:
    import pyarrow as pa

    while pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column


def _utc_microseconds(column: pa.Array) -> pa.Array:
    """Timestamps as naive microsecond values: UTC wall time for zoned ones."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Casting a zoned timestamp to a naive one keeps the UTC instant; formatting naive
    # timestamps is an order of magnitude faster than formatting zoned ones.
    return pc.cast(column, pa.timestamp("us"), safe=False)


def _for_csv(column: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _decoded(column)
    t = column.type
    if pa.types.is_timestamp(t):
        return _utc_microseconds(column)
    if pa.types.is_time64(t) and t.unit == "ns":
        return pc.cast(column, pa.time64("us"), safe=False)
    if pa.types.is_date64(t):
        return pc.cast(column, pa.date32())
    if pa.types.is_float16(t):
        return pc.cast(column, pa.float32())
    if _is_binary(t):
        return pa.array(
            [None if v is None else "\\x" + v.hex() for v in column.to_pylist()], pa.string()
        )
    if _is_nested(t):
        return _json_text(column)
    return column


def _for_parameters(column: pa.Array, *, backend: str) -> list[Any]:
    values: list[Any] = _python_values(column, backend=backend)
    return values


def _python_values(column: pa.Array, *, backend: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _decoded(column)
    t = column.type
    if pa.types.is_timestamp(t):
        text = pc.cast(_utc_microseconds(column), pa.string())
        if t.tz is not None and backend == "sqlite":
            text = pc.binary_join_element_wise(text, "+00:00", "")
        return text.to_pylist()
    if pa.types.is_temporal(t) and not pa.types.is_duration(t) and not pa.types.is_interval(t):
        return pc.cast(column, pa.string()).to_pylist()
    if pa.types.is_decimal(t):
        return pc.cast(column, pa.string()).to_pylist()
    if pa.types.is_float16(t):
        return pc.cast(column, pa.float32()).to_pylist()
    if _is_nested(t):
        return _json_text(column).to_pylist()
    return column.to_pylist()


def _is_binary(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
    )


def _is_nested(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_nested(t))


def _json_text(column: pa.Array) -> pa.Array:
    import pyarrow as pa

    return pa.array(
        [
            None if v is None else orjson.dumps(v, default=_json_default).decode()
            for v in column.to_pylist()
        ],
        pa.string(),
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
