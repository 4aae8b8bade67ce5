"""A thread-safe token bucket shared by all workers of one write.

Every attempt to send (first try and retries) takes one token. When the destination answers
429 with ``Retry-After``, :meth:`RateLimiter.pause` holds back *every* worker until then, not
only the one that was told to wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token bucket limiting requests per second, with a shared pause.

    Args:
        rate_per_second: Sustained request rate; ``None`` means unlimited (only pauses apply).
        burst: Tokens that may be spent at once after an idle period. Defaults to 1, which
            spaces requests evenly: no window of one second ever holds more than
            ``rate_per_second`` + 1 requests.
        clock: Monotonic clock (seconds).
        sleep: Sleep function.

    Raises:
        ValueError: ``rate_per_second`` or ``burst`` is not positive.
    """

    def __init__(
        self,
        rate_per_second: float | None,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second is not None and rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive or None")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._rate = rate_per_second
        self._burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()
        self._paused_until = 0.0

    def acquire(self) -> float:
        """Wait until a request may be sent; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._paused_until - now)
            if self._rate is not None:
                self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
                self._updated = now
                # Take the token now (the balance may go negative): later callers queue
                # behind this reservation instead of racing for the same token.
                self._tokens -= 1.0
                if self._tokens < 0:
                    wait = max(wait, -self._tokens / self._rate)
        if wait > 0:
            self._sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """Hold back every caller of :meth:`acquire` for ``seconds`` from now."""
        if seconds <= 0:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
