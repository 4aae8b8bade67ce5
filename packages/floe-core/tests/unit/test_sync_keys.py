"""The key scan of a full read: NULL and duplicate keys, exact, with or without the keys kept."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pyarrow as pa
import pytest
from floe_core.sync.diff import count_keys, scan_keys

pytestmark = pytest.mark.requirement("B5")


def _batches(ids: Sequence[int | None], regions: Sequence[str | None]) -> list[pa.RecordBatch]:
    table = pa.table({"id": pa.array(ids, pa.int64()), "region": pa.array(regions, pa.string())})
    batches: list[pa.RecordBatch] = table.to_batches(max_chunksize=3)
    return batches


def test_counting_finds_exactly_the_duplicates_and_nulls_a_scan_finds() -> None:
    ids = [1, 2, 1, None, 3, 3, 3, 4, 5, None]
    regions = ["eu", "eu", "eu", "us", "us", "eu", "us", "us", "eu", "eu"]
    batches = _batches(ids, regions)
    for columns in (["id"], ["id", "region"]):
        scanned = scan_keys(batches, columns)
        counted = count_keys(lambda: batches, columns)
        assert counted.keys is None  # nothing held
        assert sorted(counted.duplicates.to_list()) == sorted(scanned.duplicates.to_list())
        assert (counted.null_rows, counted.rows) == (scanned.null_rows, scanned.rows)
    assert sorted(count_keys(lambda: batches, ["id"]).duplicates.to_list()) == ["1", "3"]
    pairs = count_keys(lambda: batches, ["id", "region"]).duplicates.to_list()
    assert sorted(pairs) == ["1\x1feu", "3\x1fus"]


def test_counting_many_unique_keys_reads_them_once_and_finds_none() -> None:
    rng = random.Random(7)
    ids: list[int | None] = rng.sample(range(10**12), 20_000)
    reads = []

    def read() -> list[pa.RecordBatch]:
        reads.append(1)
        return _batches(ids, ["x"] * len(ids))

    counted = count_keys(read, ["id"])

    assert len(counted.duplicates) == 0 and counted.rows == 20_000
    assert len(reads) == 1  # no equal hashes: no second read
