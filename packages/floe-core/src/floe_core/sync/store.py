"""Fingerprints per destination: the key and fingerprint of every row floe delivered there.

Kept as a few Parquet files per destination, not as a row per key in the state database:
loading or rewriting a million keys is one columnar read or write (tens of milliseconds)
where SQL would take a statement per chunk of rows. Where the files live
(``floe_core.sync.files``): under ``<project>/.floe/sync/<destination>/`` with the default
SQLite state store, in the state database itself with a shared (PostgreSQL) one, so that every
host running a destination diffs against the same fingerprints.

- ``base.parquet``: every key and fingerprint as of the end of the last run;
- ``delta-<run>-<n>.parquet``: what a run confirmed since, written as confirmations arrive
  (rows upserted, and tombstones for rows deleted), so a run killed part-way keeps what the
  destination confirmed; loading applies them in order over the base. A run whose rows are
  confirmed by several writers at once (the tasks of a run on Ray, each with keys of its own)
  names each writer's files ``delta-<run>-<writer>-<n>.parquet``;
- ``meta.json``: the configuration fingerprint the rows were hashed with, the snapshot whose
  delivery completed (``None`` after a run that did not complete), and the base's key count.

A run's end folds the deltas into a new base only once they are worth it
(:meth:`FingerprintStore.compact`): rewriting the base costs time in proportion to the table,
keeping a few deltas costs a load almost nothing, so a run that changed 0.1% of a 10M-row table
does not rewrite 10M fingerprints.

A file is written whole or not at all, so a reader never sees half a file.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_core.sync.files import FolderFiles, StateFiles, SyncFiles

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from floe_core.egress.state import StateStore
    from floe_core.sync.files import Data

__all__ = [
    "COMPACT_FILES",
    "COMPACT_SHARE",
    "FingerprintStore",
    "SyncMeta",
    "empty_fingerprints",
    "fingerprint_store",
]

#: A run's end folds the deltas into the base once they hold this share of the base's keys...
COMPACT_SHARE = 0.1
#: ... or once there are this many delta files (each is a read at every load).
COMPACT_FILES = 32

_DELTA = re.compile(r"^delta-(?P<run>[0-9a-f]+)-(?:(?P<writer>[0-9a-f]+)-)?(?P<seq>\d+)\.parquet$")


@dataclass(frozen=True)
class SyncMeta:
    """What the stored fingerprints mean.

    Attributes:
        config_fingerprint: ``fingerprint.config_fingerprint`` the rows were hashed under.
        snapshot_id: The source snapshot whose delivery completed, or ``None``.
        run_id: The run that wrote this.
        mode: The ``sync_mode`` of that run: a run in another mode reads everything once
            (an ``insert`` run leaves changed rows unsent; an ``update`` run after it must
            find them).
        target: ``fingerprint.target_fingerprint`` of where the rows were sent (``""`` in
            stores written before it was kept).
        base_rows: Keys in ``base.parquet`` (``0`` in stores written before it was kept:
            their next run folds its deltas, and counts).
    """

    config_fingerprint: str = ""
    snapshot_id: int | None = None
    run_id: str = ""
    mode: str = ""
    target: str = ""
    base_rows: int = 0


class FingerprintStore:
    """The fingerprints of one destination.

    Args:
        directory: ``<project>/.floe/sync``; the destination's folder is made on first write.
            Ignored when ``files`` is given.
        destination: The destination's name.
        files: Where the files live (default: the folder).
        writer: Hex digits naming this writer's delta files, for one of several writers of
            the same run (their names must not meet); empty for a run's only writer.
    """

    def __init__(
        self,
        directory: Path | None,
        destination: str,
        files: SyncFiles | None = None,
        *,
        writer: str = "",
    ) -> None:
        if files is None:
            if directory is None:
                raise ValueError("FingerprintStore needs a directory or files")
            files = FolderFiles(directory, destination)
        self.files = files
        self._writer = f"{writer}-" if writer else ""
        self._sequence = 0

    # --- reading -----------------------------------------------------------------------

    def meta(self) -> SyncMeta:
        """What the stored fingerprints mean (empty when nothing was stored)."""
        source = self.files.read("meta.json")
        if source is None:
            return SyncMeta()
        raw = source.read_bytes() if isinstance(source, Path) else source.getvalue()
        data: dict[str, Any] = json.loads(raw.decode("utf-8"))
        return SyncMeta(**data)

    def load(self, base: pl.DataFrame | None = None) -> pl.DataFrame:
        """Every stored key with its fingerprint (columns ``key``: str, ``fp``: u64).

        Args:
            base: What an earlier ``load`` of this store returned, to fold the deltas written
                since over, instead of reading the base file again.
        """
        import polars as pl

        deltas = []
        for name in self._parquet_names():
            if name == "base.parquet" and base is not None:
                continue
            source = self.files.read(name)
            if source is None:
                continue
            if name == "base.parquet":
                base = pl.read_parquet(source)
            else:
                deltas.append(pl.read_parquet(source))
        base = empty_fingerprints() if base is None else base
        if not deltas:
            return _without_deleted(base)
        # The last delta of a key wins; the base keeps only the keys no delta has. A hash
        # lookup of the (few) delta keys, not a unique() over every stored key. (Deltas an
        # earlier load folded in already change nothing when folded again.)
        every = pl.concat(deltas, how="vertical")
        latest = every.filter(pl.col("key").is_last_distinct())
        kept = base.filter(~pl.col("key").is_in(latest["key"].implode()))
        return _without_deleted(pl.concat([kept, latest], how="vertical"))

    def _parquet_names(self) -> list[str]:
        """The base first, then the deltas in the order they were written."""
        names = self.files.names()
        base = ["base.parquet"] if "base.parquet" in names else []
        return base + [name for name in names if _DELTA.match(name)]

    # --- writing -----------------------------------------------------------------------

    def record(self, keys: pa.Array, fingerprints: pa.Array | None, run_id: str) -> None:
        """Remember ``keys`` as delivered with ``fingerprints`` (``None``: deleted)."""
        import pyarrow as pa

        if len(keys) == 0:
            return
        if fingerprints is None:
            fingerprints = pa.nulls(len(keys), pa.uint64())
        table = pa.table({"key": pa.array(keys, pa.string()), "fp": fingerprints})
        self._sequence += 1
        self.files.write(f"delta-{run_id}-{self._writer}{self._sequence:06d}.parquet", table)

    def compact(self, meta: SyncMeta, *, force: bool = False) -> None:
        """Write ``meta`` at the end of a run, and fold the deltas into the base when they are
        worth it: once they hold :data:`COMPACT_SHARE` of the base's keys, or number
        :data:`COMPACT_FILES` files (or always, with ``force``). Until then they stay and
        every load applies them, so a run that changed few rows of a large table rewrites no
        more than the rows it changed; a run that changed nothing rewrites nothing.

        The fold streams (``floe_core.sync.fold``): its memory does not grow with the store.
        """
        from dataclasses import replace

        from floe_core.sync.fold import fold

        names = self._parquet_names()
        deltas = [name for name in names if name != "base.parquet"]
        base_rows = self.meta().base_rows if "base.parquet" in names else 0
        sources = [source for source in map(self.files.read, deltas) if source is not None]
        if not force and not self._worth_folding(sources, base_rows):
            meta = replace(meta, base_rows=base_rows)
            self.files.replace({"meta.json": json.dumps(asdict(meta))}, ())
            return
        out = self.files.scratch("base.parquet")
        rows = fold(self.files.read("base.parquet"), sources, out)
        meta = replace(meta, base_rows=rows)
        self.files.replace({"meta.json": json.dumps(asdict(meta)), "base.parquet": out}, deltas)

    @staticmethod
    def _worth_folding(deltas: list[Path | io.BytesIO], base_rows: int) -> bool:
        from floe_core.sync.fold import rows_in

        if not deltas:
            return False
        return len(deltas) >= COMPACT_FILES or rows_in(deltas) >= COMPACT_SHARE * base_rows

    def reset(self, meta: SyncMeta) -> None:
        """Forget every fingerprint (they describe another target) and write ``meta``."""
        writes: dict[str, Data] = {"meta.json": json.dumps(asdict(meta))}
        self.files.replace(writes, self._parquet_names())


def empty_fingerprints() -> pl.DataFrame:
    """A store's frame with no key: columns ``key`` (str) and ``fp`` (u64)."""
    import polars as pl

    return pl.DataFrame(schema={"key": pl.String, "fp": pl.UInt64})


def _without_deleted(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` without the keys whose fingerprint is NULL (deleted at the destination). A
    filter copies every row: at 10M keys, hundreds of MB; most stores have none to drop."""
    import polars as pl

    return frame.filter(pl.col("fp").is_not_null()) if frame["fp"].null_count() else frame


def fingerprint_store(
    state: StateStore, project_dir: Path, destination: str, *, writer: str = ""
) -> FingerprintStore:
    """The fingerprints of ``destination``: in the state database when it is a shared server
    (every host sees them), else under ``<project>/.floe/sync``. ``writer``: see
    :class:`FingerprintStore`."""
    import sqlalchemy as sa

    if sa.engine.make_url(state.url).get_backend_name() == "sqlite":
        return FingerprintStore(project_dir / ".floe" / "sync", destination, writer=writer)
    return FingerprintStore(None, destination, StateFiles(state, destination), writer=writer)
