"""The one loop every sink runs through: stream, map, chunk, send, measure.

``write(sink, data, operation=...)``:

1. reads ``data`` as a stream of record batches (never concatenated whole);
2. checks ``field_mapping`` and ``static_fields`` against the data, renames columns, nests
   dotted targets (for a sink with ``nested_fields``) and adds the static fields
   (:mod:`floe_core.sinks.shaping`);
3. re-cuts the stream into batches of exactly ``batch_size`` rows (the sink's default when
   unset, capped by its ``max_batch_size``; one row for its ``row_operations``);
4. encodes each batch in the calling thread (several at once through ``encode_many`` for a
   sink that sets ``encode_group_rows``) and sends it from a small thread pool
   (``capabilities.max_concurrency`` workers, at most one batch per worker waiting), under a
   shared rate limit, with retries (:mod:`floe_core.sinks.retry`) and a deterministic
   idempotency key per batch; results are taken in batch order;
5. returns an ``EgressResult`` built only from what was measured.

Every batch of a write carries the write's operation (the sink's ``default_operation`` unless
one is given); one the sink does not support is refused before anything is sent.

Failure handling:

- Configuration problems found before anything is sent (an operation the sink does not
  support, a ``field_mapping`` column the data lacks, an unusable ``retry_config``, data of
  the wrong type) raise.
- Rows the destination refuses for good (a refused batch, isolated by splitting, or rows a
  ``BatchAck`` lists in ``rejections``) are reported through ``on_rejected`` and counted in
  ``rows_rejected``; the write goes on with the next batch and ends with ``success=False``.
- A batch that still fails after all retries (or whose credentials are refused) stops the
  write: batches not yet sent are not sent, batches already in flight are awaited and
  counted, and the result has ``success=False`` with the error and what was delivered so far.
- An error raised while reading or encoding the input once sending has begun (a source file
  that cannot be read, a schema change part-way) stops the write too: the batches read before
  it are delivered and reported, not hidden behind an exception.
- A sink that replaces the destination's contents at ``close`` (``replaces_on_close``) keeps
  nothing from a write that ends in failure; its result then reports no row delivered.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, count
from typing import TYPE_CHECKING, Any

from floe_core.plugins.sink import EgressResult
from floe_core.sinks.base import Operation
from floe_core.sinks.batching import iter_record_batches, rechunk, resolve_batch_size
from floe_core.sinks.delivery import BatchOutcome, BatchSender
from floe_core.sinks.errors import SinkConfigurationError, WriteInterruptedError
from floe_core.sinks.idempotency import write_key
from floe_core.sinks.ratelimit import RateLimiter
from floe_core.sinks.retry import RetryPolicy
from floe_core.sinks.shaping import FieldMapping
from floe_core.sinks.tally import (
    MAX_LISTED_ERRORS,
    ConfirmedCallback,
    ProgressCallback,
    RejectedCallback,
    Tally,
)
from floe_core.sinks.tracing import (
    ATTR_SINK_BYTES,
    ATTR_SINK_ROWS_REJECTED,
    SPAN_WRITE,
    current_context,
    sink_span,
)

if TYPE_CHECKING:
    import threading

    import pyarrow as pa

    from floe_core.sinks.base import Payload, Sink

__all__ = [
    "MAX_LISTED_ERRORS",
    "ConfirmedCallback",
    "ProgressCallback",
    "RejectedCallback",
    "WriteOutcome",
    "run",
    "write",
]


#: Arrow data handed to ``encode_many`` at once, at most (about; one batch can exceed it).
GROUP_BYTES = 16 * 2**20


@dataclass
class WriteOutcome:
    """A write's result, and the error that stopped it (``None`` when nothing did)."""

    result: EgressResult
    error: BaseException | None


def write(
    sink: Sink,
    data: Any,
    *,
    operation: Operation | str | None = None,
    on_progress: ProgressCallback | None = None,
    on_rejected: RejectedCallback | None = None,
    confirmed: Collection[str] = (),
    on_confirmed: ConfirmedCallback | None = None,
) -> EgressResult:
    """Push ``data`` to ``sink`` and report what the destination confirmed.

    See :func:`run` for the arguments; this is ``run(...).result``.
    """
    return run(
        sink,
        data,
        operation=operation,
        on_progress=on_progress,
        on_rejected=on_rejected,
        confirmed=confirmed,
        on_confirmed=on_confirmed,
    ).result


