"""``DltIngestionPlugin``: floe's dlt plugin, both an ingestion plugin and a sink connector.

Ingestion (dlt sources into Iceberg) lives in ``ingestion.py``; reverse ETL runs through the
shared engine (``engine.py``) into the sinks of ``sinks/``. Importing this module is cheap:
pyarrow, dlt, httpx, SQLAlchemy and pyiceberg are imported only by the methods that need them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_core.plugins import (
    EgressResult,
    IngestionConfig,
    IngestionPlugin,
    IngestionResult,
    SinkConfig,
    SinkConnector,
)

from floe_ingestion_dlt.sinks import available_sinks

if TYPE_CHECKING:
    import pyarrow as pa

    from floe_ingestion_dlt.sinks.base import Sink

__all__ = ["DltIngestionPlugin"]

_PACKAGE = "floe-ingestion-dlt"
_SECRET_KEY = re.compile(r"(?i)password|passwd|token|api[_-]?key|secret|credential")


class DltIngestionPlugin(IngestionPlugin, SinkConnector):
    """Loads sources into Iceberg with dlt, and pushes Iceberg rows to REST APIs and databases.

    Sinks: ``rest_api`` and ``sql_database`` (``list_available_sinks``). A sink handle from
    ``create_sink`` is a ``floe_ingestion_dlt.sinks.base.Sink``; close it with ``dispose()``
    or use it as a context manager. ``sink.dlt_destination`` gives a ``@dlt.destination``
    sending through the same sink, for use in any dlt pipeline.
    """

    @property
    def name(self) -> str:
        """``"dlt"``."""
        return "dlt"

    @property
    def version(self) -> str:
        """The installed version of ``floe-ingestion-dlt``."""
        return _package_version()

    @property
    def floe_api_version(self) -> str:
        """``"1.0"``."""
        return "1.0"

    @property
    def description(self) -> str:
        """One line about the plugin."""
        return "dlt ingestion into Iceberg, and reverse ETL to REST APIs and SQL databases"

    # -- IngestionPlugin ---------------------------------------------------------------------

    @property
    def is_external(self) -> bool:
        """False: pipelines run in this process."""
        return False

    def create_pipeline(
        self,
        config: IngestionConfig,
        catalog_config: dict[str, Any] | None = None,
        *,
        pipelines_dir: str | Path | None = None,
    ) -> Any:
        """Build a dlt pipeline loading ``config``'s source into its Iceberg table.

        Args:
            config: What to ingest and where.
            catalog_config: floe's catalog section; ``None`` uses pyiceberg's own configuration.
            pipelines_dir: Keep dlt's working folder here instead of a temporary one.

        See ``floe_ingestion_dlt.ingestion.create_pipeline``.
        """
        from floe_ingestion_dlt import ingestion

        return ingestion.create_pipeline(config, catalog_config, pipelines_dir=pipelines_dir)

    def run(self, pipeline: Any, **kwargs: Any) -> IngestionResult:
        """Run a pipeline from ``create_pipeline`` and report what it loaded."""
        from floe_ingestion_dlt import ingestion

        return ingestion.run(pipeline, **kwargs)

    def get_destination_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        """dlt destination settings for floe's Iceberg catalog."""
        from floe_ingestion_dlt import ingestion

        return ingestion.get_destination_config(catalog_config)

    # -- SinkConnector -------------------------------------------------------------------------

    def list_available_sinks(self) -> list[str]:
        """``["rest_api", "sql_database"]``."""
        return available_sinks()

    def create_sink(self, config: SinkConfig) -> Sink:
        """Validate ``config``, connect and check the credentials; return the sink.

        Raises:
            SinkConfigurationError: Unknown sink type, invalid config or retry_config.
            SinkConnectionError: The destination cannot be reached.
            SinkAuthenticationError: The destination refused the credentials.
        """
        from floe_ingestion_dlt.retry import RetryPolicy
        from floe_ingestion_dlt.sinks import load_sink_class
        from floe_ingestion_dlt.tracing import SPAN_CREATE_SINK, sink_span

        if not isinstance(config, SinkConfig):
            raise TypeError(f"create_sink takes a SinkConfig, got {type(config).__name__}")
        secrets = [
            str(value)
            for key, value in config.connection_config.items()
            if _SECRET_KEY.search(key) and value
        ]
        with sink_span(
            SPAN_CREATE_SINK,
            sink_type=config.sink_type,
            destination=config.destination_name,
            secrets=secrets,
        ):
            RetryPolicy.from_config(
                config.retry_config,
                destination=config.destination_name,
                sink_type=config.sink_type,
            )
            sink_class = load_sink_class(config.sink_type, destination=config.destination_name)
            return sink_class(config)

    def write(
        self,
        sink: Any,
        data: Any,
        *,
        on_progress: Callable[[int], None] | None = None,
        on_rejected: Callable[[pa.Table, str], None] | None = None,
        **kwargs: Any,
    ) -> EgressResult:
        """Push ``data`` to ``sink``; see :func:`floe_ingestion_dlt.engine.write`.

        Args:
            sink: A sink from ``create_sink``.
            data: ``pyarrow.Table``, ``pyarrow.RecordBatchReader`` or iterable of
                ``pyarrow.RecordBatch``.
            on_progress: Called with the rows done so far after each batch.
            on_rejected: Called with rows the destination refused for good, and why.

        Raises:
            SinkConfigurationError: The configuration does not fit the data.
            TypeError: ``sink`` is not from ``create_sink``, ``data`` is not Arrow data, or an
                unknown keyword argument was given.
        """
        from floe_ingestion_dlt import engine
        from floe_ingestion_dlt.sinks.base import Sink

        if kwargs:
            raise TypeError(f"write() got unexpected keyword argument(s): {', '.join(kwargs)}")
        if not isinstance(sink, Sink):
            raise TypeError(f"write() needs a sink from create_sink, got {type(sink).__name__}")
        return engine.write(sink, data, on_progress=on_progress, on_rejected=on_rejected)

    def get_source_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        """pyiceberg catalog properties for reading the source table."""
        from floe_core.egress.source import catalog_properties

        return dict(catalog_properties(catalog_config))


@cache
def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_PACKAGE)
    except PackageNotFoundError:
        return "0.0.0"
