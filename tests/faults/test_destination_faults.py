"""Destinations that misbehave mid-run: a REST server killed, rows refused with 4xx, a
PostgreSQL server restarted; then Ctrl-C, and two runs of one destination at once."""

from __future__ import annotations

import json
import signal
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import Project, RestDestination, ThrowawayPostgres

ROWS, BATCH = 1000, 50

REST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {{path: /contacts, method: POST, body: array}}
  batch_size: 50
  retry_config: {{max_attempts: 2, initial_backoff_seconds: 0.05}}
{extra}"""


def _rest_project(make_project: Any, destination: RestDestination, extra: str = "") -> Project:
    project: Project = make_project(ROWS)
    project.secret("crm-api", base_url=destination.url)
    project.write(REST.format(extra=extra))
    return project


@pytest.mark.requirement("B6")
def test_rest_server_killed_mid_run_fails_the_run_and_a_run_after_restart_completes(
    f: Any, make_project: Any, rest_destination: RestDestination
) -> None:
    project = _rest_project(make_project, rest_destination)
    rest_destination.control(accept=6, hang=True)

    run = project.start("egress", "run", "crm")
    f.wait_for(
        lambda: rest_destination.held() and project.journaled() == 6 * BATCH,
        "6 batches confirmed, the next held",
    )
    rest_destination.kill()  # connections reset, then refused: retries exhausted
    out, err = run.communicate(timeout=120)
    [stopped] = json.loads(out)["receipts"]
    assert run.returncode == 1, err
    assert (stopped["status"], stopped["rows_delivered"], stopped["rows_rejected"]) == (
        "failed",
        6 * BATCH,
        0,
    )

    rest_destination.start()  # the same port, the same log of what it holds
    code, result, err = project.run("egress", "run", "crm")

    assert code == 0, err
    [receipt] = result["receipts"]
    assert receipt["rows_skipped"] == 6 * BATCH
    lost, duplicated = f.lost_and_duplicated(rest_destination.stored(), set(range(1, ROWS + 1)))
    f.figure(
        "REST server killed",
        lost=lost,
        duplicated=duplicated,
        resent=duplicated,
        skipped=receipt["rows_skipped"],
    )
    assert (lost, duplicated) == (0, 0)


@pytest.mark.requirement("B6")
def test_rest_4xx_rows_make_a_partial_run_and_are_sent_again_once_accepted(
    f: Any, make_project: Any, rest_destination: RestDestination
) -> None:
    bad = [7, 250, 251, 600, 999]
    project = _rest_project(
        make_project, rest_destination, "  primary_key: [customer_id]\n  sync_mode: upsert\n"
    )
    rest_destination.control(reject_ids=bad)

    code, first, err = project.run("egress", "run", "crm")
    assert code == 3, err
    [partial] = first["receipts"]
    assert (partial["status"], partial["rows_delivered"], partial["rows_rejected"]) == (
        "partial",
        ROWS - len(bad),
        len(bad),
    )
    rest_destination.control(reject_ids=[])
    before, held_before = len(rest_destination.requests()), rest_destination.stored()
    code, second, err = project.run("egress", "run", "crm")

    assert code == 0, err
    assert second["receipts"][0]["status"] == "success"
    resent_ids = rest_destination.stored(before)
    assert sorted(resent_ids) == bad  # only the refused rows were sent again
    lost, duplicated = f.lost_and_duplicated(rest_destination.stored(), set(range(1, ROWS + 1)))
    resent = sum(1 for i in resent_ids if i in held_before)
    f.figure("REST 4xx rows", lost=lost, duplicated=duplicated, resent=resent, skipped=0)
    assert (lost, duplicated, resent) == (0, 0, 0)


@pytest.mark.requirement("B6")
def test_ctrl_c_stops_with_true_counts_and_a_run_again_resumes(
    f: Any, make_project: Any, rest_destination: RestDestination
) -> None:
    project = _rest_project(make_project, rest_destination)
    rest_destination.control(delay=0.1)

    run = project.start("egress", "run", "crm")
    f.wait_for(lambda: len(rest_destination.stored()) >= 4 * BATCH, "4 batches stored")
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    at_destination = len(rest_destination.stored())
    assert run.returncode == 130, err
    [stopped] = json.loads(out)["receipts"]
    assert (stopped["status"], stopped["rows_delivered"]) == ("failed", at_destination)
    assert f"interrupted after {at_destination} rows delivered; run again to resume" in err
    rest_destination.control(delay=0)
    code, result, err = project.run("egress", "run", "crm")

    assert code == 0, err
    [receipt] = result["receipts"]
    assert receipt["rows_skipped"] == at_destination
    lost, duplicated = f.lost_and_duplicated(rest_destination.stored(), set(range(1, ROWS + 1)))
    f.figure(
        "REST Ctrl-C",
        lost=lost,
        duplicated=duplicated,
        resent=duplicated,
        skipped=receipt["rows_skipped"],
    )
    assert (lost, duplicated) == (0, 0)


@pytest.mark.requirement("B9")
def test_two_runs_started_together_one_delivers_the_other_is_refused(
    f: Any, make_project: Any, rest_destination: RestDestination
) -> None:
    project = _rest_project(make_project, rest_destination)
    rest_destination.control(delay=0.02)

    # A lease time well above any stall of a loaded machine: the loser must not take over.
    env = {"FLOE_LEASE_SECONDS": "60"}
    runs = [project.start("egress", "run", "crm", env=env) for _ in range(2)]
    outcomes = [(run.communicate(timeout=300), run.returncode) for run in runs]

    codes = sorted(code for _, code in outcomes)
    assert codes == [0, 1], outcomes
    (refused_out, _), _ = next(o for o in outcomes if o[1] == 1)
    assert "is being delivered by another run" in json.loads(refused_out)["error"]["message"]
    lost, duplicated = f.lost_and_duplicated(rest_destination.stored(), set(range(1, ROWS + 1)))
    f.figure("two runs at once (REST)", lost=lost, duplicated=duplicated, resent=0, skipped=0)
    assert (lost, duplicated) == (0, 0)


@pytest.mark.requirement("B5")
def test_postgres_restarted_mid_run_loses_and_duplicates_nothing(
    f: Any, make_project: Any, throwaway_postgres: ThrowawayPostgres
) -> None:
    project: Project = make_project(ROWS)
    server = throwaway_postgres
    project.secret("pg", url=server.dsn)
    project.write(
        "- name: warehouse\n  sink_type: sql_database\n  connection_secret_ref: pg\n"
        "  source_table: gold.customers\n  config: {table: customers, schema: public}\n"
        f"  batch_size: {BATCH}\n"
        "  retry_config: {max_attempts: 10, initial_backoff_seconds: 0.2}\n"
    )
    blocker = f.blocker(server.dsn, "public")

    run = project.start("egress", "run", "warehouse")
    try:
        f.wait_for(lambda: f.pg_count(server.dsn, "public", "customers") >= 4 * BATCH, "4 batches")
        blocker.lock("customers")
        f.wait_for(lambda: blocker.writers_waiting(), "a batch blocked in flight")
        server.restart()  # every session ended, the batch in flight rolled back
        blocker.conn = None
        out, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()

    assert run.returncode == 0, err  # the batches the restart cut off were retried
    [receipt] = json.loads(out)["receipts"]
    assert (receipt["status"], receipt["rows_delivered"]) == ("success", ROWS)
    lost, duplicated = f.lost_and_duplicated(
        f.pg_ids(server.dsn, "public", "customers"), set(range(1, ROWS + 1))
    )
    f.figure(
        "PostgreSQL restarted",
        lost=lost,
        duplicated=duplicated,
        resent=0,
        skipped=receipt["rows_skipped"],
    )
    assert (lost, duplicated) == (0, 0)
