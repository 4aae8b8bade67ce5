"""Reading Gold tables from Iceberg and sending them to destinations.

Import the modules you need (``floe_core.egress.source``, ``floe_core.egress.catalog``, ...);
this package itself imports nothing, so ``import floe_core`` stays cheap and works without
pyarrow or pyiceberg installed.
"""

from __future__ import annotations

__all__: list[str] = []
