"""Incremental sync on Ray: ``sync_mode`` upsert and mirror fanned out over Ray tasks (a local
Ray, 2 CPUs, one session for the module), against the local executor on the same table and
the same changes; a killed worker's task retried without sending a row twice; a table with
position delete files; the egress policy checked on the workers.

Each test has its own project and table: 120k customers in 4 data files (one append each), so
that a run plans 4 tasks. Real PostgreSQL, a real HTTP API on 127.0.0.1, a real Iceberg SQL
catalog, through the CLI.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from floe_core.demo.data import create_customers_table, customers_reader
from floe_core.iceberg.catalog import open_catalog

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import FloeProject, Recorder

pytestmark = pytest.mark.requirement("B13")

ROWS, FILES = 120_000, 4
RAY = "executor: {type: ray, max_tasks: 4}\n"

PG_DEST = """\
- name: {name}
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  primary_key: [customer_id]
  sync_mode: {mode}
  config: {{table: {name}, schema: {schema}, mode: upsert}}
  batch_size: 5000
"""

REST_DEST = """\
- name: {name}
  sink_type: rest_api
  connection_secret_ref: {name}-api
  source_table: gold.customers
  primary_key: [customer_id]
  sync_mode: mirror
  field_mapping: {{customer_id: id}}
  config:
    path: /contacts
    operations:
      delete: {{method: DELETE, path: "/contacts/{{id}}"}}
  batch_size: 2000
