"""The quickstart Gold table generator and its idempotent loader, on a real SQLite catalog."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from floe_core.demo.data import (
    CUSTOMERS_TABLE,
    DEFAULT_ROWS,
    create_customers_table,
    customer_batches,
    customers_reader,
    customers_schema,
)
from floe_core.errors import SourceError
from floe_core.iceberg.catalog import open_catalog
from floe_core.iceberg.source import IcebergSource

SEGMENTS = {"champions", "loyal", "promising", "at_risk", "churn_risk", "new"}


@pytest.fixture(scope="module")
def customers() -> pa.Table:
    return customers_reader().read_all()


@pytest.fixture
def catalog_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "type": "sql",
        "name": "quickstart",
        "uri": str(tmp_path / "catalog.db"),
        "warehouse": str(tmp_path / "warehouse"),
    }


def test_default_table_has_ten_thousand_rows_with_the_gold_schema(customers: pa.Table) -> None:
    assert customers.num_rows == DEFAULT_ROWS == 10_000
    assert customers.schema.equals(customers_schema())
    assert customers.schema.field("lifetime_value").type == pa.decimal128(12, 2)
    assert customers.schema.field("last_order_at").type == pa.timestamp("us", tz="UTC")
    assert customers.schema.field("orders_count").type == pa.int32()


def test_values_are_realistic(customers: pa.Table) -> None:
    assert customers["customer_id"].to_pylist() == list(range(1, 10_001))
    emails = [e for e in customers["email"].to_pylist() if e is not None]
    assert len(set(emails)) == len(emails)
    assert all(e.isascii() and e.count("@") == 1 for e in emails)
    assert {"Zoë", "Łukasz", "李"} <= set(customers["first_name"].to_pylist())
    assert {"Müller", "Nguyễn"} <= set(customers["last_name"].to_pylist())
    assert set(customers["segment"].to_pylist()) == SEGMENTS
    assert pc.min(customers["lifetime_value"]).as_py() == Decimal("0.00")
    assert pc.max(customers["lifetime_value"]).as_py() > Decimal("1000")
    for column, low, high in [("email", 0.01, 0.03), ("country", 0.005, 0.02)]:
        assert low < customers[column].null_count / customers.num_rows < high, column
    assert customers["last_name"].null_count > 0


def test_rows_are_consistent(customers: pa.Table) -> None:
    as_of = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for row in customers.to_pylist():
        never_ordered = row["orders_count"] == 0
        assert (row["last_order_at"] is None) == never_ordered
        assert (row["segment"] == "new") == never_ordered
        if never_ordered:
            assert row["lifetime_value"] == 0 and row["is_active"] is False
        else:
            assert row["last_order_at"] <= as_of
            recent = (as_of - row["last_order_at"]).days < 365
            assert row["is_active"] is recent


def test_generation_is_deterministic_whatever_the_batch_size(customers: pa.Table) -> None:
    assert customers_reader(batch_size=333).read_all().equals(customers)
    assert not customers_reader(seed=7).read_all().equals(customers)


def test_large_tables_come_in_bounded_batches() -> None:
    sizes = [batch.num_rows for batch in customer_batches(250_000, batch_size=65_536)]
    assert sizes == [65_536, 65_536, 65_536, 53_392]


def test_float_money_variant() -> None:
    table = customers_reader(100, money="float64").read_all()
    assert table.schema.field("lifetime_value").type == pa.float64()
    decimals = customers_reader(100).read_all()["lifetime_value"].to_pylist()
    assert [
        Decimal(str(v)).quantize(Decimal("0.01")) for v in table["lifetime_value"].to_pylist()
    ] == decimals


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        list(customer_batches(10, batch_size=0))
    with pytest.raises(ValueError, match="money"):
        list(customer_batches(10, money="int"))  # type: ignore[arg-type]


@pytest.mark.requirement("B2")
def test_creates_namespace_and_table_and_reads_back(
    catalog_config: dict[str, Any], customers: pa.Table
) -> None:
    made = create_customers_table(catalog_config)
    assert made.table == CUSTOMERS_TABLE and made.rows == 10_000 and made.written
    with IcebergSource(catalog_config, CUSTOMERS_TABLE) as source:
        assert source.snapshot_id == made.snapshot_id
        back = source.batches().read_all().sort_by("customer_id")
    assert back.to_pylist() == customers.to_pylist()


@pytest.mark.requirement("B2")
def test_running_twice_leaves_one_copy(catalog_config: dict[str, Any]) -> None:
    first = create_customers_table(catalog_config, rows=2_000)
    second = create_customers_table(catalog_config, rows=2_000)
    assert not second.written
    assert second.snapshot_id == first.snapshot_id
    with IcebergSource(catalog_config, CUSTOMERS_TABLE) as source:
        assert source.batches(columns=["customer_id"]).read_all().num_rows == 2_000


@pytest.mark.requirement("B2")
def test_another_generation_replaces_the_rows(catalog_config: dict[str, Any]) -> None:
    create_customers_table(catalog_config, rows=2_000)
    resized = create_customers_table(catalog_config, rows=500)
    assert resized.written and resized.rows == 500
    retyped = create_customers_table(catalog_config, rows=300, money="float64")
    assert retyped.rows == 300
    with IcebergSource(catalog_config, CUSTOMERS_TABLE) as source:
        table = source.batches().read_all()
    assert table.num_rows == 300
    assert table.schema.field("lifetime_value").type == pa.float64()


def test_a_table_it_did_not_create_is_left_alone(catalog_config: dict[str, Any]) -> None:
    catalog = open_catalog(catalog_config, create=True)
    catalog.create_namespace("gold")
    catalog.create_table("gold.customers", pa.schema([("id", pa.int64())])).append(
        pa.table({"id": pa.array([1], pa.int64())})
    )
    catalog.close()
    with pytest.raises(SourceError, match="was not created by floe's quickstart"):
        create_customers_table(catalog_config)
    with IcebergSource(catalog_config, "gold.customers") as source:
        assert source.columns == ["id"] and source.row_count == 1
