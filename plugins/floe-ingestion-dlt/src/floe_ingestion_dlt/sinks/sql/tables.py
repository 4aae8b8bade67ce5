"""The tables a ``sql_database`` write touches: target, replace-mode staging table, and their DDL.

``prepare`` runs once per write, before the first batch. It creates the target table from the
data's Arrow schema when it is missing (and ``create_table`` allows it), or checks that an
existing one has every column written and, for upsert, a unique key on ``primary_key``.

``replace`` never empties the target up front. Batches go to a staging table
(``<table>__floe_staging``, dropped first if a crashed run left one); ``finish_replace`` then
swaps it in, in one transaction: a new target is the staging table renamed; an existing one
keeps its definition, grants and dependent views and has its rows replaced
(``DELETE`` + ``INSERT ... SELECT``). A failed write only drops the staging table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from floe_core.sinks.errors import SinkConfigurationError

from floe_ingestion_dlt.sinks.sql.config import SINK_TYPE, SqlDatabaseSettings
from floe_ingestion_dlt.sinks.sql.exact import ColumnLimit, column_limit
from floe_ingestion_dlt.sinks.sql.fits import column_kind, data_kind, fit, kind_words
from floe_ingestion_dlt.sinks.sql.types import build_table, column_type

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

__all__ = ["TablePlan", "check", "drop_staging", "finish_replace", "prepare", "quote_table"]

STAGING_SUFFIX = "__floe_staging"
_MAX_NAME = 63  # PostgreSQL's identifier limit; MySQL allows 64


@dataclass(frozen=True)
class TablePlan:
    """Where the batches of one write go.

    Attributes:
        backend: SQLAlchemy backend name (``postgresql``, ``mysql``, ``sqlite``, ...).
        db_schema: Schema of the target (``None``: the connection's default).
        target: Target table name.
        write_table: The table batches are written to: the target, or the staging table.
        columns: Columns written, in batch order.
        primary_key: Key columns (upsert conflict target).
        staging: True in replace mode.
        target_existed: Whether the target existed when the write started.
        column_limits: By column name, what the existing table's columns keep of the values
            written to them, where they would not keep every value exactly.
    """

    backend: str
    db_schema: str | None
    target: str
    write_table: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    staging: bool
    target_existed: bool
    column_limits: Mapping[str, ColumnLimit] = field(default_factory=dict)


def quote_table(dialect: sa.Dialect, name: str, schema: str | None) -> str:
    """``schema.name`` quoted for ``dialect`` where needed."""
    preparer = dialect.identifier_preparer
    quoted = preparer.quote(name)
    return f"{preparer.quote_schema(schema)}.{quoted}" if schema else quoted


def staging_name(target: str) -> str:
    """Deterministic staging-table name, so a crashed run's leftover is found and dropped."""
    return target[: _MAX_NAME - len(STAGING_SUFFIX)] + STAGING_SUFFIX


def prepare(
    conn: sa.Connection,
    settings: SqlDatabaseSettings,
    schema: pa.Schema,
    *,
    destination: str = "",
) -> TablePlan:
    """Create or check the target (and staging) table for a write of rows with ``schema``.

    Raises:
        SinkConfigurationError: Missing schema/table that floe may not create, missing
            columns, no unique key for upsert, a column type with no SQL counterpart.
    """
    import sqlalchemy as sa

    backend = conn.dialect.name
    db_schema, table = settings.db_schema, settings.table
    where = f"{db_schema}.{table}" if db_schema else table
    if backend == "postgresql":
        # Writes preparing the same schema at once (Ray tasks, parallel partitions) would race
        # to create it, its table and the delivery log: PostgreSQL's catalog refuses the loser
        # (pg_type_typname_nsp_index). One at a time, until the caller's transaction commits.
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"floe.prepare:{db_schema or ''}"},
        )
    inspector = sa.inspect(conn)
    if db_schema is not None and not inspector.has_schema(db_schema):
        if backend == "postgresql" and settings.create_table:
            conn.execute(sa.schema.CreateSchema(db_schema, if_not_exists=True))
        else:
            raise _config_error(
                f"schema {db_schema!r} does not exist",
                f"create it (CREATE SCHEMA {db_schema}) or fix `schema` in the destination config",
                destination,
            )
    exists = inspector.has_table(table, schema=db_schema)
    if not exists and not settings.create_table:
        raise _config_error(
            f"table {where} does not exist and create_table is false",
            "create the table, or set `create_table: true` to let floe create it from the data",
            destination,
        )
    limits: dict[str, ColumnLimit] = {}
    if exists:
        _check_columns(conn, inspector, settings, schema, destination)
        # A column its values can never go into: refused before anything is sent.
        _check_types(conn, inspector, settings, schema, destination)
        if settings.mode == "upsert":
            _check_unique_key(conn, inspector, settings, destination)
        limits = _column_limits(inspector, settings, schema, backend)
    plan = TablePlan(
        backend=backend,
        db_schema=db_schema,
        target=table,
        write_table=staging_name(table) if settings.mode == "replace" else table,
        columns=tuple(schema.names),
        primary_key=settings.primary_key,
        staging=settings.mode == "replace",
        target_existed=exists,
        column_limits=limits,
    )
    if plan.staging:
        drop_staging(conn, plan)
        if exists:
            _create_staging_like(conn, inspector, plan)
    if not exists:
        new_table = build_table(
            sa.MetaData(),
            plan.write_table,
            schema,
            db_schema=db_schema,
            # A mysql:// URL may reach a MariaDB server, whose collations differ.
            backend="mariadb" if getattr(conn.dialect, "is_mariadb", False) else backend,
            primary_key=settings.primary_key,
            # Named after the target, which a staging table becomes.
            key_name=f"{table[:58]}_pkey",
            destination=destination,
        )
        new_table.create(conn, checkfirst=not plan.staging)
    return plan


