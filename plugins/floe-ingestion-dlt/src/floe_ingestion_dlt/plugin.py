"""``DltIngestionPlugin``: floe's dlt plugin, both an ingestion plugin and a sink connector.

Ingestion (dlt sources into Iceberg) lives in ``ingestion/``; reverse ETL runs through
floe-core's sink engine (``floe_core.sinks``) into the sinks of ``sinks/``. Importing this
module is cheap: pyarrow, dlt, httpx, SQLAlchemy and pyiceberg are imported only by the
methods that need them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from floe_core.plugins import IngestionConfig, IngestionPlugin, IngestionResult
from floe_core.sinks import SinkPlugin

from floe_ingestion_dlt.sinks import SINK_TYPES

if TYPE_CHECKING:
    from floe_core.sinks import Sink

__all__ = ["DltIngestionPlugin"]

_PACKAGE = "floe-ingestion-dlt"


class DltIngestionPlugin(IngestionPlugin, SinkPlugin):
    """Loads sources into Iceberg with dlt, and pushes Iceberg rows to REST APIs and databases.

    Sinks: ``rest_api`` and ``sql_database`` (``list_available_sinks``), run by floe's sink
    engine (``SinkPlugin``). A sink from ``create_sink`` is a ``floe_core.sinks.Sink``; close
    it with ``dispose()`` or use it as a context manager. ``dlt_destination(sink)`` gives a
    ``@dlt.destination`` sending through the same sink, for use in any dlt pipeline.
    """

    sink_classes: ClassVar[dict[str, str]] = SINK_TYPES
    install_hint: ClassVar[str] = (
        "pip install 'floe-ingestion-dlt[postgres,mysql]' (or the driver you need)"
    )

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

        See ``floe_ingestion_dlt.ingestion.pipeline.create_pipeline``.
        """
        from floe_ingestion_dlt.ingestion import pipeline as ingestion

        return ingestion.create_pipeline(config, catalog_config, pipelines_dir=pipelines_dir)

    def run(self, pipeline: Any, **kwargs: Any) -> IngestionResult:
        """Run a pipeline from ``create_pipeline`` and report what it loaded."""
        from floe_ingestion_dlt.ingestion import pipeline as ingestion

        return ingestion.run(pipeline, **kwargs)

    def get_destination_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        """dlt destination settings for floe's Iceberg catalog."""
        from floe_ingestion_dlt.ingestion import pipeline as ingestion

        return ingestion.get_destination_config(catalog_config)

    # -- dlt ---------------------------------------------------------------------------------

    def dlt_destination(self, sink: Sink, *, name: str | None = None) -> Any:
        """A ``@dlt.destination`` delivering each dlt batch through ``sink`` (dlt imported now).

        See ``floe_ingestion_dlt.dlt_destination``.
        """
        from floe_ingestion_dlt.dlt_destination import dlt_destination

        return dlt_destination(sink, name=name)


@cache
def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(_PACKAGE)
    except PackageNotFoundError:
        return "0.0.0"
