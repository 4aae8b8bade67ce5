"""Incremental sync reads only what Iceberg's snapshot history says changed: after a delete
or an overwrite that rewrote some data files, the added files whole and the removed files'
keys; the receipt says so. Modes insert, update and mirror into MariaDB. Real Iceberg SQL
catalog, PostgreSQL and MariaDB, through the CLI.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from floe_core.iceberg.catalog import open_catalog

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import FloeProject

PG_DEST = """\
- name: warehouse
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  primary_key: [customer_id]
  sync_mode: {mode}
  config: {{table: customers, schema: {schema}, mode: upsert}}
  batch_size: 50
"""


def _table(project: FloeProject) -> Any:
    return open_catalog(project.catalog).load_table(("gold", "customers"))


def _append_copies(project: FloeProject, shift: int) -> None:
    """Append customers 1..100 again as ``customer_id + shift``: one more data file."""
    table = _table(project)
    data = table.scan(row_filter="customer_id <= 100").to_arrow()
    moved = pc.add(data["customer_id"], pa.scalar(shift, pa.int64()))
    table.append(data.set_column(0, data.schema.field(0), moved))


def _three_file_project(h: Any, make_project: Any, schema: str, mode: str) -> FloeProject:
    """Customers 1..100, 1001..1100 and 2001..2100, one data file each, all delivered."""
    project: FloeProject = make_project(rows=100)
    _append_copies(project, 1000)
    _append_copies(project, 2000)
    project.secret("pg", url=h.pg_url)
    project.write(PG_DEST.format(schema=schema, mode=mode))
    code, first = _run(project, h)
    assert code == 0, first
    assert first["sync"]["inserted"] == 300 and first["sync"]["files_total"] == 3
    return project


def _run(project: FloeProject, h: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = project.cli("egress", "run", "warehouse", *args, "--spec", project.spec, "--json")
    [receipt] = h.json_receipts(result)
    return result.exit_code, receipt


def _ids(h: Any, schema: str) -> list[int]:
    return [r["customer_id"] for r in h.pg_rows(schema, "customers", "customer_id")]


def test_a_delete_reads_the_rewritten_file_and_the_keys_it_replaced_and_mirrors_them(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    project = _three_file_project(h, make_project, pg_schema, "mirror")

    _table(project).delete(delete_filter="customer_id >= 2001 and customer_id <= 2010")
    code, preview = _run(project, h, "--dry-run")
    assert code == 0, preview
    code, real = _run(project, h)
    assert code == 0, real
    sync = real["sync"]
    assert sync["read_path"] == "changed"
    assert "1 data file(s) added and 1 removed" in sync["read_reason"]
    # of 3 files, the one rewritten, and the keys of the one it replaced
    assert (sync["files_read"], sync["files_total"], sync["files_removed"]) == (1, 3, 1)
    assert (sync["deleted"], sync["unchanged"], sync["inserted"], sync["updated"]) == (10, 90, 0, 0)
    for count in ("inserted", "updated", "deleted", "unchanged", "files_read"):
        assert preview["sync"][count] == sync[count], count
    assert real["rows_delivered"] == 10
    expected = [*range(1, 101), *range(1001, 1101), *range(2011, 2101)]
    assert _ids(h, pg_schema) == expected

    code, again = _run(project, h)
    assert code == 0 and again["sync"]["read_path"] == "up_to_date"

    # the history keeps each run's counts, snapshot range and read path
    history = project.cli("egress", "history", "--spec", project.spec, "--json")
    runs = {run["run_id"]: run for run in json.loads(history.stdout)["runs"]}
    kept = runs[real["run_id"]]["sync"]
    for key in ("deleted", "unchanged", "read_path", "files_read", "snapshot_from", "snapshot_to"):
        assert kept[key] == sync[key], key
    text = project.cli("egress", "history", "--spec", project.spec, env={"COLUMNS": "80"})
    assert text.exit_code == 0, text.output
    assert "incremental syncs:" in text.output
    line = next(line for line in text.output.splitlines() if line.startswith(real["run_id"][:8]))
    assert "mirror: 0 inserted, 0 updated, 10 deleted, 90 unchanged;" in line
    assert max(len(line) for line in text.output.splitlines()) <= 80
    assert f"-> {real['snapshot_id']}" in text.output
    wanted = "read changed (1 of 3 data files, and the keys of 1 removed since)"
    assert wanted in " ".join(text.output.split())


def test_an_overwrite_of_some_rows_reads_only_the_files_it_touched(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    project = _three_file_project(h, make_project, pg_schema, "mirror")
    table = _table(project)
    rows = table.scan(row_filter="customer_id in (1001, 1002, 1003)").to_arrow()
    orders = pc.add(rows["orders_count"], pa.scalar(1000, pa.int32()))
    changed = rows.set_column(rows.schema.get_field_index("orders_count"), "orders_count", orders)
    # 1003 leaves the table; 1001 and 1002 change
    table.overwrite(
        changed.filter(pc.less(changed["customer_id"], 1003)),
        overwrite_filter="customer_id in (1001, 1002, 1003)",
    )

    code, real = _run(project, h)
    assert code == 0, real
    sync = real["sync"]
    assert sync["read_path"] == "changed"
    # the rewrite of 1001..1100 and the file of the two new rows, and the old file's keys
    assert (sync["files_read"], sync["files_total"], sync["files_removed"]) == (2, 4, 1)
    assert (sync["updated"], sync["deleted"], sync["unchanged"], sync["inserted"]) == (2, 1, 97, 0)
    stored = {r["customer_id"]: r for r in h.pg_rows(pg_schema, "customers", "customer_id")}
    assert 1003 not in stored and len(stored) == 299
    assert stored[1001]["orders_count"] >= 1000 and stored[1002]["orders_count"] >= 1000
    assert stored[1004]["orders_count"] < 1000


def test_a_key_that_comes_back_is_sent_again_after_a_full_read(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    project = _three_file_project(h, make_project, pg_schema, "upsert")
    table = _table(project)
    back = table.scan(row_filter="customer_id = 2050").to_arrow()
    table.delete(delete_filter="customer_id = 2050")
    code, deleted = _run(project, h)  # upsert deletes nothing: the destination keeps 2050
    assert code == 0 and deleted["sync"]["sent"] == 0, deleted
    assert deleted["sync"]["read_path"] == "changed"

    orders = pc.add(back["orders_count"], pa.scalar(5000, pa.int32()))
    _table(project).append(
        back.set_column(back.schema.get_field_index("orders_count"), "orders_count", orders)
    )
    code, again = _run(project, h)
    assert code == 0, again
    assert again["sync"]["read_path"] == "full_scan"
    assert "came back" in again["sync"]["read_reason"]
    assert (again["sync"]["updated"], again["rows_rejected"]) == (1, 0)
    stored = {r["customer_id"]: r for r in h.pg_rows(pg_schema, "customers", "customer_id")}
    assert stored[2050]["orders_count"] >= 5000


MARIA_URL = "mysql+pymysql://root@127.0.0.1:3306"

MARIA_DEST = """\
- name: warehouse
  sink_type: sql_database
  connection_secret_ref: maria
  source_table: gold.customers
  primary_key: [customer_id]
  sync_mode: {mode}
  config: {{table: customers, mode: upsert}}
  batch_size: 40
