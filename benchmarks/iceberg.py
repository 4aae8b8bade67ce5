"""An embedded Iceberg catalog (pyiceberg SQL catalog on SQLite, local warehouse) with the
benchmark tables, written once and reused by later runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.data import SCHEMA, batches

__all__ = ["NAMESPACE", "Warehouse"]

NAMESPACE = "bench"


class Warehouse:
    """The catalog under ``root``: ``catalog.db`` and ``warehouse/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "warehouse").mkdir(exist_ok=True)
        self._catalog: Any = None

    @property
    def properties(self) -> dict[str, str]:
        """pyiceberg catalog properties (``type``, ``uri``, ``warehouse``) plus ``name``."""
        return {
            "name": "bench",
            "type": "sql",
            "uri": f"sqlite:///{self.root / 'catalog.db'}",
            "warehouse": (self.root / "warehouse").as_uri(),
        }

    def _load(self) -> Any:
        if self._catalog is None:
            from pyiceberg.catalog import load_catalog

            props = dict(self.properties)
            name = props.pop("name")
            self._catalog = load_catalog(name, **props)
            self._catalog.create_namespace_if_not_exists(NAMESPACE)
        return self._catalog

    def table(self, rows: int, version: int = 0, one_file: bool = False) -> str:
        """``namespace.table`` holding customers 1..``rows`` of ``version``; written if missing.

        Written in appends of 1M rows (a data file each), or with ``one_file`` in one append of
        every row: one data file, in row groups of pyiceberg's default 1,048,576 rows.
        """
        ident = f"{NAMESPACE}.customers_{rows}_v{version}" + ("_one_file" if one_file else "")
        catalog = self._load()
        if catalog.table_exists(ident):
            table = catalog.load_table(ident)
            snap = table.current_snapshot()
            total = int(snap.summary.get("total-records", -1)) if snap else 0
            if total == rows:
                return ident
            catalog.drop_table(ident)
        table = catalog.create_table(ident, schema=SCHEMA)
        import pyarrow as pa

        if one_file:
            table.append(pa.Table.from_batches(batches(rows, version), schema=SCHEMA))
            return ident
        # A few large appends: one snapshot per chunk, files of a realistic size.
        chunk: list[pa.RecordBatch] = []
        for batch in batches(rows, version, batch_rows=250_000):
            chunk.append(batch)
            if sum(b.num_rows for b in chunk) >= 1_000_000:
                table.append(pa.Table.from_batches(chunk, schema=SCHEMA))
                chunk = []
        if chunk:
            table.append(pa.Table.from_batches(chunk, schema=SCHEMA))
        return ident

    def data_files(self, ident: str) -> list[tuple[int, int, int]]:
        """(rows, bytes, row groups) of each data file of the table's current snapshot."""
        import pyarrow.parquet as pq

        table = self._load().load_table(ident)
        found = []
        for task in table.scan().plan_files():
            path = task.file.file_path.removeprefix("file://")
            groups = pq.ParquetFile(path).metadata.num_row_groups
            found.append((task.file.record_count, task.file.file_size_in_bytes, groups))
        return found
