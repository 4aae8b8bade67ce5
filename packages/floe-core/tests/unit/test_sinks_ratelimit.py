"""The shared token bucket, on a fake clock."""

from __future__ import annotations

import threading

import pytest
from floe_core.sinks.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)


@pytest.mark.requirement("R8")
def test_requests_are_spaced_at_the_configured_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(4.0, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


@pytest.mark.requirement("R8")
def test_tokens_refill_with_time_up_to_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, burst=2, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire(), limiter.acquire()] == [0.0, 0.0]
    clock.now += 10
    assert [limiter.acquire(), limiter.acquire(), limiter.acquire()] == pytest.approx(
        [0.0, 0.0, 0.5]
    )


@pytest.mark.requirement("R8")
def test_pause_holds_back_every_caller() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    assert limiter.acquire() == 0.0
    limiter.pause(3.0)
    limiter.pause(1.0)  # a shorter pause does not shorten the current one
    assert limiter.acquire() == pytest.approx(3.0)
    clock.now += 5
    assert limiter.acquire() == 0.0


@pytest.mark.requirement("R8")
def test_concurrent_callers_each_get_their_own_slot() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(clock.sleeps) == pytest.approx([i / 10 for i in range(1, 20)])


@pytest.mark.requirement("R8")
def test_invalid_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1.0, burst=0.5)
