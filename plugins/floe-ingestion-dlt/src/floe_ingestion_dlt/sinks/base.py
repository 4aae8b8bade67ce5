"""What a sink is: the one hook the engine calls per batch, and what it declares about itself.

The engine (``engine.py``) owns the loop: field mapping, chunking, rate limiting, concurrency,
retries, checksums, idempotency keys, tracing and the ``EgressResult``. A sink only says how
to encode one batch, how to send it, and what the destination answered.

Lifecycle, driven by the engine for one ``write``::

    sink = SinkClass(config)          # validates config, connects, checks credentials (fail fast)
    sink.open(schema)                 # once per write, before the first batch (create table, ...)
    payload = sink.encode(batch)      # CPU work, in the engine's thread, once per batch
                                      # (or encode_many(batches) for a few at once)
    ack = sink.send(payload, key)     # I/O; may run concurrently (capabilities.max_concurrency)
                                      # and be retried with the same payload and key
    sink.close(success)               # once per write (commit, swap staging table, ...)
    sink.dispose()                    # release connections when the sink is no longer needed
                                      # (or use the sink as a context manager)

``sink.dlt_destination`` wraps the same encode/send as a ``@dlt.destination``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pyarrow as pa
    from floe_core.plugins.sink import SinkConfig

__all__ = ["BatchAck", "Payload", "Sink", "SinkCapabilities"]


@dataclass(frozen=True)
class SinkCapabilities:
    """What a sink type can do; the engine reads these instead of special-casing sinks.

    Each field changes what the engine does. What a sink does on its own is not declared
    here: its write modes (upsert, replace) are settings its config validates, and every
    sink receives an idempotency key per batch in ``send`` and uses it as its destination
    allows (an ``Idempotency-Key`` header, a delivery log).

    Attributes:
        default_batch_size: Rows per batch when the config sets none.
        max_batch_size: Hard cap on rows per batch (API limits); ``None`` for no cap.
        max_concurrency: Batches that may be in flight at once (1 = sequential).
        default_rate_limit: Requests per second when the config sets none; ``None`` = unlimited.
        splits_rejected_batches: On a permanent rejection of a multi-row batch, the engine may
            split it to deliver the good rows and isolate the bad ones.
        encode_group_rows: The engine hands consecutive batches of about this many rows in
            all to ``encode_many`` at once, for a sink whose encoding costs less that way;
            ``None``: each batch goes to ``encode`` on its own.
    """

    default_batch_size: int
    max_batch_size: int | None = None
    max_concurrency: int = 1
    default_rate_limit: float | None = None
    splits_rejected_batches: bool = False
    encode_group_rows: int | None = None


@dataclass
class Payload:
    """One encoded batch, exactly as it will be sent.

    Attributes:
        rows: Number of rows in the batch.
        body: The bytes that go to the destination (HTTP body, COPY data, ...); the engine
            hashes them for the checksum and idempotency key and counts them as bytes sent.
        data: Anything else the sink needs to send the batch (e.g. parameter rows).
    """

    rows: int
    body: bytes
    data: Any = None


@dataclass
class BatchAck:
    """What the destination confirmed for one batch.

    Attributes:
        rows_confirmed: Rows the destination accepted.
        record_ids: IDs returned by the destination, when it returns any.
        rows_skipped: Rows not written because the destination already had them
            (e.g. an already-applied idempotency key).
    """

    rows_confirmed: int
    record_ids: list[str] = field(default_factory=list)
    rows_skipped: int = 0


class Sink(ABC):
    """One destination connection. Subclasses are small: config, encode, send.

    Construction validates the configuration and checks that the destination is reachable
    and accepts the credentials, raising ``SinkConfigurationError``/``SinkConnectionError``.
    """

    sink_type: ClassVar[str]
    capabilities: ClassVar[SinkCapabilities]

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.destination = config.destination_name

    @property
    @abstractmethod
    def identity(self) -> str:
        """Stable, secret-free identity of the destination (e.g. ``POST https://host/path``).

        Part of every idempotency key, so the same rows sent to two places get different keys.
        """

    @property
    def effective_capabilities(self) -> SinkCapabilities:
        """What this configured instance can do: the class's capabilities, narrowed by config.

        The engine reads this, not ``capabilities``, so a sink can apply settings such as a
        request-rate or concurrency limit (e.g. ``dataclasses.replace(self.capabilities, ...)``).
        """
        return self.capabilities

    @property
    def secret_values(self) -> list[str]:
        """Secret values to scrub from any message this sink produces."""
        return []

    @property
    def replaces_on_close(self) -> bool:
        """True when a write replaces the destination's contents as a whole at ``close``.

        The rows sent are kept only by ``close(True)``; ``close(False)`` discards them, so the
        engine reports nothing delivered for a write that failed. Such a sink needs one
        ``open``/``close`` around all of a load's rows, which a dlt destination (called per
        batch, with no end-of-load hook) cannot give it.
        """
        return False

    @property
    def dlt_destination(self) -> Any:
        """A ``@dlt.destination`` delivering each dlt batch through this sink (dlt imported now).

        See ``floe_ingestion_dlt.sinks.dlt_adapter``.
        """
        from floe_ingestion_dlt.sinks.dlt_adapter import dlt_destination

        return dlt_destination(self)

    def open(self, schema: pa.Schema) -> None:  # noqa: B027 - optional hook
        """Prepare for a write of rows with ``schema`` (after field mapping)."""

    @abstractmethod
    def encode(self, batch: pa.RecordBatch) -> Payload:
        """Turn a batch into what will be sent. Pure: same batch, same payload."""

    def encode_many(self, batches: Sequence[pa.RecordBatch]) -> list[Payload]:
        """Encode consecutive batches at once: one payload per batch, in order.

        Each payload must be exactly what ``encode`` gives for its batch alone (its
        idempotency key is derived from it); the engine calls this when ``encode_group_rows``
        is set. The default calls ``encode`` per batch.
        """
        return [self.encode(batch) for batch in batches]

    @abstractmethod
    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        """Deliver one payload. Raise a ``PluginError`` subclass on failure.

        Must be safe to call again with the same payload and key after a transient error.
        """

    def close(self, success: bool) -> None:  # noqa: B027 - optional hook
        """Finish a write (``success`` is False when it is being abandoned)."""

    def dispose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and clients."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.dispose()
