"""Exactly-once appends: a table of the idempotency keys of batches already written.

In append mode each batch's key is inserted into ``_floe_delivery_log`` (in the target's
schema) in the same transaction as its rows. A batch whose key is already there was committed
before, by an attempt whose answer was lost or by a run that crashed later, and is skipped. So
a retried or re-run append never adds the same batch twice, and a crash never leaves a batch
half-written. Upsert needs no log (writing a row twice has the effect of writing it once), and
replace starts from an empty staging table on every run.

The engine derives keys from the destination, the batch's position and its bytes: a re-run
with the same rows and batch size finds the same keys.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["LOG_TABLE", "DeliveryLog"]

LOG_TABLE = "_floe_delivery_log"


class DeliveryLog:
    """The delivery log of one schema.

    Args:
        db_schema: Schema that holds the log (the target's).
        target: Name of the table the batches go to, recorded with each key.
    """

    def __init__(self, db_schema: str | None, target: str) -> None:
        import sqlalchemy as sa

        self._target = target
        self.table = sa.Table(
            LOG_TABLE,
            sa.MetaData(),
            sa.Column("idempotency_key", sa.String(128), primary_key=True),
            sa.Column("target_table", sa.String(255), nullable=False),
            sa.Column("row_count", sa.Integer, nullable=False),
            sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
            schema=db_schema,
        )

    def ensure(self, conn: sa.Connection) -> None:
        """Create the log table if it does not exist."""
        self.table.create(conn, checkfirst=True)

    def claim(self, conn: sa.Connection, key: str, rows: int) -> bool:
        """Record ``key`` in the current transaction.

        Returns:
            True when the key is new (write the batch), False when a committed transaction
            already recorded it (skip the batch).
        """
        values = {
            "idempotency_key": key,
            "target_table": self._target,
            "row_count": rows,
            "delivered_at": dt.datetime.now(dt.UTC),
        }
        backend = conn.dialect.name
        stmt: sa.Insert
        if backend == "postgresql":
            from sqlalchemy.dialects import postgresql

            stmt = postgresql.insert(self.table).values(values).on_conflict_do_nothing()
        elif backend == "sqlite":
            from sqlalchemy.dialects import sqlite

            stmt = sqlite.insert(self.table).values(values).on_conflict_do_nothing()
        elif backend in ("mysql", "mariadb"):
            stmt = self.table.insert().values(values).prefix_with("IGNORE")
        else:
            return self._claim_plain(conn, values)
        # SQLAlchemy keeps the row count of an INSERT only when asked to.
        result = conn.execute(stmt, execution_options={"preserve_rowcount": True})
        return result.rowcount == 1

    def delivered(self, conn: sa.Connection, key: str) -> bool:
        """True when ``key`` has been recorded."""
        import sqlalchemy as sa

        found = conn.execute(
            sa.select(sa.func.count()).where(self.table.c.idempotency_key == key)
        ).scalar_one()
        return bool(found)

    def _claim_plain(self, conn: sa.Connection, values: dict[str, object]) -> bool:
        import sqlalchemy as sa

        # Other databases: look first; a concurrent claim of the same key then fails on the
        # primary key and the batch is retried, finding the key.
        if self.delivered(conn, str(values["idempotency_key"])):
            return False
        conn.execute(sa.insert(self.table).values(values))
        return True
