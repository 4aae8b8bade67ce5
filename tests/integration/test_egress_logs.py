"""Every log line of a run names its run and destination."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.mark.requirement("B2")
def test_every_log_line_carries_run_id_and_destination(
    make_project: Any, http_server: Any, h: Any
) -> None:
    project = make_project(rows=30)
    project.secret("crm-api", base_url=http_server.url)
    project.write(
        "- name: crm\n  sink_type: rest_api\n  connection_secret_ref: crm-api\n"
        "  source_table: gold.customers\n  config: {path: /contacts}\n"
    )

    done = h.run_floe("egress", "run", "crm", "--project", str(project.root))

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "egress.prepared" in events and "egress.finished" in events
    [run_id] = {line.get("run_id") for line in lines}
    assert run_id and {line.get("destination") for line in lines} == {"crm"}