"""

#: What :func:`_change` does to the table, in three new snapshots.
UPDATED, INSERTED, DELETED = range(1, 301), range(ROWS + 1, ROWS + 201), range(60_001, 60_101)


def _project(tmp_path: Path, name: str = "proj") -> FloeProject:
    """A project whose ``gold.customers`` holds ROWS customers in FILES data files."""
    from .conftest import FloeProject

    root = tmp_path / name
    root.mkdir()
    catalog = {
        "type": "sql",
        "name": "it",
        "uri": f"sqlite:///{root / '.floe' / 'catalog.db'}",
        "warehouse": (root / ".floe" / "warehouse").as_uri(),
    }
    create_customers_table(catalog, rows=1)  # the catalog and its namespace
    rows = customers_reader(ROWS).read_all()
    cat = open_catalog(catalog)
    try:
        cat.drop_table(("gold", "customers"))
        table = cat.create_table(("gold", "customers"), rows.schema)
        step = ROWS // FILES
        for start in range(0, ROWS, step):
            table.append(rows.slice(start, step))
    finally:
        cat.close()
    return FloeProject(root, catalog)


def _table(project: FloeProject) -> Any:
    return open_catalog(project.catalog).load_table(("gold", "customers"))


def _change(project: FloeProject) -> None:
    """Three snapshots: an overwrite of UPDATED (orders_count + 1000), an append of INSERTED,
    a row delete of DELETED."""
    table = _table(project)
    updated = f"customer_id <= {UPDATED[-1]}"
    rows = table.scan(row_filter=updated).to_arrow()
    orders = pc.add(rows["orders_count"], pa.scalar(1000, pa.int32()))
    index = rows.schema.get_field_index("orders_count")
    table.overwrite(rows.set_column(index, "orders_count", orders), overwrite_filter=updated)
    extra = table.scan(row_filter=f"customer_id <= {len(INSERTED)}").to_arrow()
    ids = pc.add(extra["customer_id"], pa.scalar(INSERTED[0] - 1, pa.int64()))
    table.append(extra.set_column(0, extra.schema.field(0), ids))
    table.delete(f"customer_id >= {DELETED[0]} and customer_id <= {DELETED[-1]}")


def _run(project: FloeProject, h: Any, name: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = project.cli("egress", "run", name, *args, "--spec", project.spec, "--json")
    receipts = h.json_receipts(result)
    assert len(receipts) == 1, result.output
    return result.exit_code, receipts[0]


def _both(project: FloeProject, h: Any, ray: str, local: str) -> tuple[dict[str, Any], ...]:
    """Run destination ``ray`` on Ray and ``local`` with the local executor; both receipts."""
    code, by_ray = _run(project, h, ray)
    assert code == 0, by_ray
    code, by_local = _run(project, h, local, "--executor", "local")
    assert code == 0, by_local
    return by_ray, by_local


_COUNTS = ("inserted", "updated", "deleted", "unchanged", "rejected_keys", "sent")
_PLAN = ("read_path", "files_read", "files_total")


def _same_sync(by_ray: dict[str, Any], by_local: dict[str, Any]) -> dict[str, Any]:
    for key in (*_COUNTS, *_PLAN):
        assert by_ray["sync"][key] == by_local["sync"][key], key
    assert by_ray["rows_delivered"] == by_local["rows_delivered"]
    assert by_ray["rows_read"] == by_local["rows_read"]
    assert by_ray["status"] == by_local["status"] == "success"
    return dict(by_ray["sync"])


def _pg_difference(h: Any, schema: str, one: str, other: str) -> list[Any]:
    with psycopg.connect(h.pg_dsn) as conn:
        return conn.execute(
            f'(SELECT * FROM "{schema}".{one} EXCEPT ALL SELECT * FROM "{schema}".{other})'
            f' UNION ALL (SELECT * FROM "{schema}".{other} EXCEPT ALL '
            f'SELECT * FROM "{schema}".{one})'
        ).fetchall()


def _pg_ids(h: Any, schema: str, table: str) -> list[int]:
    with psycopg.connect(h.pg_dsn) as conn:
        rows = conn.execute(f'SELECT customer_id FROM "{schema}".{table} ORDER BY 1').fetchall()
    return [int(row[0]) for row in rows]


def _source_ids(project: FloeProject) -> list[int]:
    ids = _table(project).scan(selected_fields=("customer_id",)).to_arrow()["customer_id"]
    return sorted(ids.to_pylist())


# --- PostgreSQL, every sync_mode ----------------------------------------------------------------

#: Per mode: (inserted, updated, deleted) after :func:`_change`, and whether the destination
#: then holds the rows DELETED removed, the rows INSERTED added, and UPDATED's new values.
_EXPECTED = {
    "insert": ((200, 0, 0), True, True, False),
    "update": ((0, 300, 0), True, False, True),
    "upsert": ((200, 300, 0), True, True, True),
    "mirror": ((200, 300, 100), False, True, True),
}


@pytest.mark.parametrize("mode", list(_EXPECTED))
def test_a_sync_on_ray_sends_exactly_the_changes_and_equals_the_local_executor(
    h: Any, ray_session: Path, tmp_path: Path, pg_schema: str, mode: str
) -> None:
    """Both executors, step by step on the same table: a first run, an unchanged one, then an
    overwrite, an append and a row delete in three new snapshots. ``update`` sends no new key,
    so its destinations are first filled by an ``upsert`` run (switching mode keeps the state
    and reads every file once)."""
    project = _project(tmp_path)
    project.secret("pg", url=h.pg_url)

    def write(sync_mode: str) -> None:
        project.write(
            PG_DEST.format(name="by_ray", mode=sync_mode, schema=pg_schema)
            + PG_DEST.format(name="by_local", mode=sync_mode, schema=pg_schema),
            manifest_extra=RAY,
        )

    write("upsert" if mode == "update" else mode)
    first = _same_sync(*_both(project, h, "by_ray", "by_local"))
    assert (first["inserted"], first["read_path"], first["files_read"]) == (ROWS, "full_scan", 4)
    again = _same_sync(*_both(project, h, "by_ray", "by_local"))
    assert (again["read_path"], again["sent"], again["files_read"]) == ("up_to_date", 0, 0)

    _change(project)
    write(mode)
    code, preview = _run(project, h, "by_ray", "--dry-run")
    assert code == 0, preview
    by_ray, by_local = _both(project, h, "by_ray", "by_local")
    changed = _same_sync(by_ray, by_local)

    counts, keeps_deleted, has_inserted, has_updates = _EXPECTED[mode]
    assert changed["read_path"] == ("full_scan" if mode == "update" else "changed")
    assert (changed["inserted"], changed["updated"], changed["deleted"]) == counts
    assert by_ray["rows_delivered"] == sum(counts)
    for key in _COUNTS:  # the dry run (on the driver) said what the Ray run then did
        assert preview["sync"][key] == changed[key], key
    assert _pg_difference(h, pg_schema, "by_ray", "by_local") == []
    source = set(_source_ids(project))
    expected = (source | set(DELETED) if keeps_deleted else source) - (
        set() if has_inserted else set(INSERTED)
    )
    assert _pg_ids(h, pg_schema, "by_ray") == sorted(expected)
    with psycopg.connect(h.pg_dsn) as conn:
        orders = conn.execute(
            f'SELECT min(orders_count) FROM "{pg_schema}".by_ray WHERE customer_id <= 300'
        ).fetchone()
    assert orders is not None and (orders[0] >= 1000) is has_updates

    last = _same_sync(*_both(project, h, "by_ray", "by_local"))
    assert (last["read_path"], last["sent"]) == ("up_to_date", 0)


def test_a_mass_delete_on_ray_is_refused_before_anything_is_sent_unless_allowed(
    h: Any, ray_session: Path, tmp_path: Path, pg_schema: str
) -> None:
    project = _project(tmp_path)
    project.secret("pg", url=h.pg_url)
    project.write(
        PG_DEST.format(name="by_ray", mode="mirror", schema=pg_schema), manifest_extra=RAY
    )
    code, first = _run(project, h, "by_ray")
    assert code == 0 and first["sync"]["inserted"] == ROWS, first
    _table(project).delete(f"customer_id > {ROWS // 4}")  # 3 of the 4 files' rows
    gone = ROWS - ROWS // 4

    refused = project.cli("egress", "run", "by_ray", "--spec", project.spec)

    assert refused.exit_code == 1, refused.output
    assert f"mirroring would delete {gone} of the {ROWS} key(s)" in refused.output
    assert "--allow-deletes" in refused.output
    assert len(_pg_ids(h, pg_schema, "by_ray")) == ROWS  # nothing was sent
    code, allowed = _run(project, h, "by_ray", "--allow-deletes")
    assert code == 0, allowed
    assert allowed["sync"]["deleted"] == gone and allowed["rows_delivered"] == gone
    assert _pg_ids(h, pg_schema, "by_ray") == list(range(1, ROWS // 4 + 1))


# --- the REST API, mirror ---------------------------------------------------------------------


def test_a_mirror_on_ray_to_a_rest_api_deletes_each_gone_key_once_like_a_local_run(
    h: Any, ray_session: Path, tmp_path: Path
) -> None:
    from .conftest import serving_contacts

    project = _project(tmp_path)
    project.write(
        REST_DEST.format(name="on-ray") + REST_DEST.format(name="on-local"), manifest_extra=RAY
    )
    with serving_contacts() as on_ray, serving_contacts() as on_local:
        project.secret("on-ray-api", base_url=on_ray.url)
        project.secret("on-local-api", base_url=on_local.url)

        first = _same_sync(*_both(project, h, "on-ray", "on-local"))
        assert first["inserted"] == ROWS == len(on_ray.contacts)
        again = _same_sync(*_both(project, h, "on-ray", "on-local"))
        assert again["sent"] == 0
        sent_before = len(on_ray.requests)

        _change(project)
        changed = _same_sync(*_both(project, h, "on-ray", "on-local"))

        assert (changed["inserted"], changed["updated"], changed["deleted"]) == (200, 300, 100)
        requests = on_ray.requests[sent_before:]
        deletes = [path for method, path, _ in requests if method == "DELETE"]
        assert sorted(deletes) == sorted(f"/contacts/{i}" for i in DELETED)  # each once
        posted = [r["id"] for method, _, body in requests if method == "POST" for r in body]
        assert sorted(posted) == sorted([*UPDATED, *INSERTED])
        assert on_ray.contacts == on_local.contacts
        assert sorted(int(key) for key in on_ray.contacts) == _source_ids(project)


# --- a worker killed mid-delivery ---------------------------------------------------------------


def test_a_sync_task_whose_worker_is_killed_is_retried_and_sends_each_row_once(
    h: Any, ray_session: Path, tmp_path: Path, http_server: Recorder
) -> None:
    from floe_core.egress.state import StateStore
    from floe_core.sync.store import fingerprint_store

    project = _project(tmp_path)
    http_server.token = "tok-ray-sync-kill"
    project.secret("crm-api", token=http_server.token, base_url=http_server.url)
    project.write(
        """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  primary_key: [customer_id]
  sync_mode: upsert
  config: {path: /contacts, method: POST, body: array, max_concurrent_requests: 2}
  batch_size: 3000
  retry_config: {max_attempts: 4, initial_backoff_seconds: 0.05, jitter: false}
