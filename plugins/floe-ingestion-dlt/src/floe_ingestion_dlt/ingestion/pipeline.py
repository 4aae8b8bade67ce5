"""Ingestion: load a dlt source (REST API, SQL table, local files) into an Iceberg table.

How a run works: dlt extracts the source and normalizes it into Parquet load files (dlt's
schema inference, ``snake_case`` column names, nested data kept as JSON strings); dlt's load
step hands each file to a ``@dlt.destination`` that stages it into one pyiceberg transaction on
the target table (see ``iceberg_writer``); the transaction is committed once dlt has handed over
every file, so a run lands completely or not at all. dlt's own ``filesystem`` destination could
write Iceberg too, but it configures its catalog through dlt's global config providers, commits
per file, and merges in 1,000-row commits; writing through the catalog ourselves keeps the
catalog explicit and the run atomic.

dlt's working files (state, load packages) live in a temporary folder removed after each run,
or in ``pipelines_dir`` when one is given, where each run's load packages are deleted once the
run is committed.

Incremental loading (``IngestionConfig.cursor_field``) keeps its state in the Iceberg table
itself: a run only writes rows whose cursor is greater than the table's current maximum (rows
without a cursor value are therefore loaded only into an empty table). For ``sql_database``
the bound is also pushed into the query.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_core.plugins.ingestion import IngestionConfig, IngestionResult
from floe_core.secrets.redact import credential_values

from floe_ingestion_dlt.ingestion.errors import IngestionError, mapped_errors, source_errors
from floe_ingestion_dlt.ingestion.iceberg_writer import SCHEMA_CONTRACTS, IcebergTableWriter
from floe_ingestion_dlt.ingestion.sources import (
    SourceConfig,
    SqlDatabaseSourceConfig,
    build_resource,
    parse_source_config,
)

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

__all__ = ["IngestionPipeline", "create_pipeline", "get_destination_config", "run"]

_TRACER_NAME = "floe_ingestion_dlt"


@dataclass
class IngestionPipeline:
    """A validated ingestion job, ready to :func:`run` (as often as wanted).

    Attributes:
        config: What to load and where.
        source: The validated source settings.
        catalog: The open Iceberg catalog the table lives in.
        catalog_label: A secret-free description of that catalog, for messages.
        pipelines_dir: Where dlt keeps its working files (``None``: a temporary folder per run).
    """

    config: IngestionConfig
    source: SourceConfig
    catalog: Catalog
    catalog_label: str
    pipelines_dir: Path | None = None
    secrets: list[str] = field(default_factory=list, repr=False)

    @property
    def identifier(self) -> tuple[str, ...]:
        """The target table as ``(namespace..., table)``."""
        return tuple(self.config.destination_table.split("."))

    @property
    def table_name(self) -> str:
        """The target table's name without its namespace."""
        return self.identifier[-1]

    def close(self) -> None:
        """Release the catalog's connections."""
        self.catalog.close()


def create_pipeline(
    config: IngestionConfig,
    catalog_config: dict[str, Any] | None = None,
    *,
    pipelines_dir: str | Path | None = None,
) -> IngestionPipeline:
    """Validate ``config`` and open the catalog; nothing is read from the source yet.

    Args:
        config: Source type and settings, target ``namespace.table``, write mode, schema
            contract, cursor and primary key.
        catalog_config: floe's catalog section (see ``floe_core.iceberg.catalog``). ``None``
            uses pyiceberg's own configuration (``.pyiceberg.yaml`` / ``PYICEBERG_CATALOG__*``
            environment variables) for its default catalog.
        pipelines_dir: Keep dlt's working folder here instead of a temporary one.

    Raises:
        IngestionError: Bad source settings, write mode without what it needs, unknown schema
            contract, or a catalog that cannot be opened.
    """
    table = config.destination_table
    source = parse_source_config(config.source_type, config.source_config)
    if config.schema_contract not in SCHEMA_CONTRACTS:
        raise IngestionError(
            f"schema contract {config.schema_contract!r} is not supported",
            destination=table,
            hint=f"use one of: {', '.join(SCHEMA_CONTRACTS)}",
        )
    if config.write_mode == "merge" and not _keys(config.primary_key):
        raise IngestionError(
            "write mode 'merge' needs a primary key",
            destination=table,
            hint="set IngestionConfig.primary_key to the column(s) identifying a row",
        )
    if any(not part.strip() for part in table.split(".")):
        raise IngestionError(
            f"destination table {table!r} has an empty part",
            destination=table,
            hint="name it 'namespace.table'",
        )
    catalog, label = _open_catalog(catalog_config, table)
    return IngestionPipeline(
        config=config,
        source=source,
        catalog=catalog,
        catalog_label=label,
        pipelines_dir=Path(pipelines_dir) if pipelines_dir is not None else None,
        secrets=source.secret_values() + credential_values(catalog_config or {}),
    )


