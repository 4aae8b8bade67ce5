"""``floe demo``: the quickstart project and its generated Gold table.

- ``floe_core.demo.data``: ``gold.customers``, generated deterministically;
- ``floe_core.demo.quickstart``: the demo run, end to end, with no infrastructure.

This package itself imports nothing (the demo needs pyarrow and pyiceberg).
"""

from __future__ import annotations

__all__: list[str] = []
