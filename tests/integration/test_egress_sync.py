"""Incremental sync end to end: only what changed is sent, Iceberg-snapshot-aware, with
modes upsert and mirror, dry runs, and the mass-delete guard. Real Iceberg SQL catalog,
PostgreSQL, SQLite and a local HTTP server, through the CLI.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from floe_core.iceberg.catalog import open_catalog

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import FloeProject, Recorder

PG_DEST = """\
- name: warehouse
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  primary_key: [customer_id]
  sync_mode: {mode}
  config: {{table: customers, schema: {schema}, mode: upsert}}
  field_mapping: {{lifetime_value: ltv}}
  batch_size: 50
"""

REST_DEST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  primary_key: [customer_id]
  config: {path: /contacts, method: POST, body: array}
  batch_size: 25
"""

SQLITE_DEST = """\
- name: app
  sink_type: sql_database
  connection_secret_ref: app-db
  source_table: gold.customers
  primary_key: [customer_id]
  config: {table: customers, mode: upsert}
  batch_size: 40
"""


def _table(project: FloeProject) -> Any:
    return open_catalog(project.catalog).load_table(("gold", "customers"))


def _change_orders(project: FloeProject, ids: set[int]) -> None:
    """Rewrite the table in one overwrite snapshot, with ``orders_count + 1000`` for ``ids``."""
    table = _table(project)
    data = table.scan().to_arrow()
    hit = pc.is_in(data["customer_id"], pa.array(sorted(ids), pa.int64()))
    orders = pc.if_else(
        hit, pc.add(data["orders_count"], pa.scalar(1000, pa.int32())), data["orders_count"]
    )
    table.overwrite(
        data.set_column(data.schema.get_field_index("orders_count"), "orders_count", orders)
    )


def _delete(project: FloeProject, expression: str) -> None:
    _table(project).delete(delete_filter=expression)


def _append_copies(project: FloeProject, ids: list[int], shift: int) -> None:
    """Append the rows of ``ids`` again with ``customer_id + shift``."""
    table = _table(project)
    data = table.scan(row_filter=f"customer_id in ({','.join(map(str, ids))})").to_arrow()
    moved = pc.add(data["customer_id"], pa.scalar(shift, pa.int64()))
    table.append(data.set_column(0, data.schema.field(0), moved))


def _pg_project(project: FloeProject, h: Any, schema: str, mode: str) -> None:
    project.secret("pg", url=h.pg_url)
    project.write(PG_DEST.format(schema=schema, mode=mode))


def _run(project: FloeProject, h: Any, *args: str) -> tuple[int, dict[str, Any]]:
    result = project.cli("egress", "run", *args, "--spec", project.spec, "--json")
    [receipt] = h.json_receipts(result)
    return result.exit_code, receipt


