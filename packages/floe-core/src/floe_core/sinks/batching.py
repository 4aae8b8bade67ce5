"""Turning whatever the caller passes into record batches of exactly ``batch_size`` rows.

Everything here streams: input batches are sliced and, only where a batch boundary falls
between two input batches, the few slices that make up one output batch are concatenated.
The whole input is never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from floe_core.sinks.errors import SinkConfigurationError
from floe_core.sinks.shaping import FieldMapping  # where it lived first; imported from here

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.sinks.base import Operation, SinkCapabilities

__all__ = ["FieldMapping", "iter_record_batches", "rechunk", "resolve_batch_size", "row_groups"]


def iter_record_batches(data: Any) -> Iterator[pa.RecordBatch]:
    """Yield the record batches of ``data`` without copying them.

    Args:
        data: A ``pyarrow.Table``, a ``pyarrow.RecordBatchReader``, a ``pyarrow.RecordBatch``,
            or an iterable of record batches (tables in the iterable are accepted too).

    Raises:
        TypeError: ``data`` is none of these.
    """
    import pyarrow as pa

    if isinstance(data, pa.Table):
        yield from data.to_batches()
    elif isinstance(data, pa.RecordBatch):
        yield data
    elif isinstance(data, pa.RecordBatchReader):
        yield from data
    elif isinstance(data, Iterable) and not isinstance(data, (str, bytes, Mapping)):
        for index, item in enumerate(data):
            if isinstance(item, pa.RecordBatch):
                yield item
            elif isinstance(item, pa.Table):
                yield from item.to_batches()
            else:
                raise TypeError(
                    f"item {index} of the data is a {type(item).__name__}; "
                    "expected pyarrow.RecordBatch"
                )
    else:
        raise TypeError(
            f"cannot write a {type(data).__name__}: pass a pyarrow.Table, a "
            "pyarrow.RecordBatchReader or an iterable of pyarrow.RecordBatch"
        )


def resolve_batch_size(
    requested: int | None, capabilities: SinkCapabilities, operation: Operation | None = None
) -> int:
    """Rows per batch: the configured size (or the sink's default), capped by the sink's maximum.

    An operation the sink sends one row per request (``capabilities.row_operations``) has
    batches of one row.
    """
    if operation is not None and operation in capabilities.row_operations:
        return 1
    size = requested if requested is not None else capabilities.default_batch_size
    if capabilities.max_batch_size is not None:
        size = min(size, capabilities.max_batch_size)
    return max(1, size)


def rechunk(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream of batches into batches of exactly ``size`` rows (the last may be smaller).

    Empty batches are dropped. Raises ``SinkConfigurationError`` when a batch's schema differs
    from the first one's.
    """
    for parts in row_groups(_same_schema(batches), size):
        yield _concat(parts)


def row_groups(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[list[pa.RecordBatch]]:
    """Group a stream's rows into lists of zero-copy slices of ``size`` rows in all.

    Each list holds exactly ``size`` rows, except the last, which may hold fewer; empty
    batches contribute nothing.
    """
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        offset = 0
        while offset < batch.num_rows:
            take = min(size - pending_rows, batch.num_rows - offset)
            pending.append(batch.slice(offset, take))
            pending_rows += take
            offset += take
            if pending_rows == size:
                yield pending
                pending, pending_rows = [], 0
    if pending:
        yield pending


def _same_schema(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    schema: pa.Schema | None = None
    for batch in batches:
        if schema is None:
            schema = batch.schema
        elif not batch.schema.equals(schema):
            raise SinkConfigurationError(
                "the input changes schema part-way: "
                f"expected {_describe(schema)}, got {_describe(batch.schema)}",
                hint="pass batches that all have the same columns and types",
            )
        yield batch


def _concat(parts: list[pa.RecordBatch]) -> pa.RecordBatch:
    import pyarrow as pa

    if len(parts) == 1:
        return parts[0]
    return pa.concat_batches(parts)


def _describe(schema: pa.Schema) -> str:
    return "(" + ", ".join(f"{f.name}: {f.type}" for f in schema) + ")"
