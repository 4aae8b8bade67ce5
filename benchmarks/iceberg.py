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

    def table(self, rows: int, version: int = 0) -> str:
        """``namespace.table`` holding customers 1..``rows`` of ``version``; written if missing."""
        ident = f"{NAMESPACE}.customers_{rows}_v{version}"
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

    def data_files(self, ident: str) -> list[tuple[int, int]]:
        """(rows, bytes) of each data file of the table's current snapshot."""
        table = self._load().load_table(ident)
        return [(t.file.record_count, t.file.file_size_in_bytes) for t in table.scan().plan_files()]
