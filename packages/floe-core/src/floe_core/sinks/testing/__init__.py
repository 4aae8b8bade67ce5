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

from floe_core.sinks.testing.destination import Destination
from floe_core.sinks.testing.doubles import (
    CONFORMANCE_RETRY,
    FakeClock,
    SendLog,
    Sent,
    conformance_rows,
)
from floe_core.sinks.testing.suite import SinkConformance

__all__ = [
    "CONFORMANCE_RETRY",
    "Destination",
    "FakeClock",
    "SendLog",
    "Sent",
    "SinkConformance",
    "conformance_rows",
]