""",
        manifest_extra=RAY,
    )
    # 40 batches: the first 12 go through; later ones hang until the workers have been killed.
    http_server.accept_limit, http_server.hang_over_limit = 12, True
    killed: list[int] = []

    def kill_the_workers_then_release() -> None:
        h.wait_for(lambda: http_server.waiting >= 2, "requests waiting on the server")
        time.sleep(1.5)  # the answered batches' journal entries and fingerprints are written
        for pid in _delivering_workers():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        http_server.accept_limit = None
        http_server.release_hung.set()  # the hung requests get 503 and are retried

    killer = threading.Thread(target=kill_the_workers_then_release, daemon=True)
    killer.start()
    code, receipt = _run(project, h, "crm")
    killer.join(timeout=60)

    assert killed, "no Ray worker was running a delivery task"
    assert code == 0, receipt
    assert receipt["status"] == "success"
    assert receipt["sync"]["inserted"] == receipt["rows_read"] == ROWS
    # The killed attempts' confirmed batches are skipped by their retries, not sent again.
    assert receipt["rows_skipped"] > 0, (receipt, len(http_server.requests), killed)
    assert receipt["rows_delivered"] + receipt["rows_skipped"] == ROWS
    applied = {r["headers"]["Idempotency-Key"]: r["body"] for r in http_server.requests}
    ids = [record["customer_id"] for body in applied.values() for record in body]
    assert len(ids) == len(set(ids)) == ROWS
    # Every row's fingerprint is kept once, whichever attempt confirmed it.
    with StateStore(f"sqlite:///{project.root / '.floe' / 'state.db'}") as state:
        stored = fingerprint_store(state, project.root, "crm").load()
    assert stored["key"].n_unique() == len(stored) == ROWS


def _delivering_workers() -> list[int]:
    """PIDs of Ray worker processes running a delivery task (Ray titles them by task)."""
    pids = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if cmdline.startswith("ray::deliver_task") or "ray::floe-" in cmdline:
            pids.append(int(process.info["pid"]))
    return pids


# --- position delete files ----------------------------------------------------------------------


def _delete_positions(project: FloeProject, positions: range) -> str:
    """Commit a position delete file removing ``positions`` of the table's second data file
    (a merge-on-read delete, as Spark or Flink writes one); that file's path."""
    from pyiceberg.manifest import DataFileContent

    table = _table(project)
    target = sorted(task.file.file_path for task in table.scan().plan_files())[1]
    rows = pa.table(
        {
            "file_path": pa.array([target] * len(positions), pa.string()),
            "pos": pa.array(positions, pa.int64()),
        }
    )
    _commit_delete_file(table, DataFileContent.POSITION_DELETES, rows)
    return str(target)