def _open_catalog(catalog_config: dict[str, Any] | None, table: str) -> tuple[Catalog, str]:
    from floe_core.errors import SourceError
    from floe_core.iceberg.catalog import describe_catalog, open_catalog

    if catalog_config is None:
        from pyiceberg.catalog import load_catalog

        label = "pyiceberg default catalog"
        try:
            return load_catalog(), label
        except (ValueError, OSError) as exc:
            raise IngestionError(
                f"no Iceberg catalog given and pyiceberg has no usable default: {exc}",
                destination=table,
                hint="pass catalog_config, or configure a catalog in .pyiceberg.yaml or "
                "PYICEBERG_CATALOG__DEFAULT__* environment variables",
            ) from exc
    try:
        return open_catalog(catalog_config, create=True), describe_catalog(catalog_config)
    except SourceError as exc:
        raise IngestionError(exc.message, destination=table, hint=exc.hint) from exc


def _keys(primary_key: str | list[str] | None) -> list[str]:
    if primary_key is None:
        return []
    return [primary_key] if isinstance(primary_key, str) else list(primary_key)


def run(pipeline: IngestionPipeline, **kwargs: Any) -> IngestionResult:
    """Extract the source, stage its rows into the Iceberg table and commit them once.

    Returns:
        ``IngestionResult`` with ``rows_loaded`` (rows appended; for ``merge``, rows inserted or
        changed) and ``bytes_written`` (size of the data files added) read back from the
        committed snapshots, and the wall-clock duration.

    Raises:
        IngestionError: The source could not be read, the data does not fit the table, or the
            commit failed. Nothing is committed then.
    """
    if kwargs:
        raise IngestionError(
            f"run() takes no options, got {', '.join(sorted(kwargs))}",
            destination=pipeline.config.destination_table,
            hint="put source settings into IngestionConfig.source_config",
        )
    from opentelemetry import trace

    started = time.monotonic()
    config = pipeline.config
    tracer = trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span("floe.ingestion.run") as span:
        span.set_attribute("ingestion.source_type", config.source_type)
        span.set_attribute("ingestion.destination_table", config.destination_table)
        span.set_attribute("ingestion.write_mode", config.write_mode)
        with mapped_errors(pipeline.config, pipeline.catalog_label, pipeline.secrets):
            writer, cursor_value = _writer(pipeline)
            with _working_dir(pipeline.pipelines_dir) as workdir:
                dlt_pipeline = _dlt_pipeline(pipeline, writer, workdir)
                with source_errors(config, pipeline.secrets):
                    resource = _resource(pipeline, cursor_value)
                try:
                    info = dlt_pipeline.run(
                        resource, table_name=pipeline.table_name, loader_file_format="parquet"
                    )
                except BaseException:
                    writer.abort()
                    raise
                stats = writer.commit()
                if pipeline.pipelines_dir is not None:
                    _drop_load_packages(Path(dlt_pipeline.working_dir), info.loads_ids)
        span.set_attribute("ingestion.rows_loaded", stats.rows_loaded)
        span.set_attribute("ingestion.bytes_written", stats.bytes_written)
    return IngestionResult(
        success=True,
        rows_loaded=stats.rows_loaded,
        bytes_written=stats.bytes_written,
        duration_seconds=time.monotonic() - started,
    )


