"""An egress run: Gold tables sent to destinations, its state, receipts and observability.

- ``floe_core.egress.runner``: ``EgressRunner``, one run over the compiled destinations;
- ``floe_core.egress.session``: ``open_runner``, a runner with its state store and Secrets;
- ``floe_core.egress.partitions``: a destination restricted to a row filter, run on its own;
- ``floe_core.egress.destinations``: which destinations, their Secret keys, the catalog;
- ``floe_core.egress.prepare``: the steps that prepare a destination before anything is sent;
- ``floe_core.egress.preflight``: ``floe check``, the same steps as a list of checks;
- ``floe_core.egress.state``, ``state_tables``: run history and per-destination state;
- ``floe_core.egress.lease``: one run per destination at a time;
- ``floe_core.egress.journal``: the batches a run got confirmed, to resume an unfinished run;
- ``floe_core.egress.rejects``: rows a destination refused, one record per row, retried;
- ``floe_core.egress.receipt``: what a run did, as printed and stored;
- ``floe_core.egress.progress``: the progress display;
- ``floe_core.egress.observability``: logs and traces, redacted;
- ``floe_core.egress.arrow_memory``: the Arrow allocator of a run's process;
- ``floe_core.egress.errors``: ``EgressConfigError`` (``MassDeleteError``), ``StateStoreError``,
  ``LeaseHeldError``, ``RunInterruptedError``.

Incremental sync (the diff) lives in ``floe_core.sync``, reading Iceberg in
``floe_core.iceberg``, Secrets in ``floe_core.secrets``, the sink SDK in ``floe_core.sinks``.
Import the modules you need; this package itself imports nothing, so ``import floe_core``
stays cheap and works without pyarrow or pyiceberg installed.
"""

from __future__ import annotations

__all__: list[str] = []