def check(
    conn: sa.Connection,
    settings: SqlDatabaseSettings,
    schema: pa.Schema,
    *,
    destination: str = "",
) -> list[str]:
    """What ``prepare`` would refuse for rows with ``schema``, found without changing anything
    (``floe check``).

    Returns:
        Columns that take only some of the values written, or change them (``fits.py``), one
        line each: a run sends them and the rows that do not fit are refused.

    Raises:
        SinkConfigurationError: The first problem found.
    """
    import sqlalchemy as sa

    backend = conn.dialect.name
    db_schema, table = settings.db_schema, settings.table
    inspector = sa.inspect(conn)
    may_create_schema = backend == "postgresql" and settings.create_table
    if db_schema is not None and not inspector.has_schema(db_schema):
        if not may_create_schema:
            raise _config_error(
                f"schema {db_schema!r} does not exist",
                f"create it (CREATE SCHEMA {db_schema}) or fix `schema` in the destination config",
                destination,
            )
        exists = False
    else:
        exists = inspector.has_table(table, schema=db_schema)
    where = f"{db_schema}.{table}" if db_schema else table
    if not exists and not settings.create_table:
        raise _config_error(
            f"table {where} does not exist and create_table is false",
            "create the table, or set `create_table: true` to let floe create it from the data",
            destination,
        )
    if not exists:  # floe would create it: every column type must have a SQL counterpart
        build_table(
            sa.MetaData(),
            table,
            schema,
            db_schema=db_schema,
            backend="mariadb" if getattr(conn.dialect, "is_mariadb", False) else backend,
            primary_key=settings.primary_key,
            destination=destination,
        )
        return []
    _check_columns(conn, inspector, settings, schema, destination)
    warnings = _check_types(conn, inspector, settings, schema, destination)
    if settings.mode == "upsert":
        _check_unique_key(conn, inspector, settings, destination)
    return warnings


