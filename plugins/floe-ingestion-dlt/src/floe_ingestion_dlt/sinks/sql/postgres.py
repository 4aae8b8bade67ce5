"""PostgreSQL fast path: ``COPY ... FROM STDIN (FORMAT csv)`` through psycopg 3.

- append / replace: the batch's CSV is copied straight into the target (or staging) table.
- upsert: the CSV is copied into a session temporary table (created once per connection,
  emptied at every commit), then merged with ``INSERT ... SELECT ... ON CONFLICT (key) DO
  UPDATE``, skipping rows whose values are unchanged (unless a column's type has no ``=``,
  such as ``json``). When a batch holds the same key twice, PostgreSQL refuses the merge; the
  batch is then merged again keeping the last row per key.

All of it happens inside the caller's transaction; the caller commits once per batch.

A large upsert batch is split by key into two parts that share no key (:func:`split_by_key`),
which the sink writes at the same time on two connections: the merge is the slow part of an
upsert and runs in the server, one core per connection. Rows with the same key stay in the same
part and in their order, so the last row of a key still wins, and batches still follow each
other in order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floe_core.sinks.base import Payload

from floe_ingestion_dlt.sinks.sql.tables import TablePlan, quote_table

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

__all__ = ["PARALLEL_UPSERT_MIN_ROWS", "KeyParts", "PostgresCopyWriter", "split_by_key"]

#: Upsert batches of at least this many rows are written as two key-disjoint parts at once.
PARALLEL_UPSERT_MIN_ROWS = 10_000


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


def split_by_key(batch: pa.RecordBatch, key: str) -> list[pa.RecordBatch]:
    """Split ``batch`` in two by its ``key`` column: rows with a key below a pivot, and the rest.

    The pivot is the median of a few evenly spaced keys, so the parts are about even whether
    the rows come in key order or not. Rows with equal keys (of which ``key`` is the first
    column) always land in the same part, in their original order. Returns ``[batch]`` when
    the rows cannot be split that way (null or unorderable keys, every row on one side).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    index = batch.schema.get_field_index(key)
    if index < 0 or batch.num_rows < 2:
        return [batch]
    column = batch.column(index)
    step = max(1, batch.num_rows // _PIVOT_SAMPLES)
    try:
        sample = pc.drop_null(column.take(pa.array(range(step // 2, batch.num_rows, step))))
        if len(sample) == 0:
            return [batch]
        pivot = sample[pc.sort_indices(sample)[len(sample) // 2].as_py()]
        upper = pc.fill_null(pc.greater_equal(column, pivot), False)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        return [batch]
    above = pc.sum(upper).as_py() or 0
    if above in (0, batch.num_rows):
        return [batch]
    below = batch.num_rows - above
    if pc.all(upper.slice(below)).as_py() and not pc.any(upper.slice(0, below)).as_py():
        # Keys in ascending order (the usual case for tables written in key order): two
        # zero-copy slices.
        return [batch.slice(0, below), batch.slice(below)]
    return [batch.filter(pc.invert(upper)), batch.filter(upper)]


_PIVOT_SAMPLES = 101


@dataclass(frozen=True)
class KeyParts:
    """A payload body made of CSV parts that share no key: rows in each, and where each ends."""

    rows: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def join(cls, rows: list[int], bodies: list[bytes]) -> tuple[bytes, KeyParts]:
        """The parts' bodies as one body, and where each part is in it."""
        ends: list[int] = []
        for body in bodies:
            ends.append((ends[-1] if ends else 0) + len(body))
        return b"".join(bodies), cls(tuple(rows), tuple(ends))

    def payloads(self, body: bytes) -> list[Payload]:
        """One payload per part, cut out of ``body``."""
        starts = (0, *self.ends[:-1])
        return [
            Payload(rows=rows, body=body[start:end])
            for rows, start, end in zip(self.rows, starts, self.ends, strict=True)
        ]
