"""The diff of a run: each source row is new, changed or unchanged; stored keys may be gone.

Two passes over what the read path reads. The first reads only the key columns (cheap in
Parquet): it finds NULL and duplicate keys, which are rejected rather than merged, and, on a
full scan, the stored keys gone from the source, so that a mirror run can refuse a mass delete
before anything is sent. The second streams whole rows batch by batch and splits each batch
against the stored fingerprints (:class:`Differ`); memory holds the keys and fingerprints,
never the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from floe_core.sync.fingerprint import row_fingerprints, row_keys

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = ["BatchSplit", "Differ", "KeyScan", "count_keys", "keys_to_rows", "scan_keys"]

NULL_KEY_REASON = "primary key {columns} is NULL"
DUPLICATE_KEY_REASON = "primary key {columns} is not unique in the source table"


@dataclass(frozen=True)
class KeyScan:
    """What the key columns say.

    Attributes:
        keys: Every non-NULL key of the rows read (``pl.Series`` of str; a duplicated key
            is there more than once); ``None`` from :func:`count_keys`, which keeps none.
        duplicates: Keys that more than one of the rows read has.
        null_rows: Rows with a NULL key column.
        rows: Rows read.
    """

    keys: pl.Series | None
    duplicates: pl.Series
    null_rows: int
    rows: int


def scan_keys(batches: Iterable[pa.RecordBatch], columns: Sequence[str]) -> KeyScan:
    """Read the key columns of ``batches``."""
    import polars as pl

    parts = [_key_series(batch, columns) for batch in batches]
    every = pl.concat(parts, rechunk=False) if parts else pl.Series([], dtype=pl.String)
    present = every.drop_nulls()
    hashes = present.hash(seed=0)
    duplicates = _duplicates(present, hashes, _equal_hashes(hashes))
    del hashes
    # The keys are only ever tested for membership: no unique() copy of them (at 10M keys
    # it is a hash table and a copy, hundreds of MB of a full scan's peak).
    return KeyScan(
        keys=present,
        duplicates=duplicates,
        null_rows=every.null_count(),
        rows=len(every),
    )


def count_keys(read: Callable[[], Iterable[pa.RecordBatch]], columns: Sequence[str]) -> KeyScan:
    """The NULL and duplicate keys of what ``read()`` reads, holding 8-byte hashes of the keys
    instead of the keys (at 10M keys, hundreds of MB less than :func:`scan_keys`). Where two
    hashes are equal, the key columns are read a second time to tell a duplicate from a hash
    collision: the duplicates are exact.
    """
    import polars as pl

    hashes: list[pl.Series] = []
    null_rows = rows = 0
    for batch in read():
        keys = _key_series(batch, columns)
        rows += len(keys)
        null_rows += keys.null_count()
        hashes.append(keys.drop_nulls().hash(seed=0))
    every = pl.concat(hashes) if hashes else pl.Series([], dtype=pl.UInt64)
    del hashes
    clashing = _equal_hashes(every)
    del every
    if not len(clashing):
        return KeyScan(
            keys=None, duplicates=pl.Series([], dtype=pl.String), null_rows=null_rows, rows=rows
        )
    candidates = []
    for batch in read():
        keys = _key_series(batch, columns).drop_nulls()
        candidates.append(keys.filter(keys.hash(seed=0).is_in(clashing.implode())))
    same = pl.concat(candidates)
    duplicates = _duplicates(same, same.hash(seed=0), clashing)
    return KeyScan(keys=None, duplicates=duplicates, null_rows=null_rows, rows=rows)


def _key_series(batch: pa.RecordBatch, columns: Sequence[str]) -> pl.Series:
    """The batch's keys as text (``row_keys``), as a polars Series."""
    import polars as pl

    keys = pl.from_arrow(row_keys(batch, columns))
    assert isinstance(keys, pl.Series)
    return keys


def _duplicates(keys: pl.Series, hashes: pl.Series, clashing: pl.Series) -> pl.Series:
    """The keys that occur more than once, each once: looked for only among the keys whose
    hash (``hashes``, aligned with ``keys``) is one of the ``clashing`` ones, and compared
    exactly (equal hashes of different keys are no duplicate)."""
    candidates = keys.filter(hashes.is_in(clashing.implode())) if len(clashing) else keys[:0]
    return candidates.filter(candidates.is_duplicated()).unique()


