"""``kill -9`` of a real ``floe egress run`` after N confirmed batches, then a run again: the
second run sends only what the first did not get confirmed, and the destination (which does
not de-duplicate) ends with every row exactly once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import Project, RestDestination

ROWS, BATCH, CONFIRMED = 2000, 50, 10

REST = """\
- name: crm
  sink_type: rest_api
  connection_secret_ref: crm-api
  source_table: gold.customers
  config: {{path: /contacts, method: POST, body: array, max_concurrent_requests: {workers}}}
  batch_size: {batch}
  retry_config: {{max_attempts: 1}}
"""

PG = """\
- name: warehouse
  sink_type: sql_database
  connection_secret_ref: pg
  source_table: gold.customers
  config: {{table: customers, schema: {schema}, mode: {mode}{key}}}
  batch_size: {batch}
"""


@pytest.mark.requirement("B5")
def test_rest_killed_after_confirmed_batches_resumes_without_resending(
    f: Any, make_project: Any, rest_destination: RestDestination
) -> None:
    project: Project = make_project(ROWS)
    project.secret("crm-api", base_url=rest_destination.url)
    project.write(REST.format(workers=4, batch=BATCH))
    rest_destination.control(accept=CONFIRMED, hang=True)  # then every batch is held

    victim = project.start("egress", "run", "crm")
    f.wait_for(
        lambda: rest_destination.held() and project.journaled() == CONFIRMED * BATCH,
        f"{CONFIRMED} batches confirmed and journaled, the next held in flight",
    )
    f.sigkill(victim)
    project.expire_leases()
    rest_destination.control(accept=None, release=True)
    before, held_before = len(rest_destination.requests()), rest_destination.stored()
    code, out, err = project.run("egress", "run", "crm")

    assert code == 0, err
    [receipt] = out["receipts"]
    assert (receipt["rows_delivered"], receipt["rows_skipped"]) == (
        ROWS - CONFIRMED * BATCH,
        CONFIRMED * BATCH,
    )
    received = rest_destination.stored()
    lost, duplicated = f.lost_and_duplicated(received, set(range(1, ROWS + 1)))
    resent = sum(1 for i in rest_destination.stored(before) if i in held_before)
    f.figure(
        "kill -9 REST",
        lost=lost,
        duplicated=duplicated,
        resent=resent,
        skipped=receipt["rows_skipped"],
    )
    assert (lost, duplicated, resent) == (0, 0, 0)
    killed = next(r for r in project.history("crm") if r["run_id"] != receipt["run_id"])
    assert killed["status"] == "failed" and killed["rows_delivered"] == CONFIRMED * BATCH
    assert "interrupted" in killed["errors"][-1]


@pytest.mark.requirement("B5")
def test_rest_killed_while_splitting_a_refused_batch_sends_no_piece_twice(
    f: Any, make_project: Any, rest_destination: RestDestination
) -> None:
    project: Project = make_project(200)
    project.secret("crm-api", base_url=rest_destination.url)
    project.write(REST.format(workers=1, batch=BATCH))
    # Batch 1-50 is refused for row 30 and split: 1-25 stored, 26-50 refused, 26-37 refused,
    # 38-50 stored; then the destination holds every request: killed mid-split.
    rest_destination.control(accept=2, hang=True, reject_ids=[30])

    victim = project.start("egress", "run", "crm")
    f.wait_for(
        lambda: rest_destination.held() >= 3 and project.journaled() == 38,
        "two pieces of the split batch confirmed and journaled",
    )
    f.sigkill(victim)
    project.expire_leases()
    rest_destination.control(accept=None, release=True)
    before, held_before = len(rest_destination.requests()), rest_destination.stored()
    code, out, err = project.run("egress", "run", "crm")

    assert code == 3, err  # row 30 is still refused: partial
    [receipt] = out["receipts"]
    assert (receipt["rows_rejected"], receipt["rows_skipped"]) == (1, 38)
    received = rest_destination.stored()
    lost, duplicated = f.lost_and_duplicated(received, set(range(1, 201)) - {30})
    offered = [i for e in rest_destination.requests()[before:] for i in e["ids"]]
    resent = sum(1 for i in offered if i in held_before)
    f.figure("kill -9 REST mid-split", lost=lost, duplicated=duplicated, resent=resent, skipped=38)
    assert (lost, duplicated, resent) == (0, 0, 0)  # confirmed pieces not even offered again
    assert 30 not in received


@pytest.mark.requirement("B5")
@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_postgres_killed_after_committed_batches_resumes(
    f: Any, make_project: Any, pg_schema: str, mode: str
) -> None:
    project: Project = make_project(ROWS)
    project.secret("pg", url=f.pg_dsn)
    key = ", primary_key: [customer_id]" if mode == "upsert" else ""
    project.write(PG.format(schema=pg_schema, mode=mode, key=key, batch=BATCH))
    blocker = f.blocker(f.pg_dsn, pg_schema)

    victim = project.start("egress", "run", "warehouse")
    try:
        f.wait_for(
            lambda: f.pg_count(f.pg_dsn, pg_schema, "customers") >= CONFIRMED * BATCH,
            f"{CONFIRMED} batches committed",
        )
        blocker.lock("customers")  # every later batch waits for this lock: a batch in flight
        f.wait_for(lambda: blocker.writers_waiting(), "a batch blocked in flight")
        committed = f.pg_count(f.pg_dsn, pg_schema, "customers")
        f.wait_for(lambda: project.journaled() >= committed, "the committed batches journaled")
        f.sigkill(victim)
    finally:
        blocker.release()
        if victim.poll() is None:
            victim.kill()
    f.wait_for(lambda: not blocker.others(), "the killed run's sessions to end")
    after_kill = f.pg_count(f.pg_dsn, pg_schema, "customers")
    journaled = project.journaled()
    project.expire_leases()
    code, out, err = project.run("egress", "run", "warehouse")

    assert code == 0, err
    [receipt] = out["receipts"]
    assert receipt["rows_delivered"] + receipt["rows_skipped"] == ROWS
    assert receipt["rows_skipped"] >= journaled == after_kill
    received = f.pg_ids(f.pg_dsn, pg_schema, "customers")
    lost, duplicated = f.lost_and_duplicated(received, set(range(1, ROWS + 1)))
    resent = after_kill - journaled
    f.figure(
        f"kill -9 PostgreSQL {mode}",
        lost=lost,
        duplicated=duplicated,
        resent=resent,
        skipped=receipt["rows_skipped"],
    )
    assert (lost, duplicated, resent) == (0, 0, 0)
