"""When and how long to retry a batch, decided by the error's type.

Only errors whose ``retryable`` is True are retried: unreachable host, timeout, connection
reset, HTTP 5xx, 408 and 429 (see ``errors.py``). Any other 4xx, a refused credential or a bad
configuration fails at once. Waits grow exponentially with jitter; a ``Retry-After`` from the
destination replaces the computed wait and pauses all workers sharing the rate limiter. A
``Retry-After`` longer than ``max_retry_after_seconds`` is not cut short (retrying before the
destination allows it only earns another refusal): the batch fails at once instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ConfigDict, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from floe_core.schemas.floe_spec import RetryConfig
from floe_core.sinks.errors import PluginError, config_error_from_validation
from floe_core.sinks.ratelimit import RateLimiter

__all__ = ["RetryPolicy", "send_with_retry"]

T = TypeVar("T")


class RetryPolicy(RetryConfig):
    """Retry settings, from ``SinkConfig.retry_config``: floe.yaml's ``retry_config`` model
    (its fields, bounds and defaults) with the behaviour the engine uses.

    Attributes:
        max_attempts: Attempts per batch, the first one included (1 = never retry).
        initial_backoff_seconds: Wait before the first retry; doubles on each retry.
        max_backoff_seconds: Longest computed wait between two attempts.
        jitter: Randomise each wait between half and all of its computed value, so that
            workers failing together do not retry together.
        max_retry_after_seconds: Longest ``Retry-After`` wait to honour; a destination asking
            for longer fails the batch instead.
    """

    # A SinkConfig built in code is not YAML: "5" is not a number of attempts there.
    model_config = ConfigDict(strict=True)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | None, *, destination: str = "", sink_type: str = ""
    ) -> RetryPolicy:
        """Validate a ``retry_config`` mapping.

        Raises:
            SinkConfigurationError: Unknown key or out-of-range value.
        """
        values = dict(config or {})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise config_error_from_validation(
                exc,
                section="retry_config",
                allowed=cls.model_fields,
                config=values,
                destination=destination,
                sink_type=sink_type,
            ) from exc

    def backoff(self, retry_number: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry_number`` (1 = first retry)."""
        wait = min(
            self.max_backoff_seconds, self.initial_backoff_seconds * 2.0 ** (retry_number - 1)
        )
        if self.jitter:
            wait = wait / 2 + rand() * wait / 2
        return wait

    def delay(self, error: BaseException, retry_number: int) -> float:
        """Seconds to wait after ``error``: its ``Retry-After``, or the backoff."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return max(0.0, float(retry_after))
        return self.backoff(retry_number)

    def waits_too_long(self, error: BaseException) -> bool:
        """True when ``error`` asks for a wait longer than ``max_retry_after_seconds``."""
        retry_after = getattr(error, "retry_after", None)
        return retry_after is not None and float(retry_after) > self.max_retry_after_seconds


def send_with_retry(
    send: Callable[[], T],
    policy: RetryPolicy,
    limiter: RateLimiter,
    *,
    on_retry: Callable[[PluginError, int, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Call ``send`` (after taking a rate-limit token) until it succeeds or may not be retried.

    Args:
        send: One attempt. Raises a ``PluginError`` on failure.
        policy: How often and how long to wait.
        limiter: Shared rate limiter; paused for everyone on ``Retry-After``.
        on_retry: Called as ``on_retry(error, attempt_number, wait_seconds)`` before each wait.
        sleep: Sleep function.

    Returns:
        What ``send`` returned, and the number of attempts it took.

    Raises:
        PluginError: The last error, with ``attempts`` set to the attempts made (and a hint
            when the destination asked to wait longer than ``max_retry_after_seconds``).
    """
    attempts = 0

    def retryable(exc: BaseException) -> bool:
        return isinstance(exc, PluginError) and exc.retryable and not policy.waits_too_long(exc)

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        limiter.acquire()
        return send()

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return policy.delay(error, state.attempt_number) if error is not None else 0.0

    def before_sleep(state: RetryCallState) -> None:
        # Only called when a retry will really happen (``wait`` also runs on the last attempt).
        error = state.outcome.exception() if state.outcome is not None else None
        if getattr(error, "retry_after", None) is not None:
            limiter.pause(state.upcoming_sleep)
        if on_retry is not None and isinstance(error, PluginError):
            on_retry(error, state.attempt_number, state.upcoming_sleep)

    retrying = Retrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=retry_if_exception(retryable),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    try:
        result = retrying(attempt)
    except PluginError as exc:
        exc.attempts = attempts
        if exc.retryable and policy.waits_too_long(exc):
            exc.hint = (
                f"the destination asked to wait {float(exc.retry_after or 0):g} s before "
                f"retrying, longer than max_retry_after_seconds "
                f"({policy.max_retry_after_seconds:g} s): run again later, or raise "
                "max_retry_after_seconds in retry_config"
            )
        raise
    return result, attempts
