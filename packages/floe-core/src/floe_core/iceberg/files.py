"""Reading the data files of one Iceberg scan as streams of small record batches.

pyiceberg reads a Parquet data file through a ``pyarrow.dataset`` scanner, which decodes a whole
row group before it hands out the first batch; and its public batch reader
(``ArrowScan.to_record_batches``) keeps every batch of a file in a list until the file is
done. A row group commonly holds a million rows or more (pyiceberg's and Spark's defaults), so
either way memory grows with the size of the row groups and files a writer chose.

:class:`ScanFiles` reads a plain Parquet data file (no delete files) with
``pyarrow.parquet.ParquetFile.iter_batches`` instead, which decodes ``batch_rows`` rows at a
time, and hands each batch to pyiceberg's own projection (field ids, renamed, promoted and
added columns, identity-partition values): memory is bounded by the batch size, whatever the
files hold. Any other file (delete files, ORC, Avro), or a pyiceberg version whose internals
differ from the ones this module was written against, is read by pyiceberg's public reader.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.io.pyarrow import ArrowScan
    from pyiceberg.table import DataScan, FileScanTask

__all__ = ["READ_BATCH_ROWS", "ScanFiles"]

#: Rows decoded at a time from a Parquet data file.
READ_BATCH_ROWS = 65_536


class ScanFiles:
    """Streams the data files of ``scan`` one at a time, in small batches.

    Args:
        scan: A planned pyiceberg table scan (its projection, filter and snapshot are used).
        batch_rows: Rows per batch read from a Parquet file.
    """

    def __init__(self, scan: DataScan, batch_rows: int = READ_BATCH_ROWS) -> None:
        from pyiceberg.expressions.visitors import bind
        from pyiceberg.io.pyarrow import ArrowScan
        from pyiceberg.table import DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE
        from pyiceberg.utils.config import Config

        self.scan = scan
        self.batch_rows = batch_rows
        self.projection = scan.projection()
        self.bound_filter: BooleanExpression = bind(
            scan.table_metadata.schema(), scan.row_filter, case_sensitive=scan.case_sensitive
        )
        downcast = Config().get_bool(DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE)
        if downcast is None:
            # Iceberg v1 and v2 only have microsecond timestamps; v3 must ask for the downcast.
            downcast = scan.table_metadata.format_version <= 2
        self.downcast_ns = downcast
        self._fallback: ArrowScan = ArrowScan(
            scan.table_metadata, scan.io, self.projection, scan.row_filter, scan.case_sensitive
        )

    def batches(self, task: FileScanTask) -> Iterator[pa.RecordBatch]:
        """The rows of one data file, projected to the scan's schema, in small batches."""
        from pyiceberg.manifest import FileFormat

        if task.file.file_format == FileFormat.PARQUET and not task.delete_files:
            internals = _pyiceberg_internals()
            if internals is not None:
                return _parquet_batches(self, task, internals)
        return self._fallback.to_record_batches([task])


