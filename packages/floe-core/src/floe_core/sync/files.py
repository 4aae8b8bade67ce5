"""Where a destination's fingerprint files live: a local folder, or the shared state database.

The fingerprint store (``floe_core.sync.store``) keeps a few Parquet files and a JSON file
per destination. With the default SQLite state store they are files under
``<project>/.floe/sync/<destination>/``; with a PostgreSQL (or other server) state store they
are rows of its ``floe_sync_files`` table (name, write order, bytes), so every host that runs
the destination against that state store diffs against the same fingerprints.

Both write a file whole or not at all: the folder writes a temporary file and renames it; the
database writes the row in one transaction, and folds the deltas into the base (one new
base, the deltas removed, the meta written) in a single transaction.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from typing import TypeAlias

    import pyarrow as pa

    from floe_core.egress.state import StateStore

    #: What a file is written from: a Parquet table, a text, or a finished ``scratch`` file.
    Data: TypeAlias = pa.Table | str | Path

__all__ = ["FolderFiles", "StateFiles", "SyncFiles"]


class SyncFiles(Protocol):
    """The files of one destination's fingerprints."""

    def names(self) -> list[str]:
        """Every file's name, oldest write first."""
        ...

    def read(self, name: str) -> Path | io.BytesIO | None:
        """A file to read (a path or its bytes), or ``None`` when there is none."""
        ...

    def write(self, name: str, data: pa.Table | str) -> None:
        """Write a Parquet table (or a text) as ``name``, replacing it whole."""
        ...

    def scratch(self, name: str) -> Path:
        """A local path to write file ``name`` to, for :meth:`replace` to take in."""
        ...

    def replace(self, writes: dict[str, Data], deletes: Sequence[str]) -> None:
        """Write ``writes`` and delete ``deletes``, at once where the place allows.

        A ``Path`` value is a file written at :meth:`scratch` (it is moved in).
        """
        ...


def _bytes(data: Data) -> bytes:
    """A file's bytes (a scratch file is read, then removed with its folder)."""
    import pyarrow.parquet as pq

    if isinstance(data, str):
        return data.encode()
    if isinstance(data, Path):
        raw = data.read_bytes()
        data.unlink()
        data.parent.rmdir()
        return raw
    buffer = io.BytesIO()
    pq.write_table(data, buffer, compression="zstd")
    return buffer.getvalue()


class FolderFiles:
    """Files in ``<directory>/<destination>/``, made on first write."""

    def __init__(self, directory: Path, destination: str) -> None:
        self.path = directory / destination

    def names(self) -> list[str]:
        if not self.path.exists():
            return []
        entries = [e for e in self.path.iterdir() if not e.name.startswith(".")]
        return [e.name for e in sorted(entries, key=lambda e: (e.stat().st_mtime_ns, e.name))]

    def read(self, name: str) -> Path | None:
        file = self.path / name
        return file if file.exists() else None

    def write(self, name: str, data: Data) -> None:
        import pyarrow.parquet as pq

        temporary = self.scratch(name)
        if isinstance(data, Path):
            temporary = data
        elif isinstance(data, str):
            temporary.write_text(data, encoding="utf-8")
        else:
            pq.write_table(data, temporary, compression="zstd")
        os.replace(temporary, self.path / name)

    def scratch(self, name: str) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        return self.path / f".{name}.tmp"

    def replace(self, writes: dict[str, Data], deletes: Sequence[str]) -> None:
        for name, data in writes.items():
            self.write(name, data)
        for name in deletes:
            (self.path / name).unlink(missing_ok=True)


class StateFiles:
    """Files as rows of the state store's ``floe_sync_files`` table."""

    def __init__(self, state: StateStore, destination: str) -> None:
        self.state = state
        self.destination = destination
        self.table = state.table("sync_files")

    def names(self) -> list[str]:
        import sqlalchemy as sa

        t = self.table
        query = (
            sa.select(t.c.name)
            .where(t.c.destination == self.destination)
            .order_by(t.c.written_ns, t.c.name)
        )
        with self.state.transaction("read the fingerprints from") as conn:
            return [row[0] for row in conn.execute(query)]

    def read(self, name: str) -> io.BytesIO | None:
        import sqlalchemy as sa

        t = self.table
        query = sa.select(t.c.data).where(t.c.destination == self.destination, t.c.name == name)
        with self.state.transaction("read the fingerprints from") as conn:
            row = conn.execute(query).first()
        return None if row is None else io.BytesIO(bytes(row[0]))

    def write(self, name: str, data: Data) -> None:
        self.replace({name: data}, ())

    def scratch(self, name: str) -> Path:
        import tempfile

        return Path(tempfile.mkdtemp(prefix="floe-sync-")) / name

    def replace(self, writes: dict[str, Data], deletes: Sequence[str]) -> None:
        t = self.table
        names = [*writes, *deletes]
        with self.state.transaction("store the fingerprints in") as conn:
            if names:
                conn.execute(
                    t.delete().where(t.c.destination == self.destination, t.c.name.in_(names))
                )
            for name, data in writes.items():
                raw = _bytes(data)
                conn.execute(
                    t.insert().values(
                        destination=self.destination,
                        name=name,
                        written_ns=time.time_ns(),
                        data=raw,
                    )
                )
