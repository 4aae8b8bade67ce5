"""Insert-only, update-only and delete writes by primary key, set-based, for ``mode: upsert``
tables.

An incremental sync in mode ``insert`` sends only keys it never synced and must not overwrite
a row it did not send; mode ``update`` sends only changed rows of synced keys and must not
create one. Each batch is written in the caller's transaction in four statements, whatever
its size:

1. the batch goes into a temporary table (``COPY`` on PostgreSQL, one ``executemany`` of
   multi-row ``INSERT`` elsewhere), with each row's position in the batch;
2. one ``SELECT`` finds the rows that cannot be written as asked: for an insert, those whose
   key the table has already; for an update, those whose key it does not have;
3. one ``INSERT ... SELECT ... WHERE NOT EXISTS`` (insert), or one ``UPDATE ... FROM`` (on
   MySQL / MariaDB ``UPDATE ... JOIN``) writes the others; a delete (its batch is the key
   columns) is one ``DELETE ... USING`` (``DELETE ... JOIN``; ``WHERE EXISTS`` on SQLite), and
   a key the table does not have deletes nothing;
4. the sink acknowledges the rows of step 2 as rejected, with the reason, and the rest as
   written.

On PostgreSQL a row's position is its order in the freshly filled temporary table (``ctid``),
the order ``COPY`` wrote it in; elsewhere it is a column of the temporary table.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from floe_core.sinks.base import Operation

from floe_ingestion_dlt.sinks.sql.executemany import named_params, placeholder
from floe_ingestion_dlt.sinks.sql.tables import TablePlan, quote_table

if TYPE_CHECKING:
    import sqlalchemy as sa
    from floe_core.sinks.base import Payload

__all__ = ["KEYED_REASONS", "KeyedWriter"]

#: Why a row is refused, per operation.
KEYED_REASONS = {
    Operation.INSERT: (
        "a row with this primary key is in the table already; an insert does not overwrite it"
    ),
    Operation.UPDATE: "no row with this primary key is in the table; an update does not create it",
}

_POSITION = "_floe_pos"


class KeyedWriter:
    """Writes a batch as an insert-only or update-only statement (see the module docstring).

    Args:
        plan: Where the batches go (``plan.primary_key`` set).
        dialect: The engine's dialect, for quoting and its parameter style.
        operation: ``Operation.INSERT`` or ``Operation.UPDATE``.
        copy: Load the temporary table with PostgreSQL ``COPY`` (psycopg 3).
    """

    def __init__(
        self, plan: TablePlan, dialect: sa.Dialect, operation: Operation, *, copy: bool
    ) -> None:
        preparer = dialect.identifier_preparer

        def quote(name: str) -> str:
            quoted = preparer.quote(name)
            # Sent as is through the driver with no parameters (COPY and the plain
            # statements): undo SQLAlchemy's doubling of % for format-style drivers.
            return quoted.replace("%%", "%") if copy else quoted

        self.operation = operation
        self._copy = copy
        self._backend = dialect.name
        target = quote_table(dialect, plan.write_table, plan.db_schema)
        if copy:
            target = target.replace("%%", "%")
        # A delete carries the key columns only.
        written = plan.primary_key if operation is Operation.DELETE else plan.columns
        columns = [quote(c) for c in written]
        listed = ", ".join(columns)
        digest = hashlib.sha256(f"{target}\n{listed}".encode()).hexdigest()[:16]
        temp = f"_floe_keyed_{digest}"

        def match_on(name: str) -> str:
            return " AND ".join(f"{name}.{quote(k)} = s.{quote(k)}" for k in plan.primary_key)

        match = match_on("t")
        others = [quote(c) for c in plan.columns if c not in plan.primary_key]
        if copy:
            self._prepare = [
                f"CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS "
                f"SELECT {listed} FROM {target} WITH NO DATA"
            ]
            self._load = f"COPY {temp} ({listed}) FROM STDIN (FORMAT csv)"
            source = (
                f"(SELECT row_number() OVER (ORDER BY ctid) - 1 AS {_POSITION}, {listed} "
                f"FROM {temp})"
            )
        else:
            self._prepare = [
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} AS "
                f"SELECT 0 AS {_POSITION}, {listed} FROM {target} WHERE 1 = 0",
                f"DELETE FROM {temp}",
            ]
            style = dialect.paramstyle
            marks = ", ".join(placeholder(style, i) for i in range(len(columns) + 1))
            self._load = f"INSERT INTO {temp} ({_POSITION}, {listed}) VALUES ({marks})"
            self._named = named_params(style)
            source = temp
        exists = f"EXISTS (SELECT 1 FROM {target} t WHERE {match})"
        if operation is Operation.INSERT:
            self._refused: str | None = f"SELECT s.{_POSITION} FROM {source} s WHERE {exists}"
            self._apply: str | None = (
                f"INSERT INTO {target} ({listed}) SELECT {', '.join(f's.{c}' for c in columns)} "
                f"FROM {source} s WHERE NOT {exists}"
            )
        elif operation is Operation.UPDATE:
            self._refused = f"SELECT s.{_POSITION} FROM {source} s WHERE NOT {exists}"
            self._apply = _update(self._backend, target, source, match, others)
        elif operation is Operation.DELETE:
            self._refused = None  # a key the table does not have deletes nothing
            self._apply = _delete(self._backend, target, source, match, match_on(target))
        else:
            raise ValueError(f"KeyedWriter does not write {operation.value}")

    def write(self, conn: sa.Connection, payload: Payload) -> list[int]:
        """Write one batch in ``conn``'s current transaction.

        Returns:
            The positions (in the batch as encoded) of the rows refused.
        """
        if not self._copy:
            return self._write_rows(conn, payload)
        driver: Any = conn.connection.driver_connection
        with driver.cursor() as cursor:
            for statement in self._prepare:
                cursor.execute(statement)
            with cursor.copy(self._load) as copy:
                copy.write(payload.body)
            refused = []
            if self._refused is not None:
                cursor.execute(self._refused)
                refused = sorted(int(row[0]) for row in cursor.fetchall())
            if self._apply is not None and len(refused) < payload.rows:
                cursor.execute(self._apply)
        return refused

    def _write_rows(self, conn: sa.Connection, payload: Payload) -> list[int]:
        for statement in self._prepare:
            conn.exec_driver_sql(statement)
        rows: list[Any] = [(index, *row) for index, row in enumerate(payload.data)]
        if self._named and rows:
            names = [f"p{i}" for i in range(len(rows[0]))]
            rows = [dict(zip(names, row, strict=True)) for row in rows]
        if rows:
            conn.exec_driver_sql(self._load, rows)
        refused = []
        if self._refused is not None:
            refused = sorted(int(row[0]) for row in conn.exec_driver_sql(self._refused))
        if self._apply is not None and len(refused) < payload.rows:
            conn.exec_driver_sql(self._apply)
        return refused


def _update(backend: str, target: str, source: str, match: str, others: list[str]) -> str | None:
    """The set-based update of ``target``'s non-key columns from ``source`` (None: no such)."""
    if not others:
        return None  # only key columns: an update changes nothing
    if backend in ("mysql", "mariadb"):
        sets = ", ".join(f"t.{c} = s.{c}" for c in others)
        return f"UPDATE {target} t JOIN {source} s ON {match} SET {sets}"
    sets = ", ".join(f"{c} = s.{c}" for c in others)
    return f"UPDATE {target} AS t SET {sets} FROM {source} AS s WHERE {match}"


def _delete(backend: str, target: str, source: str, match: str, match_target: str) -> str:
    """The set-based delete of ``target``'s rows whose key ``source`` holds (``match``
    qualifies the target's columns with ``t``, ``match_target`` with its own name)."""
    if backend in ("mysql", "mariadb"):
        return f"DELETE t FROM {target} t JOIN {source} s ON {match}"
    if backend == "postgresql":
        return f"DELETE FROM {target} AS t USING {source} AS s WHERE {match}"
    # SQLite and others: no alias on the target of a DELETE
    return f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {source} s WHERE {match_target})"
