"""Fingerprints per destination: the key and fingerprint of every row floe delivered there.

Kept as Parquet files under ``<project>/.floe/sync/<destination>/``, not as a row per key in
the state database: loading or rewriting a million keys is one columnar read or write (tens of
milliseconds) where SQL would take a statement per chunk of rows.

- ``base.parquet``: every key and fingerprint as of the end of the last run;
- ``delta-<run>-<n>.parquet``: what a run confirmed since, written as confirmations arrive
  (rows upserted, and tombstones for rows deleted), so a run killed part-way keeps what the
  destination confirmed; loading applies them in order over the base;
- ``meta.json``: the configuration fingerprint the rows were hashed with and the snapshot whose
  delivery completed (``None`` after a run that did not complete).

Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = ["FingerprintStore", "SyncMeta"]

_DELTA = re.compile(r"^delta-(?P<run>[0-9a-f]+)-(?P<seq>\d+)\.parquet$")


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
    """

    config_fingerprint: str = ""
    snapshot_id: int | None = None
    run_id: str = ""
    mode: str = ""


class FingerprintStore:
    """The fingerprints of one destination.

    Args:
        directory: ``<project>/.floe/sync``; the destination's folder is made on first write.
        destination: The destination's name.
    """

    def __init__(self, directory: Path, destination: str) -> None:
        self.path = directory / destination
        self._sequence = 0

    # --- reading -----------------------------------------------------------------------

    def meta(self) -> SyncMeta:
        """What the stored fingerprints mean (empty when nothing was stored)."""
        file = self.path / "meta.json"
        if not file.exists():
            return SyncMeta()
        data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        return SyncMeta(**data)

    def load(self) -> pl.DataFrame:
        """Every stored key with its fingerprint (columns ``key``: str, ``fp``: u64)."""
        import polars as pl

        frames = [pl.read_parquet(file) for file in self._files()]
        if not frames:
            return pl.DataFrame(schema={"key": pl.String, "fp": pl.UInt64})
        merged = pl.concat(frames, how="vertical")
        if len(frames) > 1:
            merged = merged.unique(subset="key", keep="last", maintain_order=True)
        return merged.filter(pl.col("fp").is_not_null())

    def _files(self) -> list[Path]:
        files = [self.path / "base.parquet"] if (self.path / "base.parquet").exists() else []
        deltas = []
        if self.path.exists():
            for entry in self.path.iterdir():
                match = _DELTA.match(entry.name)
                if match:
                    deltas.append((entry.stat().st_mtime_ns, int(match["seq"]), entry))
        return files + [entry for *_, entry in sorted(deltas)]

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
        self._write(table, f"delta-{run_id}-{self._sequence:06d}.parquet")

    def compact(self, meta: SyncMeta) -> None:
        """Fold the deltas into the base and write ``meta``."""
        current = self.load()
        deltas = [file for file in self._files() if file.name != "base.parquet"]
        self._write(current.to_arrow(), "base.parquet")
        for file in deltas:
            file.unlink(missing_ok=True)
        self._write_text(json.dumps(asdict(meta)), "meta.json")

    def _write(self, table: pa.Table, name: str) -> None:
        import pyarrow.parquet as pq

        self.path.mkdir(parents=True, exist_ok=True)
        temporary = self.path / f".{name}.tmp"
        pq.write_table(table, temporary, compression="zstd")
        os.replace(temporary, self.path / name)

    def _write_text(self, text: str, name: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        temporary = self.path / f".{name}.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.path / name)
