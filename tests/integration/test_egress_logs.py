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


@pytest.mark.requirement("B2")
def test_off_a_terminal_stderr_is_json_lines_with_progress_counts_and_each_failure_once(
    make_project: Any, h: Any, pg_schema: str
) -> None:
    # Piped, a run logs JSON lines: progress with real counts, the last one with every row
    # done; a destination that cannot be prepared is one egress.failed line for a log
    # collector, and the error is printed once for people at the end.
    project = make_project(rows=3000)
    project.secret("pg", url=h.pg_url)
    project.secret("nodb", url=h.pg_url.rsplit("/", 1)[0] + "/no_such_database")

    def dest(name: str, secret: str) -> str:
        return (
            f"- name: {name}\n  sink_type: sql_database\n  connection_secret_ref: {secret}\n"
            "  source_table: gold.customers\n  primary_key: [customer_id]\n"
            f"  config: {{table: customers, schema: {pg_schema}, mode: upsert}}\n"
            "  batch_size: 500\n"
        )

    project.write(dest("app", "pg") + dest("bad", "nodb"))

    good = h.run_floe("egress", "run", "app", "--project", str(project.root))
    bad = h.run_floe("egress", "run", "bad", "--project", str(project.root))

    assert good.returncode == 0, good.stderr
    lines = [json.loads(line) for line in good.stderr.splitlines()]  # every line is JSON
    progress = [line for line in lines if line["event"] == "egress.progress"]
    assert progress[0]["rows_done"] == 0 and progress[-1]["final"] is True
    assert (progress[-1]["rows_done"], progress[-1]["rows_total"]) == (3000, 3000)
    assert bad.returncode == 1
    logged = [line for line in bad.stderr.splitlines() if line.startswith("{")]
    [failure] = [line for line in map(json.loads, logged) if line["level"] == "error"]
    assert failure["event"] == "egress.failed" and "no_such_database" in failure["error"]
    assert "hint:" in failure["error"]
    told = [line for line in bad.stderr.splitlines() if not line.startswith("{")]
    assert [line for line in told if line.startswith("error: ")] == [told[0]]
    assert "no_such_database" in told[0] and "nothing was sent" in bad.stderr
