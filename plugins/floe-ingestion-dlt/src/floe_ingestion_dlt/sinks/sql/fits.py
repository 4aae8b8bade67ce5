"""Whether an existing column can take the values of an Arrow type, on each database.

What a database does with a value depends on how floe sends it (``encode.py``): PostgreSQL
parses the text of a ``COPY`` CSV field with the column type's input function; MySQL/MariaDB
(in ``STRICT_TRANS_TABLES``) and SQLite take DB-API parameters (booleans and integers as
integers, floats as floats, decimals, dates, times and timestamps as ISO text, lists and
structs as JSON text, binary as bytes). Each pair of the data's kind and the column's kind is
one of:

* **never fits**: no value of the data's kind is stored as it was sent: the database refuses
  every one, or changes every one (a timestamp into a ``TIME`` column loses its date). A run
  refuses the table before it sends anything; ``floe check`` fails.
* **fits some rows**: some values are stored exactly and the others are refused row by row
  (text into a number column: ``'42'`` is stored, ``'abc'`` refused; an integer into a
  PostgreSQL ``BOOLEAN``: only 0 and 1). ``floe check`` warns.
* **fits**: every value is stored exactly (or, where a column is narrower than the data,
  ``exact.py`` refuses the rows it would change). Nothing is said.

Never fits (data -> column), as tested against PostgreSQL 15, MariaDB 10.11 and SQLite 3.40
(``test_sql_fits.py``):

===================  ===========================================  ===========================
Data                 PostgreSQL                                   MySQL / MariaDB
===================  ===========================================  ===========================
boolean              number, date, timestamp, time                date, timestamp, time
decimal with scale   integer, boolean ('1.00' is neither)         --
date                 number, boolean, time, JSON                  number, time, JSON
timestamp            number, boolean, time (the date is lost),    number, time (likewise),
                     JSON                                         JSON
time                 number, boolean, date, timestamp, JSON       number, date, timestamp,
                                                                  JSON
binary               number, boolean, date, timestamp, time,      --
                     JSON
list, struct, map    number, boolean, date, timestamp, time       number, date, timestamp,
                                                                  time
===================  ===========================================  ===========================

("number": integer, decimal and floating-point columns; a MySQL ``BOOL`` is a ``TINYINT``.)
An integer or a float is never "never": PostgreSQL reads ``20240102`` as a date and
``123456`` as a time, MySQL likewise. SQLite stores any value in any column, except in a
``STRICT`` table: there dates, times, timestamps and JSON text never go into an ``INT`` or a
``REAL`` column, binary never into ``INT``, ``REAL`` or ``TEXT``, and nothing but binary into
a ``BLOB``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from floe_ingestion_dlt.sinks.sql.types import value_type

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["column_kind", "data_kind", "fit"]

_NUMBER = ("integer", "numeric", "float")
_TEMPORAL = ("date", "timestamp", "time")

#: (data kind, column kind) pairs no value of the data's kind is stored as sent.
_NEVER: dict[str, frozenset[tuple[str, str]]] = {
    "postgresql": frozenset(
        {("boolean", c) for c in (*_NUMBER, *_TEMPORAL)}
        | {("fraction", "integer"), ("fraction", "boolean")}
        | {(d, c) for d in _TEMPORAL for c in (*_NUMBER, "boolean", "json")}
        | {("date", "time"), ("time", "date"), ("time", "timestamp"), ("timestamp", "time")}
        | {("binary", c) for c in (*_NUMBER, "boolean", *_TEMPORAL, "json")}
        | {("nested", c) for c in (*_NUMBER, "boolean", *_TEMPORAL)}
    ),
    "mysql": frozenset(
        {("boolean", c) for c in _TEMPORAL}
        | {(d, c) for d in _TEMPORAL for c in (*_NUMBER, "boolean", "json")}
        | {("date", "time"), ("time", "date"), ("time", "timestamp"), ("timestamp", "time")}
        | {("nested", c) for c in (*_NUMBER, "boolean", *_TEMPORAL)}
    ),
    # A STRICT table (column kinds: integer, float, text, binary; ANY is not checked).
    "sqlite": frozenset(
        {(d, c) for d in (*_TEMPORAL, "nested") for c in ("integer", "float")}
        | {("binary", c) for c in ("integer", "float", "text")}
        | {
            (d, "binary")
            for d in ("boolean", "integer", "fraction", "float", "text", *_TEMPORAL, "nested")
        }
    ),
}

#: Why a value of the data's kind would not fit (never, or only for some rows).
_WHY_NEVER = {
    ("timestamp", "time"): "a TIME column would keep only the time of day, not the date",
}


def _each(data: tuple[str, ...], columns: tuple[str, ...], why: str) -> dict[tuple[str, str], str]:
    return {(d, c): why for d in data for c in columns}


_READS = "only text that reads as {type} is stored"
_DATE_NUMBERS = "only numbers that read as {type} (such as 20240102) are stored"
_TIME_NUMBERS = "only numbers that read as {type} (such as 123456, 12:34:56) are stored"
_WHOLE = "only whole numbers are stored"
_MIDNIGHT = "only timestamps at midnight are stored (a DATE keeps no time of day)"
_AS_BYTES = "every value is stored as the bytes of its text"

#: (data kind, column kind) -> which values of the data's kind the column stores as sent (the
#: other rows are refused one by one), or how it changes them. Pairs in neither table fit.
_SOME_ROWS: dict[str, dict[tuple[str, str], str]] = {
    "postgresql": {
        **_each(("text",), (*_NUMBER, "boolean", *_TEMPORAL, "json"), _READS),
        ("text", "binary"): "text is stored as its bytes (text starting with \\x as hex)",
        ("integer", "boolean"): "only 0 and 1 are stored",
        ("float", "boolean"): "only 0 and 1 are stored",
        ("float", "integer"): _WHOLE,
        **_each(("integer", "float"), ("date", "timestamp"), _DATE_NUMBERS),
        **_each(
            ("fraction",),
            ("date", "timestamp"),
            "only numbers that read as {type} (such as 1999.008) are stored",
        ),
        **_each(("integer", "float", "fraction"), ("time",), _TIME_NUMBERS),
        ("timestamp", "date"): _MIDNIGHT,
        **_each(
            ("boolean", "integer", "fraction", "float", *_TEMPORAL, "nested"),
            ("binary",),
            _AS_BYTES,
        ),
    },
    "mysql": {
        **_each(("text",), (*_NUMBER, "boolean", *_TEMPORAL, "json"), _READS),
        **_each(
            ("binary",),
            (*_NUMBER, "boolean", *_TEMPORAL, "json", "text"),
            "only bytes whose text reads as {type} are stored",
        ),
        ("float", "integer"): _WHOLE,
        ("fraction", "integer"): _WHOLE,
        **_each(("integer", "float", "fraction"), ("date", "timestamp"), _DATE_NUMBERS),
        **_each(
            ("integer", "float", "fraction"),
            ("time",),
            "only numbers that read as {type} are stored (123456 is 12:34:56, 5 is 00:00:05)",
        ),
        ("timestamp", "date"): _MIDNIGHT,
        **_each(
            ("boolean", "integer", "fraction", "float", *_TEMPORAL, "nested"),
            ("binary",),
            _AS_BYTES,
        ),
    },
    "sqlite": {
        **_each(("text",), ("integer", "float"), _READS),
        **_each(("float", "fraction"), ("integer",), _WHOLE),
    },
}

_KIND_WORDS = {
    "boolean": "boolean",
    "integer": "integer",
    "fraction": "decimal",
    "float": "floating-point",
    "numeric": "decimal",
    "text": "text",
    "binary": "binary",
    "date": "date",
    "timestamp": "timestamp",
    "time": "time",
    "nested": "nested (JSON)",
    "json": "JSON",
}


def data_kind(arrow_type: pa.DataType) -> str | None:
    """What the database receives for values of ``arrow_type``; ``None``: a type floe does
    not write (refused with its own message when a table would be created)."""
    import pyarrow as pa

    t = value_type(arrow_type)
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_decimal(t):
        return "fraction" if t.scale > 0 else "integer"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_nested(t):
        return "nested"
    return None


def column_kind(sql_type: Any, *, strict_sqlite: bool = False) -> str | None:
    """What kind of value a reflected column type holds; ``None``: a type floe does not know
    (not checked). In a SQLite ``STRICT`` table an ``ANY`` column reflects as ``NUMERIC``,
    and is not checked."""
    import sqlalchemy as sa

    affinity = getattr(sql_type, "_type_affinity", None)
    if not isinstance(affinity, type):
        return None
    kinds: list[tuple[type[Any], str]] = [
        (sa.Boolean, "boolean"),
        (sa.Integer, "integer"),
        (sa.Float, "float"),
        (sa.Numeric, "numeric"),
        (sa.String, "text"),
        (sa.DateTime, "timestamp"),
        (sa.Date, "date"),
        (sa.Time, "time"),
        (sa.types._Binary, "binary"),
        (sa.JSON, "json"),
    ]
    found = next((kind for base, kind in kinds if issubclass(affinity, base)), None)
    if found is None and isinstance(sql_type, sa.Float):
        found = "float"
    if strict_sqlite and found == "numeric":
        return None
    return found


def fit(backend: str, data: str | None, column: str | None) -> tuple[bool, str] | None:
    """Whether a column of kind ``column`` takes values of kind ``data`` on ``backend``.

    Args:
        backend: ``postgresql``, ``mysql`` / ``mariadb``, or ``sqlite`` (a STRICT table:
            an ordinary SQLite table takes any value, and is not asked about).

    Returns:
        ``None`` when every value fits (or either kind is unknown); else ``(never, why)``:
        ``never`` when no value fits, ``why`` saying which values do or why none does.
    """
    if data is None or column is None:
        return None
    backend = "mysql" if backend == "mariadb" else backend
    pair = (data, column)
    if pair in _NEVER.get(backend, frozenset()):
        return True, _WHY_NEVER.get(pair, "")
    some = _SOME_ROWS.get(backend, {}).get(pair)
    return (False, some) if some else None


def kind_words(kind: str) -> str:
    """``kind`` as a message says it."""
    return _KIND_WORDS.get(kind, kind)
