"""The conformance cases, as methods of a class a plugin's test subclasses."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from floe_core.sinks.base import Operation, Sink
from floe_core.sinks.testing.doubles import (
    CONFORMANCE_RETRY,
    FakeClock,
    SendLog,
    conformance_rows,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.sinks.engine import WriteOutcome
    from floe_core.sinks.testing.destination import Destination

__all__ = ["SinkConformance"]

_CHECKSUM = re.compile(r"sha256:[0-9a-f]{64}")


class SinkConformance:
    """The conformance cases; subclass as ``Test...`` and provide a ``destination`` fixture.

    The fixture yields a fresh :class:`Destination` per test. Every case builds its sink
    through ``destination.plugin.create_sink`` and writes through :meth:`write`.
    """

    # -- helpers -------------------------------------------------------------------------

    def sink(
        self,
        destination: Destination,
        *,
        batch_size: int | None = 10,
        retry: dict[str, Any] | None = None,
    ) -> Sink:
        """A sink for ``destination`` (``retry`` overrides :data:`CONFORMANCE_RETRY`)."""
        config = destination.sink_config(
            batch_size=batch_size, retry_config=CONFORMANCE_RETRY | (retry or {})
        )
        sink = destination.plugin.create_sink(config)
        assert isinstance(sink, Sink), f"create_sink returned {type(sink).__name__}, not a Sink"
        return sink

    def write(
        self,
        sink: Sink,
        data: Any,
        *,
        clock: FakeClock | None = None,
        operation: Operation | str | None = None,
        rejected: list[tuple[pa.Table, str]] | None = None,
    ) -> WriteOutcome:
        """Write through floe's engine with a fake clock (no real waiting)."""
        from floe_core.sinks.engine import run

        clock = clock or FakeClock()
        on_rejected = None if rejected is None else (lambda t, why: rejected.append((t, why)))
        return run(
            sink, data, operation=operation, on_rejected=on_rejected, clock=clock, sleep=clock.sleep
        )

    @staticmethod
    def names_by_id(rows: list[dict[str, Any]]) -> dict[int, str]:
        """``{id: name}`` of rows read back from a destination (ids as ints)."""
        return {int(row["id"]): str(row["name"]) for row in rows}

    @staticmethod
    def expected(table: pa.Table, *, without: Collection[int] = ()) -> dict[int, str]:
        """``{id: name}`` of ``table``'s rows, leaving out the ids in ``without``."""
        return {row["id"]: row["name"] for row in table.to_pylist() if row["id"] not in without}

    # -- cases ---------------------------------------------------------------------------

    def test_empty_input_sends_nothing_and_succeeds(self, destination: Destination) -> None:
        with self.sink(destination) as sink:
            log = SendLog.attach(sink)
            result = self.write(sink, conformance_rows(0)).result
            nothing = self.write(sink, iter([])).result
        assert result.success and nothing.success, result.errors + nothing.errors
        assert (result.rows_delivered, result.rows_rejected, result.bytes_transmitted) == (0, 0, 0)
        assert nothing.rows_delivered == 0
        assert log.sends == []
        assert destination.rows() == []

    def test_batches_have_the_configured_size(self, destination: Destination) -> None:
        table = conformance_rows(50)
        with self.sink(destination, batch_size=7) as sink:
            log = SendLog.attach(sink)
            limit = sink.effective_capabilities.max_batch_size
            result = self.write(sink, table).result
        size = min(7, limit or 7)
        sizes = [size] * (50 // size) + ([50 % size] if 50 % size else [])
        assert result.success, result.errors
        assert result.rows_delivered == 50
        # Concurrent sends may start out of order; each batch has the size asked for.
        assert sorted((sent.rows for sent in log.sends), reverse=True) == sizes
        arrived = destination.batch_sizes()
        if arrived is not None:
            assert sorted(arrived, reverse=True) == sizes
        assert self.names_by_id(destination.rows()) == self.expected(table)

    def test_a_transient_failure_is_retried_with_the_same_idempotency_key(
        self, destination: Destination
    ) -> None:
        table = conformance_rows(10)
        with self.sink(destination) as sink:
            log = SendLog.attach(sink)
            destination.fail_transiently(2)
            outcome = self.write(sink, table)
        assert outcome.result.success, outcome.result.errors
        assert outcome.result.rows_delivered == 10
        assert len(log.sends) == 3, "two failed attempts and one that succeeded"
        assert len(set(log.keys)) == 1, "a retry must carry the same idempotency key"
        assert all(getattr(s.error, "retryable", False) for s in log.sends[:2]), [
            repr(s.error) for s in log.sends[:2]
        ]
        rows = destination.rows()
        assert len(rows) == 10, "each row arrives once"
        assert self.names_by_id(rows) == self.expected(table)

    def test_retry_after_is_honoured(self, destination: Destination) -> None:
        table = conformance_rows(10)
        clock = FakeClock()
        with self.sink(destination) as sink:
            log = SendLog.attach(sink)
            if destination.answers_retry_after:
                destination.answer_retry_after(7)
            else:
                destination.fail_transiently(1)
            result = self.write(sink, table, clock=clock).result
        assert result.success, result.errors
        assert len(log.sends) == 2 and len(set(log.keys)) == 1
        asked = getattr(log.sends[0].error, "retry_after", None)
        if destination.answers_retry_after:
            assert asked == 7, f"the sink's error should carry retry_after=7, got {asked!r}"
            assert clock.sleeps and clock.sleeps[0] == 7, clock.sleeps
        else:
            # This destination never asks to wait: the engine waits its own first backoff.
            assert asked is None, f"declared no Retry-After, but the error asked for {asked!r}"
            assert clock.sleeps == [CONFORMANCE_RETRY["initial_backoff_seconds"]]
        assert self.names_by_id(destination.rows()) == self.expected(table)

    def test_a_refused_row_is_isolated(self, destination: Destination) -> None:
        table = conformance_rows(20)
        rejected: list[tuple[pa.Table, str]] = []
        with self.sink(destination, batch_size=8) as sink:
            capabilities = sink.effective_capabilities
            if not destination.refuses_rows:
                # Nothing is ever refused, so there is nothing to isolate.
                assert not capabilities.splits_rejected_batches
                assert not destination.reports_row_rejections
                return
            destination.refuse_row(13)
            result = self.write(sink, table, rejected=rejected).result
        isolates = capabilities.splits_rejected_batches or destination.reports_row_rejections
        refused = {13} if isolates else set(range(8, 16))
        assert not result.success
        assert result.rows_rejected == len(refused)
        assert result.rows_delivered == 20 - len(refused)
        assert self.names_by_id(destination.rows()) == self.expected(table, without=refused)
        assert [t.column_names for t, _ in rejected] == [["id", "name"]]
        assert [t.column("id").to_pylist() for t, _ in rejected] == [sorted(refused)]
        assert rejected[0][1], "a rejection says why"
        assert any(f"{len(refused)} row(s) rejected" in e for e in result.errors), result.errors

    def test_rows_refused_in_an_accepted_batch_come_back_as_row_rejections(
        self, destination: Destination
    ) -> None:
        table = conformance_rows(20)
        rejected: list[tuple[pa.Table, str]] = []
        with self.sink(destination, batch_size=10) as sink:
            log = SendLog.attach(sink)
            splits = sink.effective_capabilities.splits_rejected_batches
            if not destination.refuses_rows:
                assert not splits and not destination.reports_row_rejections
                return
            destination.refuse_row(13)
            result = self.write(sink, table, rejected=rejected).result
        reported = [r for ack in log.acks for r in ack.rejections]
        assert result.rows_rejected == 1
        assert [t.column("id").to_pylist() for t, _ in rejected] == [[13]]
        if destination.reports_row_rejections:
            assert len(log.sends) == 2, "per-row rejections need no splitting"
            assert [r.position for r in reported] == [3], "row 13 is the 4th of the 2nd batch"
            assert rejected[0][1] == reported[0].reason
        else:
            # Declared: the sink refuses a batch with an error, and the engine splits it.
            assert reported == [], "declared no per-row rejections, but an ack carried some"
            assert splits and len(log.sends) > 2
        assert self.names_by_id(destination.rows()) == self.expected(table, without={13})

    def test_receipts_add_up(self, destination: Destination) -> None:
        table = conformance_rows(25)
        with self.sink(destination, batch_size=10) as sink:
            log = SendLog.attach(sink)
            first = self.write(sink, table).result
            sent_first = list(log.sends)
            again = self.write(sink, table).result
            other = self.write(sink, conformance_rows(25, start=100)).result
            # The checksum covers the confirmed payloads in batch order, whatever the
            # order they were sent in: here, every batch of the first write.
            bodies = [sink.encode(batch).body for batch in table.to_batches(max_chunksize=10)]
            arrived = self.names_by_id(destination.rows())
            log.sends.clear()
            partial = None
            if destination.refuses_rows:
                destination.refuse_row(207)
                partial = self.write(sink, conformance_rows(25, start=200)).result
        for result in (first, again, other):
            assert result.success, result.errors
            assert (result.rows_delivered, result.rows_rejected) == (25, 0)
            assert _CHECKSUM.fullmatch(result.checksum), result.checksum
        assert first.checksum == "sha256:" + hashlib.sha256(b"".join(bodies)).hexdigest()
        assert first.bytes_transmitted == sum(len(s.body) for s in sent_first)
        assert again.idempotency_key == first.idempotency_key, "same rows, same write key"
        assert again.checksum == first.checksum
        assert other.idempotency_key != first.idempotency_key
        assert arrived == self.expected(table) | self.expected(conformance_rows(25, start=100))
        if partial is not None:
            assert not partial.success and partial.rows_rejected >= 1
            assert partial.rows_delivered + partial.rows_rejected == 25
            # Every payload the destination answered counts once, refused pieces included.
            assert partial.bytes_transmitted == sum(len(s.body) for s in log.sends)

    def test_an_operation_the_sink_lacks_is_refused_before_sending(
        self, destination: Destination
    ) -> None:
        from floe_core.sinks.errors import SinkConfigurationError

        with self.sink(destination) as sink:
            log = SendLog.attach(sink)
            supported = sink.effective_capabilities.operations
            assert supported, "a sink supports at least one operation"
            assert sink.default_operation in supported
            for operation in sorted(set(Operation) - supported):
                try:
                    self.write(sink, conformance_rows(3), operation=operation)
                except SinkConfigurationError as exc:
                    assert f"cannot {operation.value} rows" in str(exc)
                    assert not destination.secret or destination.secret not in str(exc)
                else:
                    raise AssertionError(f"{operation.value} was not refused")
        assert log.sends == []
        assert destination.rows() == []

    def test_a_delete_removes_the_rows_by_key(self, destination: Destination) -> None:
        table = conformance_rows(10)
        with self.sink(destination) as sink:
            if Operation.DELETE not in sink.effective_capabilities.operations:
                return  # refused before sending: see the case above
            self.write(sink, table)
            keys = conformance_rows(10).take([2, 5]).select(["id"])
            missing = conformance_rows(1, start=99).select(["id"])
            gone = self.write(sink, [*keys.to_batches(), *missing.to_batches()], operation="delete")
        assert gone.error is None
        assert gone.result.success, gone.result.errors
        # A key the destination does not have (99) is not an error.
        assert gone.result.rows_delivered == 3
        assert self.names_by_id(destination.rows()) == self.expected(table, without={2, 5})

    def test_no_secret_appears_in_errors(self, destination: Destination) -> None:
        from floe_core.secrets.redact import credential_values

        secret = destination.secret
        config = destination.sink_config(batch_size=5, retry_config=CONFORMANCE_RETRY)
        if secret is None:
            assert credential_values(config.connection_config) == [], (
                "declared no secret, but the connection config holds credentials"
            )
            secret = "\0no secret\0"
        else:
            assert secret in credential_values(config.connection_config), (
                "the destination's secret must be a credential of its connection config"
            )
        texts: list[str] = []
        with self.sink(destination, batch_size=10, retry={"max_attempts": 2}) as sink:
            destination.fail_transiently(2)  # both attempts of the one batch fail
            failed = self.write(sink, conformance_rows(10))
            texts += [*failed.result.errors, str(failed.error), repr(failed.error)]
            assert not failed.result.success and failed.error is not None
            if destination.refuses_rows:
                destination.refuse_row(3)
                rejected: list[tuple[pa.Table, str]] = []
                refused = self.write(sink, conformance_rows(10), rejected=rejected)
                texts += [*refused.result.errors, *(why for _, why in rejected)]
        leaked = [text for text in texts if secret in text]
        assert leaked == [], "the secret appears in errors"