def run(
    sink: Sink,
    data: Any,
    *,
    operation: Operation | str | None = None,
    on_progress: ProgressCallback | None = None,
    on_rejected: RejectedCallback | None = None,
    position_prefix: str = "",
    limiter: RateLimiter | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    confirmed: Collection[str] = (),
    on_confirmed: ConfirmedCallback | None = None,
    stop: threading.Event | None = None,
    max_concurrency: int | None = None,
) -> WriteOutcome:
    """Push ``data`` to ``sink``; the measured result and the error that stopped the write.

    Args:
        sink: An open sink (from ``create_sink``).
        data: A ``pyarrow.Table``, ``pyarrow.RecordBatchReader`` or iterable of
            ``pyarrow.RecordBatch``; read as a stream.
        operation: What the destination is to do with the rows; ``None``: the sink's
            ``default_operation``.
        on_progress: Called after each batch with the rows done so far (delivered, rejected
            and skipped).
        on_rejected: Called with each group of rows the destination refused for good (source
            column names, so they can be written again later) and the reason.
        position_prefix: Put before every batch position (part of its idempotency key), for
            a caller that delivers one logical write in several calls (one per dlt batch).
        limiter: A rate limiter shared by such calls; by default each write has its own,
            at the sink's ``default_rate_limit``.
        clock: Monotonic clock of the default rate limiter.
        sleep: How to wait, between retries (``Retry-After`` or backoff) and in the default
            rate limiter. A test passes a fake clock and its sleep
            (``floe_core.sinks.testing.FakeClock``): waits then take no time.
        confirmed: Idempotency keys of batches an earlier write of the same rows confirmed
            (a run that was interrupted): such a batch is not sent and its rows count as
            ``rows_skipped``. Keys are deterministic (sink identity, position, payload), so a
            key matches only the same rows cut the same way for the same destination.
        on_confirmed: Called with each batch's key and row count once the destination has
            answered for all its rows; what a caller records to resume an interrupted write.
            A batch confirmed whole is reported at once, from the worker thread that sent it
            (so not in batch order); one with refused rows after ``on_rejected`` was told of
            them, in batch order, from the calling thread. For a batch the engine splits, it
            is also called from a worker thread with ``split_marker(key)`` and 0 rows as a
            batch or piece starts being split, and with each piece confirmed whole as it is
            (the batch's own call then counts only the rows not reported with its pieces).
            It must be thread-safe.
            A sink that replaces the destination's contents at close keeps nothing of a write
            that does not finish, so for it neither ``confirmed`` nor ``on_confirmed`` is used.
        stop: Set from another thread (a signal handler) to end the write early: no further
            batch is sent, those in flight are awaited and counted, and the write ends with
            ``success=False`` and a ``WriteInterruptedError`` as its stopping error.
        max_concurrency: At most this many batches in flight, fewer than the sink's
            ``max_concurrency`` allows: for a caller whose writes share the destination's
            concurrency budget with writes elsewhere (one task of a fanned-out run).

    Returns:
        The measured result (``success`` is True only when every row was confirmed), and
        the error that stopped the write, if any, for a caller that must tell a transient
        failure from a permanent one.

    Raises:
        SinkConfigurationError: The sink does not support ``operation``, or the
            configuration does not fit the data (field mapping, retry_config, a schema
            change), found before the first batch is sent. Found later, such an error stops
            the write and is reported in the result instead.
        TypeError: ``data`` is not Arrow data.
    """
    started = time.perf_counter()
    chosen = _operation(sink, operation)
    identity = sink.identity
    if chosen is not sink.default_operation:
        # The same rows deleted and upserted must not share idempotency keys, neither the
        # batches' nor the write's (a sink may encode both as the same bytes).
        position_prefix = f"{position_prefix}{chosen.value}."
        identity = f"{identity}\n{chosen.value}"
    with sink_span(
        SPAN_WRITE,
        sink_type=sink.sink_type,
        destination=sink.destination,
        secrets=sink.secret_values,
    ) as span:
        if sink.replaces_on_close:
            confirmed, on_confirmed = (), None
        tally = Tally(sink, on_progress, on_rejected, on_confirmed)
        limiter = limiter or RateLimiter(
            sink.effective_capabilities.default_rate_limit, clock=clock, sleep=sleep
        )
        workers = sink.effective_capabilities.max_concurrency
        if max_concurrency is not None:
            workers = min(workers, max_concurrency)
        _run(sink, data, tally, chosen, position_prefix, limiter, sleep, confirmed, stop, workers)
        span.rows_written = tally.rows_delivered
        span.set(ATTR_SINK_ROWS_REJECTED, tally.rows_rejected)
        span.set(ATTR_SINK_BYTES, tally.bytes_sent)
        if tally.stop_error is not None:
            span.fail(tally.stop_error)
        elif tally.rows_rejected:
            span.fail(
                RuntimeError(f"{tally.rows_rejected} row(s) rejected by the destination"),
                status="partial",
            )
    result = EgressResult(
        success=not tally.errors and not tally.unlisted_errors,
        rows_delivered=tally.rows_delivered,
        bytes_transmitted=tally.bytes_sent,
        duration_seconds=time.perf_counter() - started,
        checksum=f"sha256:{tally.checksum.hexdigest()}",
        delivery_timestamp=datetime.now(UTC).isoformat(timespec="microseconds"),
        idempotency_key=write_key(identity, tally.digests),
        destination_record_ids=tally.record_ids,
        errors=tally.listed_errors(),
        rows_rejected=tally.rows_rejected,
        rows_skipped=tally.rows_skipped,
    )
    return WriteOutcome(result, tally.stop_error)


