"""Write the Parquet files dlt normalized into one Iceberg table, in one commit per run.

dlt extracts and normalizes a source into Parquet load files; its load step hands each file to
:meth:`IcebergTableWriter.write_file`, which stages the rows into a single pyiceberg
transaction (streamed, one row group at a time). :meth:`IcebergTableWriter.commit` then makes
the whole run visible atomically: readers see all of it or none of it, and a failed run leaves
the table as it was.

Write modes: ``append`` adds rows; ``replace`` empties the table first (in the same commit);
``merge`` upserts on the primary key (the last row per key wins within a run). Columns the
table lacks are handled by the schema contract: ``evolve`` adds them, ``freeze`` refuses the
run, ``discard_value`` drops those values, ``discard_row`` drops rows that carry them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floe_core.sinks.batching import row_groups

from floe_ingestion_dlt.ingestion.errors import IngestionError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table, Transaction

__all__ = ["SCHEMA_CONTRACTS", "IcebergTableWriter", "WriteStats"]

SCHEMA_CONTRACTS = ("evolve", "freeze", "discard_value", "discard_row")
_READ_BATCH_ROWS = 65_536
_MERGE_CHUNK_ROWS = 100_000
_APPEND_SLICE_BYTES = 128 * 1024 * 1024
_DLT_PREFIX = "_dlt_"


@dataclass(frozen=True)
class WriteStats:
    """What one commit put into the table, read back from the committed snapshots."""

    rows_loaded: int
    bytes_written: int
    data_files: int
    snapshot_id: int | None


class IcebergTableWriter:
    """Stage dlt load files into one Iceberg transaction and commit it.

    Args:
        catalog: An open pyiceberg catalog.
        identifier: ``(namespace..., table)``.
        write_mode: ``append``, ``replace`` or ``merge``.
        merge_keys: Key columns (as they are named in the table) for ``merge``.
        schema_contract: One of :data:`SCHEMA_CONTRACTS`.
        cursor: ``(column, last value)``: only rows whose column is greater are written.
    """

    def __init__(
        self,
        catalog: Catalog,
        identifier: tuple[str, ...],
        *,
        write_mode: str,
        merge_keys: Sequence[str] = (),
        schema_contract: str = "evolve",
        cursor: tuple[str, Any] | None = None,
    ) -> None:
        self._catalog = catalog
        self._identifier = identifier
        self._name = ".".join(identifier)
        self._mode = write_mode
        self._keys = list(merge_keys)
        self._contract = schema_contract
        self._cursor = cursor
        self._txn: Transaction | None = None
        self._previous_snapshots: set[int] = set()
        self._merged_rows = 0
        self._table = self._load_table()
        if self._table is not None:
            self._previous_snapshots = {s.snapshot_id for s in self._table.snapshots()}
            if self._mode == "replace":
                from pyiceberg.expressions import AlwaysTrue

                self._txn = self._table.transaction()
                self._txn.delete(AlwaysTrue())

    def _load_table(self) -> Table | None:
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self._catalog.load_table(self._identifier)
        except NoSuchTableError:
            return None

    @property
    def table(self) -> Table | None:
        """The target table as it was before this run (``None`` if it did not exist)."""
        return self._table

    def write_file(self, path: str) -> None:
        """Stage the rows of one Parquet load file."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        schema = _iceberg_ready_schema(parquet.schema_arrow)
        txn = self._transaction(schema)
        schema = self._apply_contract(txn, schema)
        batches = self._batches(parquet, schema)
        first = next(batches, None)
        if first is None:
            return
        stream = _chain(first, batches)
        if self._mode == "merge":
            self._merge(txn, schema, stream)
        else:
            # pyiceberg buffers a streamed append up to the table's target file size (512 MiB
            # by default) before writing; appending in bounded slices caps that buffer.
            for part in _byte_slices(stream, _APPEND_SLICE_BYTES):
                txn.append(pa.RecordBatchReader.from_batches(schema, part))

    def _transaction(self, schema: pa.Schema) -> Transaction:
        if self._txn is None:
            if self._table is None:
                self._catalog.create_namespace_if_not_exists(self._identifier[:-1])
                self._txn = self._catalog.create_table_transaction(self._identifier, schema)
            else:
                self._txn = self._table.transaction()
        return self._txn

    def _apply_contract(self, txn: Transaction, schema: pa.Schema) -> pa.Schema:
        import pyarrow as pa

        known = {field.name for field in txn.table_metadata.schema().fields}
        extra = [name for name in schema.names if name not in known]
        if not extra:
            return schema
        if self._contract == "freeze":
            raise IngestionError(
                f"the source has column(s) {', '.join(extra)} that table '{self._name}' lacks, "
                "and its schema contract is 'freeze'",
                destination=self._name,
                hint="use schema_contract 'evolve' to add them, or 'discard_value' to drop them",
            )
        if self._contract == "evolve":
            with txn.update_schema() as update:
                update.union_by_name(schema)
            return schema
        return pa.schema([field for field in schema if field.name not in extra])

    def _batches(self, parquet: Any, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.compute as pc

        dropped = [name for name in parquet.schema_arrow.names if name not in schema.names]
        for batch in parquet.iter_batches(batch_size=_READ_BATCH_ROWS):
            if self._contract == "discard_row" and dropped:
                carries_new = [
                    pc.is_valid(batch.column(name))
                    for name in dropped
                    if not name.startswith(_DLT_PREFIX)
                ]
                if carries_new:
                    keep = pc.invert(_any(carries_new))
                    batch = batch.filter(keep)
            if self._cursor is not None:
                batch = self._after_cursor(batch)
            if batch.num_rows:
                columns = [
                    batch.column(name).cast(schema.field(name).type) for name in schema.names
                ]
                yield pa.RecordBatch.from_arrays(columns, schema=schema)

    def _after_cursor(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import pyarrow as pa
        import pyarrow.compute as pc

        assert self._cursor is not None
        column, last = self._cursor
        if column not in batch.schema.names:
            read = [name for name in batch.schema.names if not name.startswith(_DLT_PREFIX)]
            raise IngestionError(
                f"the cursor column {column!r} is not in the data read from the source",
                destination=self._name,
                hint=f"columns read: {', '.join(read)}",
            )
        values = batch.column(column)
        return batch.filter(pc.greater(values, pa.scalar(last).cast(values.type)))

    def _merge(self, txn: Transaction, schema: pa.Schema, stream: Iterator[pa.RecordBatch]) -> None:
        import pyarrow as pa

        missing = [key for key in self._keys if key not in schema.names]
        if missing:
            raise IngestionError(
                f"primary key column(s) {', '.join(missing)} are not in the data read from "
                "the source",
                destination=self._name,
                hint=f"columns read: {', '.join(schema.names)}",
            )
        for chunk in row_groups(stream, _MERGE_CHUNK_ROWS):
            table = _last_per_key(pa.Table.from_batches(chunk, schema=schema), self._keys)
            nulls = sum(table.column(key).null_count for key in self._keys)
            if nulls:
                raise IngestionError(
                    f"{nulls} row(s) have no value in primary key {', '.join(self._keys)}",
                    destination=self._name,
                    hint="merge needs every row to have its key; filter those rows at the source",
                )
            result = txn.upsert(table, join_cols=self._keys)
            self._merged_rows += result.rows_inserted + result.rows_updated

    def commit(self) -> WriteStats:
        """Commit everything staged; returns what the new snapshots hold."""
        if self._txn is None:
            current = self._table.current_snapshot() if self._table is not None else None
            return WriteStats(0, 0, 0, current.snapshot_id if current else None)
        table = self._txn.commit_transaction()
        self._txn = None
        new = [s for s in table.snapshots() if s.snapshot_id not in self._previous_snapshots]
        added_rows = sum(_summary_int(s, "added-records") for s in new)
        current = table.current_snapshot()
        return WriteStats(
            rows_loaded=self._merged_rows if self._mode == "merge" else added_rows,
            bytes_written=sum(_summary_int(s, "added-files-size") for s in new),
            data_files=sum(_summary_int(s, "added-data-files") for s in new),
            snapshot_id=current.snapshot_id if current else None,
        )

    def abort(self) -> None:
        """Forget everything staged (data files already written are left unreferenced)."""
        self._txn = None


def _iceberg_ready_schema(schema: pa.Schema) -> pa.Schema:
    """dlt's schema minus its bookkeeping columns, with types Iceberg can store."""
    import pyarrow as pa

    fields = []
    for field in schema:
        if field.name.startswith(_DLT_PREFIX):
            continue
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_time32(kind):
            kind = pa.time64("us")
        elif pa.types.is_timestamp(kind) and kind.unit == "ns":
            kind = pa.timestamp("us", tz=kind.tz)
        elif pa.types.is_uint8(kind) or pa.types.is_uint16(kind):
            kind = pa.int32()
        elif pa.types.is_uint32(kind):
            kind = pa.int64()
        elif pa.types.is_null(kind):
            continue  # a column without a single value has no type to store yet
        fields.append(pa.field(field.name, kind, nullable=True))
    return pa.schema(fields)


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _any(masks: list[Any]) -> Any:
    import pyarrow.compute as pc

    result = masks[0]
    for mask in masks[1:]:
        result = pc.or_(result, mask)
    return result


def _byte_slices(batches: Iterator[pa.RecordBatch], limit: int) -> Iterator[list[pa.RecordBatch]]:
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.nbytes
        if size >= limit:
            yield pending
            pending, size = [], 0
    if pending:
        yield pending


def _last_per_key(table: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the last row of each key (a source may send one key twice in a run)."""
    import pyarrow as pa

    position = "__floe_position"
    numbered = table.append_column(position, pa.array(range(table.num_rows), pa.int64()))
    last = numbered.group_by(keys, use_threads=False).aggregate([(position, "max")])
    keep = last.column(f"{position}_max").combine_chunks().sort()
    return table.take(keep)


def _summary_int(snapshot: Any, key: str) -> int:
    summary = snapshot.summary
    if summary is None:
        return 0
    return int(summary.additional_properties.get(key, 0))
