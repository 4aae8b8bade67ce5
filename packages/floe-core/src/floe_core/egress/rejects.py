"""Rows a destination refused: one record per destination and row identity, retried by runs.

A row's identity is the values of the destination's primary key when it has one, otherwise a
SHA-256 of the row's content (source column names and values). Refused again, a row's record
is updated in place (latest reason, one more attempt, last seen), never duplicated.

Retrying needs nothing special: a ``full`` run resends every row, and an incremental run
resends a refused row because its fingerprint did not advance (and the run after one with
refused rows diffs the whole table, as that one did not complete). A run that goes through
(nothing stopped it: ``success``, ``partial``, or ``failed`` because every row was refused)
having read the whole source and had every batch answered for settles the outstanding
records. A row it delivered (or, incremental, found already
delivered) is marked resolved; a row the destination refused again stays outstanding; a row no
longer in the source (its identity was not read) is dropped from the list. A run that stopped,
that skipped batches an interrupted run had delivered, or that read only the files appended
since the last complete run, settles nothing: it did not see every row go through.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from floe_core.egress.receipt import utc_now

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.egress.state import StateStore

__all__ = [
    "RejectReason",
    "RejectTracker",
    "RejectedRow",
    "RejectedRows",
    "row_identities",
    "row_identity",
]


@dataclass(frozen=True)
class RejectedRow:
    """A row a destination refused, kept to be reported and sent again.

    Attributes:
        key: The row's identity (primary key values as JSON, or ``sha256:<content hash>``).
        destination: The destination that refused it.
        run_id: The latest run it was refused by.
        row: The row as last refused, source column names.
        reason: The destination's reason, the latest refusal's.
        attempts: How many runs the destination refused it in.
        first_seen: When it was first refused.
        rejected_at: When it was last refused.
        resolved_run_id: The run that delivered it, once one has.
    """

    key: str
    destination: str
    run_id: str
    row: dict[str, Any]
    reason: str
    attempts: int
    first_seen: datetime
    rejected_at: datetime
    resolved_run_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "key": self.key,
            "destination": self.destination,
            "run_id": self.run_id,
            "row": json.loads(json.dumps(self.row, default=str)),
            "reason": self.reason,
            "attempts": self.attempts,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.rejected_at.isoformat(),
            "resolved_run_id": self.resolved_run_id,
        }


@dataclass(frozen=True)
class RejectReason:
    """One reason a destination gave, and how many of its rejected rows have it."""

    reason: str
    rows: int


def row_identity(row: Mapping[str, Any], key_columns: Sequence[str] | None = None) -> str:
    """The identity of ``row``: its primary key values, or a hash of its content."""
    if key_columns:
        return json.dumps([row.get(column) for column in key_columns], default=str)
    content = json.dumps(dict(row), sort_keys=True, default=str, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()


def row_identities(batch: pa.RecordBatch, key_columns: Sequence[str] | None = None) -> list[str]:
    """The identity of every row of ``batch`` (source column names)."""
    if key_columns:
        batch = batch.select(list(key_columns))
    return [row_identity(row, key_columns) for row in batch.to_pylist()]


class RejectedRows:
    """The rejected-row records of a state store."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._table = store.table("rejected")

    def keep(
        self,
        destination: str,
        run_id: str,
        rows: Sequence[Mapping[str, Any]],
        reason: str,
        key_columns: Sequence[str] | None = None,
    ) -> list[str]:
        """Record that ``destination`` refused ``rows`` in ``run_id``; return their identities."""
        table = self._table
        now = utc_now()
        keys: list[str] = []
        with self.store.transaction("save rejected rows in") as conn:
            for row in rows:
                key = row_identity(row, key_columns)
                keys.append(key)
                values = {
                    "run_id": run_id,
                    "row_json": json.dumps(dict(row), default=str, ensure_ascii=False),
                    "reason": reason,
                    "rejected_at": now,
                    "resolved_run_id": None,
                }
                done = conn.execute(
                    table.update()
                    .where(table.c.destination == destination, table.c.row_key == key)
                    .values(attempts=table.c.attempts + 1, **values)
                )
                if done.rowcount == 0:
                    conn.execute(
                        table.insert().values(
                            destination=destination,
                            row_key=key,
                            attempts=1,
                            first_seen=now,
                            **values,
                        )
                    )
        return keys

    def records(
        self, destination: str, *, unresolved_only: bool = True, limit: int | None = None
    ) -> list[RejectedRow]:
        """``destination``'s records, first refused first; the first ``limit`` of them only,
        when given. Rows refused together are in the order of their keys, shorter first, so
        that numeric keys count up (``[9]`` before ``[10]``)."""
        import sqlalchemy as sa

        table = self._table
        query = (
            table.select()
            .where(table.c.destination == destination)
            .order_by(table.c.first_seen, sa.func.length(table.c.row_key), table.c.row_key)
        )
        if unresolved_only:
            query = query.where(table.c.resolved_run_id.is_(None))
        if limit is not None:
            query = query.limit(limit)
        with self.store.transaction("read rejected rows in") as conn:
            return [_record(row) for row in conn.execute(query)]

    def reasons(self, destination: str, *, unresolved_only: bool = True) -> list[RejectReason]:
        """How many of ``destination``'s records have each reason: most rows first, then
        the reason first refused first."""
        import sqlalchemy as sa

        table = self._table
        rows = sa.func.count().label("rows")
        first = sa.func.min(table.c.first_seen).label("first")
        query = (
            sa.select(table.c.reason, rows, first)
            .where(table.c.destination == destination)
            .group_by(table.c.reason)
            .order_by(rows.desc(), first)
        )
        if unresolved_only:
            query = query.where(table.c.resolved_run_id.is_(None))
        with self.store.transaction("read rejected rows in") as conn:
            return [RejectReason(row.reason, int(row.rows)) for row in conn.execute(query)]

    def outstanding_keys(self, destination: str) -> set[str]:
        """Identities of ``destination``'s rows refused and not delivered since."""
        import sqlalchemy as sa

        table = self._table
        query = sa.select(table.c.row_key).where(
            table.c.destination == destination, table.c.resolved_run_id.is_(None)
        )
        with self.store.transaction("read rejected rows in") as conn:
            return {row.row_key for row in conn.execute(query)}

    def settle(
        self, destination: str, run_id: str, *, seen: Iterable[str], refused: Iterable[str]
    ) -> tuple[int, int]:
        """After a run that sent every row: outstanding rows it read and did not see refused
        are resolved by ``run_id``; those it did not read are gone from the source and dropped.

        Returns:
            How many were resolved, and how many dropped.
        """
        table = self._table
        outstanding = self.outstanding_keys(destination)
        refused_now = set(refused)
        seen_now = set(seen)
        resolved = sorted((outstanding & seen_now) - refused_now)
        gone = sorted(outstanding - seen_now - refused_now)
        with self.store.transaction("update rejected rows in") as conn:
            for start in range(0, max(len(resolved), len(gone)), 500):
                if resolved[start : start + 500]:
                    conn.execute(
                        table.update()
                        .where(
                            table.c.destination == destination,
                            table.c.row_key.in_(resolved[start : start + 500]),
                        )
                        .values(resolved_run_id=run_id)
                    )
                if gone[start : start + 500]:
                    conn.execute(
                        table.delete().where(
                            table.c.destination == destination,
                            table.c.row_key.in_(gone[start : start + 500]),
                        )
                    )
        return len(resolved), len(gone)


