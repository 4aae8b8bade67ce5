"""The benchmark's data generator and destination checks (no timing is asserted here)."""

from __future__ import annotations

import uuid

import orjson
import pyarrow as pa
import pytest

from benchmarks import pg, verify
from benchmarks.data import SCHEMA, customers
from benchmarks.servers import HttpServer


def test_generator_is_deterministic_and_has_the_ten_columns() -> None:
    first, again = customers(2_000), customers(2_000)
    assert first.equals(again)
    assert first.schema == SCHEMA
    assert [str(t) for t in SCHEMA.types] == [
        "int64",
        "string",
        "string",
        "string",
        "string",
        "double",
        "int32",
        "bool",
        "timestamp[us, tz=UTC]",
        "string",
    ]
    assert first.column("id").to_pylist() == list(range(1, 2_001))
    assert 0 < first.column("country").null_count < 200


def test_a_new_version_changes_every_row_but_keeps_the_key() -> None:
    old, new = customers(500, 0).to_pylist(), customers(500, 1).to_pylist()
    assert [r["id"] for r in old] == [r["id"] for r in new]
    pairs = list(zip(old, new, strict=True))
    for col in ("lifetime_value", "updated_at"):
        assert all(a[col] != b[col] for a, b in pairs), col
    assert sum(a["email"] != b["email"] for a, b in pairs) > 480


def test_checksum_of_json_records_matches_the_arrow_data() -> None:
    table = customers(3_000)
    records = orjson.loads(orjson.dumps(table.to_pylist()))
    verify.check(verify.from_arrow(table), verify.from_records(records), "json")


@pytest.mark.parametrize(
    "damage",
    ["drop_row", "duplicate_row", "change_string", "shift_timestamp", "change_cents"],
)
def test_checksum_catches_a_wrong_destination(damage: str) -> None:
    records = customers(200).to_pylist()
    expected = verify.from_records(records)
    if damage == "drop_row":
        records.pop()
    elif damage == "duplicate_row":
        records.append(dict(records[0]))
    elif damage == "change_string":
        records[7]["last_name"] = records[7]["last_name"].upper()
    elif damage == "shift_timestamp":
        records[3]["updated_at"] = records[3]["updated_at"].replace(microsecond=0)
    else:
        records[5]["lifetime_value"] += 0.01
    with pytest.raises(verify.VerificationError):
        verify.check(expected, verify.from_records(records), "damaged")


def test_postgres_checksum_matches_the_arrow_data() -> None:
    table = customers(2_000)
    name = f"bench_smoke_{uuid.uuid4().hex[:8]}"
    with pg.connect() as conn:
        pg.create_customers(conn, name)
        try:
            pg.copy_arrow(conn, name, table)
            actual = verify.from_postgres(conn, name)
        finally:
            conn.execute(f"DROP TABLE {name}")
    verify.check(verify.from_arrow(table), actual, "postgres")


def test_http_server_counts_what_it_received() -> None:
    table = customers(1_000)
    with HttpServer(slow_ms=1) as server:
        import httpx

        with httpx.Client(base_url=server.base_url) as client:
            for part in table.to_batches(max_chunksize=400):
                body = orjson.dumps({"inputs": part.to_pylist()})
                client.post(
                    "/slow/x", content=body, headers={"Idempotency-Key": str(part.num_rows)}
                )
        stats = server.stats()
        server.reset()
        assert server.stats()["requests"] == 0
    assert stats["requests"] == 3
    assert stats["idempotency_keys"] == 2  # 400, 400, 200 rows
    verify.check(
        verify.from_arrow(pa.Table.from_batches(table.to_batches())), stats["checksum"], "http"
    )
