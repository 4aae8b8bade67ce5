"""The coordinator: one rate limit, one concurrency budget and the key for all tasks of a run.

Tested as the plain object the Ray actor wraps, with a fake clock.
"""

from __future__ import annotations

import threading

import pytest
from floe_core.executors.coordinator import Coordinator
from floe_core.sinks.testing import FakeClock


@pytest.mark.requirement("B13")
def test_tokens_are_shared_so_all_tasks_together_keep_the_rate() -> None:
    clock = FakeClock()
    coordinator = Coordinator(rate_per_second=10, concurrency=4, clock=clock)

    waits = [coordinator.reserve() for _ in range(5)]

    # Reservations queue up: the n-th request waits n/10 s, whichever task asks.
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


@pytest.mark.requirement("B13")
def test_a_pause_holds_back_every_task() -> None:
    clock = FakeClock()
    coordinator = Coordinator(rate_per_second=None, concurrency=1, clock=clock)

    coordinator.pause(3.0)

    assert coordinator.reserve() == pytest.approx(3.0)
    assert coordinator.reserve() == pytest.approx(3.0)


@pytest.mark.requirement("B13")
def test_the_concurrency_budget_is_shared_and_a_task_waits_for_its_share() -> None:
    coordinator = Coordinator(rate_per_second=None, concurrency=4)

    assert coordinator.enter(0, 3) == 3
    assert coordinator.enter(1, 3) == 1  # what is left
    granted: list[int] = []
    waiting = threading.Thread(target=lambda: granted.append(coordinator.enter(2, 2)))
    waiting.start()
    waiting.join(timeout=0.2)
    assert waiting.is_alive() and granted == []  # none free: it waits

    coordinator.leave(0)
    waiting.join(timeout=10)
    assert granted == [2]


@pytest.mark.requirement("B13")
def test_a_retried_task_gets_back_what_its_dead_attempt_held() -> None:
    coordinator = Coordinator(rate_per_second=None, concurrency=2)
    assert coordinator.enter(0, 2) == 2  # then its worker dies, without leave()

    assert coordinator.enter(0, 2) == 2  # the retry does not wait for the dead attempt


def test_without_a_budget_every_task_gets_what_its_sink_allows() -> None:
    coordinator = Coordinator(rate_per_second=None, concurrency=None)

    assert [coordinator.enter(task, 4) for task in range(10)] == [4] * 10


def test_the_key_is_handed_over_after_construction() -> None:
    coordinator = Coordinator(rate_per_second=None, concurrency=1)

    coordinator.hold_key(b"run-key")

    assert coordinator.key() == b"run-key"
