"""Incremental sync: send only what changed since the last run, per primary key.

- ``floe_core.sync.modes``: which operations a ``sync_mode`` sends, and the sink key setting
  derived from ``primary_key``;
- ``floe_core.sync.fingerprint``: row keys and row fingerprints (and why polars hashes them);
- ``floe_core.sync.store``: ``FingerprintStore``, the fingerprints kept per destination;
- ``floe_core.sync.history``: the read path Iceberg's snapshot history allows;
- ``floe_core.sync.diff``: new, changed, unchanged and gone rows; NULL and duplicate keys;
- ``floe_core.sync.stream``: the rows a sync sends, batch by batch, and what it leaves alone;
- ``floe_core.sync.confirmations``: advancing the fingerprints batch by batch as confirmed;
- ``floe_core.sync.run``: ``SyncRun``, one destination's plan and delivery;
- ``floe_core.sync.preview``: its dry run;
- ``floe_core.sync.summary``: ``SyncSummary``, the part of the receipt a sync fills in.

Like ``floe_core.egress``, this package itself imports nothing: import the modules you need.
"""

from __future__ import annotations

__all__: list[str] = []
