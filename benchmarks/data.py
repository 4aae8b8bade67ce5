"""Deterministic "gold customers" rows, built column-wise in Arrow (no numpy needed).

Ten columns: int64 id, four strings, float64, int32, bool, timestamp with zone, string.
Every value is a pure function of ``(id, version)``: another ``version`` draws every non-key
column afresh, so an upsert of version 1 over version 0 changes every row (its lifetime value
and timestamp always, the other columns nearly always).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SCHEMA", "batches", "customers"]

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("email", pa.string()),
        pa.field("first_name", pa.string()),
        pa.field("last_name", pa.string()),
        pa.field("country", pa.string()),
        pa.field("lifetime_value", pa.float64()),
        pa.field("order_count", pa.int32()),
        pa.field("is_active", pa.bool_()),
        pa.field("updated_at", pa.timestamp("us", tz="UTC")),
        pa.field("segment", pa.string()),
    ]
)


def _vocab(words: str) -> pa.Array:
    return pa.array(words.split())


_FIRST = _vocab(
    "Ada Zoë José Łukasz Ngọc Amara Søren Chloé Kenji Fatima "
    "Liam Olivia Noah Emma Mateo Priya Ivan Ana Yusuf Mei"
)
_LAST = _vocab(
    "Lovelace O'Brien García Müller Nguyễn Okafor Kierkegaard Dubois Tanaka Haddad "
    "Smith Johnson Brown Silva Rossi Sharma Petrov Kowalski Yılmaz Wang"  # noqa: RUF001
)
_COUNTRY = _vocab("US GB DE FR ES PL VN NG JP IN BR TR")
_SEGMENT = _vocab(
    "champion loyal potential_loyalist new needs_attention at_risk churn_risk hibernating"
)
_EPOCH_2024_US = 1_704_067_200_000_000
_YEAR_US = 365 * 86_400 * 1_000_000
_GOLDEN = pa.scalar(0x9E3779B97F4A7C15, pa.uint64())
_MIX1 = pa.scalar(0xBF58476D1CE4E5B9, pa.uint64())
_MIX2 = pa.scalar(0x94D049BB133111EB, pa.uint64())


def _u64(n: int) -> pa.Scalar:
    return pa.scalar(n, pa.uint64())


def _mix(ids: pa.Array, salt: int) -> pa.Array:
    """splitmix64 finaliser over ``ids + salt``: a well-spread, wrapping uint64 per row."""
    x = pc.multiply(pc.add(pc.cast(ids, pa.uint64()), _u64(salt)), _GOLDEN)
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, _u64(30))), _MIX1)
    x = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, _u64(27))), _MIX2)
    return pc.bit_wise_xor(x, pc.shift_right(x, _u64(31)))


def _mod(h: pa.Array, n: int) -> pa.Array:
    return pc.cast(pc.remainder(h, _u64(n)), pa.int64())


def _pick(vocab: pa.Array, h: pa.Array) -> pa.Array:
    return pc.take(vocab, _mod(h, len(vocab)))


def customers_batch(start: int, rows: int, version: int = 0) -> pa.RecordBatch:
    """Rows with ids ``start .. start+rows-1`` (ids start at 1 by convention)."""
    ids = pa.array(range(start, start + rows), pa.int64())
    salt = 1_000_003 * (version + 1)
    h = [_mix(ids, salt * (k + 1)) for k in range(9)]
    first = _pick(_FIRST, h[0])
    last = _pick(_LAST, h[1])
    local = pc.binary_join_element_wise(
        pc.utf8_lower(first),
        pc.utf8_lower(pc.replace_substring(last, "'", "")),
        pc.cast(ids, pa.string()),
        ".",
    )
    email = pc.binary_join_element_wise(local, pa.scalar("example.com"), "@")
    country = pc.if_else(
        pc.equal(_mod(h[2], 50), 0), pa.scalar(None, pa.string()), _pick(_COUNTRY, h[3])
    )
    ltv = pc.divide(pc.cast(_mod(h[4], 5_000_000), pa.float64()), 100.0)
    orders = pc.cast(_mod(h[5], 500), pa.int32())
    active = pc.not_equal(_mod(h[6], 5), 0)
    ts = pc.add(_mod(h[7], _YEAR_US), _EPOCH_2024_US)
    updated = pc.cast(ts, pa.timestamp("us", tz="UTC"))
    segment = _pick(_SEGMENT, h[8])
    return pa.RecordBatch.from_arrays(
        [ids, email, first, last, country, ltv, orders, active, updated, segment],
        schema=SCHEMA,
    )


def batches(rows: int, version: int = 0, batch_rows: int = 250_000) -> Iterator[pa.RecordBatch]:
    """``rows`` customers (ids 1..rows) as record batches of at most ``batch_rows``."""
    for start in range(1, rows + 1, batch_rows):
        yield customers_batch(start, min(batch_rows, rows + 1 - start), version)


def customers(rows: int, version: int = 0) -> pa.Table:
    """``rows`` customers (ids 1..rows) as one table."""
    return pa.Table.from_batches(list(batches(rows, version)), schema=SCHEMA)