def _record(row: Any) -> RejectedRow:
    return RejectedRow(
        key=row.row_key,
        destination=row.destination,
        run_id=row.run_id,
        row=json.loads(row.row_json),
        reason=row.reason,
        attempts=int(row.attempts),
        first_seen=_aware(row.first_seen),
        rejected_at=_aware(row.rejected_at),
        resolved_run_id=row.resolved_run_id,
    )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class RejectTracker:
    """What one run learns about the outstanding rejects of a destination as it streams.

    Args:
        outstanding: Identities of the destination's rows refused and not delivered since.
        key_columns: The destination's primary key columns, if it has some.
    """

    def __init__(self, outstanding: set[str], key_columns: Sequence[str] | None = None) -> None:
        self.outstanding = outstanding
        self.key_columns = list(key_columns) if key_columns else None
        self.seen: set[str] = set()
        self.refused: set[str] = set()

    def watch_all(self, batches: Iterable[pa.RecordBatch]) -> None:
        """:meth:`watch` every batch (an incremental run's source, key columns only)."""
        if self.outstanding:
            for batch in batches:
                self.watch(batch)

    def watch(self, batch: pa.RecordBatch) -> None:
        """Note which outstanding rows ``batch`` of the source holds (nothing to do when
        there are none, so a run without rejects pays nothing)."""
        if self.outstanding:
            identities = row_identities(batch, self.key_columns)
            self.seen.update(key for key in identities if key in self.outstanding)
