"""Arrow types -> SQL column types, for tables the ``sql_database`` sink creates.

Every column type holds every value of its Arrow type exactly; the few values no column type
of a database can hold are refused row by row before sending (``exact.py``).

=============================  ==========================  ===================  ============
Arrow                          PostgreSQL                  MySQL / MariaDB      SQLite
=============================  ==========================  ===================  ============
int8, int16, uint8             SMALLINT                    SMALLINT             INTEGER
int32, uint16                  INTEGER                     INTEGER              INTEGER
int64, uint32                  BIGINT                      BIGINT               INTEGER
uint64                         NUMERIC(20, 0)              NUMERIC(20, 0)       INTEGER ***
float16, float32               REAL                        DOUBLE ****          REAL
float64                        DOUBLE PRECISION            DOUBLE               REAL
decimal(p, s), p <= 15         NUMERIC(p, s)               DECIMAL(p, s) †      NUMERIC(p, s)
decimal(p, s), p > 15          NUMERIC(p, s)               DECIMAL(p, s) †      TEXT ‡
bool                           BOOLEAN                     BOOL                 BOOLEAN
string, large_string           TEXT                        LONGTEXT *           TEXT
binary (any)                   BYTEA                       LONGBLOB             BLOB
timestamp with zone            TIMESTAMP WITH TIME ZONE    DATETIME(6), UTC     DATETIME **
timestamp without zone         TIMESTAMP                   DATETIME(6)          DATETIME **
date                           DATE                        DATE                 DATE
time                           TIME                        TIME(6)              TIME
list, struct, map              JSONB                       JSON                 JSON (text)
null                           TEXT                        LONGTEXT             TEXT
=============================  ==========================  ===================  ============

\\* Key columns of string type are ``VARCHAR(255)`` on MySQL, which cannot index ``TEXT``, with
a binary collation (MariaDB ``utf8mb4_nopad_bin``, MySQL ``utf8mb4_bin``): under the default
one, ``"a"``, ``"A"`` and ``"a "`` are the same key, and an upsert of one would overwrite
another. (MySQL's ``utf8mb4_bin`` still ignores trailing spaces.)
\\** SQLite stores ISO-8601 text, ``YYYY-MM-DD HH:MM:SS.ffffff``, with ``+00:00`` for UTC.
\\*** SQLite integers are signed 64-bit: a larger value is refused.
\\**** MySQL's ``FLOAT`` is read back rounded to 6 digits; every float32 is exact in a DOUBLE.
† MySQL's ``DECIMAL`` has at most 65 digits, 30 of them after the point: a wider decimal
(most ``decimal256``) is refused when the table is created, with a hint to cast it.
‡ SQLite converts a number written to a column of NUMERIC affinity to an INTEGER or a REAL,
which keeps 15 significant digits (``99999999999999.999999`` would become
``100000000000000``). A decimal of up to 15 digits is exact in a REAL, so it stays a number
that sorts and sums as one; a wider one is stored as its decimal text (``1.20``), which reads
back digit for digit (``Decimal(text)``) and still takes part in arithmetic.

Dictionary-encoded columns take their value type. Durations and other types have no faithful
SQL counterpart and are refused with a hint to cast them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from floe_core.sinks.errors import SinkConfigurationError

from floe_ingestion_dlt.sinks.sql.config import SINK_TYPE

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

__all__ = ["KEY_VARCHAR_LENGTH", "build_table", "column_type", "value_type"]

KEY_VARCHAR_LENGTH = 255
#: Collations under which two key strings are equal only when they are the same string.
KEY_COLLATIONS = {"mariadb": "utf8mb4_nopad_bin", "mysql": "utf8mb4_bin"}
#: Significant digits a REAL keeps of a number SQLite converts from text.
SQLITE_REAL_DIGITS = 15
#: MySQL / MariaDB ``DECIMAL(M, D)``: M at most 65, D at most 30.
MYSQL_DECIMAL_DIGITS, MYSQL_DECIMAL_SCALE = 65, 30


def value_type(arrow_type: pa.DataType) -> pa.DataType:
    """The type of the values, looking through dictionary encoding."""
    import pyarrow as pa

    while pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return arrow_type


def column_type(
    arrow_type: pa.DataType, *, backend: str, is_key: bool = False
) -> sa.types.TypeEngine[Any]:
    """The SQLAlchemy column type for ``arrow_type`` on ``backend`` (see the module table).

    Raises:
        TypeError: The Arrow type has no faithful SQL counterpart.
    """
    import pyarrow as pa
    import sqlalchemy as sa

    t = value_type(arrow_type)
    mysql_like = backend in ("mysql", "mariadb")
    if mysql_like:  # each dialect is imported only for its own backend
        from sqlalchemy.dialects import mysql
    if pa.types.is_boolean(t):
        return sa.Boolean(create_constraint=False)
    if pa.types.is_integer(t):
        if t.bit_width <= 8 or (t.bit_width == 16 and pa.types.is_signed_integer(t)):
            return sa.SmallInteger()
        if t.bit_width == 16 or (t.bit_width == 32 and pa.types.is_signed_integer(t)):
            return sa.Integer()
        if t.bit_width == 32 or pa.types.is_signed_integer(t) or backend == "sqlite":
            return sa.BigInteger()
        return sa.Numeric(20, 0)
    if pa.types.is_floating(t):
        if t.bit_width == 64 or mysql_like:
            return sa.Double()
        return sa.Float().with_variant(sa.REAL(), "postgresql")
    if pa.types.is_decimal(t):
        return _decimal_type(t, backend)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        if mysql_like:
            if is_key:
                return sa.String(KEY_VARCHAR_LENGTH, collation=KEY_COLLATIONS[backend])
            return mysql.LONGTEXT()
        return sa.Text()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return mysql.LONGBLOB() if mysql_like else sa.LargeBinary()
    if pa.types.is_timestamp(t):
        if mysql_like:
            return mysql.DATETIME(fsp=6)
        return sa.DateTime(timezone=t.tz is not None)
    if pa.types.is_date(t):
        return sa.Date()
    if pa.types.is_time(t):
        return mysql.TIME(fsp=6) if mysql_like else sa.Time()
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_struct(t)
        or (pa.types.is_map(t) or pa.types.is_fixed_size_list(t))
    ):
        if backend == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.JSONB()
        return sa.JSON()
    raise TypeError(f"Arrow type {t} has no faithful SQL column type")


def _decimal_type(t: pa.Decimal128Type, backend: str) -> sa.types.TypeEngine[Any]:
    import sqlalchemy as sa

    if backend == "sqlite" and t.precision > SQLITE_REAL_DIGITS:
        return sa.Text()
    if backend in ("mysql", "mariadb") and not (
        t.precision <= MYSQL_DECIMAL_DIGITS and 0 <= t.scale <= MYSQL_DECIMAL_SCALE
    ):
        raise TypeError(
            f"Arrow type {t} does not fit MySQL/MariaDB's DECIMAL (at most "
            f"{MYSQL_DECIMAL_DIGITS} digits, 0 to {MYSQL_DECIMAL_SCALE} after the point); "
            f"cast it to a decimal that does (e.g. decimal({MYSQL_DECIMAL_DIGITS}, "
            f"{min(max(t.scale, 0), MYSQL_DECIMAL_SCALE)})) or to a string"
        )
    return sa.Numeric(t.precision, t.scale)


def build_table(
    metadata: sa.MetaData,
    name: str,
    schema: pa.Schema,
    *,
    db_schema: str | None,
    backend: str,
    primary_key: Sequence[str] = (),
    key_name: str | None = None,
    destination: str = "",
) -> sa.Table:
    """A SQLAlchemy ``Table`` with one column per Arrow field and the given primary key.

    ``key_name`` names the primary-key constraint (default ``<name>_pkey``).

    Raises:
        SinkConfigurationError: A field's type has no SQL counterpart, or a key column is
            not in the data.
    """
    import sqlalchemy as sa

    missing = [key for key in primary_key if key not in schema.names]
    if missing:
        raise SinkConfigurationError(
            f"primary_key column(s) {', '.join(map(repr, missing))} are not in the data; "
            f"columns written: {', '.join(schema.names)}",
            destination=destination,
            sink_type=SINK_TYPE,
            hint="fix primary_key, or field_mapping if the key column is renamed",
        )
    items: list[sa.schema.SchemaItem] = []
    for field in schema:
        is_key = field.name in primary_key
        try:
            sql_type = column_type(field.type, backend=backend, is_key=is_key)
        except TypeError as exc:
            raise SinkConfigurationError(
                f"column {field.name!r}: {exc}",
                destination=destination,
                sink_type=SINK_TYPE,
                hint="cast the column in the source model (e.g. a duration to an integer "
                "number of seconds, a decimal to one the database holds) or leave it out",
            ) from exc
        # No autoincrement: the values are the data's own (MySQL would turn a key of 0 into
        # the next sequence number, PostgreSQL would attach a sequence).
        items.append(
            sa.Column(
                field.name, sql_type, nullable=not is_key and field.nullable, autoincrement=False
            )
        )
    if primary_key:
        key_name = key_name or f"{name[:58]}_pkey"
        items.append(sa.PrimaryKeyConstraint(*primary_key, name=key_name))
    return sa.Table(
        name,
        metadata,
        *items,
        schema=db_schema,
        mysql_charset="utf8mb4",
        mariadb_charset="utf8mb4",
    )
