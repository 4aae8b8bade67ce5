"""ScanFiles: data files read in small batches, row for row what pyiceberg's own reader gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from floe_core.iceberg.catalog import open_catalog
from floe_core.iceberg.files import READ_BATCH_ROWS, ScanFiles, _pyiceberg_internals
from floe_core.iceberg.source import IcebergSource
from pyiceberg.types import DoubleType, LongType, StringType


@pytest.fixture
def catalog_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "type": "sql",
        "name": "files_test",
        "uri": str(tmp_path / "catalog.db"),
        "warehouse": str(tmp_path / "warehouse"),
    }


def _people(first: int, count: int) -> pa.Table:
    ids = list(range(first, first + count))
    return pa.table(
        {
            "id": pa.array(ids, pa.int32()),
            "name": pa.array([f"näme {i}" if i % 7 else None for i in ids], pa.string()),
            "score": pa.array([i / 4 for i in ids], pa.float32()),
            "seen_at": pa.array(
                [dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i) for i in ids],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )


def _sorted(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: row["id"])


def test_the_installed_pyiceberg_gets_the_streaming_reader() -> None:
    # If an upgrade changes the internals this reader relies on, files are still read (by
    # pyiceberg's own reader, a whole file at a time); this test says it happened.
    assert _pyiceberg_internals() is not None


def test_a_large_row_group_is_read_in_batches_of_batch_rows(
    catalog_config: dict[str, Any],
) -> None:
    catalog = open_catalog(catalog_config, create=True)
    catalog.create_namespace("gold")
    table = catalog.create_table("gold.people", _people(0, 1).schema)
    table.append(_people(0, 1000))  # one file, one row group
    scan = table.scan()
    (task,) = list(scan.plan_files())
    batches = list(ScanFiles(scan, batch_rows=128).batches(task))
    assert [batch.num_rows for batch in batches] == [128] * 7 + [104]
    assert _sorted(pa.Table.from_batches(batches)) == _sorted(scan.to_arrow())
    catalog.close()


def test_a_file_of_several_row_groups_is_read_group_by_group_in_row_order(
    catalog_config: dict[str, Any],
) -> None:
    catalog = open_catalog(catalog_config, create=True)
    catalog.create_namespace("gold")
    table = catalog.create_table(
        "gold.people",
        _people(0, 1).schema,
        properties={"write.parquet.row-group-limit": "300"},
    )
    table.append(_people(0, 1000))  # one file, row groups of 300, 300, 300 and 100 rows
    scan = table.scan()
    (task,) = list(scan.plan_files())
    path = task.file.file_path.removeprefix("file://")
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
    batches = list(ScanFiles(scan, batch_rows=128).batches(task))
    # Batches never span two row groups: each group is decoded (and buffered) on its own.
    assert [batch.num_rows for batch in batches] == [128, 128, 44] * 3 + [100]
    assert pa.Table.from_batches(batches).column("id").to_pylist() == list(range(1000))
    catalog.close()


def test_source_batches_never_exceed_read_batch_rows(catalog_config: dict[str, Any]) -> None:
    catalog = open_catalog(catalog_config, create=True)
    catalog.create_namespace("gold")
    rows = READ_BATCH_ROWS + 100
    table = catalog.create_table("gold.ids", pa.schema([("id", pa.int64())]))
    table.append(pa.table({"id": pa.array(range(rows), pa.int64())}))
    catalog.close()
    with IcebergSource(catalog_config, "gold.ids") as source:
        sizes = [batch.num_rows for batch in source.batches()]
    assert sizes == [READ_BATCH_ROWS, 100]


def test_evolved_schema_reads_like_pyiceberg(catalog_config: dict[str, Any]) -> None:
    catalog = open_catalog(catalog_config, create=True)
    catalog.create_namespace("gold")
    table = catalog.create_table("gold.people", _people(0, 1).schema)
    table.append(_people(0, 300))
    with table.update_schema() as update:
        update.rename_column("name", "full_name")
        update.update_column("id", field_type=LongType())
        update.update_column("score", field_type=DoubleType())
        update.add_column("segment", StringType())
    later = _people(300, 300).rename_columns(["id", "full_name", "score", "seen_at"])
    table.refresh()
    table.append(
        pa.table(
            {
                "id": later["id"].cast(pa.int64()),
                "full_name": later["full_name"],
                "score": later["score"].cast(pa.float64()),
                "seen_at": later["seen_at"],
                "segment": pa.array(["vip"] * 300, pa.string()),
            }
        )
    )
    table.refresh()
    expected = _sorted(table.scan().to_arrow())
    catalog.close()
    with IcebergSource(catalog_config, "gold.people") as source:
        read = source.batches().read_all()
        assert read.schema.equals(source.schema)
        assert _sorted(read) == expected
        assert read.schema.field("id").type == pa.int64()
        assert read.schema.field("score").type == pa.float64()
        filtered = source.batches(
            columns=["segment", "id"], row_filter="full_name is null or id >= 590"
        ).read_all()
    assert filtered.column_names == ["segment", "id"]
    wanted = [
        {"segment": row["segment"], "id": row["id"]}
        for row in expected
        if row["full_name"] is None or row["id"] >= 590
    ]
    assert _sorted(filtered) == wanted
    assert {row["segment"] for row in wanted} == {None, "vip"}


def test_files_without_field_ids_are_read_through_the_name_mapping(
    catalog_config: dict[str, Any], tmp_path: Path
) -> None:
    catalog = open_catalog(catalog_config, create=True)
    catalog.create_namespace("gold")
    people = _people(0, 500)
    table = catalog.create_table("gold.people", people.schema)
    path = tmp_path / "outside.parquet"
    pq.write_table(people, path, row_group_size=200)
    table.add_files([str(path)])
    table.refresh()
    expected = _sorted(table.scan().to_arrow())
    catalog.close()
    with IcebergSource(catalog_config, "gold.people") as source:
        read = source.batches(row_filter="id < 250").read_all()
    assert _sorted(read) == [row for row in expected if row["id"] < 250]
    assert len(expected) == 500