def _operation(sink: Sink, operation: Operation | str | None) -> Operation:
    """The write's operation, checked against what the sink supports."""
    supported = sink.effective_capabilities.operations
    listing = ", ".join(sorted(supported)) or "none"
    if operation is None:
        return sink.default_operation
    try:
        chosen = Operation(operation)
    except ValueError:
        raise SinkConfigurationError(
            f"unknown operation {operation!r}",
            destination=sink.destination,
            sink_type=sink.sink_type,
            hint=f"use one of {', '.join(o.value for o in Operation)}",
        ) from None
    if chosen not in supported:
        raise SinkConfigurationError(
            f"this destination cannot {chosen.value} rows; it supports: {listing}",
            destination=sink.destination,
            sink_type=sink.sink_type,
            hint="choose a supported operation, or change the destination's settings "
            "(see its sink's documentation for which settings allow which operations)",
        )
    return chosen


def _run(
    sink: Sink,
    data: Any,
    tally: Tally,
    operation: Operation,
    prefix: str,
    limiter: RateLimiter,
    sleep: Callable[[float], None],
    confirmed: Collection[str],
    stop: threading.Event | None,
    workers: int,
) -> None:
    """Send every batch, counting outcomes (and payload digests) in ``tally``."""
    capabilities = sink.effective_capabilities
    policy = RetryPolicy.from_config(
        sink.config.retry_config, destination=sink.destination, sink_type=sink.sink_type
    )
    size = resolve_batch_size(sink.config.batch_size, capabilities, operation)

    stream = iter_record_batches(data)
    first = next(stream, None)
    schema = first.schema if first is not None else getattr(data, "schema", None)
    if schema is None:
        return
    mapping = FieldMapping.for_schema(
        schema,
        sink.config.field_mapping,
        static_fields=sink.config.static_fields,
        nested=capabilities.nested_fields,
        destination=sink.destination,
        sink_type=sink.sink_type,
    )
    chunks: Iterator[pa.RecordBatch] = rechunk(
        chain([first], stream) if first is not None else (), size
    )
    first_chunk = next(chunks, None)
    if first_chunk is None:
        return

    sink.open(mapping.target_schema(schema))
    success = False
    try:
        batches = chain([first_chunk], chunks)
        _pump(
            sink,
            batches,
            mapping,
            policy,
            limiter,
            tally,
            operation,
            prefix,
            sleep,
            confirmed,
            stop,
            workers,
        )
        success = not tally.errors and not tally.unlisted_errors
    finally:
        sink.close(success)
    if not success and sink.replaces_on_close:
        tally.discard()


