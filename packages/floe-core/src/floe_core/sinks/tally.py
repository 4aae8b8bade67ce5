"""The running totals of one write: what the destination confirmed, refused or already had.

Fed by the engine (``floe_core.sinks.engine``) in batch order, from its own thread; the
``EgressResult`` is built from these counts only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from floe_core.sinks.errors import sanitize
from floe_core.sinks.idempotency import DeliveryChecksum

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.sinks.base import Sink
    from floe_core.sinks.delivery import BatchOutcome

__all__ = [
    "MAX_LISTED_ERRORS",
    "ConfirmedCallback",
    "ProgressCallback",
    "RejectedCallback",
    "Tally",
]

ProgressCallback = Callable[[int], None]
RejectedCallback = Callable[["pa.Table", str], None]
ConfirmedCallback = Callable[[str, int], None]

#: Errors listed one by one in ``EgressResult.errors``; beyond that they are summarised.
MAX_LISTED_ERRORS = 100


class Tally:
    """Running totals of one write, fed in batch order from the calling thread."""

    def __init__(
        self,
        sink: Sink,
        on_progress: ProgressCallback | None,
        on_rejected: RejectedCallback | None,
        on_confirmed: ConfirmedCallback | None = None,
    ) -> None:
        self.rows_delivered = 0
        self.rows_rejected = 0
        self.rows_skipped = 0
        self.bytes_sent = 0
        self.record_ids: list[str] = []
        self.errors: list[str] = []
        self.unlisted_errors = 0
        self.stopped = False
        self.stop_error: BaseException | None = None
        self.discarded = False
        self.checksum = DeliveryChecksum()
        self.digests: list[str] = []  # of every batch the senders took, in order: the write key
        self._secrets = tuple(sink.secret_values)
        self._on_progress = on_progress
        self._on_rejected = on_rejected
        self._on_confirmed = on_confirmed

    def add(self, outcome: BatchOutcome) -> None:
        import pyarrow as pa

        self.digests.append(outcome.digest)
        if outcome.skipped:
            return
        if outcome.already_delivered:
            self.rows_skipped += outcome.rows
            self._progress()
            return
        self.bytes_sent += outcome.bytes_sent
        self.rows_skipped += outcome.rows_before
        for delivered in outcome.delivered:
            self.checksum.update(delivered.body)
            self.rows_delivered += delivered.ack.rows_confirmed
            self.rows_skipped += delivered.ack.rows_skipped
            self.record_ids.extend(delivered.ack.record_ids)
        for rejected in outcome.rejected:
            self.rows_rejected += rejected.rows.num_rows
            self._error(f"{rejected.rows.num_rows} row(s) rejected: {rejected.reason}")
            if self._on_rejected is not None:
                self._on_rejected(pa.Table.from_batches([rejected.rows]), rejected.reason)
        if outcome.error is not None:
            self._error(sanitize(str(outcome.error), self._secrets))
            if not self.stopped:
                self.stopped = True
                self.stop_error = outcome.error
        elif self._on_confirmed is not None and not outcome.reported:
            # Pieces of a split batch were reported as they were confirmed (or by an earlier
            # write): the rest now.
            self._on_confirmed(
                outcome.key, outcome.rows - outcome.rows_reported - outcome.rows_before
            )
        self._progress()

    @property
    def report(self) -> ConfirmedCallback | None:
        """What the senders tell, from their threads, about each batch or piece confirmed
        without a refused row, and each about to be split: the write's ``on_confirmed``."""
        return self._on_confirmed

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.rows_delivered + self.rows_rejected + self.rows_skipped)

    def stop(self, error: BaseException) -> None:
        """Stop the write because of ``error``, raised outside any batch's delivery."""
        from floe_core.errors import FloeError

        text = str(error) if isinstance(error, FloeError) else f"{type(error).__name__}: {error}"
        self._error(sanitize(text, self._secrets))
        if not self.stopped:
            self.stopped = True
            self.stop_error = error

    def discard(self) -> None:
        """The destination dropped everything this write sent: nothing counts as delivered."""
        if self.rows_delivered:
            self._error(
                f"the write failed, so the destination discarded the {self.rows_delivered} "
                "row(s) it had received; it holds none of them"
            )
        self.rows_delivered = 0
        self.record_ids = []
        self.checksum = DeliveryChecksum()
        self.discarded = True

    def _error(self, message: str) -> None:
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(message)
        else:
            self.unlisted_errors += 1

    def listed_errors(self) -> list[str]:
        if self.unlisted_errors:
            return [*self.errors, f"... and {self.unlisted_errors} more error(s) not listed"]
        return list(self.errors)
