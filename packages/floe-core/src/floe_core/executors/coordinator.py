"""The run's shared state on the cluster: one Ray actor per destination run.

It holds what every task of the run must share and no task may keep for itself:

- the run's key for the sealed Secrets (:mod:`floe_core.executors.sealed`);
- the destination's rate limit: one token bucket for all tasks, and a ``Retry-After`` pause
  that holds back every task, not only the one that was told to wait;
- the destination's concurrency budget: the batches that may be in flight at once across all
  tasks (``executor.max_in_flight``; unset, the tasks running at once times the sink's own
  ``max_concurrency``, as many local runs would). A task takes up to its sink's
  ``max_concurrency`` of it when it starts and gives it back when it ends; a task that finds
  none free waits. A task started again after its worker died gives back what its dead
  attempt held first.

:class:`Coordinator` is a plain class, made a Ray actor by :func:`start_coordinator` (threaded,
so a task waiting for budget does not block the others' calls). :class:`SharedRateLimiter` is
the engine's ``RateLimiter`` on a worker, asking the actor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from floe_core.sinks.ratelimit import RateLimiter

__all__ = ["Coordinator", "SharedRateLimiter", "start_coordinator"]

#: Calls the actor serves at once (tasks waiting for budget each hold one).
_ACTOR_THREADS = 256


class Coordinator:
    """The rate limit, concurrency budget and Secret key of one destination's run.

    Args:
        rate_per_second: The destination's request rate limit; ``None``: unlimited.
        concurrency: Batches that may be in flight at once, across all tasks; ``None``:
            no budget beyond each task's own.
        clock: Monotonic clock of the rate limit (a test passes a fake).

    The key is handed over by :meth:`hold_key`, not as a constructor argument: Ray keeps an
    actor's constructor arguments in its control store for as long as the cluster lives.
    """

    def __init__(
        self,
        rate_per_second: float | None,
        concurrency: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = b""
        # The actor never sleeps: it reserves a token and says how long the caller waits.
        self._limiter = RateLimiter(rate_per_second, clock=clock, sleep=lambda seconds: None)
        self._free = None if concurrency is None else max(1, concurrency)
        self._held: dict[int, int] = {}
        self._budget = threading.Condition()

    def hold_key(self, key: bytes) -> None:
        """Keep the run's key until the actor ends."""
        self._key = key

    def key(self) -> bytes:
        """The run's key."""
        return self._key

    def reserve(self) -> float:
        """Take one request's token; the seconds the caller must wait before sending."""
        return self._limiter.acquire()

    def pause(self, seconds: float) -> None:
        """Hold every task back for ``seconds`` (the destination said ``Retry-After``)."""
        self._limiter.pause(seconds)

    def enter(self, task: int, wanted: int) -> int:
        """Give task ``task`` up to ``wanted`` of the budget, waiting until some is free."""
        with self._budget:
            self._release(task)  # an earlier attempt of the task, whose worker died
            wanted = max(1, wanted)
            if self._free is None:
                return wanted
            self._budget.wait_for(lambda: self._free is not None and self._free > 0)
            granted = min(wanted, self._free)
            self._free -= granted
            self._held[task] = granted
            return granted

    def leave(self, task: int) -> None:
        """Give back what :meth:`enter` granted task ``task``."""
        with self._budget:
            self._release(task)

    def _release(self, task: int) -> None:
        granted = self._held.pop(task, 0)
        if granted and self._free is not None:
            self._free += granted
            self._budget.notify_all()


def start_coordinator(key: bytes, rate_per_second: float | None, concurrency: int | None) -> Any:
    """The coordinator as a Ray actor on the driver's node (a handle)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
    actor = ray.remote(Coordinator).options(
        num_cpus=0, max_concurrency=_ACTOR_THREADS, max_restarts=0, scheduling_strategy=here
    )
    handle: Any = actor.remote(rate_per_second, concurrency)
    ray.get(handle.hold_key.remote(key))
    return handle


class SharedRateLimiter(RateLimiter):
    """A task's rate limiter: tokens and pauses come from the run's coordinator actor."""

    def __init__(self, coordinator: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(None, sleep=sleep)
        self._coordinator = coordinator

    def acquire(self) -> float:
        """Wait until the destination's shared budget lets one more request go."""
        import ray

        wait = float(ray.get(self._coordinator.reserve.remote()))
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """Hold back every task of the run for ``seconds``."""
        if seconds > 0:
            self._coordinator.pause.remote(seconds)