def _commit_delete_file(
    table: Any, content: Any, rows: pa.Table, equality_ids: list[int] | None = None
) -> None:
    """Write ``rows`` as a delete file of kind ``content`` and commit it in a delete manifest
    (pyiceberg itself writes only copy-on-write deletes, so a test writes the manifest)."""
    import pyarrow.parquet as pq
    from pyiceberg.manifest import DataFile, FileFormat, ManifestContent, ManifestWriterV2
    from pyiceberg.typedef import Record

    path = f"{table.location()}/data/deletes-{uuid.uuid4().hex}.parquet"
    with table.io.new_output(path).create() as out:
        pq.write_table(rows, out)
    deletes = DataFile.from_args(
        content=content,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=Record(),
        record_count=rows.num_rows,
        file_size_in_bytes=len(table.io.new_input(path)),
        equality_ids=equality_ids,
    )
    deletes.spec_id = 0

    class DeleteManifest(ManifestWriterV2):  # pyiceberg writes data manifests only
        def content(self) -> ManifestContent:
            return ManifestContent.DELETES

    with table.transaction() as tx, tx.update_snapshot().fast_append() as append:
        append.new_manifest_writer = lambda spec: DeleteManifest(
            spec, append.schema(), append.new_manifest_output(), append._snapshot_id, "deflate"
        )
        append.append_data_file(deletes)


