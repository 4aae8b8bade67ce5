"""The ingestion plugin type: load data from a source into the lakehouse."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any

from floe_core.plugins.metadata import PluginMetadata

__all__ = ["IngestionConfig", "IngestionPlugin", "IngestionResult"]


@dataclass
class IngestionConfig:
    """What to ingest and where to put it.

    Attributes:
        source_type: Kind of source (e.g. ``"filesystem"``, as the plugin names it).
        source_config: Source-specific settings.
        destination_table: Fully qualified Iceberg table (``namespace.table``).
        write_mode: ``"append"``, ``"replace"`` or ``"merge"``.
        schema_contract: dlt schema contract mode (``"evolve"``, ``"freeze"``, ...).
        cursor_field: Column used for incremental loading, if any.
        primary_key: Key column(s) for ``merge``.
    """

    source_type: str
    source_config: dict[str, Any]
    destination_table: str
    write_mode: str = "append"
    schema_contract: str = "evolve"
    cursor_field: str | None = None
    primary_key: str | list[str] | None = None

    def __post_init__(self) -> None:
        if not self.source_type.strip():
            raise ValueError("IngestionConfig.source_type must not be blank")
        if "." not in self.destination_table:
            raise ValueError(
                f"IngestionConfig.destination_table {self.destination_table!r} must be "
                "'namespace.table'"
            )
        if self.write_mode not in {"append", "replace", "merge"}:
            raise ValueError(
                f"IngestionConfig.write_mode {self.write_mode!r} must be append, replace or merge"
            )


@dataclass
class IngestionResult:
    """Measured outcome of one ingestion run."""

    success: bool
    rows_loaded: int = 0
    bytes_written: int = 0
    duration_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class IngestionPlugin(PluginMetadata):
    """A plugin that loads data from sources into Iceberg tables."""

    @property
    @abstractmethod
    def is_external(self) -> bool:
        """True when ingestion runs in an external service rather than in-process."""

    @abstractmethod
    def create_pipeline(self, config: IngestionConfig) -> Any:
        """Build a runnable pipeline for ``config``."""

    @abstractmethod
    def run(self, pipeline: Any, **kwargs: Any) -> IngestionResult:
        """Run a pipeline built by ``create_pipeline`` and report what it loaded."""

    @abstractmethod
    def get_destination_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        """Translate floe's catalog config into the plugin's destination settings."""
