"""From a Dagster partition to an Iceberg row filter: which source rows a partition sends.

A partitioned floe asset runs each partition as its own floe run over the rows its row filter
selects (``floe_core.egress.partitions``: its own lease, history and sync state). The mapping
from the partition to the filter is a function of the asset's execution context that returns a
pyiceberg expression string, given to ``FloeResource.run(context, row_filter=...)``:

- :func:`value_filter`: a static partition key is a column's value,
  ``StaticPartitionsDefinition(["EU", "US"])`` -> ``region = 'EU'``;
- :func:`time_window_filter`: a time partition (daily, hourly, ...) is a half-open range of a
  timestamp or date column, ``DailyPartitionsDefinition`` ->
  ``updated_at >= '2024-05-01T00:00:00+00:00' and updated_at < '2024-05-02T00:00:00+00:00'``;
- any function of your own, e.g. ``lambda context: f"country = '{context.partition_key[:2]}'"``
  (for a ``MultiPartitionsDefinition``, read ``context.partition_key.keys_by_dimension``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

import dagster as dg

__all__ = ["PartitionFilter", "iceberg_literal", "time_window_filter", "value_filter"]

#: The row filter of the partition being run.
PartitionFilter = Callable[[dg.AssetExecutionContext], str]

TimeColumnType = Literal["timestamptz", "timestamp", "date"]


def iceberg_literal(value: str) -> str:
    """``value`` as a quoted literal of a pyiceberg expression (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def value_filter(column: str) -> PartitionFilter:
    """Each partition key is a value of ``column``: ``<column> = '<partition key>'``."""

    def row_filter(context: dg.AssetExecutionContext) -> str:
        return f"{column} = {iceberg_literal(context.partition_key)}"

    return row_filter


def time_window_filter(column: str, column_type: TimeColumnType = "timestamptz") -> PartitionFilter:
    """Each time partition is the rows of its window:
    ``<column> >= '<start>' and <column> < '<end>'``.

    Args:
        column: A timestamp or date column of the source table.
        column_type: Its Iceberg type, which decides how the bounds are written:
            ``timestamptz`` with the window's UTC offset, ``timestamp`` as the window's wall
            time without an offset, ``date`` as dates.
    """

    def bound(moment: datetime) -> str:
        if column_type == "date":
            return moment.date().isoformat()
        if column_type == "timestamp":
            return moment.replace(tzinfo=None).isoformat()
        return moment.isoformat()

    def row_filter(context: dg.AssetExecutionContext) -> str:
        window = context.partition_time_window
        start, end = iceberg_literal(bound(window.start)), iceberg_literal(bound(window.end))
        return f"{column} >= {start} and {column} < {end}"

    return row_filter
