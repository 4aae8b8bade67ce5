"""Folding deltas into the base in buckets gives the same fingerprints as one fold in memory.

The bucket and chunk sizes are made tiny so that a few keys take several buckets and chunks:
what a 10M-key store does, on a hundred keys.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from floe_core.sync import fold as fold_module
from floe_core.sync.fold import fold


def _write(path: Path, keys: list[str], fps: list[int | None]) -> Path:
    pq.write_table(
        pa.table({"key": pa.array(keys, pa.string()), "fp": pa.array(fps, pa.uint64())}), path
    )
    return path


def _read(path: Path) -> dict[str, int]:
    table = pq.read_table(path)
    assert table.schema.field("fp").type == pa.uint64()
    keys = table.column("key").to_pylist()
    assert len(keys) == len(set(keys)), "a key twice in the base"
    return dict(zip(keys, table.column("fp").to_pylist(), strict=True))


@pytest.mark.parametrize(("bucket_rows", "chunk_rows"), [(2_000_000, 500_000), (7, 5), (1, 1)])
def test_bucketed_fold_equals_the_last_write_of_every_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bucket_rows: int, chunk_rows: int
) -> None:
    monkeypatch.setattr(fold_module, "BUCKET_ROWS", bucket_rows)
    monkeypatch.setattr(fold_module, "CHUNK_ROWS", chunk_rows)
    base = _write(tmp_path / "base.parquet", [str(k) for k in range(100)], list(range(100)))
    first = _write(
        tmp_path / "d1.parquet",
        [str(k) for k in range(90, 130)],  # 90..99 updated, 100..129 new
        [1000 + k for k in range(90, 130)],
    )
    second = _write(
        tmp_path / "d2.parquet",
        ["5", "95", "120", "200", "95"],  # deletes (tombstones), a later write of 95 wins
        [None, 7, None, 200, 9],
    )
    expected = {str(k): k for k in range(100)}
    expected.update({str(k): 1000 + k for k in range(90, 130)})
    del expected["5"], expected["120"]
    expected.update({"95": 9, "200": 200})

    written = fold(base, [first, second], tmp_path / "out.parquet")

    assert _read(tmp_path / "out.parquet") == expected
    assert written == len(expected)


def test_fold_without_a_base_and_from_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr(fold_module, "BUCKET_ROWS", 3)
    delta = _write(tmp_path / "d.parquet", ["a", "b", "c", "a"], [1, 2, 3, 4])
    written = fold(None, [io.BytesIO(delta.read_bytes())], tmp_path / "out.parquet")
    assert _read(tmp_path / "out.parquet") == {"a": 4, "b": 2, "c": 3}
    assert written == 3


def test_fold_of_nothing_writes_an_empty_base(tmp_path: Path) -> None:
    assert fold(None, [], tmp_path / "out.parquet") == 0
    assert _read(tmp_path / "out.parquet") == {}
