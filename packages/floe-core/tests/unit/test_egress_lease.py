"""Destination leases on embedded SQLite and on the real PostgreSQL service, with a fake clock."""

from __future__ import annotations

import threading
import time

import pytest
from floe_core.egress.errors import LeaseHeldError, StateStoreError
from floe_core.egress.lease import (
    DEFAULT_LEASE_SECONDS,
    Lease,
    LeaseKeeper,
    Leases,
    lease_seconds,
)
from floe_core.egress.state import StateStore


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.requirement("B9")
def test_a_second_run_is_refused_naming_the_holder(store: StateStore) -> None:
    leases = Leases(store, seconds=120, clock=Clock())
    leases.acquire("crm", "run-a", host="worker-1", pid=4242)

    with pytest.raises(LeaseHeldError) as refused:
        leases.acquire("crm", "run-b", host="worker-2", pid=7)

    message = str(refused.value)
    assert "destination 'crm' is being delivered by another run" in message
    assert "run run-a on host worker-1, pid 4242, started " in message
    holder = leases.holder("crm")
    assert holder is not None and holder.run_id == "run-a"
    assert holder.started_at.tzinfo is not None


@pytest.mark.requirement("B9")
def test_other_destinations_and_a_released_lease_are_free(store: StateStore) -> None:
    leases = Leases(store, seconds=120, clock=Clock())
    first = leases.acquire("crm", "run-a")

    leases.acquire("warehouse", "run-b")
    leases.release(first)
    again = leases.acquire("crm", "run-c")

    assert again.taken_over is None
    assert leases.holder("crm").run_id == "run-c"  # type: ignore[union-attr]


@pytest.mark.requirement("B9")
def test_an_expired_lease_is_taken_over_and_a_renewed_one_is_not(store: StateStore) -> None:
    clock = Clock()
    leases = Leases(store, seconds=120, clock=clock)
    live = leases.acquire("crm", "run-live", host="h1", pid=1)
    dead = leases.acquire("warehouse", "run-dead", host="h2", pid=2)

    clock.now += 100
    assert leases.renew(live)
    clock.now += 100  # live renewed 100 s ago; dead silent for 200 s
    with pytest.raises(LeaseHeldError):
        leases.acquire("crm", "run-next")
    taken = leases.acquire("warehouse", "run-next", host="h3", pid=3)

    assert taken.taken_over is not None
    assert (taken.taken_over.run_id, taken.taken_over.host, taken.taken_over.pid) == (
        "run-dead",
        "h2",
        2,
    )
    assert not leases.renew(dead)  # the dead run, were it to wake up, has lost it
    leases.release(dead)  # and releasing it then leaves the new holder in place
    assert leases.holder("warehouse").run_id == "run-next"  # type: ignore[union-attr]


@pytest.mark.requirement("B9")
def test_lease_time_from_environment_then_manifest_then_default() -> None:
    assert lease_seconds(None, {}) == DEFAULT_LEASE_SECONDS == 120
    assert lease_seconds(30, {}) == 30
    assert lease_seconds(30, {"FLOE_LEASE_SECONDS": "5.5"}) == 5.5
    with pytest.raises(StateStoreError, match="FLOE_LEASE_SECONDS must be a positive number"):
        lease_seconds(30, {"FLOE_LEASE_SECONDS": "soon"})


@pytest.mark.requirement("B9")
def test_a_keeper_renews_and_reports_a_lease_taken_from_it(store: StateStore) -> None:
    clock = Clock()
    leases = Leases(store, seconds=0.2, clock=clock)  # renewed every 0.05 s
    lost = threading.Event()
    keeper = LeaseKeeper(leases, leases.acquire("crm", "run-a"), on_lost=lost.set)
    first_expiry = leases.holder("crm").expires_at  # type: ignore[union-attr]
    clock.now += 0.1
    while leases.holder("crm").expires_at == first_expiry:  # type: ignore[union-attr]
        time.sleep(0.01)  # the keeper renews on its own

    later = Leases(store, seconds=0.2, clock=lambda: clock.now + 60)
    taken = later.acquire("crm", "run-b")
    assert lost.wait(30) and keeper.lost
    keeper.stop()  # releasing a lease it lost leaves the new holder in place

    assert taken.taken_over is not None and taken.taken_over.run_id == "run-a"
    assert leases.holder("crm").run_id == "run-b"  # type: ignore[union-attr]


@pytest.mark.requirement("B2")
def test_a_keepers_log_lines_carry_the_runs_context(store: StateStore) -> None:
    """The keeper's thread logs in the context of the run that started it (``run_id`` and
    ``destination`` bound), as every line of a run must."""
    import structlog

    class FlakyLeases(Leases):
        def renew(self, lease: Lease) -> bool:
            raise StateStoreError("the state store is locked", hint="")

    seen: list[dict[str, object]] = []
    warned = threading.Event()

    class Log:
        def warning(self, event: str, **fields: object) -> None:
            seen.append({"event": event, **structlog.contextvars.get_contextvars(), **fields})
            warned.set()

    leases = FlakyLeases(store, seconds=0.2)
    lease = leases.acquire("crm", "run-a")
    with structlog.contextvars.bound_contextvars(run_id="run-a", destination="crm"):
        keeper = LeaseKeeper(leases, lease, log=Log())
    try:
        assert warned.wait(30)
    finally:
        keeper.stop()
    assert seen[0]["event"] == "egress.lease_not_renewed"
    assert (seen[0]["run_id"], seen[0]["destination"]) == ("run-a", "crm")
