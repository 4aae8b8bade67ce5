"""The last touches to a batch before it becomes JSON: value formats and the record's key.

Both work on whole Arrow columns (objects' fields included), so the encoders stay column-wise:

- ``timestamp_format: epoch_millis``: timestamps become integer milliseconds since 1970 (UTC
  for zoned ones), rounded down.
- ``decimal_format: number``: decimals become JSON numbers (through a double: about 15
  significant digits; ``string``, the default, keeps every digit).
- ``boolean_format``: ``string`` writes ``"true"``/``"false"``, ``integer`` writes ``1``/``0``.
- ``id_field`` / ``id_from``: a copy of the record's key where the API wants it (first in the
  record, or inside the object ``id_field`` names).

With the default settings a batch is returned as it is, so the bytes sent do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from floe_core.plugins.sink import split_field_path

from floe_ingestion_dlt.sinks.rest.config import RestApiSettings

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["RecordShape"]

_Convert = Callable[["pa.Array"], "pa.Array"]


@dataclass(frozen=True)
class RecordShape:
    """How one destination's settings change a batch's columns before encoding."""

    timestamps: str = "iso8601"
    decimals: str = "string"
    booleans: str = "boolean"
    id_field: tuple[str, ...] | None = None
    id_from: tuple[str, ...] | None = None

    @classmethod
    def from_settings(cls, settings: RestApiSettings) -> RecordShape:
        """The shape the settings ask for."""
        return cls(
            timestamps=settings.timestamp_format,
            decimals=settings.decimal_format,
            booleans=settings.boolean_format,
            id_field=split_field_path(settings.id_field) if settings.id_field else None,
            id_from=split_field_path(settings.id_from) if settings.id_from else None,
        )

    @property
    def formats(self) -> bool:
        """True when some value is written other than the default way."""
        return (self.timestamps, self.decimals, self.booleans) != ("iso8601", "string", "boolean")

    def check(self, schema: pa.Schema) -> str | None:
        """What is wrong with the key settings for records of ``schema``; ``None``: nothing."""
        import pyarrow as pa

        if self.id_from is None or self.id_field is None:
            return None
        if _find_type(schema, self.id_from) is None:
            return (
                f"id_from {'.'.join(self.id_from)!r} is not a field of the records "
                f"(fields: {', '.join(schema.names)})"
            )
        node: pa.Schema | pa.StructType = schema
        for depth, part in enumerate(self.id_field):
            names = [field.name for field in node]
            if part not in names:
                return None
            arrow_type = node.field(names.index(part)).type
            if depth == len(self.id_field) - 1 or not pa.types.is_struct(arrow_type):
                return f"id_field {'.'.join(self.id_field)!r} is a field the records have already"
            node = arrow_type
        return None

    def apply(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, pa.Array | None]:
        """The batch as it is to be encoded, and its records' keys (``None`` without id_from)."""
        import pyarrow as pa

        if not self.formats and self.id_from is None:
            return batch, None
        names = list(batch.schema.names)
        columns = list(batch.columns)
        if self.formats:
            columns = [self._formatted(column) for column in columns]
        keys = None
        if self.id_from is not None and self.id_field is not None:
            keys = _find(names, columns, self.id_from)
            names, columns = _insert(names, columns, self.id_field, keys)
        return pa.RecordBatch.from_arrays(columns, names=names), keys

    def _formatted(self, column: pa.Array) -> pa.Array:
        import pyarrow as pa

        types = pa.types
        arrow_type = column.type
        if types.is_dictionary(arrow_type):
            if self._converter(arrow_type.value_type) is None:
                return column
            column = column.dictionary_decode()
            arrow_type = column.type
        if types.is_struct(arrow_type):
            children = [self._formatted(child) for child in column.flatten()]
            mask = column.is_null() if column.null_count else None
            return pa.StructArray.from_arrays(
                children, names=[field.name for field in arrow_type], mask=mask
            )
        convert = self._converter(arrow_type)
        return column if convert is None else convert(column)

    def _converter(self, arrow_type: pa.DataType) -> _Convert | None:
        import pyarrow as pa

        types = pa.types
        if types.is_struct(arrow_type):
            return self._formatted
        if types.is_timestamp(arrow_type) and self.timestamps == "epoch_millis":
            return _epoch_millis
        if types.is_decimal(arrow_type) and self.decimals == "number":
            return lambda column: column.cast(pa.float64())
        if types.is_boolean(arrow_type) and self.booleans != "boolean":
            target = pa.string() if self.booleans == "string" else pa.int8()
            return lambda column: column.cast(target)
        return None


def _epoch_millis(column: pa.Array) -> pa.Array:
    """Milliseconds since 1970, rounded down (so 1969-12-31T23:59:59.9995 is -1)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    per_milli = {"s": 0, "ms": 1, "us": 1_000, "ns": 1_000_000}[column.type.unit]
    ticks = column.cast(pa.int64())
    if per_milli == 0:
        return pc.multiply(ticks, 1000)
    if per_milli == 1:
        return ticks
    truncated = pc.divide(ticks, per_milli)  # integer division rounds toward zero
    below = pc.less(ticks, pc.multiply(truncated, per_milli))
    return pc.subtract(truncated, pc.cast(below, pa.int64()))


def _find_type(schema: pa.Schema, path: tuple[str, ...]) -> pa.DataType | None:
    import pyarrow as pa

    node: pa.Schema | pa.StructType = schema
    arrow_type: pa.DataType | None = None
    for part in path:
        if arrow_type is not None:
            if not pa.types.is_struct(arrow_type):
                return None
            node = arrow_type
        names = [field.name for field in node]
        if part not in names:
            return None
        arrow_type = node.field(names.index(part)).type
    return arrow_type


def _find(names: list[str], columns: list[pa.Array], path: tuple[str, ...]) -> pa.Array:
    import pyarrow.compute as pc

    column = columns[names.index(path[0])]
    if len(path) > 1:
        column = pc.struct_field(column, list(path[1:]))
    return column


def _insert(
    names: list[str], columns: list[pa.Array], path: tuple[str, ...], value: pa.Array
) -> tuple[list[str], list[pa.Array]]:
    """``value`` put at ``path``, first among its siblings (objects on the way merged)."""
    import pyarrow as pa

    head = path[0]
    if len(path) == 1:
        return [head, *names], [value, *columns]
    if head in names:
        index = names.index(head)
        parent = columns[index]
        inner_names, inner = _insert(
            [field.name for field in parent.type], parent.flatten(), path[1:], value
        )
        mask = parent.is_null() if parent.null_count else None
        columns = list(columns)
        columns[index] = pa.StructArray.from_arrays(inner, names=inner_names, mask=mask)
        return names, columns
    inner_names, inner = _insert([], [], path[1:], value)
    return [head, *names], [pa.StructArray.from_arrays(inner, names=inner_names), *columns]
