"""Idempotency keys are the same in every process: a re-run after a crash is a new process.

Each write here runs in its own Python process (``sys.executable``), as a re-run after a crash
or on another machine would. The same rows to the same destination must give the same batch
keys there (so the delivery log skips them, and a REST endpoint replays them), and different
rows must give different keys. Keys recomputed inside the test process could not tell a
per-process ingredient (a random salt, a memory address, ``hash()``) from a deterministic one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# Writes rows ``start .. start+count-1`` (value ``<tag><id>``) with the plugin's engine, and
# prints the result and every idempotency key the sink was handed, in the order sent.
_WRITE = """
import json, sys
import pyarrow as pa
from floe_core.plugins import SinkConfig
from floe_ingestion_dlt import DltIngestionPlugin

spec = json.loads(sys.argv[1])
plugin = DltIngestionPlugin()
sink = plugin.create_sink(
    SinkConfig(
        spec["sink_type"],
        spec["connection"],
        batch_size=spec["batch_size"],
        destination_name="dest",
    )
)
keys = []
send = sink.send

def recording_send(payload, key):
    keys.append(key)
    return send(payload, key)

sink.send = recording_send
ids = list(range(spec["start"], spec["start"] + spec["count"]))
rows = pa.table({"id": pa.array(ids, pa.int64()), "v": [f"{spec['tag']}{i}" for i in ids]})
try:
    result = plugin.write(sink, rows)
finally:
    sink.dispose()
print(json.dumps({
    "success": result.success,
    "errors": result.errors,
    "rows_delivered": result.rows_delivered,
    "write_key": result.idempotency_key,
    "keys": keys,
}))
"""


def _write_in_new_process(
    sink_type: str,
    connection: dict[str, Any],
    *,
    count: int,
    start: int = 0,
    tag: str = "v",
    batch_size: int = 10,
) -> dict[str, Any]:
    spec = {
        "sink_type": sink_type,
        "connection": connection,
        "batch_size": batch_size,
        "start": start,
        "count": count,
        "tag": tag,
    }
    done = subprocess.run(
        [sys.executable, "-c", _WRITE, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["success"], outcome["errors"]
    return outcome


def _scalars(url: str, sql: str) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


@pytest.mark.requirement("B5")
@pytest.mark.parametrize("sql_backend_url", ["sqlite", "postgresql"], indirect=True)
def test_an_append_rerun_in_a_new_process_finds_its_batches_in_the_delivery_log(
    sql_backend_url: tuple[str, str, str | None],
) -> None:
    _, url, schema = sql_backend_url
    connection = {"url": url, "table": "events", "mode": "append"}
    if schema:
        connection["schema"] = schema
    where = f'"{schema}".' if schema else ""

    first = _write_in_new_process("sql_database", connection, count=35)
    logged = _scalars(url, f"SELECT idempotency_key FROM {where}_floe_delivery_log")
    rerun = _write_in_new_process("sql_database", connection, count=35)

    assert len(first["keys"]) == 4 and sorted(logged) == sorted(first["keys"])
    assert rerun["keys"] == first["keys"]
    assert rerun["write_key"] == first["write_key"]
    # The re-run's batches were found in the log and skipped: every row is there once.
    ids = _scalars(url, f"SELECT id FROM {where}events ORDER BY id")
    assert ids == list(range(35))
    assert _scalars(url, f"SELECT count(*) FROM {where}_floe_delivery_log") == [4]

    # Other rows are other batches: new keys, appended.
    other = _write_in_new_process("sql_database", connection, count=35, tag="w")
    assert set(other["keys"]).isdisjoint(first["keys"])
    assert other["write_key"] != first["write_key"]
    assert _scalars(url, f"SELECT count(*) FROM {where}events") == [70]


@pytest.mark.requirement("B5")
def test_upsert_batch_keys_are_the_same_in_a_new_process(
    sql_pg_schema: str, sql_rows: Callable[..., Any]
) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    connection = {
        "url": PG_URL,
        "table": table,
        "schema": sql_pg_schema,
        "mode": "upsert",
        "primary_key": ["id"],
    }

    first = _write_in_new_process("sql_database", connection, count=25)
    rerun = _write_in_new_process("sql_database", connection, count=25)
    changed = _write_in_new_process("sql_database", connection, count=25, tag="w")

    assert len(first["keys"]) == 3 and len(set(first["keys"])) == 3
    assert rerun["keys"] == first["keys"]
    assert rerun["write_key"] == first["write_key"]
    assert not set(changed["keys"]) & set(first["keys"])
    assert changed["write_key"] != first["write_key"]
    assert sql_rows(PG_URL, table, ["id", "v"], schema=sql_pg_schema) == [
        (i, f"w{i}") for i in range(25)
    ]


@pytest.mark.requirement("B5")
def test_rest_idempotency_key_headers_are_the_same_from_a_new_process(api_server: Any) -> None:
    connection = {"base_url": api_server.base_url, "path": "/v1/contacts"}

    first = _write_in_new_process("rest_api", connection, count=45, batch_size=10)
    sent_first = [r.idempotency_key for r in api_server.data_requests]
    rerun = _write_in_new_process("rest_api", connection, count=45, batch_size=10)
    sent_rerun = [r.idempotency_key for r in api_server.data_requests][len(sent_first) :]

    assert len(set(sent_first)) == 5 and sorted(sent_first) == sorted(first["keys"])
    assert sorted(sent_rerun) == sorted(sent_first)
    assert rerun["write_key"] == first["write_key"]
    # The API recognised every batch of the re-run and applied none of them twice.
    assert api_server.replays == 5
    assert sorted(row["id"] for row in api_server.rows) == list(range(45))

    changed = _write_in_new_process("rest_api", connection, count=45, batch_size=10, tag="w")
    assert set(changed["keys"]).isdisjoint(sent_first)
    assert len(api_server.rows) == 90 and api_server.replays == 5
