"""floe used as a library, as user code would: the plugin facade, ``create_sink``, ``write``."""

from __future__ import annotations

import importlib.util
from typing import Any

import pyarrow as pa

from benchmarks.harness import Unavailable

__all__ = ["check_sink_type", "write"]


def _plugin() -> Any:
    try:
        from floe_ingestion_dlt.plugin import DltIngestionPlugin
    except ImportError as exc:
        raise Unavailable(f"floe_ingestion_dlt.plugin cannot be imported ({exc})") from exc
    return DltIngestionPlugin()


def check_sink_type(sink_type: str) -> None:
    """Raise ``Unavailable`` unless the installed plugin lists ``sink_type``."""
    plugin = _plugin()
    try:
        sinks = plugin.list_available_sinks()
    except NotImplementedError as exc:
        raise Unavailable("DltIngestionPlugin.list_available_sinks is not implemented") from exc
    if sink_type not in sinks:
        raise Unavailable(f"sink type {sink_type!r} is not provided yet (plugin lists {sinks})")
    try:
        from floe_ingestion_dlt.sinks import SINK_TYPES
    except ImportError:
        return
    module = SINK_TYPES.get(sink_type, "").partition(":")[0]
    if module and importlib.util.find_spec(module) is None:
        raise Unavailable(f"{module} does not exist yet")


def write(
    sink_type: str,
    connection_config: dict[str, Any],
    data: pa.Table,
    batch_size: int | None = None,
    destination_name: str = "bench",
    field_mapping: dict[str, str] | None = None,
    static_fields: dict[str, Any] | None = None,
) -> Any:
    """``create_sink`` + ``write`` + ``dispose``; raise unless every row was confirmed."""
    from floe_core.plugins.sink import SinkConfig

    plugin = _plugin()
    config = SinkConfig(
        sink_type=sink_type,
        connection_config=connection_config,
        batch_size=batch_size,
        destination_name=destination_name,
        field_mapping=field_mapping,
        static_fields=static_fields,
    )
    sink = plugin.create_sink(config)
    try:
        result = plugin.write(sink, data)
    finally:
        dispose = getattr(sink, "dispose", None)
        if callable(dispose):
            dispose()
    if not result.success or result.rows_delivered != data.num_rows:
        raise RuntimeError(
            f"floe reported success={result.success}, rows_delivered={result.rows_delivered} "
            f"of {data.num_rows}: {result.errors[:3]}"
        )
    return result
