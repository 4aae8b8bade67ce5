"""Advancing the fingerprints as the destination confirms batches, and only then.

The engine cuts what it is given into batches of exactly ``batch_size`` rows, sends them and
reports each outcome in batch order: ``on_rejected`` with the rows refused for good, then
``on_progress`` with the rows done so far. So after each ``on_progress`` the next
``batch_size`` rows fed (fewer for the last batch) are settled: those not rejected were
confirmed, and their keys and fingerprints are recorded. A batch that failed without being
settled (retries exhausted) shows up as a smaller step than its size; from there on nothing
more is recorded, so those rows are sent again by the next run.

Confirmed rows are written to the store in groups (:data:`FLUSH_ROWS` rows or
:data:`FLUSH_SECONDS` seconds, whichever comes first), so a run killed part-way loses at most
that much of the record: rows the next run sends again, which upserts make harmless.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from floe_core.sync.fingerprint import row_keys

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.sync.store import FingerprintStore

__all__ = ["FLUSH_ROWS", "FLUSH_SECONDS", "Confirmations", "Fed"]

FLUSH_ROWS = 50_000
FLUSH_SECONDS = 1.0


@dataclass
class Fed:
    """Rows handed to the engine, waiting for their batch's outcome.

    Attributes:
        keys: Their keys.
        fps: Their fingerprints (``None`` for deletes).
        is_new: Per row, True for a key never synced (counts as inserted).
    """

    keys: pa.Array
    fps: pa.Array | None
    is_new: pa.Array

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, rows: int) -> tuple[Fed, Fed]:
        """The first ``rows`` rows, and the rest."""
        head = Fed(
            self.keys.slice(0, rows),
            self.fps.slice(0, rows) if self.fps is not None else None,
            self.is_new.slice(0, rows),
        )
        rest = Fed(
            self.keys.slice(rows),
            self.fps.slice(rows) if self.fps is not None else None,
            self.is_new.slice(rows),
        )
        return head, rest


class Confirmations:
    """Follows one ``write``: which fed rows the destination confirmed.

    Args:
        store: Where confirmed keys are recorded.
        run_id: The run, for the store's file names.
        batch_size: Rows per batch the engine sends (``resolve_batch_size``).
        key_columns: The source key columns (to recognise rejected rows).
        forward_rejected: The runner's ``on_rejected``, told about every rejection too.
        forward_progress: The runner's ``on_progress``, told the rows done so far.
    """

    def __init__(
        self,
        store: FingerprintStore | None,
        run_id: str,
        batch_size: int,
        key_columns: Sequence[str],
        forward_rejected: Callable[[pa.Table, str], None] | None,
        forward_progress: Callable[[int], None] | None,
        progress_base: int = 0,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.batch_size = batch_size
        self.key_columns = list(key_columns)
        self._forward_rejected = forward_rejected
        self._forward_progress = forward_progress
        self._base = progress_base
        self._pending: deque[Fed] = deque()
        self._fed = 0
        self._done = 0
        self._rejected: set[str] = set()
        self._lost = False
        self._unflushed: list[tuple[pa.Array, pa.Array | None]] = []
        self._unflushed_rows = 0
        self._flushed_at = time.monotonic()
        self.inserted = 0
        self.updated = 0
        self.deleted = 0

    def feed(self, batches: Iterator[tuple[pa.RecordBatch, Fed]]) -> Iterator[pa.RecordBatch]:
        """Pass the batches on to the engine, remembering their rows in order."""
        for batch, fed in batches:
            if batch.num_rows == 0:
                continue
            self._pending.append(fed)
            self._fed += batch.num_rows
            yield batch

    def on_rejected(self, rows: pa.Table, reason: str) -> None:
        """Rows refused for good: their keys do not advance."""
        for batch in rows.to_batches():
            self._rejected.update(k for k in row_keys(batch, self.key_columns).to_pylist() if k)
        if self._forward_rejected is not None:
            self._forward_rejected(rows, reason)

    def on_progress(self, rows_done: int) -> None:
        """One batch settled: record its confirmed rows."""
        if self._forward_progress is not None:
            self._forward_progress(self._base + rows_done)
        step = rows_done - self._done
        expected = min(self.batch_size, self._fed - self._done)
        if self._lost or step != expected:
            self._lost = True  # a batch failed unsettled: what follows is not known row by row
            return
        self._done = rows_done
        self._settle(step)
        if self._unflushed_rows >= FLUSH_ROWS or (
            time.monotonic() - self._flushed_at >= FLUSH_SECONDS
        ):
            self.flush()

    def _settle(self, rows: int) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        while rows > 0 and self._pending:
            fed = self._pending.popleft()
            if len(fed) > rows:
                fed, rest = fed.take(rows)
                self._pending.appendleft(rest)
            rows -= len(fed)
            keep = fed
            if self._rejected:
                mask = pc.invert(pc.is_in(fed.keys, pa.array(list(self._rejected), pa.string())))
                keep = Fed(
                    fed.keys.filter(mask),
                    fed.fps.filter(mask) if fed.fps is not None else None,
                    fed.is_new.filter(mask),
                )
            if keep.fps is None:
                self.deleted += len(keep)
            else:
                new = int(pc.sum(keep.is_new).as_py() or 0)
                self.inserted += new
                self.updated += len(keep) - new
            self._unflushed.append((keep.keys, keep.fps))
            self._unflushed_rows += len(keep)
        self._rejected.clear()

    def flush(self) -> None:
        """Write what was confirmed and not yet recorded."""
        import pyarrow as pa

        if self.store is not None and self._unflushed:
            upserts = [(k, f) for k, f in self._unflushed if f is not None]
            deletes = [k for k, f in self._unflushed if f is None]
            if upserts:
                self.store.record(
                    pa.concat_arrays([k for k, _ in upserts]),
                    pa.concat_arrays([f for _, f in upserts]),
                    self.run_id,
                )
            if deletes:
                self.store.record(pa.concat_arrays(deletes), None, self.run_id)
        self._unflushed, self._unflushed_rows = [], 0
        self._flushed_at = time.monotonic()

    @property
    def complete(self) -> bool:
        """Every fed row was settled batch by batch."""
        return not self._lost and self._done == self._fed
