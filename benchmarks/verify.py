"""Did every row arrive, with every value intact? Count and checksum at the destination.

A checksum is a small dict of order-independent aggregates over all ten columns, computed three
independent ways: from the Arrow data that was sent, by a SQL query in PostgreSQL, and from the
JSON records an HTTP server received. Equal dicts mean the same multiset of rows (up to
collisions of 32-bit string hashes summed per column), so a fast wrong answer is caught.

This module imports no pyarrow at the top: the HTTP server process uses ``from_records``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from psycopg import Connection

__all__ = [
    "STRING_COLUMNS",
    "Checksum",
    "VerificationError",
    "check",
    "from_arrow",
    "from_postgres",
    "from_records",
]

STRING_COLUMNS = ("email", "first_name", "last_name", "country", "segment")
Checksum = dict[str, int]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class VerificationError(AssertionError):
    """The destination does not hold exactly the rows that were sent."""


def str_hash(value: str) -> int:
    """First 32 bits of the MD5 of the UTF-8 bytes (PostgreSQL computes the same)."""
    return int(hashlib.md5(value.encode()).hexdigest()[:8], 16)


def _empty() -> Checksum:
    out = dict.fromkeys(
        (
            "rows",
            "distinct_ids",
            "id_sum",
            "ltv_cents_sum",
            "order_count_sum",
            "active_rows",
            "updated_at_us_sum",
        ),
        0,
    )
    for col in STRING_COLUMNS:
        out[f"{col}_nonnull"] = 0
        out[f"{col}_md5_sum"] = 0
    return out


def from_arrow(data: pa.Table | Iterable[pa.RecordBatch]) -> Checksum:
    """Checksum of Arrow data with the benchmark schema (a table or record batches)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = _empty()
    ids: list[pa.Array] = []
    parts = data.to_batches() if isinstance(data, pa.Table) else data
    for batch in parts:
        out["rows"] += batch.num_rows
        id_col = batch.column("id")
        out["id_sum"] += pc.sum(id_col).as_py() or 0
        ids.append(id_col)
        cents = pc.round(pc.multiply(batch.column("lifetime_value"), 100.0))
        out["ltv_cents_sum"] += int(pc.sum(cents).as_py() or 0)
        out["order_count_sum"] += pc.sum(batch.column("order_count")).as_py() or 0
        out["active_rows"] += pc.sum(pc.cast(batch.column("is_active"), pa.int64())).as_py() or 0
        # Split seconds from microseconds: an int64 sum of epoch micros overflows.
        micros = pc.cast(batch.column("updated_at"), pa.int64())
        seconds = pc.divide(micros, 1_000_000)
        rest = pc.subtract(micros, pc.multiply(seconds, 1_000_000))
        sec_sum = pc.sum(seconds).as_py() or 0
        out["updated_at_us_sum"] += sec_sum * 1_000_000 + (pc.sum(rest).as_py() or 0)
        for col in STRING_COLUMNS:
            counts = pc.value_counts(batch.column(col).drop_null())
            out[f"{col}_nonnull"] += batch.num_rows - batch.column(col).null_count
            for item in counts.to_pylist():
                out[f"{col}_md5_sum"] += str_hash(item["values"]) * item["counts"]
    if ids:
        out["distinct_ids"] = pc.count_distinct(pa.chunked_array(ids)).as_py()
    return out


def _micros(value: Any) -> int:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - _EPOCH
        micros: int = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return micros
    raise VerificationError(f"updated_at is neither a timestamp nor ISO-8601 text: {value!r}")


def from_records(records: Iterable[Mapping[str, Any]]) -> Checksum:
    """Checksum of decoded JSON records (what an HTTP destination received)."""
    out = _empty()
    ids: set[int] = set()
    for rec in records:
        out["rows"] += 1
        ident = int(rec["id"])
        ids.add(ident)
        out["id_sum"] += ident
        out["ltv_cents_sum"] += round(float(rec["lifetime_value"]) * 100)
        out["order_count_sum"] += int(rec["order_count"])
        out["active_rows"] += 1 if rec["is_active"] else 0
        out["updated_at_us_sum"] += _micros(rec["updated_at"])
        for col in STRING_COLUMNS:
            value = rec.get(col)
            if value is not None:
                out[f"{col}_nonnull"] += 1
                out[f"{col}_md5_sum"] += str_hash(value)
    out["distinct_ids"] = len(ids)
    return out


def _md5_expr(col: str) -> str:
    return f"coalesce(sum(('x' || substr(md5({col}), 1, 8))::bit(32)::bigint), 0)"


def postgres_sql(qualified_table: str) -> str:
    """The checksum query for a table holding the benchmark columns (extra columns ignored)."""
    strings = ",\n  ".join(f"count({c}), {_md5_expr(c)}" for c in STRING_COLUMNS)
    return (
        "SELECT count(*), count(DISTINCT id), coalesce(sum(id), 0),\n"
        "  coalesce(sum(round(lifetime_value * 100)::bigint), 0),\n"
        "  coalesce(sum(order_count), 0),\n"
        "  count(*) FILTER (WHERE is_active),\n"
        "  coalesce(sum((extract(epoch FROM updated_at) * 1000000)::bigint), 0),\n"
        f"  {strings}\nFROM {qualified_table}"
    )


def from_postgres(conn: Connection[Any], qualified_table: str) -> Checksum:
    """Checksum computed by PostgreSQL over ``qualified_table`` (already quoted)."""
    row = conn.execute(postgres_sql(qualified_table)).fetchone()
    assert row is not None
    return dict(zip(_empty(), (int(v) for v in row), strict=True))


def check(expected: Checksum, actual: Checksum, where: str) -> None:
    """Raise ``VerificationError`` naming every aggregate that differs."""
    diffs = [
        f"{key}: expected {expected[key]}, got {actual.get(key)}"
        for key in expected
        if expected[key] != actual.get(key)
    ]
    if diffs:
        raise VerificationError(f"{where}: " + "; ".join(diffs))
