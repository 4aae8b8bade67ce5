"""The dlt sources ingestion can read: a REST API, a SQL database table, local files.

Each source type has a small config model (``IngestionConfig.source_config``, validated: an
unknown key or a bad value is an ``IngestionError`` naming it) and builds one dlt resource:

* ``rest_api`` -- dlt's ``rest_api`` source, one endpoint: ``base_url``, ``path``, ``params``,
  ``headers``, ``data_selector`` (JSON path to the records), ``paginator`` (a dlt paginator name
  such as ``"json_link"`` or a dict like ``{"type": "page_number", "total_path": null}``; by
  default dlt detects it), and auth from ``token`` (bearer), ``username`` + ``password`` (basic)
  or ``api_key`` (+ ``api_key_header``, default ``X-API-Key``).
* ``sql_database`` -- dlt's ``sql_table``: ``url`` (SQLAlchemy URL), ``table``, ``schema``,
  ``backend`` (``"pyarrow"``, default, or ``"sqlalchemy"``), ``chunk_size``,
  ``included_columns``.
* ``filesystem`` -- dlt's ``filesystem`` source over a local folder: ``path``, ``file_glob``
  (default ``*``), ``format`` (``csv``, ``parquet`` or ``jsonl``; by default taken from the glob's
  extension), ``csv_delimiter``.

dlt is imported only when a resource is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from floe_core.secrets.redact import credential_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from floe_ingestion_dlt.ingestion.errors import IngestionError

if TYPE_CHECKING:
    from dlt.extract.resource import DltResource

__all__ = [
    "SOURCE_TYPES",
    "FilesystemSourceConfig",
    "RestApiSourceConfig",
    "SourceConfig",
    "SqlDatabaseSourceConfig",
    "build_resource",
    "parse_source_config",
]

_CSV_BLOCK_BYTES = 16 * 1024 * 1024


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def secret_values(self) -> list[str]:
        """Secret values in this config, to redact from error messages.

        Secret fields and credential-named headers or params give their value; a URL gives
        only its password, so that messages keep naming the host and database.
        """
        found: list[str] = []
        for name, value in self.__dict__.items():
            if isinstance(value, SecretStr):
                found.extend(credential_values({name: value.get_secret_value()}))
            elif isinstance(value, dict):
                found.extend(credential_values(value))
        return found


class RestApiSourceConfig(_Model):
    """One REST endpoint read with dlt's ``rest_api`` source."""

    base_url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    path: Annotated[str, Field(min_length=1)]
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    data_selector: str | None = None
    paginator: str | dict[str, Any] | None = None
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    api_key_header: str = "X-API-Key"

    @model_validator(mode="after")
    def _one_auth(self) -> RestApiSourceConfig:
        chosen = [
            name
            for name, given in (
                ("token", self.token is not None),
                ("username/password", self.username is not None or self.password is not None),
                ("api_key", self.api_key is not None),
            )
            if given
        ]
        if len(chosen) > 1:
            raise ValueError(f"give one kind of credentials, not {' and '.join(chosen)}")
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth needs both username and password")
        return self

    def dlt_auth(self) -> dict[str, Any] | None:
        """The ``auth`` entry of dlt's REST client config."""
        if self.token is not None:
            return {"type": "bearer", "token": self.token.get_secret_value()}
        if self.username is not None and self.password is not None:
            return {
                "type": "http_basic",
                "username": self.username,
                "password": self.password.get_secret_value(),
            }
        if self.api_key is not None:
            return {
                "type": "api_key",
                "name": self.api_key_header,
                "api_key": self.api_key.get_secret_value(),
                "location": "header",
            }
        return None


class SqlDatabaseSourceConfig(_Model):
    """One table read with dlt's ``sql_table``."""

    url: SecretStr
    table: Annotated[str, Field(min_length=1)]
    db_schema: str | None = Field(default=None, alias="schema")
    backend: Literal["pyarrow", "sqlalchemy"] = "pyarrow"
    chunk_size: Annotated[int, Field(ge=1, le=1_000_000)] = 50_000
    included_columns: list[str] | None = None


class FilesystemSourceConfig(_Model):
    """Files in a local folder, read with dlt's ``filesystem`` source."""

    path: Annotated[str, Field(min_length=1)]
    file_glob: Annotated[str, Field(min_length=1)] = "*"
    format: Literal["csv", "parquet", "jsonl"] | None = None
    csv_delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","

    @model_validator(mode="after")
    def _format_known(self) -> FilesystemSourceConfig:
        if self.format is None and self.inferred_format() is None:
            raise ValueError(
                f"cannot tell the file format from file_glob {self.file_glob!r}; "
                "set format to csv, parquet or jsonl"
            )
        return self

    def inferred_format(self) -> Literal["csv", "parquet", "jsonl"] | None:
        """``format``, or the one the glob's extension names."""
        if self.format is not None:
            return self.format
        suffix = self.file_glob.rsplit(".", 1)[-1].lower() if "." in self.file_glob else ""
        known: dict[str, Literal["csv", "parquet", "jsonl"]] = {
            "csv": "csv",
            "parquet": "parquet",
            "jsonl": "jsonl",
            "ndjson": "jsonl",
        }
        return known.get(suffix)


