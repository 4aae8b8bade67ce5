"""JSON text of Arrow record batches, built column by column inside Arrow.

Writes exactly the bytes :mod:`floe_ingestion_dlt.sinks.rest.json_rows` (the reference, with the
table of types) writes, without a Python object per value: for each column, Arrow's compute
kernels produce the JSON text of every value at once, one kernel joins the columns into a
``{"name":value,...}`` text per row, and a body is a slice of those rows' bytes. The kernels
run without the GIL, so the threads sending earlier bodies keep going meanwhile.

- integers and booleans: Arrow's decimal text (exact for every 64-bit value).
- floats: the whole column through orjson in one call, split at the commas (orjson's own
  spelling: ``2.0``, ``-0.0``, ``1e+16``; ``null`` for NaN and infinities).
- strings: ``\\`` and ``"`` escaped by substring replacement, only in columns that hold one;
  a value holding a control character (U+0000-U+001F) is escaped by orjson, on its own.
- decimals, dates, times, timestamps: the reference's Arrow conversions, quoted.
- a column of nulls, or a dictionary of one value without nulls (how static fields arrive):
  literal text, as the field's name is.
- structs (the objects a dotted ``field_mapping`` target builds): their fields' text inline,
  in the same kernel call as the record's (``null`` where a whole object is null).
- anything else (binary, durations, lists, maps, ...): the reference conversion and orjson,
  one value at a time, for that column only.

Setting up the kernels costs more than the reference path for a few rows, so fewer than
:data:`MIN_ROWS` rows go through the reference path, and so do batches this module cannot
write (no columns, repeated column or struct field names, strings that are not valid UTF-8,
more text than one Arrow string array holds). The bytes are the same either way, so a
batch's payload (and its idempotency key) does not depend on which batches it was encoded with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from floe_ingestion_dlt.sinks.rest import json_rows

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MIN_ROWS", "json_arrays", "json_objects"]

#: Below this many rows (in all the batches encoded together) the reference path is faster.
MIN_ROWS = 64

_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'
_CONTROL = r"[\x00-\x1f]"
_NULL = "null"


class _Unsupported(Exception):
    """These batches are written by the reference path."""


@dataclass(frozen=True)
class _Text:
    """JSON text of one column: ``before + value + after`` for each non-null value."""

    values: pa.Array
    before: str = ""
    after: str = ""


def json_arrays(
    batches: Sequence[pa.RecordBatch], before: bytes = b"", after: bytes = b""
) -> list[bytes]:
    """Each batch's rows as a JSON array of objects keyed by column name.

    The batches must share one schema; encoding them together is faster than one by one.
    ``before`` and ``after`` go around each array (an envelope), in the same copy.
    """
    rows = _rows_of(batches)
    if rows is None:
        return [
            b"".join((before, json_rows.dumps(json_rows.records(batch)), after))
            for batch in batches
        ]
    data, bounds = rows
    opening, closing = before + b"[", b"]" + after
    bodies = []
    start = 0
    for batch in batches:
        end = start + batch.num_rows
        if start == end:
            bodies.append(opening + closing)
        else:
            # Each row's text ends with ",": drop the last one and close the array.
            bodies.append(b"".join((opening, data[bounds[start] : bounds[end] - 1], closing)))
        start = end
    return bodies


def json_objects(batches: Sequence[pa.RecordBatch]) -> list[bytes]:
    """Each row of ``batches``, in order, as a JSON object keyed by column name."""
    rows = _rows_of(batches)
    if rows is None:
        return [json_rows.dumps(row) for batch in batches for row in json_rows.records(batch)]
    data, bounds = rows
    return [bytes(data[bounds[i] : bounds[i + 1] - 1]) for i in range(len(bounds) - 1)]


def _rows_of(batches: Sequence[pa.RecordBatch]) -> tuple[memoryview, memoryview] | None:
    """The text of every row of ``batches``, as bytes and the row boundaries within them.

    There is one more boundary than rows (the last is where the last row ends). ``None`` when
    the reference path should write these batches.
    """
    import pyarrow as pa

    if sum(batch.num_rows for batch in batches) < MIN_ROWS:
        return None
    whole = batches[0] if len(batches) == 1 else pa.concat_batches(list(batches))
    try:
        rows = _row_texts(whole)
    except _Unsupported:
        return None
    _, offsets, data = rows.buffers()
    bounds = memoryview(offsets).cast("i")[rows.offset : rows.offset + len(rows) + 1]
    return memoryview(data), bounds


def _row_texts(batch: pa.RecordBatch) -> pa.Array:
    """``{"name":value,...},`` for every row of ``batch``."""
    import pyarrow as pa

    try:
        return _object_texts(batch.schema.names, batch.columns, ",")
    except (pa.ArrowInvalid, pa.ArrowCapacityError, pa.ArrowNotImplementedError) as exc:
        # Invalid UTF-8, or more text than one string array holds: the reference decides.
        raise _Unsupported from exc


@dataclass
class _Leaves:
    """The columns holding values, in the order their text appears in a record."""

    columns: list[pa.Array]
    raw: set[int]  # indexes of columns that hold complete JSON text already


def _object_texts(names: Sequence[str], columns: Sequence[pa.Array], end: str) -> pa.Array:
    """``{"name":value,...}`` followed by ``end``, for every row of ``columns``.

    A struct column without null objects is written inline, its fields' text joined in the
    same kernel call as the rest of the record; one with null objects gets its own text
    (``null`` where the object is null).
    """
    import pyarrow.compute as pc

    leaves = _Leaves([], set())
    tokens = _tokens(names, columns, leaves)
    special = _hold_special_characters(leaves.columns, leaves.raw)
    parts: list[Any] = []
    literal = ""
    for token in tokens:
        if isinstance(token, str):
            literal += token
            continue
        column = leaves.columns[token]
        text = _Text(column) if token in leaves.raw else _column_text(column, token in special)
        values = text.values
        if values.null_count == 0:
            # Quotes and suffixes join the literal text around the value.
            parts += [literal + text.before, values]
            literal = text.after
        else:
            if text.before or text.after:
                values = pc.binary_join_element_wise(text.before, values, text.after, "")
            parts += [literal, values]
            literal = ""
    parts.append(literal + end)
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement=_NULL)


def _tokens(names: Sequence[str], columns: Sequence[pa.Array], leaves: _Leaves) -> list[str | int]:
    """A record's literal text and (as indexes into ``leaves``) the columns between them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not names or len(set(names)) != len(names):
        raise _Unsupported
    tokens: list[str | int] = ["{"]
    for index, (name, column) in enumerate(zip(names, columns, strict=True)):
        tokens.append(("," if index else "") + orjson.dumps(name).decode() + ":")
        constant = _constant_text(column)
        if constant is not None:
            # The same value in every row (a static field): literal text, no per-row work.
            tokens.append(constant)
            continue
        column = _plain(column)
        if pa.types.is_struct(column.type):
            fields = [field.name for field in column.type]
            children = column.flatten()
            if column.null_count == 0:
                tokens += _tokens(fields, children, leaves)
                continue
            text = _object_texts(fields, children, "")
            leaves.raw.add(len(leaves.columns))
            column = pc.if_else(column.is_valid(), text, pa.scalar(None, pa.string()))
        tokens.append(len(leaves.columns))
        leaves.columns.append(column)
    tokens.append("}")
    return tokens


