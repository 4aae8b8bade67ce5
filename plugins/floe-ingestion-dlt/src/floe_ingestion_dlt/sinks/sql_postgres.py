"""PostgreSQL fast path: ``COPY ... FROM STDIN (FORMAT csv)`` through psycopg 3.

- append / replace: the batch's CSV is copied straight into the target (or staging) table.
- upsert: the CSV is copied into a session temporary table (created once per connection,
  emptied at every commit), then merged with ``INSERT ... SELECT ... ON CONFLICT (key) DO
  UPDATE``, skipping rows whose values are unchanged. When a batch holds the same key twice,
  PostgreSQL refuses the merge; the batch is then merged again keeping the last row per key.

All of it happens inside the caller's transaction; the caller commits once per batch.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from floe_ingestion_dlt.sinks.sql_tables import TablePlan, quote_table

if TYPE_CHECKING:
    import sqlalchemy as sa

    from floe_ingestion_dlt.sinks.base import Payload

__all__ = ["PostgresCopyWriter"]

_CARDINALITY_VIOLATION = "21000"


class PostgresCopyWriter:
    """Writes CSV payloads with COPY (see the module docstring).

    Args:
        plan: Where the batches go.
        dialect: The engine's dialect, for quoting.
        upsert: Merge on ``plan.primary_key`` instead of appending.
    """

    def __init__(self, plan: TablePlan, dialect: sa.Dialect, *, upsert: bool) -> None:
        quote = dialect.identifier_preparer.quote
        self._upsert = upsert
        target = quote_table(dialect, plan.write_table, plan.db_schema)
        columns = ", ".join(quote(c) for c in plan.columns)
        if not upsert:
            self._copy = f"COPY {target} ({columns}) FROM STDIN (FORMAT csv)"
            return
        digest = hashlib.sha256(f"{target}\n{columns}".encode()).hexdigest()[:16]
        temp = f"_floe_upsert_{digest}"
        self._create_temp = (
            f"CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS "
            f"SELECT {columns} FROM {target} WITH NO DATA"
        )
        self._copy = f"COPY {temp} ({columns}) FROM STDIN (FORMAT csv)"
        keys = ", ".join(quote(c) for c in plan.primary_key)
        others = [quote(c) for c in plan.columns if c not in plan.primary_key]
        if others:
            assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in others)
            old = ", ".join(f"t.{c}" for c in others)
            new = ", ".join(f"EXCLUDED.{c}" for c in others)
            # ROW() keeps a one-column comparison a row comparison.
            action = f"DO UPDATE SET {assignments} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
        else:
            action = "DO NOTHING"
        head = f"INSERT INTO {target} AS t ({columns}) "
        tail = f" ON CONFLICT ({keys}) {action}"
        self._merge = f"{head}SELECT {columns} FROM {temp}{tail}"
        # Last row per key wins: a fresh temporary table keeps rows in insertion order.
        self._merge_last_per_key = (
            f"{head}SELECT DISTINCT ON ({keys}) {columns} FROM {temp} "
            f"ORDER BY {keys}, ctid DESC{tail}"
        )

    def write(self, conn: sa.Connection, payload: Payload) -> None:
        """Write one batch in ``conn``'s current transaction."""
        import psycopg

        driver: Any = conn.connection.driver_connection
        with driver.cursor() as cursor:
            if not self._upsert:
                self._copy_body(cursor, payload.body)
                return
            cursor.execute(self._create_temp)
            cursor.execute("SAVEPOINT floe_batch")
            self._copy_body(cursor, payload.body)
            try:
                cursor.execute(self._merge)
            except psycopg.Error as exc:
                if exc.sqlstate != _CARDINALITY_VIOLATION:
                    raise
                cursor.execute("ROLLBACK TO SAVEPOINT floe_batch")
                self._copy_body(cursor, payload.body)
                cursor.execute(self._merge_last_per_key)

    def _copy_body(self, cursor: Any, body: bytes) -> None:
        with cursor.copy(self._copy) as copy:
            copy.write(body)
