"""What the conformance cases write and how they watch: test rows, a fake clock, a send log."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from floe_core.sinks.base import BatchAck, Payload, Sink

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CONFORMANCE_RETRY", "FakeClock", "SendLog", "Sent", "conformance_rows"]

#: The ``retry_config`` every case uses: five attempts, 0.25 s then doubling, no jitter.
CONFORMANCE_RETRY: dict[str, Any] = {
    "max_attempts": 5,
    "initial_backoff_seconds": 0.25,
    "max_backoff_seconds": 4.0,
    "jitter": False,
}


def conformance_rows(count: int, start: int = 0) -> pa.Table:
    """``count`` rows with ids ``start``..: ``id`` (int64, the key) and ``name`` (string)."""
    import pyarrow as pa

    ids = list(range(start, start + count))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": pa.array([f"item-{i:03d}" for i in ids], pa.string()),
        }
    )


class FakeClock:
    """A monotonic clock that moves only when slept on; every sleep is recorded.

    Pass ``clock`` and ``clock.sleep`` where floe takes a clock and a sleep function
    (``RateLimiter``, ``engine.run``): waits then take no time and can be asserted exactly.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock on by it."""
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)


@dataclass
class Sent:
    """One call of ``Sink.send``: what went, under which key, and what came back."""

    key: str
    rows: int
    body: bytes
    ack: BatchAck | None = None
    error: BaseException | None = None


@dataclass
class SendLog:
    """Every ``send`` the engine made to one sink, in call order (see :meth:`attach`)."""

    sends: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def attach(cls, sink: Sink) -> SendLog:
        """Record the sink's sends from now on (the sink still does the sending)."""
        log = cls()
        deliver = sink.send

        def send(payload: Payload, idempotency_key: str) -> BatchAck:
            sent = Sent(idempotency_key, payload.rows, payload.body)
            with log._lock:
                log.sends.append(sent)
            try:
                sent.ack = deliver(payload, idempotency_key)
            except BaseException as exc:
                sent.error = exc
                raise
            return sent.ack

        # An instance attribute shadows the method: the engine calls this one.
        vars(sink)["send"] = send
        return log

    @property
    def keys(self) -> list[str]:
        return [sent.key for sent in self.sends]

    @property
    def acks(self) -> list[BatchAck]:
        return [sent.ack for sent in self.sends if sent.ack is not None]