def _constant_text(column: pa.Array) -> str | None:
    """The JSON text of the value every row holds, when that is plain to see: a column of
    nulls, or a dictionary of one value with no null (how static fields arrive)."""
    import pyarrow as pa

    types = pa.types
    if types.is_null(column.type):
        return _NULL
    if (
        types.is_dictionary(column.type)
        and len(column.dictionary) == 1
        and column.null_count == 0
        and len(column)
    ):
        (value,) = json_rows.column_values(column.dictionary)
        return json_rows.dumps(value).decode()
    return None


def _plain(column: pa.Array) -> pa.Array:
    """Dictionaries decoded; every kind of string as ``pa.string()``, checked to be UTF-8."""
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if types.is_large_string(column.type) or types.is_string_view(column.type):
        column = column.cast(pa.string())
    if types.is_string(column.type):
        column.validate(full=True)  # invalid UTF-8 raises ArrowInvalid: the reference decides
    return column


def _hold_special_characters(columns: list[pa.Array], raw: set[int]) -> set[int]:
    """Indexes of the string columns (not ``raw``) holding a character JSON must escape.

    One regex search over each column's character data as a whole (null slots included, which
    can only cause a harmless extra escaping pass), for all columns in one call: much cheaper
    than a search per value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    indexes = [
        i for i, column in enumerate(columns) if i not in raw and pa.types.is_string(column.type)
    ]
    if not indexes:
        return set()
    texts = pa.chunked_array([_all_characters(columns[i]) for i in indexes], pa.binary())
    found = pc.match_substring_regex(texts, _NEEDS_ESCAPE).to_pylist()
    return {index for index, hit in zip(indexes, found, strict=True) if hit}


def _all_characters(column: pa.Array) -> pa.Array:
    """The character data of a string array, as one binary value (no copy)."""
    import pyarrow as pa

    _, offsets, data = column.buffers()
    if offsets is None or data is None or len(column) == 0:
        return pa.array([b""], pa.binary())
    bounds = memoryview(offsets).cast("i")
    start, end = bounds[column.offset], bounds[column.offset + len(column)]
    one_value = pa.array([0, end - start], pa.int32()).buffers()[1]
    return pa.Array.from_buffers(pa.binary(), 1, [None, one_value, data.slice(start, end - start)])


def _column_text(column: pa.Array, escape: bool) -> _Text:
    import pyarrow as pa
    import pyarrow.compute as pc

    types = pa.types
    arrow_type = column.type
    if types.is_integer(arrow_type) or types.is_boolean(arrow_type):
        return _Text(pc.cast(column, pa.string()))
    if types.is_float32(arrow_type) or types.is_float64(arrow_type):
        return _Text(_float_text(column))
    if types.is_string(arrow_type):
        return _Text(_escaped(column) if escape else column, '"', '"')
    if types.is_timestamp(arrow_type):
        zone = "Z" if arrow_type.tz is not None else ""
        return _Text(json_rows.timestamp_text(column), '"', zone + '"')
    if types.is_decimal(arrow_type) or types.is_date(arrow_type) or types.is_time(arrow_type):
        return _Text(pc.cast(column, pa.string()), '"', '"')
    if types.is_null(arrow_type):
        return _Text(pa.nulls(len(column), pa.string()))
    return _Text(_per_value_text(column))


def _float_text(column: pa.Array) -> pa.Array:
    """Each float exactly as orjson spells it (``null`` for NaN, infinities and nulls).

    orjson writes the whole column as one JSON array in a single call, which is split at its
    commas (a JSON number never holds one): the same bytes as the reference, and cheaper
    than Arrow's own float formatting, which also spells some numbers differently
    (``2`` for 2.0, ``1e+15`` for 1e15).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = orjson.dumps(column.to_pylist())  # float32 values widen to Python floats here
    inner = pa.array([0, len(text) - 2], pa.int32()).buffers()[1]
    whole = pa.Array.from_buffers(pa.string(), 1, [None, inner, pa.py_buffer(text).slice(1)])
    return pc.list_flatten(pc.split_pattern(whole, ","))


def _escaped(column: pa.Array) -> pa.Array:
    """String values escaped for JSON, without the quotes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    escaped = pc.replace_substring(column, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    control = pc.fill_null(pc.match_substring_regex(column, _CONTROL), False)
    if pc.any(control).as_py():
        originals = column.filter(control).to_pylist()
        replacements = [orjson.dumps(value)[1:-1] for value in originals]
        escaped = pc.replace_with_mask(escaped, control, pa.array(replacements, pa.string()))
    return escaped


def _per_value_text(column: pa.Array) -> pa.Array:
    """Complete JSON text of each value (``null`` included), through the reference path."""
    import pyarrow as pa

    texts = [json_rows.dumps(value) for value in json_rows.column_values(column)]
    return pa.array(texts, pa.string())
