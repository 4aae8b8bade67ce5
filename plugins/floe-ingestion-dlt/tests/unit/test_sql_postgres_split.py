"""Splitting a PostgreSQL upsert batch into parts that share no key, and cutting the body back."""

from __future__ import annotations

import pyarrow as pa
from floe_ingestion_dlt.sinks.sql.postgres import KeyParts, split_by_key


def _keys(batch: pa.RecordBatch, name: str = "id") -> list[int]:
    keys: list[int] = batch.column(batch.schema.get_field_index(name)).to_pylist()
    return keys


def test_equal_keys_land_in_one_part_in_their_order() -> None:
    ids = [5, 1, 9, 5, 3, 7, 1, 8, 5, 2]
    batch = pa.record_batch({"id": ids, "v": list(range(10))})
    parts = split_by_key(batch, "id")
    assert len(parts) == 2
    assert sum(part.num_rows for part in parts) == 10
    low, high = (set(_keys(part)) for part in parts)
    assert not low & high
    for part in parts:  # rows keep their order within a part
        values = _keys(part, "v")
        assert values == sorted(values)
    assert sorted(_keys(parts[0]) + _keys(parts[1])) == sorted(ids)


def test_sorted_keys_split_into_two_even_ranges() -> None:
    batch = pa.record_batch({"id": list(range(1000))})
    low, high = split_by_key(batch, "id")
    assert 450 <= low.num_rows <= 550
    assert _keys(low) == list(range(low.num_rows))
    assert _keys(high) == list(range(low.num_rows, 1000))


def test_shuffled_keys_split_about_evenly() -> None:
    ids = [(i * 7_919) % 10_000 for i in range(10_000)]  # every id once, out of order
    low, high = split_by_key(pa.record_batch({"id": ids}), "id")
    assert 4_000 <= low.num_rows <= 6_000
    assert max(_keys(low)) < min(_keys(high))


def test_string_keys_split_too() -> None:
    batch = pa.record_batch({"code": ["b", "a", "d", "c", "a", "d"], "n": [1, 2, 3, 4, 5, 6]})
    parts = split_by_key(batch, "code")
    assert len(parts) == 2
    first, second = (set(part.column("code").to_pylist()) for part in parts)
    assert not first & second


def test_batches_that_cannot_be_split_stay_whole() -> None:
    same = pa.record_batch({"id": [4, 4, 4, 4]})
    nulls = pa.record_batch({"id": pa.array([None, None, None], pa.int64())})
    nested = pa.record_batch({"id": pa.array([[1], [2], [3]], pa.list_(pa.int64()))})
    for batch, key in [(same, "id"), (nulls, "id"), (nested, "id"), (same, "missing")]:
        assert split_by_key(batch, key) == [batch]
    one = pa.record_batch({"id": [1]})
    assert split_by_key(one, "id") == [one]


def test_key_parts_cut_the_body_back_into_payloads() -> None:
    body, parts = KeyParts.join([2, 3], [b"1,a\n2,b\n", b"3,c\n4,d\n5,e\n"])
    assert body == b"1,a\n2,b\n3,c\n4,d\n5,e\n"
    payloads = parts.payloads(body)
    assert [(p.rows, p.body) for p in payloads] == [(2, b"1,a\n2,b\n"), (3, b"3,c\n4,d\n5,e\n")]
