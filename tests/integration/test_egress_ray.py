"""``floe egress run`` with ``executor: {type: ray}``: one destination's delivery fanned out
over Ray tasks on a local Ray (2 CPUs, started here), exactly once, with one receipt.

One Ray session and one 1M-row, multi-file table serve the whole module (both are slow to
make); each test has its own project, destination table and state store.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import pytest
from floe_core.demo.data import create_customers_table
from floe_core.iceberg.source import IcebergSource

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import FloeProject, Recorder

ROWS = 1_000_000
#: ``gold.small``: SMALL_ROWS rows in SMALL_FILES data files, for the worker-kill test.
SMALL_ROWS, SMALL_FILES = 200_000, 4

PG_DEST = """\
- name: warehouse
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  config: {{table: {table}, schema: {schema}, mode: {mode}}}
  batch_size: 50000
"""

REST_DEST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {path: /contacts, method: POST, body: array, max_concurrent_requests: 2}
  batch_size: 10000
  retry_config: {max_attempts: 4, initial_backoff_seconds: 0.05, jitter: false}
"""

RAY = "executor: {type: ray, max_tasks: 4}\n"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A SQL catalog holding ``gold.customers`` (1M rows in several data files) and
    ``gold.small`` (200k rows in 4 files)."""
    root = tmp_path_factory.mktemp("ray-catalog")
    config = {
        "type": "sql",
        "name": "it",
        "uri": f"sqlite:///{root / 'catalog.db'}",
        "warehouse": (root / "warehouse").as_uri(),
    }
    create_customers_table(config, rows=ROWS)
    with IcebergSource(config, "gold.customers") as source:
        assert len(source.plan_data_files()) >= 4, "the table must have several data files"
    _small_table(config)
    return config


def _small_table(config: dict[str, Any]) -> None:
    import pyarrow as pa
    from floe_core.demo.data import customers_reader
    from floe_core.iceberg.catalog import open_catalog

    catalog = open_catalog(config)
    try:
        rows = customers_reader(SMALL_ROWS).read_all()
        table = catalog.create_table(("gold", "small"), rows.schema)
        step = SMALL_ROWS // SMALL_FILES
        for start in range(0, SMALL_ROWS, step):  # one append, one data file
            table.append(pa.Table.from_batches(rows.slice(start, step).to_batches()))
    finally:
        catalog.close()


def _project(tmp_path: Path, catalog: dict[str, Any], name: str) -> FloeProject:
    from .conftest import FloeProject

    root = tmp_path / name
    root.mkdir()
    catalog_yaml = (
        f"catalog:\n  type: sql\n  name: it\n  uri: {catalog['uri']}\n"
        f"  warehouse: {catalog['warehouse']}\n"
    )
    return FloeProject(root, catalog, catalog_yaml=catalog_yaml)


def _pg_count(h: Any, schema: str, table: str) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(h.pg_dsn) as conn:
        total, distinct = conn.execute(
            f'SELECT count(*), count(DISTINCT customer_id) FROM "{schema}"."{table}"'
        ).fetchone() or (0, 0)
    return int(total), int(distinct)


@pytest.mark.requirement("B13")
def test_a_million_rows_to_postgresql_through_ray_tasks_equal_a_local_run(
    h: Any, ray_session: Path, catalog: dict[str, Any], tmp_path: Path, pg_schema: str
) -> None:
    project = _project(tmp_path, catalog, "pg")
    project.secret("pg", url=h.pg_url)
    project.write(
        PG_DEST.format(schema=pg_schema, table="by_ray", mode="append"), manifest_extra=RAY
    )

    result = project.cli("egress", "run", "warehouse", "--spec", project.spec, "--json")

    assert result.exit_code == 0, result.output
    [receipt] = h.json_receipts(result)
    assert receipt["status"] == "success"
    assert receipt["rows_read"] == receipt["rows_delivered"] == ROWS
    assert receipt["rows_skipped"] == receipt["rows_rejected"] == 0
    assert _pg_count(h, pg_schema, "by_ray") == (ROWS, ROWS)
    assert "task" not in " ".join(receipt["errors"])

    # The same table, the same destination settings, delivered by the local executor.
    project.write(
        PG_DEST.format(schema=pg_schema, table="by_local", mode="append"), manifest_extra=RAY
    )
    local = project.cli(
        "egress", "run", "warehouse", "--spec", project.spec, "--json", "--executor", "local"
    )
    assert local.exit_code == 0, local.output
    [local_receipt] = h.json_receipts(local)
    assert local_receipt["rows_delivered"] == ROWS
    assert local_receipt["bytes_transmitted"] == receipt["bytes_transmitted"]
    with __import__("psycopg").connect(h.pg_dsn) as conn:
        difference = conn.execute(
            f'(SELECT * FROM "{pg_schema}".by_ray EXCEPT ALL SELECT * FROM "{pg_schema}".by_local)'
            f' UNION ALL (SELECT * FROM "{pg_schema}".by_local EXCEPT ALL '
            f'SELECT * FROM "{pg_schema}".by_ray)'
        ).fetchall()
    assert difference == []


@pytest.mark.requirement("B13")
def test_a_million_rows_to_the_rest_server_through_ray_tasks(
    h: Any, ray_session: Path, catalog: dict[str, Any], tmp_path: Path, http_server: Recorder
) -> None:
    project = _project(tmp_path, catalog, "rest")
    http_server.token = "tok-ray-4410"
    project.secret("crm-api", token=http_server.token, base_url=http_server.url)
    project.write(REST_DEST, manifest_extra=RAY)

    result = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")

    assert result.exit_code == 0, result.output
    [receipt] = h.json_receipts(result)
    assert receipt["status"] == "success"
    assert receipt["rows_delivered"] == ROWS
    ids = [record["customer_id"] for record in http_server.records]
    assert len(ids) == len(set(ids)) == ROWS
    keys = {request["headers"]["Idempotency-Key"] for request in http_server.requests}
    assert len(keys) == len(http_server.requests)  # no batch sent twice
    assert http_server.token not in result.output
    # The Secret reached the workers sealed: nothing Ray wrote down holds it in clear.
    leaked = [
        path
        for path in ray_session.rglob("*")
        if path.is_file() and http_server.token.encode() in path.read_bytes()
    ]
    assert leaked == []


@pytest.mark.requirement("B13")
def test_tasks_whose_workers_are_killed_are_retried_and_send_each_row_once(
    h: Any, ray_session: Path, catalog: dict[str, Any], tmp_path: Path, http_server: Recorder
) -> None:
    project = _project(tmp_path, catalog, "kill")
    http_server.token = "tok-ray-kill"
    project.secret("crm-api", token=http_server.token, base_url=http_server.url)
    destination = REST_DEST.replace("gold.customers", "gold.small").replace("10000", "5000")
    project.write(destination, manifest_extra=RAY)
    # 40 batches: the first 12 go through; later ones hang until a worker has been killed.
    http_server.accept_limit, http_server.hang_over_limit = 12, True
    killed: list[int] = []

    def kill_the_workers_then_release() -> None:
        h.wait_for(lambda: http_server.waiting >= 2, "requests waiting on the server")
        time.sleep(0.5)  # the answered batches' journal entries are written
        # Every worker delivering now: between them they hold batches the server accepted.
        for pid in _delivering_workers():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        http_server.accept_limit = None
        http_server.release_hung.set()  # the hung requests get 503 and are retried

    killer = threading.Thread(target=kill_the_workers_then_release, daemon=True)
    killer.start()
    result = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")
    killer.join(timeout=60)

    assert killed, "no Ray worker was running a delivery task"
    assert result.exit_code == 0, result.output
    [receipt] = h.json_receipts(result)
    assert receipt["status"] == "success"
    # The killed attempt's confirmed batches are skipped by its retry, not sent again.
    assert receipt["rows_read"] == SMALL_ROWS
    assert receipt["rows_delivered"] + receipt["rows_skipped"] == SMALL_ROWS
    assert receipt["rows_skipped"] > 0
    # What the destination applies, one request per idempotency key: each row once.
    applied = {r["headers"]["Idempotency-Key"]: r["body"] for r in http_server.requests}
    ids = [record["customer_id"] for body in applied.values() for record in body]
    assert len(ids) == len(set(ids)) == SMALL_ROWS


def _delivering_workers() -> list[int]:
    """PIDs of Ray worker processes running a delivery task (Ray titles them by task)."""
    pids = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if cmdline.startswith("ray::deliver_task") or "ray::floe-" in cmdline:
            pids.append(int(process.info["pid"]))
    return pids
