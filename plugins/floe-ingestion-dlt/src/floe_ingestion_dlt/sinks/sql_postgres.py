"""PostgreSQL fast path: ``COPY ... FROM STDIN (FORMAT csv)`` through psycopg 3.

- append / replace: the batch's CSV is copied straight into the target (or staging) table.
- upsert: the CSV is copied into a session temporary table (created once per connection,
  emptied at every commit), then merged with ``INSERT ... SELECT ... ON CONFLICT (key) DO
  UPDATE``, skipping rows whose values are unchanged (unless a column's type has no ``=``,
  such as ``json``). When a batch holds the same key twice, PostgreSQL refuses the merge; the
  batch is then merged again keeping the last row per key.

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


def _unformatted(dialect: sa.Dialect, quoted: str) -> str:
    """Undo SQLAlchemy's doubling of ``%`` in identifiers: these statements are sent as they
    are, never %-formatted by the driver."""
    return quoted.replace("%%", "%") if dialect.paramstyle in ("format", "pyformat") else quoted


_CARDINALITY_VIOLATION = "21000"
_NO_EQUALITY = "42883"  # undefined_function: no "=" operator for a column's type


class PostgresCopyWriter:
    """Writes CSV payloads with COPY (see the module docstring).

    Args:
        plan: Where the batches go.
        dialect: The engine's dialect, for quoting.
        upsert: Merge on ``plan.primary_key`` instead of appending.
    """

    def __init__(self, plan: TablePlan, dialect: sa.Dialect, *, upsert: bool) -> None:
        def quote(name: str) -> str:
            return _unformatted(dialect, dialect.identifier_preparer.quote(name))

        self._upsert = upsert
        target = _unformatted(dialect, quote_table(dialect, plan.write_table, plan.db_schema))
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
            update = f"DO UPDATE SET {assignments}"
            # ROW() keeps a one-column comparison a row comparison.
            unless_same = f" WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
        else:
            update, unless_same = "DO NOTHING", ""
        head = f"INSERT INTO {target} AS t ({columns}) SELECT "
        # Last row per key wins: a fresh temporary table keeps rows in insertion order.
        self._sources = (
            f"{columns} FROM {temp}",
            f"DISTINCT ON ({keys}) {columns} FROM {temp} ORDER BY {keys}, ctid DESC",
        )
        self._head = head
        self._tails = (
            f" ON CONFLICT ({keys}) {update}",
            f" ON CONFLICT ({keys}) {update}{unless_same}",
        )
        self._skip_unchanged = bool(unless_same)

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
            last_per_key = False
            while True:
                try:
                    cursor.execute(self._merge(last_per_key))
                    return
                except psycopg.Error as exc:
                    if exc.sqlstate == _CARDINALITY_VIOLATION and not last_per_key:
                        last_per_key = True
                    elif exc.sqlstate == _NO_EQUALITY and self._skip_unchanged:
                        # A column type without "=" (json, xml, point): always update.
                        self._skip_unchanged = False
                    else:
                        raise
                cursor.execute("ROLLBACK TO SAVEPOINT floe_batch")
                self._copy_body(cursor, payload.body)

    def _merge(self, last_per_key: bool) -> str:
        return self._head + self._sources[last_per_key] + self._tails[self._skip_unchanged]

    def _copy_body(self, cursor: Any, body: bytes) -> None:
        with cursor.copy(self._copy) as copy:
            copy.write(body)
