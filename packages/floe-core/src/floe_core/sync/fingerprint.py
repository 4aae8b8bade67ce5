"""Row keys and row fingerprints: what identifies a row across runs, and what it looked like.

A **key** is the row's ``primary_key`` values as one string (columns joined by ``\\x1f``); a
row with a NULL in a key column has no key. A **fingerprint** is a 64-bit hash of the row as
it would be sent (every sent column, in order, after field mapping: names do not enter the
hash, the mapping does through :func:`config_fingerprint`).

Why polars ``hash_rows``: pyarrow compute has no element-wise hash, so pyarrow alone means
joining the row's values as text in Arrow and hashing each row in Python (``hashlib.blake2b``,
8 bytes): measured 1.9 s per million 4-column rows. polars hashes the same Arrow memory, zero
copy, in 0.11 s per million rows (17x), with no Python loop. Its hash is stable within a polars
version only, so :data:`SCHEME` names the version and a store written by another one counts
every row as changed once (the receipt says the configuration changed), rather than comparing
hashes that mean different things.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "KEY_SEPARATOR",
    "config_fingerprint",
    "row_fingerprints",
    "row_keys",
    "scheme",
    "target_fingerprint",
]

#: Joins the values of a multi-column key (a control character no key is expected to hold).
KEY_SEPARATOR = "\x1f"


@cache
def scheme() -> str:
    """The fingerprint scheme: the hash function and the version that computed it.

    The version is read from the installed package's metadata, not by importing polars: a
    run that finds the table up to date compares configurations and reads nothing else, and
    importing polars would be most of its time. (polars' binary and its Python package are
    released with the same version.)
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("polars")
    except PackageNotFoundError:  # installed under another distribution name
        import polars as pl

        installed = pl.__version__
    return f"polars-{installed}-hash_rows-seed0"


def row_keys(batch: pa.RecordBatch, columns: Sequence[str]) -> pa.Array:
    """Each row's key as a string; NULL where a key column is NULL.

    Args:
        batch: Rows with (at least) the key columns, source names.
        columns: The key columns, in ``primary_key`` order.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [pc.cast(batch.column(column), pa.string()) for column in columns]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, KEY_SEPARATOR)


def row_fingerprints(batch: pa.RecordBatch) -> pa.Array:
    """A ``uint64`` hash per row of every column of ``batch``, in column order."""
    import polars as pl
    import pyarrow as pa

    frame = pl.from_arrow(pa.Table.from_batches([batch]), rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return frame.hash_rows(seed=0).to_arrow()


def config_fingerprint(
    schema: pa.Schema, field_mapping: Mapping[str, str] | None, primary_key: Sequence[str]
) -> str:
    """What makes fingerprints comparable: sent columns and types, mapping, key, scheme.

    When it changes between runs, every row counts as changed.
    """
    mapping = dict(field_mapping or {})
    document = {
        "columns": [[mapping.get(f.name, f.name), str(f.type)] for f in schema],
        "primary_key": list(primary_key),
        "scheme": scheme(),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def target_fingerprint(sink_type: str, target: str) -> str:
    """Where a destination writes (its sink type and ``Sink.target``), as kept with the
    fingerprints: when it changes between runs, they describe another place, and the sync
    starts over and sends every row. ``""`` when the sink cannot tell."""
    if not target:
        return ""
    return hashlib.sha256(f"{sink_type}\n{target}".encode()).hexdigest()