def test_a_table_with_position_delete_files_is_read_by_ray_tasks_as_by_a_local_run(
    h: Any, ray_session: Path, tmp_path: Path, pg_schema: str
) -> None:
    project = _project(tmp_path)
    _delete_positions(project, range(0, 1000, 10))  # 100 rows of the second file
    project.secret("pg", url=h.pg_url)
    full = PG_DEST.replace("  primary_key: [customer_id]\n  sync_mode: {mode}\n", "").replace(
        "mode: upsert", "mode: append"
    )
    project.write(
        full.format(name="by_ray", schema=pg_schema)
        + full.format(name="by_local", schema=pg_schema),
        manifest_extra=RAY,
    )

    by_ray, by_local = _both(project, h, "by_ray", "by_local")

    assert by_ray["rows_read"] == by_ray["rows_delivered"] == ROWS - 100
    assert by_local["rows_delivered"] == ROWS - 100
    assert _pg_difference(h, pg_schema, "by_ray", "by_local") == []
    assert _pg_ids(h, pg_schema, "by_ray") == _source_ids(project)
    assert len(_source_ids(project)) == ROWS - 100


def test_a_table_with_equality_delete_files_is_refused_by_either_executor_naming_the_fix(
    h: Any, ray_session: Path, tmp_path: Path, pg_schema: str
) -> None:
    from pyiceberg.manifest import DataFileContent

    project = _project(tmp_path)
    table = _table(project)
    key = table.schema().find_field("customer_id").field_id
    ids = pa.table({"customer_id": pa.array([5, 6, 7], pa.int64())})
    _commit_delete_file(table, DataFileContent.EQUALITY_DELETES, ids, equality_ids=[key])
    project.secret("pg", url=h.pg_url)
    full = PG_DEST.replace("  primary_key: [customer_id]\n  sync_mode: {mode}\n", "")
    project.write(
        PG_DEST.format(name="synced", mode="upsert", schema=pg_schema)
        + full.replace("mode: upsert", "mode: append").format(name="copied", schema=pg_schema),
        manifest_extra=RAY,
    )

    # A sync is refused while its diff is planned; a full delivery while its files are.
    for name in ("synced", "copied"):
        for executor in ("ray", "local"):
            result = project.cli(
                "egress", "run", name, "--executor", executor, "--spec", project.spec
            )

            assert result.exit_code == 1, result.output
            assert "Traceback" not in result.output
            assert "table 'gold.customers' has equality delete files" in result.output
            assert "compact the table" in result.output
    with psycopg.connect(h.pg_dsn) as conn:
        found = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
            (pg_schema,),
        ).fetchone()
    assert found == (0,)


# --- the egress policy on the workers -----------------------------------------------------------


def test_a_worker_refuses_a_name_that_resolves_there_to_a_denied_address(
    h: Any, ray_session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver resolves ``localhost`` to 127.0.0.3 (allowed; the API listens there); a
    worker resolves it as the machine does, to 127.0.0.1, which the policy denies: the worker
    refuses it before its sink connects, and the API gets no row."""
    from .conftest import serving_contacts

    real = socket.getaddrinfo

    def driver_dns(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "localhost":
            return real("127.0.0.3", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    project = _project(tmp_path)
    project.write(
        REST_DEST.format(name="crm"),
        manifest_extra=RAY
        + "scope: enterprise\negress_policy:\n  denied_networks: [127.0.0.1/32]\n",
    )
    with serving_contacts(host="127.0.0.3") as api:
        port = api.url.rsplit(":", 1)[1]
        project.secret("crm-api", base_url=f"http://localhost:{port}")
        monkeypatch.setattr(socket, "getaddrinfo", driver_dns)
        code, receipt = _run(project, h, "crm")

    assert code == 1, receipt
    assert receipt["status"] == "failed" and receipt["rows_delivered"] == 0
    errors = " ".join(receipt["errors"])
    assert "localhost" in errors and "resolves to 127.0.0.1" in errors, errors
    assert "egress_policy.denied_networks 127.0.0.1/32" in errors
    assert api.requests == [] and api.contacts == {}
