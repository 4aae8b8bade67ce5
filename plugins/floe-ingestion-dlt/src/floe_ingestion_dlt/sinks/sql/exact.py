"""Values a database would store differently from what was sent, found before sending.

The ``sql_database`` sink writes every value exactly or not at all. Tables floe creates have
column types that hold every value of their Arrow type (see ``types.py``); what remains are
values no column type of the database can hold, and existing tables whose columns are
narrower than the data. A row holding such a value is refused with a reason, instead of the
database rounding it or replacing it without an error:

==========================  =============================================================
Value                       Refused on
==========================  =============================================================
NaN                         SQLite (it stores NULL), MySQL / MariaDB (no NaN in DOUBLE)
+/-infinity                 MySQL / MariaDB (no infinity in DOUBLE)
uint64 above 2**63 - 1      SQLite (integers are signed 64-bit)
sub-microsecond time        every database (timestamps and times keep microseconds)
NUL character in text       PostgreSQL (``text`` cannot hold it)
NaN or infinity inside a    every database (JSON has no such numbers: it would be ``null``)
list, struct or map
decimal digits the column   an existing column: SQLite NUMERIC / INTEGER / REAL affinity
would round                 (15 significant digits, integers up to 2**63 - 1), a
                            ``NUMERIC(p, s)`` with a smaller scale, an integer column, a
                            floating-point column (15 or 6 significant digits)
a float64 a single-         an existing ``REAL`` / ``FLOAT`` column (PostgreSQL, MySQL)
precision column rounds
a float with a fraction     an existing integer column (MySQL / MariaDB round it;
                            PostgreSQL refuses it itself)
a float with more digits    an existing ``NUMERIC(p, s)`` / ``DECIMAL(p, s)`` column
after the point than s      (PostgreSQL, MySQL / MariaDB round it to s digits)
fractions of a second, or   an existing ``TIMESTAMP(p)`` / ``DATETIME(p)`` / ``TIME(p)``
a time of day, the column   column with p < 6 (MySQL's ``DATETIME`` is ``DATETIME(0)``), or
would cut                   a ``DATE`` column written a timestamp (PostgreSQL, MySQL)
==========================  =============================================================

A negative zero is not refused: SQLite and MariaDB store ``-0.0`` as ``0.0``, which is equal
to it (IEEE 754 and SQL compare them equal).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from floe_core.sinks.base import RowRejection

from floe_ingestion_dlt.sinks.sql.types import value_type

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ColumnLimit",
    "DecimalLimit",
    "FloatLimit",
    "FloatScaleLimit",
    "FractionLimit",
    "WholeLimit",
    "column_limit",
    "refusals",
]

_INT64_MAX = 2**63 - 1
_DAY_MICROS = 86_400_000_000
_MYSQL = "MySQL/MariaDB"


def refusals(
    batch: pa.RecordBatch,
    *,
    backend: str,
    limits: Mapping[str, ColumnLimit] | None = None,
) -> list[RowRejection]:
    """The rows of ``batch`` that ``backend`` would not store exactly, each with a reason.

    Args:
        batch: The rows, with the table's column names.
        backend: SQLAlchemy backend name.
        limits: By column name, what the existing table's columns keep (``column_limit``).

    Returns:
        One rejection per refused row (the first reason found), in row order.
    """
    limits = limits or {}
    reasons: dict[int, str] = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        for mask, reason in _column_refusals(name, column, backend, limits.get(name)):
            for position in _positions(mask):
                reasons.setdefault(position, reason)
    return [RowRejection(position, reasons[position]) for position in sorted(reasons)]


class ColumnLimit(ABC):
    """What an existing column keeps of the values of the Arrow column written to it."""

    column_type: str

    @abstractmethod
    def refused(self, name: str, column: pa.Array) -> tuple[pa.Array, str] | None:
        """A mask of the values the column would change, and why; ``None``: it keeps all."""


@dataclass(frozen=True)
class DecimalLimit(ColumnLimit):
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

    def refused(self, name: str, column: pa.Array) -> tuple[pa.Array, str] | None:
        """Decimals with more digits than the column keeps."""
        import pyarrow as pa
        import pyarrow.compute as pc

        t = column.type
        if self.keeps_all(t.precision, t.scale):
            return None
        keeps = [value is None or self.keeps(value) for value in column.to_pylist()]
        if self.significant is not None:
            lost = f"more than {self.significant} significant digits"
        else:
            lost = f"more than {self.scale} digit(s) after the point"
        reason = (
            f"column {name!r}: {lost}, which the existing {self.column_type} column would round"
        )
        if self.int64_whole:
            reason += (
                " (SQLite keeps 15 in a column of NUMERIC, INTEGER or REAL affinity; declare it "
                "TEXT to keep every digit)"
            )
        return pc.invert(pa.array(keeps, pa.bool_())), reason


@dataclass(frozen=True)
class FloatLimit(ColumnLimit):
    """A single-precision column written float64 values: it rounds those a float32 cannot hold.

    Attributes:
        column_type: The column's type as the database names it.
    """

    column_type: str

    def refused(self, name: str, column: pa.Array) -> tuple[pa.Array, str] | None:
        """Values that change when rounded to single precision (NaN is kept)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        rounded = pc.cast(pc.cast(column, pa.float32(), safe=False), pa.float64())
        changed = pc.and_(pc.not_equal(rounded, column), pc.invert(pc.is_nan(column)))
        reason = (
            f"column {name!r}: a value the existing single-precision {self.column_type} column "
            "would round (make it DOUBLE PRECISION to keep every float64)"
        )
        return changed, reason