SourceConfig = RestApiSourceConfig | SqlDatabaseSourceConfig | FilesystemSourceConfig
SOURCE_TYPES: dict[str, type[SourceConfig]] = {
    "rest_api": RestApiSourceConfig,
    "sql_database": SqlDatabaseSourceConfig,
    "filesystem": FilesystemSourceConfig,
}


def parse_source_config(source_type: str, source_config: dict[str, Any]) -> SourceConfig:
    """Validate ``source_config`` for ``source_type``.

    Raises:
        IngestionError: Unknown source type, unknown key, missing or bad value; the message
            names each problem and never echoes a secret.
    """
    model = SOURCE_TYPES.get(source_type)
    if model is None:
        raise IngestionError(
            f"unknown source type {source_type!r}",
            hint=f"use one of: {', '.join(sorted(SOURCE_TYPES))}",
        )
    try:
        config = model.model_validate(source_config)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "source_config"
            problems.append(f"{where}: {error['msg']}")
        allowed = sorted(field.alias or name for name, field in model.model_fields.items())
        raise IngestionError(
            f"invalid {source_type} source config: {'; '.join(problems)}",
            hint=f"{source_type} accepts: {', '.join(allowed)}",
        ) from None
    if isinstance(config, FilesystemSourceConfig) and not Path(config.path).is_dir():
        raise IngestionError(
            f"filesystem source folder {config.path!r} does not exist",
            hint="set source_config.path to an existing local folder",
        )
    return config


def build_resource(config: SourceConfig, name: str) -> DltResource:
    """The dlt resource that reads ``config``'s data, named ``name``."""
    if isinstance(config, RestApiSourceConfig):
        return _rest_api_resource(config, name)
    if isinstance(config, SqlDatabaseSourceConfig):
        return _sql_resource(config, name)
    return _filesystem_resource(config, name)


def _rest_api_resource(config: RestApiSourceConfig, name: str) -> DltResource:
    from dlt.sources.rest_api import rest_api_source

    client: dict[str, Any] = {"base_url": config.base_url, "headers": dict(config.headers)}
    auth = config.dlt_auth()
    if auth is not None:
        client["auth"] = auth
    endpoint: dict[str, Any] = {"path": config.path, "params": dict(config.params)}
    if config.data_selector is not None:
        endpoint["data_selector"] = config.data_selector
    if config.paginator is not None:
        endpoint["paginator"] = config.paginator
    api_config: Any = {"client": client, "resources": [{"name": name, "endpoint": endpoint}]}
    source = rest_api_source(
        api_config,
        name=f"{name}_api",
        max_table_nesting=0,
    )
    resource: DltResource = source.resources[name]
    return resource


def _sql_resource(config: SqlDatabaseSourceConfig, name: str) -> DltResource:
    from dlt.sources.sql_database import sql_table

    resource = sql_table(
        credentials=config.url.get_secret_value(),
        table=config.table,
        schema=config.db_schema,
        backend=config.backend,
        chunk_size=config.chunk_size,
        included_columns=config.included_columns,
        # Keeps NUMERIC(12,2) a decimal(12,2) instead of dlt's default decimal precision.
        reflection_level="full_with_precision",
    )
    return resource.with_name(name)


def _filesystem_resource(config: FilesystemSourceConfig, name: str) -> DltResource:
    import dlt
    from dlt.sources.filesystem import filesystem, read_jsonl, read_parquet

    files = filesystem(bucket_url=Path(config.path).resolve().as_uri(), file_glob=config.file_glob)
    file_format = config.inferred_format()
    if file_format == "parquet":
        reader = read_parquet()
    elif file_format == "jsonl":
        reader = read_jsonl()
    else:
        reader = dlt.transformer(_read_csv, name=name)(delimiter=config.csv_delimiter)
    resource: DltResource = (files | reader).with_name(name)
    return resource


def _read_csv(items: Any, delimiter: str = ",") -> Iterator[Any]:
    """Stream CSV files as Arrow record batches (types inferred by Arrow per file)."""
    import pyarrow.csv as pacsv

    for file_item in items:
        with file_item.open() as handle:
            reader = pacsv.open_csv(
                handle,
                read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
            )
            yield from reader
