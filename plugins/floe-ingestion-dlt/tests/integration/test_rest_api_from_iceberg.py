"""10,000 awkward rows from a real Iceberg table to the misbehaving HTTP server, exactly once."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from floe_core.iceberg.source import IcebergSource
from floe_core.plugins import SinkConfig
from floe_ingestion_dlt import DltIngestionPlugin
from pyiceberg.catalog import load_catalog

ROWS = 10_000


def _awkward(rows: int) -> pa.Table:
    rng = random.Random(3)
    base = dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    ids = list(range(rows))
    return pa.table(
        {
            "id": pa.array([i + 2**53 for i in ids], pa.int64()),
            "name": [None if i % 13 == 0 else f'Ünïcødé {i} 東京 😀 "q" \\ \n\t' for i in ids],
            "bio": ["x" * 20_000 + str(i) if i % 500 == 0 else "" for i in ids],
            "amount": pa.array(
                [
                    None if i % 17 == 0 else Decimal(rng.randint(-(10**12), 10**12)) / 10**4
                    for i in ids
                ],
                pa.decimal128(18, 4),
            ),
            "ratio": [None if i % 19 == 0 else rng.uniform(-1e6, 1e6) for i in ids],
            "active": [None if i % 23 == 0 else i % 2 == 0 for i in ids],
            "seen_at": pa.array(
                [
                    None if i % 29 == 0 else base + dt.timedelta(seconds=i * 7919, microseconds=i)
                    for i in ids
                ],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )


def _as_json(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if out["amount"] is not None:
        out["amount"] = str(out["amount"])
    if out["seen_at"] is not None:
        out["seen_at"] = out["seen_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return out


@pytest.mark.requirement("B5")
@pytest.mark.requirement("R9")
def test_iceberg_rows_reach_the_api_exactly_once_with_every_value(
    api_server: Any, tmp_path: Path
) -> None:
    catalog_config = {
        "type": "sql",
        "name": "lake",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": (tmp_path / "warehouse").as_uri(),
    }
    plugin = DltIngestionPlugin()
    catalog = load_catalog("lake", **plugin.get_source_config(catalog_config))
    catalog.create_namespace("gold")
    data = _awkward(ROWS)
    catalog.create_table("gold.customers", schema=data.schema).append(data)

    source = IcebergSource(catalog_config, "gold.customers")
    api_server.chaos(seed=5, p_429=0.05, p_500=0.05, p_drop=0.05, p_drop_after=0.1)
    config = SinkConfig(
        "rest_api",
        {"base_url": api_server.base_url, "path": "/v1/customers", "max_concurrent_requests": 4},
        batch_size=500,
        field_mapping={"bio": "biography"},
        destination_name="crm",
        retry_config={"max_attempts": 30, "initial_backoff_seconds": 0, "max_backoff_seconds": 0},
    )
    with plugin.create_sink(config) as sink:
        result = plugin.write(sink, source.batches())

    assert result.success, result.errors
    assert result.rows_delivered == ROWS
    assert sorted(api_server.batch_sizes()) == [500] * (ROWS // 500)
    received = {row["id"]: row for row in api_server.rows}
    assert len(api_server.rows) == ROWS == len(received)
    for row in data.to_pylist():
        expected = _as_json(row)
        expected["biography"] = expected.pop("bio")
        assert received[row["id"]] == expected