def _pump(
    sink: Sink,
    chunks: Iterator[pa.RecordBatch],
    mapping: FieldMapping,
    policy: RetryPolicy,
    limiter: RateLimiter,
    tally: Tally,
    operation: Operation,
    prefix: str,
    sleep: Callable[[float], None],
    confirmed: Collection[str],
    stop: threading.Event | None,
    workers: int,
) -> None:
    capabilities = sink.effective_capabilities
    workers = max(1, workers)
    sender = BatchSender(
        sink,
        policy,
        limiter,
        mapping,
        operation=operation,
        parent=current_context(),
        sleep=sleep,
        confirmed=confirmed,
        report=tally.report,
    )
    submitted = 0
    pending: deque[Future[BatchOutcome]] = deque()
    input_error: Exception | None = None
    encoded = _encoded(sink, chunks, mapping, capabilities.encode_group_rows, operation)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="floe-sink") as pool:
        try:
            for position in count():
                if stop is not None and stop.is_set():
                    tally.stop(WriteInterruptedError("the write was interrupted"))
                    break
                try:
                    # Encoding runs here while the workers send: CPU and I/O overlap.
                    item = next(encoded, None)
                    if item is None:
                        break
                    chunk, payload = item
                except Exception as exc:
                    if not submitted:
                        raise
                    # Sending has begun and what was sent stays sent: report it.
                    input_error = exc
                    break
                # The sending thread hashes the payload for its key (digest in the outcome).
                pending.append(pool.submit(sender.deliver, chunk, payload, f"{prefix}{position}"))
                submitted += 1
                # At most one batch per worker waits for a free worker: memory stays bounded.
                while pending and (len(pending) > workers + 1 or pending[0].done()):
                    tally.add(pending.popleft().result())
                    if tally.stopped:
                        break
                if tally.stopped:
                    break
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        if tally.stopped:
            # Batches not yet started are not sent; those in flight finish and are counted.
            # (After an input error the batches read before it are still delivered.)
            for future in pending:
                future.cancel()
        for future in pending:
            if not future.cancelled():
                tally.add(future.result())
    if input_error is not None:
        tally.stop(input_error)


def _encoded(
    sink: Sink,
    chunks: Iterator[pa.RecordBatch],
    mapping: FieldMapping,
    group_rows: int | None,
    operation: Operation,
) -> Iterator[tuple[pa.RecordBatch, Payload]]:
    """Each chunk with its payload, encoded alone or together with the next chunks.

    A sink that sets ``encode_group_rows`` gets up to that many rows at once, and about
    :data:`GROUP_BYTES` of Arrow data at most whatever the row width, so memory stays bounded.
    When reading the input fails, the chunks read before are still encoded and yielded first.
    """
    if not group_rows:
        for chunk in chunks:
            yield chunk, sink.encode(mapping.apply(chunk), operation)
        return
    group: list[pa.RecordBatch] = []
    rows = 0
    row_bytes = 0.0
    try:
        for chunk in chunks:
            if not group:
                row_bytes = chunk.nbytes / max(1, chunk.num_rows)
            group.append(chunk)
            rows += chunk.num_rows
            if rows >= group_rows or rows * row_bytes >= GROUP_BYTES:
                yield from _encode_group(sink, group, mapping, operation)
                group, rows = [], 0
    except Exception:
        yield from _encode_group(sink, group, mapping, operation)
        raise
    yield from _encode_group(sink, group, mapping, operation)


def _encode_group(
    sink: Sink, group: list[pa.RecordBatch], mapping: FieldMapping, operation: Operation
) -> Iterator[tuple[pa.RecordBatch, Payload]]:
    if not group:
        return
    payloads = sink.encode_many([mapping.apply(chunk) for chunk in group], operation)
    yield from zip(group, payloads, strict=True)