def _parquet_batches(
    files: ScanFiles, task: FileScanTask, internals: dict[str, Any]
) -> Iterator[pa.RecordBatch]:
    """One Parquet data file without delete files, decoded ``batch_rows`` rows at a time.

    This follows pyiceberg 0.12's ``pyiceberg.io.pyarrow._task_to_record_batches`` step by step
    and uses two of that module's private helpers (``_get_column_projection_values``,
    ``_to_requested_schema``), so that the rows come out exactly as pyiceberg's reader gives
    them; only the decoding differs (``ParquetFile.iter_batches`` instead of a dataset scanner
    that decodes whole row groups). ``_pyiceberg_internals`` checks those helpers' signatures,
    and any other pyiceberg falls back to the public reader.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.expressions.visitors import bind, translate_column_names
    from pyiceberg.io.pyarrow import expression_to_pyarrow, pyarrow_to_schema
    from pyiceberg.schema import prune_columns

    scan = files.scan
    metadata = scan.table_metadata
    projection = files.projection
    case_sensitive = scan.case_sensitive
    downcast = files.downcast_ns
    with scan.io.new_input(task.file.file_path).open() as stream:
        parquet = pq.ParquetFile(stream, pre_buffer=True)
        file_schema = pyarrow_to_schema(
            parquet.schema_arrow,
            metadata.name_mapping(),
            downcast_ns_timestamp_to_us=downcast,
            format_version=metadata.format_version,
        )
        missing_values = internals["projection_values"](
            task.file,
            projection,
            metadata.schema(),
            metadata.specs().get(task.file.spec_id),
            file_schema.field_ids,
        )
        arrow_filter = None
        if files.bound_filter is not AlwaysTrue():
            translated = translate_column_names(
                files.bound_filter,
                file_schema,
                case_sensitive=case_sensitive,
                projected_field_values=missing_values,
            )
            arrow_filter = expression_to_pyarrow(
                bind(file_schema, translated, case_sensitive=case_sensitive), file_schema
            )
        file_projection = prune_columns(
            file_schema, _projected_field_ids(files), select_full_types=False
        )
        columns = [column.name for column in file_projection.columns]
        # A row group at a time: pre_buffer then reads ahead within one group, not the whole
        # file (a large file's column chunks would otherwise be buffered all at once).
        for group in range(parquet.num_row_groups):
            for batch in parquet.iter_batches(
                batch_size=files.batch_rows, columns=columns, row_groups=[group]
            ):
                if arrow_filter is not None:
                    # Through a table: RecordBatch.filter fails on empty results before pyarrow 21.
                    filtered = pa.Table.from_batches([batch]).filter(arrow_filter)
                    if filtered.num_rows == 0:
                        continue
                    batch = filtered.combine_chunks().to_batches()[0]
                if batch.num_rows == 0:
                    continue
                yield internals["to_requested_schema"](
                    projection,
                    file_projection,
                    batch,
                    downcast_ns_timestamp_to_us=downcast,
                    projected_missing_fields=missing_values,
                    allow_timestamp_tz_mismatch=True,
                )


def _projected_field_ids(files: ScanFiles) -> set[int]:
    """Field ids read from each file: the projection's (without list and map containers, whose
    element ids are in it already) and those the row filter needs."""
    from pyiceberg.expressions.visitors import extract_field_ids
    from pyiceberg.types import ListType, MapType

    projection = files.projection
    return {
        field_id
        for field_id in projection.field_ids
        if not isinstance(projection.find_type(field_id), (MapType, ListType))
    }.union(extract_field_ids(files.bound_filter))


@functools.cache
def _pyiceberg_internals() -> dict[str, Any] | None:
    """pyiceberg's private projection helpers, if they take the arguments used here."""
    try:
        from pyiceberg.expressions import visitors
        from pyiceberg.io import pyarrow as iceberg_arrow
    except ImportError:
        return None
    projection_values = getattr(iceberg_arrow, "_get_column_projection_values", None)
    to_requested_schema = getattr(iceberg_arrow, "_to_requested_schema", None)
    if projection_values is None or to_requested_schema is None:
        return None
    try:
        accepted = set(inspect.signature(to_requested_schema).parameters)
        values_arity = len(inspect.signature(projection_values).parameters)
        schema_kwargs = set(inspect.signature(iceberg_arrow.pyarrow_to_schema).parameters)
        translate_kwargs = set(inspect.signature(visitors.translate_column_names).parameters)
    except (AttributeError, TypeError, ValueError):
        return None
    needed = {"downcast_ns_timestamp_to_us", "projected_missing_fields"}
    needed.add("allow_timestamp_tz_mismatch")
    if (
        not needed <= accepted
        or values_arity != 5
        or "format_version" not in schema_kwargs
        or "projected_field_values" not in translate_kwargs
    ):
        return None
    return {"projection_values": projection_values, "to_requested_schema": to_requested_schema}
