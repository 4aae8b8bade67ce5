"""Batch writes through the DB-API ``executemany``, for databases without a COPY fast path.

One ``INSERT`` statement with parameter rows per batch: PyMySQL turns it into multi-row
``INSERT ... VALUES (...), (...)`` statements (up to about 1 MB each), SQLite runs one
prepared statement over all rows. Upsert is ``INSERT ... ON DUPLICATE KEY UPDATE`` on
MySQL/MariaDB and ``INSERT ... ON CONFLICT (key) DO UPDATE`` on SQLite and PostgreSQL; in
both the last row of a key wins. Other databases support append and replace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from floe_ingestion_dlt.sinks.sql.tables import TablePlan, quote_table

if TYPE_CHECKING:
    import sqlalchemy as sa
    from floe_core.sinks.base import Payload

__all__ = ["UPSERT_BACKENDS", "ExecutemanyWriter"]

UPSERT_BACKENDS = ("postgresql", "mysql", "mariadb", "sqlite")
_POSITIONAL = {"qmark": "?", "format": "%s", "pyformat": "%s"}


class ExecutemanyWriter:
    """Writes parameter rows (``Payload.data``) with one ``executemany`` per batch.

    Args:
        plan: Where the batches go.
        dialect: The engine's dialect, for quoting and its parameter style.
        upsert: Insert or update on ``plan.primary_key``.

    Raises:
        ValueError: ``upsert`` on a database not in ``UPSERT_BACKENDS``.
    """

    def __init__(self, plan: TablePlan, dialect: sa.Dialect, *, upsert: bool) -> None:
        quote = dialect.identifier_preparer.quote
        style = dialect.paramstyle
        self._named = named_params(style)
        target = quote_table(dialect, plan.write_table, plan.db_schema)
        quoted = [quote(c) for c in plan.columns]
        # SQLAlchemy's quoting already doubles a literal % for "format"-style drivers.
        self._keys = [f"p{i}" for i in range(len(plan.columns))]
        placeholders = [placeholder(style, i) for i in range(len(plan.columns))]
        sql = f"INSERT INTO {target} ({', '.join(quoted)}) VALUES ({', '.join(placeholders)})"
        if upsert:
            sql += _upsert_clause(dialect.name, plan, quoted)
        self._sql = sql

    @property
    def sql(self) -> str:
        """The statement run for each batch."""
        return self._sql

    def write(self, conn: sa.Connection, payload: Payload) -> None:
        """Write one batch in ``conn``'s current transaction."""
        rows: list[Any] = payload.data
        if self._named:
            rows = [dict(zip(self._keys, row, strict=True)) for row in rows]
        conn.exec_driver_sql(self._sql, rows)


def named_params(style: str) -> bool:
    """Whether the DB-API ``paramstyle`` binds parameters by name (``named``, ``pyformat``
    with keys): rows then go as dicts."""
    return style not in (*_POSITIONAL, "numeric", "numeric_dollar")


def placeholder(style: str, index: int) -> str:
    """The DB-API ``paramstyle``'s marker for parameter ``index`` (0-based)."""
    if style in _POSITIONAL:
        return _POSITIONAL[style]
    if style == "numeric":
        return f":{index + 1}"
    if style == "numeric_dollar":
        return f"${index + 1}"
    return f":p{index}"


def _upsert_clause(backend: str, plan: TablePlan, quoted: list[str]) -> str:
    keys = set(plan.primary_key)
    others = [q for name, q in zip(plan.columns, quoted, strict=True) if name not in keys]
    if backend in ("mysql", "mariadb"):
        if not others:  # nothing to update: a no-op assignment keeps the existing row
            first = quoted[0]
            return f" ON DUPLICATE KEY UPDATE {first} = {first}"
        return " ON DUPLICATE KEY UPDATE " + ", ".join(f"{q} = VALUES({q})" for q in others)
    if backend in ("sqlite", "postgresql"):
        by_name = dict(zip(plan.columns, quoted, strict=True))
        conflict = ", ".join(by_name[k] for k in plan.primary_key)
        if not others:
            return f" ON CONFLICT ({conflict}) DO NOTHING"
        sets = ", ".join(f"{q} = excluded.{q}" for q in others)
        return f" ON CONFLICT ({conflict}) DO UPDATE SET {sets}"
    raise ValueError(f"upsert is not supported on {backend}")
