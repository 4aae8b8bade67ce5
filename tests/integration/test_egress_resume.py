"""A run that did not finish, then a run again: only what was not confirmed is sent.

The REST endpoint here keeps every request it accepts and does not de-duplicate by idempotency
key, so a batch sent twice would show up as duplicate rows.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from floe_core.egress.lease import Leases
from floe_core.egress.state import StateStore, state_url_for

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import FloeProject, Recorder

ROWS, BATCH = 400, 20  # 20 batches

REST_DEST = f"""\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {{path: /contacts, method: POST, body: array}}
  batch_size: {BATCH}
  retry_config: {{max_attempts: 1}}
"""


def _project(make_project: Any, server: Recorder) -> FloeProject:
    project: FloeProject = make_project(rows=ROWS)
    project.secret("crm-api", base_url=server.url)
    project.write(REST_DEST)
    return project


def _received(server: Recorder) -> Counter[int]:
    return Counter(record["customer_id"] for record in server.records)


@pytest.mark.requirement("B5")
def test_a_run_stopped_by_the_server_is_resumed_without_resending(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = _project(make_project, http_server)
    http_server.accept_limit = 7  # then 503 for every batch: the run stops

    stopped = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")
    http_server.accept_limit = None
    resumed = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")

    assert stopped.exit_code == 1, stopped.output
    [first] = h.json_receipts(stopped)
    assert first["status"] == "failed" and first["rows_rejected"] == 0
    assert first["rows_delivered"] == 7 * BATCH
    assert resumed.exit_code == 0, resumed.output
    [second] = h.json_receipts(resumed)
    assert second["status"] == "success"
    assert (second["rows_delivered"], second["rows_skipped"]) == (ROWS - 7 * BATCH, 7 * BATCH)
    received = _received(http_server)
    assert sorted(received) == list(range(1, ROWS + 1)) and set(received.values()) == {1}

    again = project.cli("egress", "run", "crm", "--spec", project.spec, "--json")
    [third] = h.json_receipts(again)
    assert (third["rows_delivered"], third["rows_skipped"]) == (ROWS, 0)  # a full run, sent whole


@pytest.mark.requirement("B5")
def test_a_killed_run_is_taken_over_marked_interrupted_and_resumed(
    h: Any, make_project: Any, http_server: Recorder
) -> None:
    project = _project(make_project, http_server)
    http_server.accept_limit, http_server.hang_over_limit = 9, True
    state_url = state_url_for(project.root, environ={})
    env = {"FLOE_LEASE_SECONDS": "2"}

    victim = h.floe_process("egress", "run", "crm", "--spec", project.spec, "--json", env=env)
    try:
        with StateStore(state_url) as state:
            h.wait_for(
                lambda: http_server.waiting and _journaled(state) == 9 * BATCH,
                "9 batches confirmed and journaled",
            )
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=60)
            holder = Leases(state).holder("crm")
            assert holder is not None
            h.wait_for(lambda: Leases(state, seconds=2).clock() > holder.expires_at, "expiry")
    finally:
        if victim.poll() is None:
            victim.kill()
    http_server.accept_limit = None
    resumed = h.run_floe("egress", "run", "crm", "--spec", project.spec, "--json", env=env)

    assert resumed.returncode == 0, resumed.stderr
    [receipt] = h.json_receipts(resumed)
    assert (receipt["rows_delivered"], receipt["rows_skipped"]) == (ROWS - 9 * BATCH, 9 * BATCH)
    received = _received(http_server)
    assert sorted(received) == list(range(1, ROWS + 1)) and set(received.values()) == {1}
    history = json.loads(
        h.run_floe("egress", "history", "crm", "--spec", project.spec, "--json").stdout
    )["runs"]
    killed = next(run for run in history if run["run_id"] == holder.run_id)
    assert killed["status"] == "failed"
    assert killed["rows_delivered"] == 9 * BATCH
    assert "interrupted" in killed["errors"][-1]


def _journaled(state: StateStore) -> int:
    """Rows in the run journal of destination crm."""
    table = state.table("journal")
    with state.transaction("read the journal of") as conn:
        return sum(row.rows for row in conn.execute(table.select()))


@pytest.mark.requirement("B6")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_after_the_batches_in_flight_records_the_truth_and_resumes(
    h: Any, make_project: Any, http_server: Recorder, stop: signal.Signals
) -> None:
    # SIGTERM is how Kubernetes, systemd and schedulers stop a process: the same as Ctrl-C.
    project = _project(make_project, http_server)
    http_server.delay = 0.2  # 20 batches, 4 in flight: Ctrl-C lands in the middle

    interrupted = h.floe_process("egress", "run", "crm", "--spec", project.spec, "--json")
    try:
        h.wait_for(lambda: len(http_server.requests) >= 3, "3 batches answered")
        interrupted.send_signal(stop)
        out, err = interrupted.communicate(timeout=120)
    finally:
        if interrupted.poll() is None:
            interrupted.kill()
    at_server = len(http_server.records)

    assert interrupted.returncode == 130, err
    [receipt] = json.loads(out)["receipts"]
    assert receipt["status"] == "failed"
    assert receipt["rows_delivered"] == at_server < ROWS
    assert f"interrupted after {at_server} rows delivered; run again to resume" in err
    history = json.loads(
        h.run_floe("egress", "history", "crm", "--spec", project.spec, "--json").stdout
    )["runs"]
    assert [(r["status"], r["rows_delivered"]) for r in history] == [("failed", at_server)]

    http_server.delay = 0.0
    resumed = h.run_floe("egress", "run", "crm", "--spec", project.spec, "--json")

    assert resumed.returncode == 0, resumed.stderr
    [second] = h.json_receipts(resumed)
    assert (second["rows_delivered"], second["rows_skipped"]) == (ROWS - at_server, at_server)
    received = _received(http_server)
    assert sorted(received) == list(range(1, ROWS + 1)) and set(received.values()) == {1}