@dataclass(frozen=True)
class WholeLimit(ColumnLimit):
    """An integer column written floats, which MySQL rounds to a whole number without an error
    (PostgreSQL refuses a fraction itself).

    Attributes:
        column_type: The column's type as the database names it.
    """

    column_type: str

    def refused(self, name: str, column: pa.Array) -> tuple[pa.Array, str] | None:
        """Values with a fraction (NaN and infinity are refused as no DOUBLE's anyway)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        values = pc.cast(column, pa.float64())
        fraction = pc.and_(pc.is_finite(values), pc.not_equal(pc.floor(values), values))
        reason = (
            f"column {name!r}: a fraction, which the existing {self.column_type} column would round"
        )
        return fraction, reason


@dataclass(frozen=True)
class FloatScaleLimit(ColumnLimit):
    """A ``NUMERIC(p, s)`` column written floats, which the database rounds to ``s`` digits
    after the point without an error. A float is sent in the shortest form that reads back to
    it (``encode.py``): ``0.1`` is ``0.1``, which a scale of 1 keeps.

    Attributes:
        column_type: The column's type as the database names it.
        scale: Digits kept after the point.
    """

    column_type: str
    scale: int

    def refused(self, name: str, column: pa.Array) -> tuple[pa.Array, str] | None:
        """Finite values with more digits after the point than the column keeps (NaN and
        infinity are not rounded: the column stores them, or the database refuses them)."""
        import math

        import pyarrow as pa
        import pyarrow.compute as pc

        kept = DecimalLimit(self.column_type, scale=self.scale)
        values = pc.cast(column, pa.float64()).to_pylist()
        rounds = [
            value is not None and math.isfinite(value) and not kept.keeps(Decimal(repr(value)))
            for value in values
        ]
        reason = (
            f"column {name!r}: more than {self.scale} digit(s) after the point, which the "
            f"existing {self.column_type} column would round"
        )
        return pa.array(rounds, pa.bool_()), reason


@dataclass(frozen=True)
class FractionLimit(ColumnLimit):
    """A temporal column that keeps fewer fractional digits than microseconds, or only days.

    Attributes:
        column_type: The column's type as the database names it.
        digits: Fractional digits of a second kept (0 to 5); ``None``: a ``DATE``, which
            keeps no time of day.
    """

    column_type: str
    digits: int | None

    def refused(self, name: str, column: pa.Array) -> tuple[pa.Array, str] | None:
        """Times or timestamps with more to them than the column keeps."""
        import pyarrow as pa
        import pyarrow.compute as pc

        t = column.type
        if pa.types.is_timestamp(t):
            # Written as UTC wall time in microseconds (``encode.py``).
            micros = pc.cast(pc.cast(column, pa.timestamp("us", t.tz), safe=False), pa.int64())
        else:
            micros = pc.cast(pc.cast(column, pa.time64("us"), safe=False), pa.int64())
        if self.digits is None:
            step, lost = _DAY_MICROS, "a time of day"
        else:
            step, lost = 10 ** (6 - self.digits), f"more than {self.digits} fractional digit(s)"
        # Arrow's integer division truncates: x is a multiple of step iff trunc(x/step)*step == x.
        whole = pc.multiply(pc.divide(micros, step), step)
        reason = f"column {name!r}: {lost}, which the existing {self.column_type} column would cut"
        return pc.not_equal(whole, micros), reason


def column_limit(backend: str, arrow_type: pa.DataType, reflected: Any) -> ColumnLimit | None:
    """What an existing column keeps of the values of ``arrow_type``; ``None``: all of them.

    Args:
        backend: SQLAlchemy backend name.
        arrow_type: The type of the Arrow column written to it.
        reflected: The column's reflected SQLAlchemy type.
    """
    import pyarrow as pa
    import sqlalchemy as sa

    t = value_type(arrow_type)
    if pa.types.is_decimal(t):
        return _decimal_limit(backend, reflected)
    if backend == "sqlite":
        return None  # no type is enforced: a float or a timestamp's text is kept as written
    name = _type_name(reflected, backend)
    if pa.types.is_floating(t) and isinstance(reflected, sa.Integer):
        return WholeLimit(name) if backend in ("mysql", "mariadb") else None
    if pa.types.is_floating(t) and _is_fixed_point(reflected):
        scale = reflected.scale if reflected.scale is not None else 0  # NUMERIC(p): (p, 0)
        return FloatScaleLimit(name, scale) if reflected.precision is not None else None
    if pa.types.is_float64(t):
        single = isinstance(reflected, sa.Float) and not _is_double(reflected, backend)
        return FloatLimit(name) if single else None
    if pa.types.is_timestamp(t) and isinstance(reflected, sa.Date):
        return FractionLimit(name, None)
    if (pa.types.is_timestamp(t) or pa.types.is_time(t)) and isinstance(
        reflected, (sa.DateTime, sa.Time)
    ):
        digits = getattr(reflected, "fsp", None)  # MySQL: DATETIME(fsp), by default 0
        if digits is None and backend in ("mysql", "mariadb"):
            digits = 0
        if digits is None:
            digits = getattr(reflected, "precision", None)  # PostgreSQL: by default 6
        if digits is not None and digits < 6:
            return FractionLimit(name, digits)
    return None


def _decimal_limit(backend: str, reflected: Any) -> DecimalLimit | None:
    import sqlalchemy as sa

    name = _type_name(reflected, backend)
    if backend == "sqlite":
        # Affinity decides: TEXT and BLOB keep the text; anything else converts it to a
        # number (a REAL keeps 15 significant digits).
        if isinstance(reflected, (sa.String, sa.LargeBinary, sa.types.NullType)):
            return None
        return DecimalLimit(name, significant=15, int64_whole=True)
    if isinstance(reflected, sa.Float):
        return DecimalLimit(name, significant=15 if _is_double(reflected, backend) else 6)
    if isinstance(reflected, sa.Numeric):
        scale = reflected.scale
        if scale is None and reflected.precision is not None:
            scale = 0  # NUMERIC(p) means NUMERIC(p, 0)
        return None if scale is None else DecimalLimit(name, scale=scale)
    if isinstance(reflected, sa.Integer):
        return DecimalLimit(name, scale=0)
    return None


def _is_fixed_point(reflected: Any) -> bool:
    """A ``NUMERIC`` / ``DECIMAL`` column (``sa.Float`` is a subclass of ``sa.Numeric``)."""
    import sqlalchemy as sa

    return isinstance(reflected, sa.Numeric) and not isinstance(reflected, sa.Float)


def _is_double(reflected: Any, backend: str) -> bool:
    import sqlalchemy as sa

    if isinstance(reflected, sa.Double):
        return True
    if backend in ("mysql", "mariadb") and isinstance(reflected, sa.REAL):
        return True  # MySQL's REAL is a DOUBLE
    # FLOAT(p) is double precision from p = 25.
    return bool(reflected.precision is not None and reflected.precision > 24)


def _column_refusals(
    name: str, column: pa.Array, backend: str, limit: ColumnLimit | None
) -> list[tuple[pa.Array, str]]:
    """The values of one column no column type of ``backend`` holds, and what ``limit`` cuts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    while pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    t = column.type
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
    elif (pa.types.is_timestamp(t) or pa.types.is_time64(t)) and t.unit == "ns":
        micro = pa.timestamp("us", t.tz) if pa.types.is_timestamp(t) else pa.time64("us")
        truncated = pc.cast(pc.cast(column, micro, safe=False), t)
        reason = f"column {name!r}: nanoseconds, and the database keeps microseconds"
        found.append((pc.not_equal(truncated, column), reason))
    elif (
        (pa.types.is_string(t) or pa.types.is_large_string(t))
        and backend == "postgresql"
        and _may_hold_nul(column)
    ):
        reason = f"column {name!r}: a NUL character (\\x00), which PostgreSQL text cannot hold"
        found.append((pc.match_substring(column, "\x00"), reason))
    elif pa.types.is_nested(t) and _holds_floats(t):
        reason = (
            f"column {name!r}: NaN or infinity inside a {t}, which JSON cannot hold "
            "(it would become null)"
        )
        found.append((pa.array([_non_finite(v) for v in column.to_pylist()], pa.bool_()), reason))
    if limit is not None and (narrowed := limit.refused(name, column)) is not None:
        found.append(narrowed)
    return found


