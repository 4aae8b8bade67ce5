"""Two ``floe egress run`` processes on one destination at once: the second is refused."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import Recorder

REST_DEST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {path: /contacts, method: POST, body: array}
  batch_size: 20
  retry_config: {max_attempts: 1}
"""


@pytest.mark.requirement("B9")
@pytest.mark.parametrize("state", ["sqlite", "postgresql"])
def test_a_concurrent_run_is_refused_and_no_row_is_sent_twice(
    h: Any, make_project: Any, http_server: Recorder, request: pytest.FixtureRequest, state: str
) -> None:
    env = {"FLOE_STATE_URL": request.getfixturevalue("pg_database")} if state != "sqlite" else {}
    project = make_project(rows=200)
    project.secret("crm-api", base_url=http_server.url)
    project.write(REST_DEST)
    http_server.gate.clear()  # the first run's first batch waits until the second has tried

    first = h.floe_process("egress", "run", "crm", "--spec", project.spec, "--json", env=env)
    try:
        h.wait_for(lambda: http_server.waiting, "the first run's first batch")
        second = h.run_floe("egress", "run", "crm", "--spec", project.spec, "--json", env=env)
        http_server.gate.set()
        out, err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()

    assert first.returncode == 0, err
    [receipt] = json.loads(out)["receipts"]
    assert second.returncode == 1, second.stdout + second.stderr
    refusal = json.loads(second.stdout)["error"]["message"]
    assert "destination 'crm' is being delivered by another run" in refusal
    assert f"run {receipt['run_id']} on host {socket.gethostname()}, pid {first.pid}" in refusal
    assert "started " in refusal
    ids = [record["customer_id"] for record in http_server.records]
    assert sorted(ids) == list(range(1, 201))  # every row once: none duplicated, none lost
    assert receipt["rows_delivered"] == 200
