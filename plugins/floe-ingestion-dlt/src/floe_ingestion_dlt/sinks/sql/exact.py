"""Values a database would store differently from what was sent, found before sending.

The ``sql_database`` sink writes every value exactly or not at all. Tables floe creates have
column types that hold every value of their Arrow type (see ``types.py``); what remains are
values no column type of the database can hold, and existing tables whose columns are
narrower than the data. A row holding such a value is refused with a reason, instead of the
database rounding it or replacing it without an error:

=========================  ==============================================================
Value                      Refused on
=========================  ==============================================================
NaN                        SQLite (it stores NULL), MySQL / MariaDB (no NaN in DOUBLE)
+/-infinity                MySQL / MariaDB (no infinity in DOUBLE)
uint64 above 2**63 - 1     SQLite (integers are signed 64-bit)
sub-microsecond time       every database (timestamps and times keep microseconds)
NUL character in text      PostgreSQL (``text`` cannot hold it)
decimal digits the         an existing column: SQLite NUMERIC / INTEGER / REAL affinity
column would round         (15 significant digits, integers up to 2**63 - 1), a
                           ``NUMERIC(p, s)`` with a smaller scale, an integer or
                           floating-point column
=========================  ==============================================================

A negative zero is not refused: SQLite and MariaDB store ``-0.0`` as ``0.0``, which is equal
to it (IEEE 754 and SQL compare them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from floe_core.sinks.base import RowRejection

from floe_ingestion_dlt.sinks.sql.types import value_type

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DecimalLimit", "decimal_limit", "refusals"]

_INT64_MAX = 2**63 - 1
_SQLITE = "SQLite"
_MYSQL = "MySQL/MariaDB"


@dataclass(frozen=True)
class DecimalLimit:
    """What an existing column keeps of a decimal value.

    Attributes:
        column_type: The column's type as the database names it, for the reason.
        scale: Digits kept after the point; ``None``: all of them.
        significant: Significant digits kept (a floating-point column); ``None``: all.
        int64_whole: Integral values up to 64 bits are kept whatever ``significant`` says
            (SQLite stores them as INTEGER).
    """

    column_type: str
    scale: int | None = None
    significant: int | None = None
    int64_whole: bool = False

    def keeps_all(self, precision: int, scale: int) -> bool:
        """Whether the column stores every value of ``decimal(precision, scale)`` exactly."""
        if self.scale is not None and scale > self.scale:
            return False
        return self.significant is None or precision <= self.significant

    def keeps(self, value: Decimal) -> bool:
        """Whether the column stores ``value`` exactly."""
        if value.is_zero():
            return True
        if (
            self.int64_whole
            and value == value.to_integral_value()
            and value.copy_abs() <= _INT64_MAX
        ):
            return True
        # Not Decimal.normalize(), which rounds to the context's 28 digits.
        _, digits, exponent = value.as_tuple()
        if not isinstance(exponent, int):  # NaN / infinity: Arrow decimals have none
            return False
        while len(digits) > 1 and digits[-1] == 0:
            digits, exponent = digits[:-1], exponent + 1
        digits = digits[next((i for i, d in enumerate(digits) if d), len(digits) - 1) :]
        if self.scale is not None and -exponent > self.scale:
            return False
        return self.significant is None or len(digits) <= self.significant


def decimal_limit(backend: str, reflected: Any) -> DecimalLimit | None:
    """What an existing column (a reflected SQLAlchemy type) keeps of decimals; ``None``: all.

    Args:
        backend: SQLAlchemy backend name.
        reflected: The column's reflected SQLAlchemy type.
    """
    import sqlalchemy as sa

    name = _type_name(reflected, backend)
    if backend == "sqlite":
        # Affinity decides: TEXT and BLOB keep the text; anything else converts it to a
        # number (a REAL keeps 15 significant digits).
        if isinstance(reflected, (sa.String, sa.LargeBinary, sa.types.NullType)):
            return None
        return DecimalLimit(name, significant=15, int64_whole=True)
    if isinstance(reflected, sa.Float):
        double = isinstance(reflected, sa.Double) or (
            # MySQL's REAL is a DOUBLE; FLOAT(p) is one from p = 25.
            backend in ("mysql", "mariadb") and isinstance(reflected, sa.REAL)
        )
        double = double or (reflected.precision is not None and reflected.precision > 24)
        return DecimalLimit(name, significant=15 if double else 6)
    if isinstance(reflected, sa.Numeric):
        scale = reflected.scale
        if scale is None and reflected.precision is not None:
            scale = 0  # NUMERIC(p) means NUMERIC(p, 0)
        return None if scale is None else DecimalLimit(name, scale=scale)
    if isinstance(reflected, sa.Integer):
        return DecimalLimit(name, scale=0)
    return None


def refusals(
    batch: pa.RecordBatch,
    *,
    backend: str,
    decimal_limits: Mapping[str, DecimalLimit] | None = None,
) -> list[RowRejection]:
    """The rows of ``batch`` that ``backend`` would not store exactly, each with a reason.

    Args:
        batch: The rows, with the table's column names.
        backend: SQLAlchemy backend name.
        decimal_limits: By column name, what existing decimal columns keep (``decimal_limit``).

    Returns:
        One rejection per refused row (the first reason found), in row order.
    """
    limits = decimal_limits or {}
    reasons: dict[int, str] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        for mask, reason in _column_refusals(name, column, backend, limits.get(name)):
            for position in _positions(mask):
                reasons.setdefault(position, reason)
    return [RowRejection(position, reasons[position]) for position in sorted(reasons)]


def _column_refusals(
    name: str, column: pa.Array, backend: str, limit: DecimalLimit | None
) -> list[tuple[pa.Array, str]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    while pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    t = value_type(column.type)
    found: list[tuple[pa.Array, str]] = []
    if pa.types.is_floating(t) and backend in ("sqlite", "mysql", "mariadb"):
        values = pc.cast(column, pa.float64()) if pa.types.is_float16(t) else column
        if backend == "sqlite":
            reason = f"column {name!r}: NaN, which SQLite would store as NULL"
            found.append((pc.is_nan(values), reason))
        else:
            reason = f"column {name!r}: NaN or infinity, which {_MYSQL} cannot store in a DOUBLE"
            found.append((pc.or_(pc.is_nan(values), pc.is_inf(values)), reason))
    elif pa.types.is_uint64(t) and backend == "sqlite":
        reason = f"column {name!r}: an unsigned integer above 2**63 - 1, beyond SQLite's INTEGER"
        found.append((pc.greater(column, pa.scalar(_INT64_MAX, pa.uint64())), reason))
    elif pa.types.is_timestamp(t) and t.unit == "ns":
        truncated = pc.cast(pc.cast(column, pa.timestamp("us", t.tz), safe=False), t)
        reason = f"column {name!r}: nanoseconds, and the database keeps microseconds"
        found.append((pc.not_equal(truncated, column), reason))
    elif pa.types.is_time64(t) and t.unit == "ns":
        truncated = pc.cast(pc.cast(column, pa.time64("us"), safe=False), t)
        reason = f"column {name!r}: nanoseconds, and the database keeps microseconds"
        found.append((pc.not_equal(truncated, column), reason))
    elif (pa.types.is_string(t) or pa.types.is_large_string(t)) and backend == "postgresql":
        reason = f"column {name!r}: a NUL character (\\x00), which PostgreSQL text cannot hold"
        found.append((pc.match_substring(column, "\x00"), reason))
    elif pa.types.is_decimal(t) and limit is not None and not limit.keeps_all(t.precision, t.scale):
        keeps = [value is None or limit.keeps(value) for value in column.to_pylist()]
        found.append((pc.invert(pa.array(keeps, pa.bool_())), _decimal_loss(name, limit, backend)))
    return found


def _decimal_loss(name: str, limit: DecimalLimit, backend: str) -> str:
    if limit.significant is not None:
        lost = f"more than {limit.significant} significant digits"
    else:
        lost = f"more than {limit.scale} digit(s) after the point"
    reason = f"column {name!r}: {lost}, which the existing {limit.column_type} column would round"
    if backend == "sqlite":
        reason += (
            " (SQLite keeps 15 in a column of NUMERIC, INTEGER or REAL affinity; declare it "
            "TEXT to keep every digit)"
        )
    return reason


def _positions(mask: pa.Array) -> list[int]:
    import pyarrow.compute as pc

    if not pc.any(mask).as_py():
        return []
    return [int(i) for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()]


def _type_name(reflected: Any, backend: str) -> str:
    from sqlalchemy.dialects import mysql, postgresql, sqlite

    dialects = {"postgresql": postgresql, "mysql": mysql, "mariadb": mysql, "sqlite": sqlite}
    try:
        module = dialects.get(backend)
        return str(reflected.compile(dialect=module.dialect())) if module else str(reflected)
    except Exception:
        return type(reflected).__name__
