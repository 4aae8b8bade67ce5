"""Retry policy validation, backoff, Retry-After and the attempt count."""

from __future__ import annotations

import pytest
from floe_core.sinks.errors import (
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
    SinkTransientWriteError,
    SinkWriteError,
)
from floe_core.sinks.ratelimit import RateLimiter
from floe_core.sinks.retry import RetryPolicy, send_with_retry


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def _failing(errors: list[Exception], result: str = "ok"):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def send() -> str:
        calls["n"] += 1
        if errors:
            raise errors.pop(0)
        return result

    return send, calls


@pytest.mark.requirement("R8")
def test_defaults() -> None:
    policy = RetryPolicy.from_config(None)
    assert (policy.max_attempts, policy.initial_backoff_seconds, policy.max_backoff_seconds) == (
        5,
        0.5,
        30.0,
    )
    assert policy.jitter is True
    assert policy.max_retry_after_seconds == 300.0


@pytest.mark.requirement("R8")
@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"max_retries": 3}, "unknown key `max_retries` (hint: did you mean `max_attempts`?"),
        ({"max_attempts": 0}, "max_attempts: should be at least 1"),
        ({"max_attempts": "3"}, "max_attempts: should be a whole number"),
        ({"jitter": "yes"}, "jitter: should be true or false"),
        (
            {"initial_backoff_seconds": 5, "max_backoff_seconds": 1},
            "max_backoff_seconds: must be at least initial_backoff_seconds",
        ),
    ],
)
def test_bad_retry_config_is_a_configuration_error(
    config: dict[str, object], expected: str
) -> None:
    with pytest.raises(SinkConfigurationError) as caught:
        RetryPolicy.from_config(config, destination="crm", sink_type="rest_api")
    assert expected in str(caught.value)
    assert "[rest_api/crm] invalid retry_config" in str(caught.value)


@pytest.mark.requirement("R8")
def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    policy = RetryPolicy(initial_backoff_seconds=1, max_backoff_seconds=5, jitter=False)
    assert [policy.backoff(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    jittered = RetryPolicy(initial_backoff_seconds=1, max_backoff_seconds=5)
    assert jittered.backoff(3, rand=lambda: 0.0) == 2.0
    assert jittered.backoff(3, rand=lambda: 1.0) == 4.0


@pytest.mark.requirement("R8")
def test_transient_errors_are_retried_and_the_attempts_counted() -> None:
    recorder = Recorder()
    policy = RetryPolicy(initial_backoff_seconds=0.1, max_backoff_seconds=1, jitter=False)
    send, calls = _failing([SinkConnectionError("reset"), SinkTransientWriteError("503")])
    result, attempts = send_with_retry(send, policy, RateLimiter(None), sleep=recorder.sleep)
    assert (result, attempts, calls["n"]) == ("ok", 3, 3)
    assert recorder.sleeps == [0.1, 0.2]


@pytest.mark.requirement("R8")
@pytest.mark.parametrize(
    "error",
    [SinkWriteError("400", http_status=400), SinkAuthenticationError("401", http_status=401)],
)
def test_permanent_errors_are_not_retried(error: Exception) -> None:
    send, calls = _failing([error])
    with pytest.raises(type(error)) as caught:
        send_with_retry(send, RetryPolicy(), RateLimiter(None), sleep=Recorder().sleep)
    assert calls["n"] == 1
    assert caught.value.attempts == 1  # type: ignore[attr-defined]


@pytest.mark.requirement("R13")
def test_the_final_error_carries_the_attempt_count() -> None:
    send, calls = _failing([SinkConnectionError("down") for _ in range(10)])
    policy = RetryPolicy(max_attempts=4, initial_backoff_seconds=0, max_backoff_seconds=0)
    recorder = Recorder()
    with pytest.raises(SinkConnectionError) as caught:
        send_with_retry(send, policy, RateLimiter(None), sleep=recorder.sleep)
    assert caught.value.attempts == 4
    assert calls["n"] == 4
    assert len(recorder.sleeps) == 3
    assert "after 4 attempts" in str(caught.value)


@pytest.mark.requirement("R8")
def test_retry_after_replaces_the_backoff_and_pauses_the_limiter() -> None:
    recorder = Recorder()
    limiter_sleeps = Recorder()
    now = [0.0]
    limiter = RateLimiter(None, clock=lambda: now[0], sleep=limiter_sleeps.sleep)
    policy = RetryPolicy(max_retry_after_seconds=7, jitter=False)
    retried: list[tuple[int, float]] = []
    send, _ = _failing(
        [
            SinkTransientWriteError("429", http_status=429, retry_after=2.5),
            SinkTransientWriteError("429", http_status=429, retry_after=7),
        ]
    )
    send_with_retry(
        send,
        policy,
        limiter,
        sleep=recorder.sleep,
        on_retry=lambda error, attempt, wait: retried.append((attempt, wait)),
    )
    assert recorder.sleeps == [2.5, 7]
    assert retried == [(1, 2.5), (2, 7)]
    # every request through the shared limiter waited for the pause (the clock stood still)
    assert limiter_sleeps.sleeps == [2.5, 7]
    assert limiter.acquire() == 7


@pytest.mark.requirement("R8")
def test_a_retry_after_beyond_the_maximum_fails_instead_of_retrying_early() -> None:
    recorder = Recorder()
    policy = RetryPolicy(max_retry_after_seconds=7, jitter=False)
    send, calls = _failing(
        [
            SinkTransientWriteError("429", http_status=429, retry_after=2.5),
            SinkTransientWriteError("429", http_status=429, retry_after=60),
        ]
    )
    limiter = RateLimiter(None, clock=lambda: 0.0, sleep=recorder.sleep)
    with pytest.raises(SinkTransientWriteError) as caught:
        send_with_retry(send, policy, limiter, sleep=recorder.sleep)
    assert calls["n"] == 2
    assert recorder.sleeps == [2.5, 2.5]  # the retry's own wait, then the limiter's pause
    assert caught.value.attempts == 2
    message = str(caught.value)
    assert "asked to wait 60 s" in message
    assert "max_retry_after_seconds (7 s)" in message