def _writer(pipeline: IngestionPipeline) -> tuple[IcebergTableWriter, Any]:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    config = pipeline.config
    naming = NamingConvention()
    cursor: tuple[str, Any] | None = None
    last = None
    if config.cursor_field is not None:
        column = naming.normalize_identifier(config.cursor_field)
        last = _max_value(pipeline.catalog, pipeline.identifier, column)
        cursor = (column, last) if last is not None else None
    writer = IcebergTableWriter(
        pipeline.catalog,
        pipeline.identifier,
        write_mode=config.write_mode,
        merge_keys=[naming.normalize_identifier(key) for key in _keys(config.primary_key)],
        schema_contract=config.schema_contract,
        cursor=cursor,
    )
    return writer, last


def _max_value(catalog: Catalog, identifier: tuple[str, ...], column: str) -> Any:
    """The largest value of ``column`` in the table (``None``: no table, column or rows)."""
    import pyarrow.compute as pc
    from pyiceberg.exceptions import NoSuchTableError

    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        return None
    if column not in {f.name for f in table.schema().fields}:
        return None
    best = None
    for batch in table.scan(selected_fields=(column,)).to_arrow_batch_reader():
        value = pc.max(batch.column(0)).as_py()
        if value is not None and (best is None or value > best):
            best = value
    return best


def _resource(pipeline: IngestionPipeline, cursor_value: Any) -> Any:
    import dlt

    config = pipeline.config
    resource = build_resource(pipeline.source, pipeline.table_name)
    if isinstance(pipeline.source, SqlDatabaseSourceConfig) and config.cursor_field is not None:
        # Push the bound into the query; rows are filtered against the table again on write.
        resource.apply_hints(
            incremental=dlt.sources.incremental(
                config.cursor_field,
                initial_value=cursor_value,
                range_start="open",
                on_cursor_value_missing="include",
            )
        )
    return resource


def _dlt_pipeline(pipeline: IngestionPipeline, writer: IcebergTableWriter, workdir: Path) -> Any:
    import dlt

    table_name = pipeline.table_name

    def load_file(items: Any, table: Any) -> None:
        if table["name"] != table_name:
            raise IngestionError(
                f"the source produced rows for table {table['name']!r} besides {table_name!r}",
                destination=pipeline.config.destination_table,
            )
        writer.write_file(str(items))

    destination = dlt.destination(
        load_file,
        name="floe_iceberg",
        loader_file_format="parquet",
        batch_size=0,
        naming_convention="snake_case",
        max_table_nesting=0,
        loader_parallelism_strategy="sequential",
    )
    namespace = "_".join(pipeline.identifier[:-1])
    return dlt.pipeline(
        pipeline_name=f"floe_ingest_{namespace}_{table_name}",
        pipelines_dir=str(workdir),
        destination=destination,
        dataset_name=namespace,
    )


@contextmanager
def _working_dir(configured: Path | None) -> Iterator[Path]:
    if configured is not None:
        configured.mkdir(parents=True, exist_ok=True)
        yield configured
        return
    folder = Path(tempfile.mkdtemp(prefix="floe-dlt-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _drop_load_packages(working_dir: Path, load_ids: list[str]) -> None:
    """Delete the files of committed load packages; dlt keeps them by default."""
    loaded = working_dir / "load" / "loaded"
    for load_id in load_ids:
        shutil.rmtree(loaded / load_id, ignore_errors=True)


def get_destination_config(catalog_config: dict[str, Any]) -> dict[str, Any]:
    """Iceberg settings for dlt, from floe's catalog section.

    Returns the ``[iceberg_catalog]`` settings of dlt's ``filesystem`` destination
    (``iceberg_catalog_name``, ``iceberg_catalog_type``, ``iceberg_catalog_config`` holding the
    pyiceberg catalog properties) and, when the catalog has a warehouse, ``bucket_url``. The
    result can hold the catalog's client secret: treat it as secret material.
    """
    from floe_core.iceberg.catalog import catalog_name, catalog_properties

    props = catalog_properties(catalog_config)
    settings: dict[str, Any] = {
        "iceberg_catalog_name": catalog_name(catalog_config),
        "iceberg_catalog_type": props["type"],
        "iceberg_catalog_config": props,
    }
    if "warehouse" in props:
        settings["bucket_url"] = props["warehouse"]
    return settings