def _holds_floats(t: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_floating(t):
        return True
    if pa.types.is_dictionary(t):
        return _holds_floats(t.value_type)
    return any(_holds_floats(t.field(i).type) for i in range(t.num_fields))


def _non_finite(value: Any) -> bool:
    """Whether a nested value (lists, dicts, map pairs) holds a NaN or an infinity."""
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    return False


def _may_hold_nul(column: pa.Array) -> bool:
    """False when no byte of the string data is NUL: one memchr instead of a scan per value.

    The data buffer of a sliced array holds more than the slice; a NUL outside it only costs
    the scan.
    """
    data = column.buffers()[2]
    return data is not None and data.to_pybytes().find(b"\x00") >= 0


def _positions(mask: pa.Array) -> list[int]:
    import pyarrow.compute as pc

    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return []
    return [int(i) for i in pc.indices_nonzero(mask).to_pylist()]


def _type_name(reflected: Any, backend: str) -> str:
    from importlib import import_module

    import sqlalchemy as sa

    # Only the backend's own dialect: importing the others costs a run ~0.1 s.
    dialects = {
        "postgresql": "postgresql",
        "mysql": "mysql",
        "mariadb": "mysql",
        "sqlite": "sqlite",
    }
    name = dialects.get(backend)
    module = import_module(f"sqlalchemy.dialects.{name}") if name else None
    try:
        return str(reflected.compile(dialect=module.dialect())) if module else str(reflected)
    except sa.exc.CompileError:
        return type(reflected).__name__
