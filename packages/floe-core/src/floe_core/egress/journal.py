"""The run journal: which batches of a run the destination confirmed, recorded as they are.

A run records every batch the destination has answered for (its idempotency key and rows,
with the run and the source snapshot) the moment the engine reports it, one short transaction
each. When a run goes through (``success`` or ``partial``) the destination's journal is
cleared. So whatever the journal holds for a destination comes from runs that did not finish
(killed, interrupted, stopped by the destination); the next run on the same snapshot passes
those keys to the engine, which does not send those batches again. Keys are deterministic
(sink identity, batch position, payload digest), so they match only the same rows cut into the
same batches for the same destination: a changed snapshot, batch size or configuration simply
matches nothing and everything is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from floe_core.egress.receipt import utc_now

if TYPE_CHECKING:
    from floe_core.egress.state import StateStore

__all__ = ["RunJournal"]


class RunJournal:
    """Confirmed batches of unfinished runs, in a state store."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._table = store.table("journal")

    def record(
        self, destination: str, run_id: str, snapshot_id: int | None, key: str, rows: int
    ) -> None:
        """Remember that ``destination`` confirmed batch ``key`` (``rows`` rows) of ``run_id``."""
        with self.store.transaction("record a confirmed batch in") as conn:
            conn.execute(
                self._table.insert().values(
                    run_id=run_id,
                    batch_key=key,
                    destination=destination,
                    snapshot_id=snapshot_id,
                    rows=rows,
                    confirmed_at=utc_now(),
                )
            )

    def confirmed(self, destination: str, snapshot_id: int | None) -> dict[str, int]:
        """Key -> rows of every batch of ``snapshot_id`` unfinished runs delivered."""
        import sqlalchemy as sa

        table = self._table
        snapshot = (
            table.c.snapshot_id.is_(None)
            if snapshot_id is None
            else table.c.snapshot_id == snapshot_id
        )
        query = sa.select(table.c.batch_key, table.c.rows).where(
            table.c.destination == destination, snapshot
        )
        with self.store.transaction("read the run journal in") as conn:
            return {row.batch_key: int(row.rows) for row in conn.execute(query)}

    def rows_confirmed(self, run_id: str) -> int:
        """Rows of the batches ``run_id`` had confirmed."""
        import sqlalchemy as sa

        table = self._table
        query = sa.select(sa.func.coalesce(sa.func.sum(table.c.rows), 0)).where(
            table.c.run_id == run_id
        )
        with self.store.transaction("read the run journal in") as conn:
            return int(conn.execute(query).scalar_one())

    def clear(self, destination: str) -> None:
        """Forget ``destination``'s journal: a run of it went through."""
        table = self._table
        with self.store.transaction("clear the run journal in") as conn:
            conn.execute(table.delete().where(table.c.destination == destination))