def finish_replace(conn: sa.Connection, plan: TablePlan) -> None:
    """Swap the staging table in (call inside one transaction); see the module docstring."""
    target = quote_table(conn.dialect, plan.target, plan.db_schema)
    staging = quote_table(conn.dialect, plan.write_table, plan.db_schema)
    if not plan.target_existed:
        if plan.backend in ("mysql", "mariadb"):
            conn.exec_driver_sql(f"RENAME TABLE {staging} TO {target}")
        else:
            new_name = conn.dialect.identifier_preparer.quote(plan.target)
            conn.exec_driver_sql(f"ALTER TABLE {staging} RENAME TO {new_name}")
        return
    columns = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in plan.columns)
    conn.exec_driver_sql(f"DELETE FROM {target}")
    conn.exec_driver_sql(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {staging}")
    if plan.backend not in ("mysql", "mariadb"):  # DDL would commit the transaction on MySQL
        conn.exec_driver_sql(f"DROP TABLE {staging}")


def drop_staging(conn: sa.Connection, plan: TablePlan) -> None:
    """Drop the staging table if it exists."""
    staging = quote_table(conn.dialect, plan.write_table, plan.db_schema)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {staging}")


def _create_staging_like(conn: sa.Connection, inspector: Any, plan: TablePlan) -> None:
    """An empty copy of the target's columns (on MySQL with its keys, elsewhere without)."""
    import sqlalchemy as sa

    target = quote_table(conn.dialect, plan.target, plan.db_schema)
    staging = quote_table(conn.dialect, plan.write_table, plan.db_schema)
    if plan.backend == "postgresql":
        conn.exec_driver_sql(f"CREATE TABLE {staging} (LIKE {target} INCLUDING DEFAULTS)")
        return
    if plan.backend in ("mysql", "mariadb"):
        conn.exec_driver_sql(f"CREATE TABLE {staging} LIKE {target}")
        return
    reflected = inspector.get_columns(plan.target, schema=plan.db_schema)
    columns = [sa.Column(c["name"], c["type"], nullable=True) for c in reflected]
    sa.Table(plan.write_table, sa.MetaData(), *columns, schema=plan.db_schema).create(conn)


def _same(backend: str) -> Any:
    """Column-name comparison key: MySQL and SQLite compare names without case."""
    if backend in ("mysql", "mariadb", "sqlite"):
        return str.casefold
    return lambda name: name


def _check_columns(
    conn: sa.Connection,
    inspector: Any,
    settings: SqlDatabaseSettings,
    schema: pa.Schema,
    destination: str,
) -> None:
    backend = conn.dialect.name
    key = _same(backend)
    reflected = inspector.get_columns(settings.table, schema=settings.db_schema)
    existing = {key(c["name"]) for c in reflected}
    where = quote_table(conn.dialect, settings.table, settings.db_schema)
    missing = [f for f in schema if key(f.name) not in existing]
    if missing:
        fixes = []
        for field in missing:
            try:
                sql_type = column_type(field.type, backend=backend).compile(dialect=conn.dialect)
            except TypeError:
                sql_type = "<type>"
            quoted = conn.dialect.identifier_preparer.quote(field.name)
            fixes.append(f"ALTER TABLE {where} ADD COLUMN {quoted} {sql_type}")
        raise _config_error(
            f"table {where} has no column(s) {', '.join(repr(f.name) for f in missing)} "
            "that the data writes",
            "add them (" + "; ".join(fixes) + "), or drop or rename them before the sink "
            "(field_mapping renames columns)",
            destination,
        )
    written = {key(name) for name in schema.names}
    required = [
        c["name"]
        for c in reflected
        if key(c["name"]) not in written
        and not c.get("nullable", True)
        and c.get("default") is None
        and not c.get("autoincrement", False)
        and c.get("computed") is None
        and c.get("identity") is None
    ]
    if required:
        raise _config_error(
            f"table {where} has NOT NULL column(s) {', '.join(map(repr, required))} without a "
            "default that the data does not write",
            "write those columns too, or give them a default / make them nullable",
            destination,
        )


def _type_text(sql_type: Any, dialect: sa.Dialect) -> str:
    try:
        return str(sql_type.compile(dialect=dialect))
    except Exception:  # a type SQLAlchemy reflects but cannot render
        return type(sql_type).__name__


def _sqlite_strict(conn: sa.Connection, settings: SqlDatabaseSettings) -> bool:
    """Whether a SQLite table is ``STRICT`` (SQLite 3.37+), which enforces its column types."""
    try:
        row = conn.exec_driver_sql(
            "SELECT strict FROM pragma_table_list WHERE name = ? AND schema = ?",
            (settings.table, settings.db_schema or "main"),
        ).first()
    except Exception:  # an older SQLite: no STRICT tables
        return False
    return bool(row and row[0])


def _check_types(
    conn: sa.Connection,
    inspector: Any,
    settings: SqlDatabaseSettings,
    schema: pa.Schema,
    destination: str,
) -> list[str]:
    """Refuse columns that can never take the kind of values written (``fits.py``); return
    what the columns that take only some of them do (one line each)."""
    backend = conn.dialect.name
    if backend == "sqlite" and not _sqlite_strict(conn, settings):
        return []  # SQLite stores any value in any column
    key = _same(backend)
    reflected = {
        key(c["name"]): c["type"]
        for c in inspector.get_columns(settings.table, schema=settings.db_schema)
    }
    where = quote_table(conn.dialect, settings.table, settings.db_schema)
    clashes, warnings, fixes = [], [], []
    for arrow_field in schema:
        column = reflected.get(key(arrow_field.name))
        if column is None:
            continue
        data = data_kind(arrow_field.type)
        found = fit(backend, data, column_kind(column, strict_sqlite=backend == "sqlite"))
        if found is None or data is None:
            continue
        never, why = found
        type_text = _type_text(column, conn.dialect)
        line = (
            f"{arrow_field.name!r} is {type_text} and the data writes {kind_words(data)} "
            f"({arrow_field.type}) values"
        )
        if never:
            clashes.append(f"{line}: {why}" if why else line)
            try:
                wanted = column_type(arrow_field.type, backend=backend)
                fixes.append(f"{arrow_field.name} {_type_text(wanted, conn.dialect)}")
            except TypeError:
                pass
            continue
        why = why.format(type=type_text)
        refused = "; the other rows are refused" if why.startswith("only") else ""
        warnings.append(f"{line}: {why}{refused}")
    if clashes:
        hint = "change the column type"
        if fixes:
            hint += f" (the type floe creates for the data: {', '.join(fixes)})"
        also = f" (and where only some rows fit: {'; '.join(warnings)})" if warnings else ""
        raise _config_error(
            f"table {where} has column(s) whose type can never take the values written: "
            + "; ".join(clashes)
            + also,
            hint + ", or send another column there (field_mapping)",
            destination,
        )
    return warnings


def _column_limits(
    inspector: Any, settings: SqlDatabaseSettings, schema: pa.Schema, backend: str
) -> dict[str, ColumnLimit]:
    """What the existing table's columns keep of the values written to them."""
    key = _same(backend)
    reflected = {
        key(c["name"]): c["type"]
        for c in inspector.get_columns(settings.table, schema=settings.db_schema)
    }
    limits = {}
    for arrow_field in schema:
        found = reflected.get(key(arrow_field.name))
        limit = None if found is None else column_limit(backend, arrow_field.type, found)
        if limit is not None:
            limits[arrow_field.name] = limit
    return limits


def _check_unique_key(
    conn: sa.Connection, inspector: Any, settings: SqlDatabaseSettings, destination: str
) -> None:
    key = _same(conn.dialect.name)
    wanted = {key(c) for c in settings.primary_key}
    candidates: list[Sequence[str]] = []
    pk = inspector.get_pk_constraint(settings.table, schema=settings.db_schema)
    candidates.append(pk.get("constrained_columns") or [])
    for unique in inspector.get_unique_constraints(settings.table, schema=settings.db_schema):
        candidates.append(unique.get("column_names") or [])
    for index in inspector.get_indexes(settings.table, schema=settings.db_schema):
        if index.get("unique"):
            candidates.append([c for c in index.get("column_names") or [] if c])
    if any({key(c) for c in columns} == wanted for columns in candidates):
        return
    where = quote_table(conn.dialect, settings.table, settings.db_schema)
    keys = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in settings.primary_key)
    raise _config_error(
        f"table {where} has no primary key or unique index on ({', '.join(settings.primary_key)}),"
        " which upsert needs to find existing rows",
        f"add one (CREATE UNIQUE INDEX ON {where} ({keys})), or fix primary_key",
        destination,
    )


def _config_error(message: str, hint: str, destination: str) -> SinkConfigurationError:
    return SinkConfigurationError(message, destination=destination, sink_type=SINK_TYPE, hint=hint)
