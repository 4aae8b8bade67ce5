"""Reading Gold tables from Iceberg.

- ``floe_core.iceberg.catalog``: catalogs from the manifest's ``catalog`` section (``sql`` and
  ``rest``);
- ``floe_core.iceberg.errors``: catalog errors mapped to floe's, transient ones retried;
- ``floe_core.iceberg.source``: ``IcebergSource``, a table streamed as Arrow record batches;
- ``floe_core.iceberg.files``: reading one scan's data files in small batches;
- ``floe_core.iceberg.prefetch``: running a reader a bounded number of batches ahead.

Import the modules you need; this package itself imports nothing, so ``import floe_core``
stays cheap and works without pyarrow or pyiceberg installed.
"""

from __future__ import annotations

__all__: list[str] = []
