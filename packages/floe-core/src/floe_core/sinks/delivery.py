"""Delivering one batch: rate limit, retries, and isolating rows the destination refuses.

:class:`BatchSender` is what runs in the engine's worker threads. For one encoded batch it
sends the payload with a deterministic idempotency key, retrying transient failures. Rows a
destination refuses while accepting the rest (``BatchAck.rejections``) are reported as
rejected as they are; rows it left unsent for their sake (``BatchAck.unsent``) are sent again
in one request. When the destination refuses a batch of several rows for good and the
sink allows it (``capabilities.splits_rejected_batches``), the batch is cut in two and each
half is sent on its own; a refused half is split again, down to single rows, so the good rows
are delivered and only the bad ones are reported as rejected.

Splitting goes level by level. When, after three levels, every one of the eight pieces is
still refused, the rows may all be refused for something they share (every row invalid, an
endpoint that refuses every body), or bad rows may be scattered through the batch (a few in
a thousand, in a batch of 50,000). The first piece tells them apart: it is halved down to a
single row, always into its first half, while both halves are refused (about two requests a
level). If every piece on the way was refused, down to that one row, the batch is rejected
whole with the destination's reason (15 requests, and two a level after them, instead of about
two requests per row). As soon as one piece on the way is accepted, the rows are refused one
by one: every refused piece is split on, down to single rows, and the good rows are
delivered. A batch with fewer than eight bad rows never has all eight pieces refused.

A batch the destination confirmed whole, without refusing a row, is reported at once
(``report``, from the worker thread, not in batch order): with several batches in flight, a
run killed while an earlier batch is still unanswered has recorded every later one that
arrived. While a batch is being split, each piece confirmed so is reported at once too, and so
is a marker for each batch or piece about to be split, so a run that dies part-way has
recorded which pieces arrived. Resuming, a batch or piece whose marker is among the
``confirmed`` keys is split straight away instead of being sent whole again (which would send
its confirmed pieces twice), and a piece whose key is confirmed is not sent. (A payload whose
ack refuses some rows is reported by the engine in batch order, once those rows are kept.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from floe_core.sinks.errors import ErrorCategory, PluginError, sanitize
from floe_core.sinks.idempotency import batch_key, payload_digest
from floe_core.sinks.retry import RetryPolicy, send_with_retry
from floe_core.sinks.tracing import (
    ATTR_SINK_BATCH_POSITION,
    ATTR_SINK_BATCH_ROWS,
    ATTR_SINK_BYTES,
    ATTR_SINK_RETRY_COUNT,
    SPAN_SEND_BATCH,
    sink_span,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from opentelemetry.context import Context

    from floe_core.sinks.base import BatchAck, Operation, Payload, Sink
    from floe_core.sinks.ratelimit import RateLimiter
    from floe_core.sinks.shaping import FieldMapping

__all__ = ["BatchOutcome", "BatchSender", "Delivered", "Rejected", "split_marker"]

#: Levels of halving after which a batch whose every piece is still refused is rejected whole.
_BATCH_WIDE_DEPTH = 3

PieceCallback = Callable[[str, int], None]


def split_marker(key: str) -> str:
    """The key recorded when batch ``key`` starts being split (it carries no rows)."""
    return f"split:{key}"


@dataclass
class Delivered:
    """A payload the destination confirmed."""

    body: bytes
    ack: BatchAck


@dataclass
class Rejected:
    """Rows the destination refused for good, with source column names, and why."""

    rows: pa.RecordBatch
    reason: str


@dataclass
class BatchOutcome:
    """What happened to one batch (and the pieces it was split into).

    Attributes:
        position: The batch's position in the write (``"0"``, ``"1"``, ...).
        rows: Rows in the batch.
        delivered: Confirmed payloads, in the order they were delivered.
        rejected: Rows refused for good.
        bytes_sent: Bytes of the payloads the destination answered, confirmed or refused for
            good, each counted once however often it was retried. A payload whose sending
            ended in an error that stops the write (unreachable, timeouts or 5xx after all
            retries, refused credentials) is not counted: the destination neither confirmed
            nor refused its rows, and it may never have arrived.
        error: The error that stops the write (transient after all retries, refused
            credentials, bad configuration); ``None`` otherwise.
        skipped: Not sent, because another batch had already stopped the write.
        already_delivered: Not sent, because its key is one an earlier write confirmed.
        digest: ``payload_digest`` of the batch's payload (skipped batches included).
        key: The batch's idempotency key.
        rows_before: Rows of pieces not sent, because an earlier write confirmed them.
        rows_reported: Rows of the batch or its pieces already reported through ``report``.
        reported: The batch itself was reported through ``report`` (confirmed whole).
    """

    position: str
    rows: int
    digest: str = ""
    key: str = ""
    already_delivered: bool = False
    delivered: list[Delivered] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    bytes_sent: int = 0
    error: PluginError | None = None
    skipped: bool = False
    rows_before: int = 0
    rows_reported: int = 0
    reported: bool = False


class BatchSender:
    """Sends batches of one write to one sink. Thread-safe: one instance serves all workers.

    Args:
        sink: The destination.
        policy: Retry policy.
        limiter: Rate limiter shared by all workers.
        mapping: Field mapping, to re-encode pieces of a split batch.
        operation: The write's operation, to re-encode pieces of a split batch.
        parent: Tracing context of the write, for the per-batch spans.
        sleep: How to wait between retries.
        confirmed: Keys of batches an earlier write delivered: such a batch is not sent.
        report: Told, as soon as the destination confirmed it without refusing a row, each
            batch and each piece of a split batch (its key and rows), and
            ``split_marker(key)`` with 0 rows before a batch or piece is split; called from
            the worker threads.
    """

    def __init__(
        self,
        sink: Sink,
        policy: RetryPolicy,
        limiter: RateLimiter,
        mapping: FieldMapping,
        *,
        operation: Operation | None = None,
        parent: Context | None = None,
        sleep: Callable[[float], None] = time.sleep,
        confirmed: Collection[str] = (),
        report: PieceCallback | None = None,
    ) -> None:
        self._sink = sink
        self._confirmed = confirmed
        self._on_piece = report
        self._sleep = sleep
        self._operation = operation
        self._policy = policy
        self._limiter = limiter
        self._mapping = mapping
        self._parent = parent
        self._identity = sink.identity
        self._secrets = tuple(sink.secret_values)
        self._splits = sink.effective_capabilities.splits_rejected_batches
        self._stopped = threading.Event()

    def deliver(
        self, batch: pa.RecordBatch, payload: Payload, position: str, digest: str | None = None
    ) -> BatchOutcome:
        """Deliver one batch.

        Args:
            batch: The rows, with source column names (used to split and to report rejects).
            payload: The batch encoded by the sink.
            position: Position of the batch in the write, part of its idempotency key.
            digest: ``payload_digest(payload.body)`` when the caller already has it;
                otherwise it is computed here, in the sending thread (hashlib releases the
                GIL, so the engine's thread keeps encoding meanwhile).

        Returns:
            The outcome; errors are in it, not raised (except bugs, which propagate).
        """
        digest = digest or payload_digest(payload.body)
        key = batch_key(self._identity, position, digest)
        outcome = BatchOutcome(position=position, rows=batch.num_rows, digest=digest, key=key)
        if key in self._confirmed:
            outcome.already_delivered = True
            return outcome
        if self._stopped.is_set():
            outcome.skipped = True
            return outcome
        if split_marker(key) in self._confirmed:
            # An earlier write was splitting this batch: sent whole, its confirmed pieces
            # would arrive twice.
            self._refused(batch, position, self._refused_before(), outcome)
        else:
            self._deliver(batch, payload, position, digest, outcome)
        if outcome.error is not None:
            self._stopped.set()
        return outcome

    def _deliver(
        self,
        batch: pa.RecordBatch,
        payload: Payload,
        position: str,
        digest: str,
        outcome: BatchOutcome,
    ) -> None:
        refusal = self._attempt(batch, payload, position, digest, outcome)
        if refusal is not None:
            self._refused(batch, position, refusal, outcome)
        elif outcome.error is None and not outcome.rejected and self._on_piece is not None:
            self._on_piece(outcome.key, outcome.rows)
            outcome.rows_reported, outcome.reported = outcome.rows, True

    def _attempt(
        self,
        batch: pa.RecordBatch,
        payload: Payload,
        position: str,
        digest: str,
        outcome: BatchOutcome,
    ) -> PluginError | None:
        """Send one payload and record the answer in ``outcome``.

        Returns:
            The destination's refusal when it refused the payload for good (a
            ``PERMANENT`` error); ``None`` when it confirmed it or when an error stops the
            write (then in ``outcome.error``).
        """
        key = batch_key(self._identity, position, digest)
        try:
            ack = self._send(payload, key, position)
        except PluginError as exc:
            if exc.retryable or exc.category is ErrorCategory.CONFIGURATION:
                # It may never have arrived (unreachable, timed out): its bytes do not count.
                outcome.error = exc
                return None
            # Refused for good: the destination received it and answered, so it counts.
            outcome.bytes_sent += len(payload.body)
            return exc
        outcome.bytes_sent += len(payload.body)
        if ack.rows_confirmed or ack.rows_skipped or not ack.unsent:
            outcome.delivered.append(Delivered(payload.body, ack))
        if ack.rejections:
            outcome.rejected.extend(self._row_rejections(batch, ack))
        if ack.unsent:
            self._resend(batch, ack, position, outcome)
        return None

    def _resend(
        self, batch: pa.RecordBatch, ack: BatchAck, position: str, outcome: BatchOutcome
    ) -> None:
        """Send the rows an ack left unsent once more, in one request of their own.

        The destination named the rows it refused (in ``ack.rejections``), so the rest need
        no splitting to find them; a refusal of the resent rows is handled as any other.
        """
        unsent = sorted(set(ack.unsent))
        if not ack.rejections or not all(0 <= p < batch.num_rows for p in unsent):
            raise IndexError(
                f"{self._sink.sink_type} sink left rows {unsent[:5]} of a batch of "
                f"{batch.num_rows} rows unsent, without naming a refused row"
            )
        part = batch.take(unsent)
        part_position = f"{position}.r"
        part_payload = self._sink.encode(self._mapping.apply(part), self._operation)
        refusal = self._attempt(
            part, part_payload, part_position, payload_digest(part_payload.body), outcome
        )
        if refusal is not None and outcome.error is None:
            self._refused(part, part_position, refusal, outcome)

    def _row_rejections(self, batch: pa.RecordBatch, ack: BatchAck) -> list[Rejected]:
        """The rows an ack lists as refused, grouped by reason, in order of first row."""
        by_reason: dict[str, list[int]] = {}
        for rejection in sorted(ack.rejections, key=lambda r: r.position):
            if not 0 <= rejection.position < batch.num_rows:
                raise IndexError(
                    f"{self._sink.sink_type} sink acknowledged a rejection of row "
                    f"{rejection.position} in a batch of {batch.num_rows} rows"
                )
            reason = sanitize(rejection.reason, self._secrets)
            by_reason.setdefault(reason, []).append(rejection.position)
        return [Rejected(batch.take(rows), reason) for reason, rows in by_reason.items()]

    def _refused(
        self, batch: pa.RecordBatch, position: str, refusal: PluginError, outcome: BatchOutcome
    ) -> None:
        """Split a refused batch level by level to deliver its good rows, or reject it whole.

        ``refusal`` and the refusals of the pieces are ``PERMANENT`` errors (see ``_attempt``):
        anything else has stopped the write before it gets here.
        """
        if not self._splits or batch.num_rows < 2:
            outcome.rejected.append(Rejected(batch, sanitize(str(refusal), self._secrets)))
            return
        if self._on_piece is not None:
            self._on_piece(split_marker(outcome.key), 0)
        rejected: dict[str, Rejected] = {}
        level = [(batch, position, refusal)]
        depth = 0
        while level:
            depth += 1
            refused = []
            for piece, where, why in level:
                if piece.num_rows < 2:
                    rejected[where] = Rejected(piece, sanitize(str(why), self._secrets))
                    continue
                half = piece.num_rows // 2
                for index, part in enumerate((piece.slice(0, half), piece.slice(half))):
                    part_position = f"{where}.{index}"
                    part_refusal = self._piece(part, part_position, outcome)
                    if outcome.error is not None:
                        return
                    if part_refusal is not None:
                        refused.append((part, part_position, part_refusal))
            if depth == _BATCH_WIDE_DEPTH and len(refused) == 2**depth:
                # Every piece of every level refused: all the rows, or bad rows everywhere?
                pending = self._probe(refused[0], outcome)
                if outcome.error is not None:
                    return
                if pending is None:
                    # Refused down to one row, every piece on the way: something all the rows
                    # share is refused. Nothing of this batch was delivered: it is rejected.
                    reason = sanitize(str(refusal), self._secrets)
                    outcome.rejected.append(Rejected(batch, reason))
                    return
                refused = [*pending, *refused[1:]]
            level = refused
        # In row order: a piece's position is the batch's, then ".0" or ".1" per level of
        # halving, so the positions of one batch's pieces sort as text in row order.
        outcome.rejected.extend(rejected[where] for where in sorted(rejected))

    def _probe(
        self, piece: tuple[pa.RecordBatch, str, PluginError], outcome: BatchOutcome
    ) -> list[tuple[pa.RecordBatch, str, PluginError]] | None:
        """Halve a refused ``piece`` into its first half while both halves are refused.

        Returns:
            ``None`` when every piece was refused down to a single row (the rows are refused
            for something they share); else the refused pieces left to split on (the
            second halves passed on the way, and a refused half beside the accepted one).
        """
        pending: list[tuple[pa.RecordBatch, str, PluginError]] = []
        part, where, _ = piece
        while part.num_rows > 1:
            half = part.num_rows // 2
            halves = [(part.slice(0, half), f"{where}.0"), (part.slice(half), f"{where}.1")]
            found: list[tuple[pa.RecordBatch, str, PluginError | None]] = []
            for sub, position in halves:
                found.append((sub, position, self._piece(sub, position, outcome)))
                if outcome.error is not None:
                    return pending
            refused = [(sub, position, why) for sub, position, why in found if why is not None]
            if len(refused) < 2:  # a piece went through: the rows are refused one by one
                return [*pending, *refused]
            pending.append(refused[1])
            part, where, _ = refused[0]
        return None

    def _piece(
        self, part: pa.RecordBatch, position: str, outcome: BatchOutcome
    ) -> PluginError | None:
        """Send one piece of a split batch (unless an earlier write confirmed it) and report
        it once confirmed; the destination's refusal, if it refused the piece."""
        payload = self._sink.encode(self._mapping.apply(part), self._operation)
        digest = payload_digest(payload.body)
        key = batch_key(self._identity, position, digest)
        if key in self._confirmed:
            outcome.rows_before += part.num_rows
            return None
        if split_marker(key) in self._confirmed:
            return self._refused_before()  # split again, below, without sending it whole
        rejected = len(outcome.rejected)
        refusal = self._attempt(part, payload, position, digest, outcome)
        if self._on_piece is None or outcome.error is not None:
            return refusal
        if refusal is None and len(outcome.rejected) == rejected:
            self._on_piece(key, part.num_rows)
            outcome.rows_reported += part.num_rows
        elif refusal is not None and part.num_rows > 1:
            self._on_piece(split_marker(key), 0)
        return refusal

    def _refused_before(self) -> PluginError:
        return PluginError(
            "refused by the destination when an interrupted earlier run sent it",
            destination=self._sink.destination,
            sink_type=self._sink.sink_type,
        )

    def _send(self, payload: Payload, key: str, position: str) -> BatchAck:
        with sink_span(
            SPAN_SEND_BATCH,
            sink_type=self._sink.sink_type,
            destination=self._sink.destination,
            secrets=self._secrets,
            parent=self._parent,
            attributes={
                ATTR_SINK_BATCH_ROWS: payload.rows,
                ATTR_SINK_BATCH_POSITION: position,
                ATTR_SINK_BYTES: len(payload.body),
            },
        ) as span:
            try:
                ack, attempts = send_with_retry(
                    lambda: self._sink.send(payload, key),
                    self._policy,
                    self._limiter,
                    sleep=self._sleep,
                )
            except PluginError as exc:
                rejected = exc.category is ErrorCategory.PERMANENT
                span.fail(exc, status="rejected" if rejected else "error")
                raise
            span.rows_written = ack.rows_confirmed
            span.set(ATTR_SINK_RETRY_COUNT, attempts - 1)
            return ack