def test_upsert_into_postgres_sends_nothing_twice_and_only_the_changed_rows(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    project = make_project(rows=200)
    _pg_project(project, h, pg_schema, "upsert")

    code, first = _run(project, h, "warehouse")
    assert code == 0, first
    assert (first["sync"]["inserted"], first["sync"]["updated"]) == (200, 0)
    assert first["sync"]["read_path"] == "full_scan"
    assert len(h.pg_rows(pg_schema, "customers", "customer_id")) == 200

    code, second = _run(project, h, "warehouse")
    assert code == 0
    assert second["rows_delivered"] == 0 and second["bytes_transmitted"] == 0
    assert second["sync"]["read_path"] == "up_to_date"
    assert second["sync"]["files_read"] == 0
    assert second["sync"]["sent"] == 0

    changed = set(range(1, 201, 10))  # 10% of the rows, in a new overwrite snapshot
    _change_orders(project, changed)
    code, third = _run(project, h, "warehouse")
    assert code == 0, third
    sync = third["sync"]
    assert (sync["inserted"], sync["updated"], sync["unchanged"], sync["deleted"]) == (
        0,
        20,
        180,
        0,
    )
    # the overwrite replaced the table's one data file: it is read, and the old one's keys
    assert sync["read_path"] == "changed"
    assert (sync["files_read"], sync["files_total"], sync["files_removed"]) == (1, 1, 1)
    assert sync["snapshot_from"] == second["snapshot_id"]
    assert sync["snapshot_to"] == third["snapshot_id"] != second["snapshot_id"]
    assert third["rows_delivered"] == 20
    rows = {r["customer_id"]: r for r in h.pg_rows(pg_schema, "customers", "customer_id")}
    source = {r["customer_id"]: r for r in project.source_rows()}
    assert all(rows[i]["orders_count"] == source[i]["orders_count"] for i in source)
    assert all(rows[i]["orders_count"] >= 1000 for i in changed)


def test_an_up_to_date_run_opens_no_connection_to_the_destination(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = make_project(rows=50)
    http_server.token = "tok-idle-5150"
    project.secret("crm-api", token=http_server.token, base_url=http_server.url)
    project.write(
        REST_DEST.replace("  batch_size: 25", "  batch_size: 25\n  retry_config: {max_attempts: 1}")
    )
    code, first = _run(project, h, "crm")
    assert code == 0, first
    http_server.requests.clear()
    http_server.fail_with = 503  # the API is down now

    code, idle = _run(project, h, "crm")
    assert code == 0, idle  # decided from the snapshot id and the state: no sink was built
    assert idle["status"] == "success"
    assert idle["sync"]["read_path"] == "up_to_date" and idle["sync"]["sent"] == 0
    assert http_server.requests == []  # not one request, not even a credential check

    _change_orders(project, {1})  # something to send: the sink is built, and the API fails
    result = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")
    assert result.exit_code != 0
    assert "503" in result.output


def test_mirror_deletes_exactly_the_rows_gone_from_the_source(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    project = make_project(rows=200)
    _pg_project(project, h, pg_schema, "mirror")
    assert _run(project, h, "warehouse")[0] == 0
    code, again = _run(project, h, "warehouse")
    assert code == 0 and again["sync"]["sent"] == 0

    _delete(project, "customer_id <= 10")
    code, preview = _run(project, h, "warehouse", "--dry-run")
    assert code == 0, preview
    assert len(h.pg_rows(pg_schema, "customers", "customer_id")) == 200  # nothing sent
    code, real = _run(project, h, "warehouse")
    assert code == 0, real
    for count in ("inserted", "updated", "deleted", "unchanged"):
        assert preview["sync"][count] == real["sync"][count], count
    assert real["sync"]["deleted"] == 10
    assert real["sync"]["unchanged"] == 190
    assert preview["sync"]["samples"]["delete"][0] == {"customer_id": 1}
    ids = [r["customer_id"] for r in h.pg_rows(pg_schema, "customers", "customer_id")]
    assert ids == list(range(11, 201))


def test_mirror_refuses_a_mass_delete_unless_allowed(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    project = make_project(rows=100)
    _pg_project(project, h, pg_schema, "mirror")
    assert _run(project, h, "warehouse")[0] == 0
    _delete(project, "customer_id <= 60")

    result = project.cli("egress", "run", "warehouse", "--spec", project.spec)
    assert result.exit_code == 1
    assert "would delete 60 of the 100 key(s)" in result.output
    assert "--allow-deletes" in result.output
    assert len(h.pg_rows(pg_schema, "customers", "customer_id")) == 100

    code, allowed = _run(project, h, "warehouse", "--allow-deletes")
    assert code == 0, allowed
    assert allowed["sync"]["deleted"] == 60
    ids = [r["customer_id"] for r in h.pg_rows(pg_schema, "customers", "customer_id")]
    assert ids == list(range(61, 101))


def test_mirror_refuses_to_empty_the_destination_when_the_source_is_empty(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    project = make_project(rows=30)
    _pg_project(project, h, pg_schema, "mirror")
    assert _run(project, h, "warehouse")[0] == 0
    _delete(project, "customer_id >= 0")
    result = project.cli("egress", "run", "warehouse", "--spec", project.spec)
    assert result.exit_code == 1
    assert "the source table is empty" in result.output
    assert len(h.pg_rows(pg_schema, "customers", "customer_id")) == 30


def test_a_dry_run_sends_nothing_creates_nothing_and_the_real_run_does_what_it_said(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    project = make_project(rows=120)
    _pg_project(project, h, pg_schema, "upsert")

    result = project.cli("egress", "run", "warehouse", "--dry-run", "--spec", project.spec)
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "inserted" in result.output
    code, preview = _run(project, h, "warehouse", "--dry-run")
    assert code == 0
    assert preview["sync"]["dry_run"] is True
    assert preview["sync"]["inserted"] == 120
    sample = preview["sync"]["samples"]["upsert (new)"]
    assert len(sample) == 5 and "ltv" in sample[0] and "lifetime_value" not in sample[0]
    with h_connect(h) as conn:  # no table was created: no write transaction was opened
        found = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
            (pg_schema,),
        ).fetchone()
    assert found == (0,)
    assert not (project.root / ".floe" / "state.db").exists()  # not even an empty state store
    history = project.cli("egress", "history", "--spec", project.spec, "--json")
    assert json.loads(history.stdout)["runs"] == []  # a dry run stores no receipt

    code, real = _run(project, h, "warehouse")
    assert code == 0
    assert real["sync"]["inserted"] == preview["sync"]["inserted"]
    assert real["rows_delivered"] == preview["sync"]["sent"] == 120


def h_connect(h: Any) -> Any:
    import psycopg

    return psycopg.connect(h.pg_dsn)


def test_rest_upsert_sends_nothing_twice_and_only_the_changed_rows(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = make_project(rows=100)
    http_server.token = "tok-sync-7781"
    project.secret("crm-api", token=http_server.token, base_url=http_server.url)
    project.write(REST_DEST)

    code, first = _run(project, h, "crm")
    assert code == 0, first
    assert len(http_server.records) == 100
    http_server.requests.clear()

    code, second = _run(project, h, "crm")
    assert code == 0
    assert http_server.requests == []
    assert second["sync"]["read_path"] == "up_to_date"

    changed = set(range(5, 101, 10))
    _change_orders(project, changed)
    code, third = _run(project, h, "crm")
    assert code == 0, third
    assert sorted(r["customer_id"] for r in http_server.records) == sorted(changed)
    assert all(r["orders_count"] >= 1000 for r in http_server.records)
    assert third["sync"]["updated"] == 10 and third["sync"]["unchanged"] == 90


def test_sqlite_reads_only_the_appended_files_and_rejects_every_row_of_a_duplicate_key(
    h: Any, make_project: Any
) -> None:
    project = make_project(rows=80)
    database = project.root / "app.db"
    project.secret("app-db", url=f"sqlite:///{database}")
    project.write(SQLITE_DEST)
    assert _run(project, h, "app")[0] == 0

    _append_copies(project, list(range(1, 31)), shift=1000)
    code, appended = _run(project, h, "app")
    assert code == 0, appended
    sync = appended["sync"]
    assert sync["read_path"] == "appended"
    assert sync["files_read"] == 1 and sync["files_total"] == 2
    assert (sync["inserted"], sync["updated"], sync["unchanged"]) == (30, 0, 0)
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (110,)

    _append_copies(project, [1001, 1002], shift=0)  # the same keys once more
    _append_copies(project, [5], shift=2000)
    code, duplicated = _run(project, h, "app")
    assert code == 3, duplicated
    # a key of the appended files that floe synced from another file: the whole table is
    # read to tell a duplicate from a key that came back, and every row of it is rejected
    assert duplicated["sync"]["read_path"] == "full_scan"
    assert "a duplicate key" in duplicated["sync"]["read_reason"]
    assert duplicated["sync"]["rejected_keys"] == 4
    assert duplicated["sync"]["inserted"] == 1
    assert any("not unique" in error for error in duplicated["errors"])
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (111,)


def test_rows_the_destination_refused_are_sent_again_and_nothing_else(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = make_project(rows=60)
    http_server.token = "tok-sync-7782"
    project.secret("crm-api", token=http_server.token, base_url=http_server.url)
    project.write(REST_DEST)
    http_server.reject_ids = {7, 42}

    code, first = _run(project, h, "crm")
    assert code == 3, first
    assert first["rows_rejected"] == 2
    assert sorted(r["customer_id"] for r in http_server.records) == [
        i for i in range(1, 61) if i not in (7, 42)
    ]
    http_server.requests.clear()
    http_server.reject_ids = set()

    code, second = _run(project, h, "crm")
    assert code == 0, second
    assert sorted(r["customer_id"] for r in http_server.records) == [7, 42]
    assert second["sync"]["read_path"] == "full_scan"  # the last delivery was not complete
    assert (second["sync"]["inserted"], second["sync"]["unchanged"]) == (2, 58)


def test_insert_and_update_modes_into_sqlite_send_only_their_part(
    h: Any, make_project: Any
) -> None:
    project = make_project(rows=50)
    database = project.root / "app.db"
    project.secret("app-db", url=f"sqlite:///{database}")
    project.write(
        SQLITE_DEST.replace(
            "primary_key: [customer_id]", "primary_key: [customer_id]\n  sync_mode: insert"
        )
    )
    assert _run(project, h, "app")[0] == 0
    code, unchanged = _run(project, h, "app")
    assert code == 0 and unchanged["sync"]["sent"] == 0

    _change_orders(project, {1, 2, 3})
    _append_copies(project, [10, 11], shift=500)
    code, inserted = _run(project, h, "app")
    assert code == 0, inserted
    assert (inserted["sync"]["inserted"], inserted["sync"]["updated"]) == (2, 0)
    with sqlite3.connect(database) as conn:
        orders = dict(conn.execute("SELECT customer_id, orders_count FROM customers"))
    assert len(orders) == 52 and all(orders[i] < 1000 for i in (1, 2, 3))

    # Switching the mode keeps the state: update sends the three changed rows, no others.
    project.write(
        SQLITE_DEST.replace(
            "primary_key: [customer_id]", "primary_key: [customer_id]\n  sync_mode: update"
        ).replace("mode: upsert}", "mode: upsert}")
    )
    code, updated = _run(project, h, "app")
    assert code == 0, updated
    assert (updated["sync"]["inserted"], updated["sync"]["updated"]) == (0, 3)
    with sqlite3.connect(database) as conn:
        orders = dict(conn.execute("SELECT customer_id, orders_count FROM customers"))
    assert all(orders[i] >= 1000 for i in (1, 2, 3))
    code, again = _run(project, h, "app")
    assert code == 0 and again["sync"]["sent"] == 0


def test_a_new_target_gets_every_row_and_a_rotated_credential_changes_nothing(
    h: Any, make_project: Any, pg_schema: str, pg_database: str
) -> None:
    import psycopg

    project = make_project(rows=60)
    project.secret("pg", url=h.pg_url, password="first-Pa55")  # trust auth: any password
    project.write(PG_DEST.format(schema=pg_schema, mode="upsert"))
    assert _run(project, h, "warehouse")[0] == 0

    project.secret("pg", url=h.pg_url, password="rotated-Pa55")
    project.write(
        PG_DEST.format(schema=pg_schema, mode="upsert").replace(
            "mode: upsert}", "mode: upsert, max_connections: 1}"
        )
    )
    code, rotated = _run(project, h, "warehouse")
    # The same target: a rotated password and a tuning setting change nothing.
    assert code == 0 and rotated["sync"]["read_path"] == "up_to_date"

    # Another table, then another database: the stored fingerprints describe where the rows
    # went before, so the new target gets every row (an incremental run would send none).
    project.write(
        PG_DEST.format(schema=pg_schema, mode="upsert").replace("customers,", "customers_v2,")
    )
    code, preview = _run(project, h, "warehouse", "--dry-run")
    assert code == 0 and preview["sync"]["inserted"] == 60
    code, new_table = _run(project, h, "warehouse")
    assert code == 0, new_table
    assert (new_table["sync"]["inserted"], new_table["rows_delivered"]) == (60, 60)
    assert "target changed" in new_table["sync"]["read_reason"]
    other = pg_database.replace("postgresql://", "postgresql+psycopg://", 1)
    project.secret("pg", url=other, password="rotated-Pa55")
    code, new_db = _run(project, h, "warehouse")
    assert code == 0 and new_db["rows_delivered"] == 60
    for dsn in (h.pg_dsn, pg_database):
        with psycopg.connect(dsn) as conn:
            count = conn.execute(f'SELECT count(*) FROM "{pg_schema}".customers_v2').fetchone()
        assert count == (60,)
    code, again = _run(project, h, "warehouse")
    assert code == 0 and again["sync"]["read_path"] == "up_to_date"


def test_progress_goes_through_the_rows_read_and_ends_where_its_total_said(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    # An overwrite that changes 20 of 200 rows: the run reads the new file (200 rows, 180 of
    # them unchanged) and the keys of the file it replaced. Its progress counts the 200 rows
    # from the start, and reaches 200 (not 20); the receipt counts the files of the snapshot
    # read apart from the removed one whose keys were read.
    project = make_project(rows=200)
    _pg_project(project, h, pg_schema, "upsert")
    assert _run(project, h, "warehouse")[0] == 0
    _change_orders(project, set(range(1, 201, 10)))

    done = h.run_floe("egress", "run", "warehouse", "--project", str(project.root), "--json")

    assert done.returncode == 0, done.stderr
    progress = [
        line
        for line in map(json.loads, done.stderr.splitlines())
        if line["event"] == "egress.progress"
    ]
    assert {line["rows_total"] for line in progress} == {200}
    assert progress[-1]["rows_done"] == 200 and progress[-1]["final"] is True
    [receipt] = h.json_receipts(done)
    sync = receipt["sync"]
    assert (sync["updated"], sync["unchanged"], receipt["rows_read"]) == (20, 180, 200)
    assert (sync["files_read"], sync["files_total"], sync["files_removed"]) == (1, 1, 1)
    shown = project.cli("egress", "show", "last", "--spec", project.spec, env={"COLUMNS": "100"})
    assert "1 of 1 data files, and the keys of 1 removed since" in shown.stdout


def test_full_refresh_sends_every_row_again_after_the_destination_was_emptied(
    h: Any, make_project: Any, pg_schema: str
) -> None:
    import psycopg

    project = make_project(rows=200)
    _pg_project(project, h, pg_schema, "mirror")
    assert _run(project, h, "warehouse")[0] == 0
    with psycopg.connect(h.pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'TRUNCATE "{pg_schema}".customers')  # emptied behind floe's back

    _, unchanged = _run(project, h, "warehouse")  # a sync sends what changed: nothing
    _, preview = _run(project, h, "warehouse", "--full-refresh", "--dry-run")
    _, still = _run(project, h, "warehouse")  # the dry run forgot nothing
    code, refreshed = _run(project, h, "warehouse", "--full-refresh")
    _, after = _run(project, h, "warehouse")

    assert unchanged["sync"]["read_path"] == "up_to_date" and unchanged["rows_delivered"] == 0
    assert (preview["sync"]["inserted"], preview["rows_delivered"]) == (200, 0)
    assert still["sync"]["read_path"] == "up_to_date"
    assert code == 0, refreshed
    sync = refreshed["sync"]
    assert (sync["read_path"], sync["read_reason"]) == (
        "full_scan",
        "--full-refresh: what was synced is forgotten",
    )
    assert (sync["inserted"], sync["updated"], sync["deleted"]) == (200, 0, 0)
    assert len(h.pg_rows(pg_schema, "customers", "customer_id")) == 200
    assert after["sync"]["read_path"] == "up_to_date"  # a sync again