"""


@pytest.fixture
def maria_db() -> Iterator[str]:
    """A fresh MariaDB database, dropped afterwards."""
    engine = sa.create_engine(f"{MARIA_URL}/test", connect_args={"connect_timeout": 5})
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.fail(
            f"MariaDB is not reachable at {MARIA_URL} ({exc.orig}); start the local databases "
            "with `bash scripts/services.sh`"
        )
    name = f"floe_sync_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        engine.dispose()


def _maria_orders(database: str) -> dict[int, int]:
    engine = sa.create_engine(f"{MARIA_URL}/{database}")
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT customer_id, orders_count FROM customers")
            return {int(key): int(value) for key, value in rows}
    finally:
        engine.dispose()


def test_insert_update_and_mirror_into_mariadb_send_exactly_their_rows(
    h: Any, make_project: Any, maria_db: str
) -> None:
    project: FloeProject = make_project(rows=100)
    project.secret("maria", url=f"{MARIA_URL}/{maria_db}")
    project.write(MARIA_DEST.format(mode="insert"))
    code, first = _run(project, h)
    assert code == 0, first
    assert first["sync"]["inserted"] == 100 and len(_maria_orders(maria_db)) == 100

    table = _table(project)
    rows = table.scan(row_filter="customer_id in (1, 2)").to_arrow()
    orders = pc.add(rows["orders_count"], pa.scalar(1000, pa.int32()))
    table.overwrite(
        rows.set_column(rows.schema.get_field_index("orders_count"), "orders_count", orders),
        overwrite_filter="customer_id in (1, 2)",
    )
    _append_copies(project, 500)  # 501..600, new keys
    code, inserted = _run(project, h)  # insert: the new keys only, the changed rows wait
    assert code == 0, inserted
    assert (inserted["sync"]["inserted"], inserted["sync"]["updated"]) == (100, 0)
    stored = _maria_orders(maria_db)
    assert len(stored) == 200 and stored[1] < 1000

    project.write(MARIA_DEST.format(mode="update"))
    code, updated = _run(project, h)
    assert code == 0, updated
    assert (updated["sync"]["inserted"], updated["sync"]["updated"]) == (0, 2)
    assert _maria_orders(maria_db)[1] >= 1000

    project.write(MARIA_DEST.format(mode="mirror"))
    _table(project).delete(delete_filter="customer_id >= 590")
    code, mirrored = _run(project, h)
    assert code == 0, mirrored
    assert mirrored["sync"]["deleted"] == 11
    assert sorted(_maria_orders(maria_db)) == [*range(1, 101), *range(501, 590)]


def test_with_a_postgresql_state_store_another_host_diffs_against_the_same_fingerprints(
    h: Any, make_project: Any, pg_schema: str, pg_database: str, tmp_path: Path
) -> None:
    env = {"FLOE_STATE_URL": pg_database}
    first: FloeProject = make_project(rows=100)
    first.secret("pg", url=h.pg_url)
    first.write(PG_DEST.format(schema=pg_schema, mode="mirror"))
    # the second host: its own project folder, the same catalog and state database
    catalog = first.catalog
    second = type(first)(  # conftest's FloeProject, which a test module cannot import
        tmp_path / "host2",
        catalog,
        catalog_yaml=(
            f"catalog:\n  type: sql\n  name: it\n  uri: {catalog['uri']}\n"
            f"  warehouse: {catalog['warehouse']}\n"
        ),
    )
    second.root.mkdir()
    second.secret("pg", url=h.pg_url)
    second.write(PG_DEST.format(schema=pg_schema, mode="mirror"))

    def run(project: FloeProject) -> dict[str, Any]:
        result = project.cli(
            "egress", "run", "warehouse", "--spec", project.spec, "--json", env=env
        )
        receipts: list[dict[str, Any]] = h.json_receipts(result)
        assert result.exit_code == 0 and len(receipts) == 1, receipts
        return receipts[0]

    assert run(first)["sync"]["inserted"] == 100
    assert not (first.root / ".floe" / "sync").exists()  # kept in the state database
    assert run(second)["sync"]["read_path"] == "up_to_date"
    _table(first).delete(delete_filter="customer_id <= 5")
    mirrored = run(second)
    assert (mirrored["sync"]["deleted"], mirrored["sync"]["inserted"]) == (5, 0)
    assert _ids(h, pg_schema) == list(range(6, 101))
    assert run(first)["sync"]["read_path"] == "up_to_date"