def _equal_hashes(hashes: pl.Series) -> pl.Series:
    """The hash values that occur more than once: equal neighbours once sorted (a sort of
    8-byte values, where ``is_duplicated()`` builds a hash table of groups: at 10M keys, most
    of a full scan's peak memory)."""
    ordered = hashes.sort()
    return ordered.filter(ordered == ordered.shift(1)).unique()


@dataclass(frozen=True)
class BatchSplit:
    """One source batch, split.

    Attributes:
        new: Rows of keys never synced.
        changed: Rows of synced keys whose fingerprint differs.
        unchanged: Rows whose fingerprint is the stored one.
        null_keys: Rows with a NULL key.
        duplicate_keys: Rows whose key is not unique.
        new_keys / new_fps: Their keys and fingerprints (for the store, once confirmed).
        changed_keys / changed_fps: Likewise.
    """

    new: pa.RecordBatch
    changed: pa.RecordBatch
    unchanged: int
    null_keys: pa.RecordBatch
    duplicate_keys: pa.RecordBatch
    new_keys: pa.Array
    new_fps: pa.Array
    changed_keys: pa.Array
    changed_fps: pa.Array


class Differ:
    """Splits source batches against the stored fingerprints.

    Args:
        stored: Stored keys and fingerprints (``key``, ``fp``).
        columns: The key columns.
        duplicates: Keys to reject as not unique.
        comparable: The stored fingerprints were computed under the current configuration;
            when not, every synced key counts as changed.
    """

    def __init__(
        self,
        stored: pl.DataFrame,
        columns: Sequence[str],
        duplicates: pl.Series,
        *,
        comparable: bool,
    ) -> None:
        self.stored = stored
        self.columns = list(columns)
        self.duplicates = duplicates
        self.comparable = comparable
        #: Rows split so far: the source rows read into the diff, whatever became of them.
        self.rows = 0

    def split(self, batch: pa.RecordBatch) -> BatchSplit:
        """Split one batch (source column names, every sent column)."""
        import polars as pl

        self.rows += batch.num_rows
        keys = row_keys(batch, self.columns)
        fps = row_fingerprints(batch)
        frame = pl.DataFrame({"key": pl.from_arrow(keys), "fp": pl.from_arrow(fps)})
        # The stored rows of this batch's keys first: a join against the whole store would
        # hash all of it for every batch.
        known = self.stored.filter(pl.col("key").is_in(frame["key"].drop_nulls().implode()))
        joined = frame.join(
            known.rename({"fp": "old"}), on="key", how="left", maintain_order="left"
        )
        null = joined["key"].is_null()
        duplicate = joined["key"].is_in(self.duplicates.implode()).fill_null(False)
        usable = ~null & ~duplicate
        is_new = usable & joined["old"].is_null()
        differs = joined["fp"] != joined["old"] if self.comparable else joined["old"].is_not_null()
        is_changed = usable & joined["old"].is_not_null() & differs.fill_null(True)
        masks = {
            "new": is_new.to_arrow(),
            "changed": is_changed.to_arrow(),
            "null": null.to_arrow(),
            "duplicate": duplicate.to_arrow(),
        }
        return BatchSplit(
            new=batch.filter(masks["new"]),
            changed=batch.filter(masks["changed"]),
            unchanged=int((usable & ~is_new & ~is_changed).sum()),
            null_keys=batch.filter(masks["null"]),
            duplicate_keys=batch.filter(masks["duplicate"]),
            new_keys=keys.filter(masks["new"]),
            new_fps=fps.filter(masks["new"]),
            changed_keys=keys.filter(masks["changed"]),
            changed_fps=fps.filter(masks["changed"]),
        )


def keys_to_rows(keys: pa.Array, schema: pa.Schema, columns: Sequence[str]) -> pa.RecordBatch:
    """Rows to delete: the key columns of ``keys`` (typed as ``schema`` says), others NULL.

    A delete carries every column the data has (the engine maps them); a sink uses only its
    key columns.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from floe_core.sync.fingerprint import KEY_SEPARATOR

    values: dict[str, pa.Array] = {}
    if len(columns) == 1:
        values[columns[0]] = pc.cast(keys, schema.field(columns[0]).type)
    else:
        parts = pc.split_pattern(keys, KEY_SEPARATOR)
        for index, column in enumerate(columns):
            text = pc.list_element(parts, index)
            values[column] = pc.cast(text, schema.field(column).type)
    arrays = [values[f.name] if f.name in values else pa.nulls(len(keys), f.type) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
