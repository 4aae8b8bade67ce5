"""Reading Iceberg tables, for standalone users of the plugin.

The reader and the catalog translation live in floe-core (``floe_core.iceberg.source``) so the
egress runner and this plugin share one implementation; they are re-exported here.
"""

from __future__ import annotations

from floe_core.iceberg.catalog import open_catalog
from floe_core.iceberg.source import IcebergSource, catalog_properties

__all__ = ["IcebergSource", "catalog_properties", "open_catalog"]
