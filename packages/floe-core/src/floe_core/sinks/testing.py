"""A conformance suite for sinks: subclass it in pytest, give it a destination, run it.

A plugin author describes one fresh destination per test (how to configure a sink for it,
how to read back what arrived, and how to make it misbehave) and gets floe's cases for free::

    from floe_core.sinks.testing import Destination, SinkConformance

    class AcmeDestination(Destination):
        ...  # plugin, sink_config(), rows(), secret, and the hooks it can offer

    class TestAcmeSink(SinkConformance):
        @pytest.fixture
        def destination(self) -> Iterator[AcmeDestination]:
            with acme_test_account() as account:
                yield AcmeDestination(account)

The cases write :func:`conformance_rows` (columns ``id`` int64, the key, and ``name``
string, ``"item-007"`` for id 7) through ``plugin.create_sink`` and floe's engine, with a
:class:`FakeClock` so that retries and ``Retry-After`` waits take no time, and check what the
destination holds:

- empty input sends nothing and succeeds with 0 rows;
- ``batch_size`` is honoured (7 over 50 rows: batches of 7, then 1);
- a transient failure is retried with the same idempotency key and the rows arrive once;
- ``Retry-After`` is waited for (or, for a destination that sends none, the engine's backoff);
- a refused row is isolated: the others arrive, ``rows_rejected == 1``, ``on_rejected`` gets it;
- rows refused inside an accepted batch come back in ``BatchAck.rejections``, unsplit;
- receipts add up (rows, bytes, a ``sha256:<64 hex>`` checksum, a stable idempotency key);
- an operation the sink lacks is refused before anything is sent; a delete removes rows by key;
- no secret value of the connection config appears in errors.

What a destination cannot do is declared on it (``refuses_rows = False``, ...), not skipped:
such a case then checks that the sink's capabilities and answers agree with the declaration.

Importing this module needs neither pytest nor pyarrow; the cases import them when they run.
"""

from __future__ import annotations

import hashlib
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from floe_core.sinks.base import BatchAck, Operation, Payload, Sink

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_core.plugins.sink import SinkConfig
    from floe_core.sinks.engine import WriteOutcome
    from floe_core.sinks.plugin import SinkPlugin

__all__ = [
    "CONFORMANCE_RETRY",
    "Destination",
    "FakeClock",
    "SendLog",
    "SinkConformance",
    "conformance_rows",
]

#: The ``retry_config`` every case uses: five attempts, 0.25 s then doubling, no jitter.
CONFORMANCE_RETRY: dict[str, Any] = {
    "max_attempts": 5,
    "initial_backoff_seconds": 0.25,
    "max_backoff_seconds": 4.0,
    "jitter": False,
}

_CHECKSUM = re.compile(r"sha256:[0-9a-f]{64}")


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


class Destination(ABC):
    """One fresh destination for one conformance test, and what the suite may do to it.

    Declarations (class attributes, all True unless the destination says otherwise):
        refuses_rows: ``refuse_row`` can make the destination refuse one row for good.
        reports_row_rejections: The sink reports refused rows in ``BatchAck.rejections``
            (instead of raising ``SinkWriteError`` for the batch).
        answers_retry_after: ``answer_retry_after`` can make the destination ask the sink to
            wait (HTTP ``Retry-After``); a destination that never asks says False.
    """

    refuses_rows: ClassVar[bool] = True
    reports_row_rejections: ClassVar[bool] = False
    answers_retry_after: ClassVar[bool] = True

    @property
    @abstractmethod
    def plugin(self) -> SinkPlugin:
        """The plugin whose ``create_sink`` builds the sink under test."""

    @property
    @abstractmethod
    def secret(self) -> str | None:
        """A secret value (token, password) that ``sink_config`` puts in the connection config.

        ``None`` declares that this destination's config holds no secret (a SQLite file).
        """

    @abstractmethod
    def sink_config(self, *, batch_size: int | None, retry_config: dict[str, Any]) -> SinkConfig:
        """A ``SinkConfig`` for this destination, with ``id`` as its key where it needs one."""

    @abstractmethod
    def rows(self) -> list[dict[str, Any]]:
        """Every row the destination holds, as dicts keyed by destination field."""

    def batch_sizes(self) -> list[int] | None:
        """Rows per batch as the destination received them, or None if it cannot tell."""
        return None

    def fail_transiently(self, times: int) -> None:
        """Make the next ``times`` writes fail in a way worth retrying (busy, 503, deadlock)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement fail_transiently(times): every "
            "destination can fail transiently, and the suite checks the sink retries it"
        )

    def answer_retry_after(self, seconds: int) -> None:
        """Make the next write be answered "try again in ``seconds``" (HTTP 429/503)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement answer_retry_after(seconds), or declare "
            "answers_retry_after = False"
        )

    def refuse_row(self, row_id: int) -> None:
        """Make the destination refuse, for good, the row whose ``id`` is ``row_id``."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement refuse_row(row_id), or declare "
            "refuses_rows = False"
        )


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
        assert [sent.rows for sent in log.sends] == sizes
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
        for result in (first, again, other):
            assert result.success, result.errors
            assert result.rows_delivered + result.rows_rejected == 25
            assert _CHECKSUM.fullmatch(result.checksum), result.checksum
        assert first.bytes_transmitted == sum(len(s.body) for s in sent_first)
        if sink.effective_capabilities.max_concurrency == 1:
            confirmed = b"".join(s.body for s in sent_first if s.ack is not None)
            assert first.checksum == "sha256:" + hashlib.sha256(confirmed).hexdigest()
        assert again.idempotency_key == first.idempotency_key, "same rows, same write key"
        assert again.checksum == first.checksum
        assert other.idempotency_key != first.idempotency_key
        arrived = self.names_by_id(destination.rows())
        assert arrived == self.expected(table) | self.expected(conformance_rows(25, start=100))

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
