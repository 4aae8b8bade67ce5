"""Folding a destination's deltas into its base fingerprints, in bounded memory.

The new base is every key of the old base that no delta names, plus the last delta row of
every delta key that is not a tombstone. Done in one go over 10M keys, that is a hash table
over every key and two copies of the frame: 2.1 GB of memory for a first sync of 10M rows.
Here the keys are split into buckets by their hash, and the buckets are folded one after the
other: each pass reads the deltas' rows of one bucket (the last of each key wins), then
streams the base in chunks, keeps its rows of that bucket that no delta names, and appends
both to the new base file. Memory holds one bucket of delta keys (:data:`BUCKET_ROWS`) and one
chunk of the base (:data:`CHUNK_ROWS`), whatever the size of the store; the price is one read
of the files per bucket, and a run that changed few rows has one bucket.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

__all__ = ["BUCKET_ROWS", "CHUNK_ROWS", "fold", "rows_in"]

#: Delta rows per bucket (the hash table of one pass).
BUCKET_ROWS = 2_000_000
#: Base rows read at a time.
CHUNK_ROWS = 500_000

Source = Path | io.BytesIO


def fold(base: Source | None, deltas: Sequence[Source], out: Path) -> int:
    """Write the base that folding ``deltas`` (in order) over ``base`` gives, to ``out``.

    Args:
        base: The base file, if there is one.
        deltas: The delta files, oldest first (a later row of a key wins; a NULL ``fp`` is a
            tombstone: the key was deleted).
        out: Where to write the new base (Parquet, zstd).

    Returns:
        Keys in the new base.
    """

    buckets = max(1, -(-rows_in(deltas) // BUCKET_ROWS))
    writer: pq.ParquetWriter | None = None
    written = 0
    try:
        for bucket in range(buckets):
            latest = _latest(deltas, bucket, buckets)
            for chunk in _base_chunks(base, latest, bucket, buckets):
                writer = _write(writer, out, chunk)
                written += chunk.num_rows
            kept = latest.filter(latest.column("fp").is_valid())
            writer = _write(writer, out, kept)
            written += kept.num_rows
        if writer is None:  # nothing at all: an empty base
            writer = _write(None, out, _empty())
    finally:
        if writer is not None:
            writer.close()
    return written


def rows_in(sources: Sequence[Source]) -> int:
    """Rows in the Parquet files ``sources``, from their footers."""
    return sum(_metadata(source).num_rows for source in sources)


def _metadata(source: Source) -> pq.FileMetaData:
    import pyarrow.parquet as pq

    if isinstance(source, io.BytesIO):
        source.seek(0)
    return pq.ParquetFile(source).metadata


def _in_bucket(table: pa.Table, bucket: int, buckets: int) -> pa.Table:
    """The rows of ``table`` whose key falls in ``bucket``, copied out.

    The filter is Arrow's, which copies the kept strings: a polars filter keeps views into
    the whole file's buffers, so a bucket would hold every key's bytes.
    """
    import polars as pl

    if buckets == 1:
        return table
    keys = pl.from_arrow(table.column("key"))
    assert isinstance(keys, pl.Series)
    return table.filter(((keys.hash(seed=0) % buckets) == bucket).to_arrow())


def _read(source: Source) -> pa.Table:
    import pyarrow.parquet as pq

    if isinstance(source, io.BytesIO):
        source.seek(0)
    return pq.read_table(source)


def _latest(deltas: Sequence[Source], bucket: int, buckets: int) -> pa.Table:
    """The last delta row of each key of ``bucket`` (tombstones included)."""
    import polars as pl
    import pyarrow as pa

    parts = [_typed(_in_bucket(_read(delta), bucket, buckets)) for delta in deltas]
    if not parts:
        return _empty()
    frame = pl.from_arrow(pa.concat_tables(parts))
    assert isinstance(frame, pl.DataFrame)
    # A mask of each key's last row: a third of the memory of ``unique(keep="last")``.
    return _typed(frame.filter(pl.col("key").is_last_distinct()).to_arrow())


def _base_chunks(
    base: Source | None, latest: pa.Table, bucket: int, buckets: int
) -> Iterator[pa.Table]:
    """The base's rows of ``bucket`` that no delta names, a chunk at a time."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    if base is None:
        return
    if isinstance(base, io.BytesIO):
        base.seek(0)
    named = pl.from_arrow(latest.column("key"))
    assert isinstance(named, pl.Series)
    names = named.implode()
    for batch in pq.ParquetFile(base).iter_batches(batch_size=CHUNK_ROWS):
        frame = pl.from_arrow(_in_bucket(pa.Table.from_batches([batch]), bucket, buckets))
        assert isinstance(frame, pl.DataFrame)
        if len(latest):
            frame = frame.filter(~pl.col("key").is_in(names))
        frame = frame.filter(pl.col("fp").is_not_null())
        if len(frame):
            yield _typed(frame.to_arrow())


def _empty() -> pa.Table:
    import pyarrow as pa

    return pa.table({"key": pa.array([], pa.string()), "fp": pa.array([], pa.uint64())})


def _typed(table: pa.Table) -> pa.Table:
    """``key`` as string, ``fp`` as uint64, whatever Arrow types polars handed back."""
    import pyarrow as pa

    schema = pa.schema([("key", pa.string()), ("fp", pa.uint64())])
    return table.select(["key", "fp"]).cast(schema)


def _write(writer: pq.ParquetWriter | None, out: Path, table: pa.Table) -> pq.ParquetWriter:
    import pyarrow.parquet as pq

    if writer is None:
        writer = pq.ParquetWriter(out, _typed(table).schema, compression="zstd")
    if table.num_rows:
        writer.write_table(_typed(table))
    return writer
