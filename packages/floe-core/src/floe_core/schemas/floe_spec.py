"""``floe.yaml``: the data engineer's description of one data product.

A data product has metadata, optionally the dbt transforms that build it, and optionally the
``destinations`` its Gold tables are pushed to (reverse ETL). A ``floe.yaml`` without
``destinations`` is as valid as it ever was.

Example::

    apiVersion: floe.dev/v1
    kind: FloeSpec
    metadata: {name: customer-analytics, version: 1.0.0}
    destinations:
      - name: customers_to_crm
        sink_type: acme_crm
        connection_secret_ref: crm-api
        source_table: gold.customers
        config: {path: /contacts, method: POST}
        field_mapping: {customer_id: external_id}
        batch_size: 500
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from floe_core.plugins.sink import (
    MAX_BATCH_SIZE,
    StaticValue,
    field_mapping_problems,
    static_field_problems,
)
from floe_core.schemas._validation import MODEL_CONFIG, NestedProblem, config_error
from floe_core.schemas.credentials import find_inline_credentials
from floe_core.schemas.secrets import SecretName

__all__ = [
    "DESTINATION_NAME_PATTERN",
    "FLOE_NAME_PATTERN",
    "SEMVER_PATTERN",
    "SINK_TYPE_PATTERN",
    "SOURCE_TABLE_PATTERN",
    "DestinationConfig",
    "FloeMetadata",
    "FloeSpec",
    "PlatformRef",
    "RetryConfig",
    "SyncMode",
    "TransformSpec",
    "columns_left_out",
    "destination_disagreements",
    "find_duplicate_names",
]

#: Product names: DNS-compatible, starting with a letter.
FLOE_NAME_PATTERN = r"^[a-z][a-z0-9-]*$"
#: ``MAJOR.MINOR.PATCH``.
SEMVER_PATTERN = r"^\d+\.\d+\.\d+$"
#: Destination names: used on the command line (``floe egress run NAME``) and in receipts.
DESTINATION_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
#: Sink types as plugins list them (``floe sinks`` shows those installed).
SINK_TYPE_PATTERN = r"^[a-z][a-z0-9_]*$"
#: Iceberg table identifiers, ``namespace.table`` (namespaces may be nested).
SOURCE_TABLE_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)+$"
_DBT_MODEL_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"

#: What a run sends to a destination (see ``DestinationConfig.sync_mode``).
SyncMode = Literal["full", "insert", "update", "upsert", "mirror"]


class FloeMetadata(BaseModel):
    """Identity of the data product."""

    model_config = MODEL_CONFIG

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=FLOE_NAME_PATTERN)]
    """Product name, DNS-compatible (lowercase letters, digits, ``-``)."""

    version: Annotated[str, Field(pattern=SEMVER_PATTERN)]
    """Product version, ``MAJOR.MINOR.PATCH``."""

    description: Annotated[str | None, Field(max_length=500)] = None
    """One paragraph about the product."""

    owner: Annotated[str | None, Field(min_length=1)] = None
    """Owning team or e-mail address."""

    labels: dict[str, str] | None = None
    """Free-form key/value labels."""


class TransformSpec(BaseModel):
    """One dbt model of the product (run by floe's transformation tooling, not by egress)."""

    model_config = ConfigDict(**MODEL_CONFIG, populate_by_name=True)

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=_DBT_MODEL_NAME_PATTERN)]
    """dbt model name."""

    compute: str | None = None
    """Compute target override; platform default when omitted."""

    tags: list[str] | None = None
    """dbt tags for selection."""

    depends_on: Annotated[list[str] | None, Field(alias="dependsOn")] = None
    """Explicit upstream model names (``dependsOn`` in YAML)."""

    tier: Literal["bronze", "silver", "gold"] | None = None
    """Medallion tier of the model."""


class PlatformRef(BaseModel):
    """Where the governing ``manifest.yaml`` lives."""

    model_config = MODEL_CONFIG

    manifest: Annotated[str, Field(min_length=1)]
    """Path to ``manifest.yaml``, relative to the ``floe.yaml`` that names it. ``floe validate``
    and ``floe egress`` read it when ``--manifest`` is not given.
    """


class RetryConfig(BaseModel):
    """How a destination's transient failures (timeouts, 5xx, 429) are retried.

    Omitted keys keep the defaults shown. The sink engine's ``RetryPolicy`` is this model
    with the behaviour added, so what floe.yaml accepts is exactly what a run applies.
    """

    model_config = MODEL_CONFIG

    max_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    """Attempts per batch, the first one included (1 = never retry)."""

    initial_backoff_seconds: Annotated[float, Field(ge=0, le=3600)] = 0.5
    """Wait before the first retry; doubles on each retry."""

    max_backoff_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """Longest wait between two attempts."""

    jitter: bool = True
    """Randomise each wait between half and all of its computed value, so that parallel
    writers do not retry in lockstep."""

    max_retry_after_seconds: Annotated[float, Field(ge=0, le=86400)] = 300.0
    """Longest ``Retry-After`` the destination may ask for before the batch fails instead."""

    @model_validator(mode="after")
    def _backoff_bounds(self) -> Self:
        """The longest wait is not shorter than the first one."""
        if self.max_backoff_seconds < self.initial_backoff_seconds:
            message = "must be at least initial_backoff_seconds"
            hint = "raise max_backoff_seconds, or lower initial_backoff_seconds"
            raise config_error(
                message,
                hint=hint,
                nested=[NestedProblem(("max_backoff_seconds",), message, hint)],
            )
        return self


class DestinationConfig(BaseModel):
    """One reverse-ETL destination: where a Gold table's rows are pushed."""

    model_config = MODEL_CONFIG

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=DESTINATION_NAME_PATTERN)]
    """Unique name within the file; used as ``floe egress run NAME``."""

    sink_type: Annotated[str, Field(min_length=1, max_length=64, pattern=SINK_TYPE_PATTERN)]
    """Sink type provided by an installed plugin (see ``floe sinks``) and, under an enterprise
    manifest, listed in its ``approved_sinks``.
    """

    connection_secret_ref: SecretName
    """Name of the Kubernetes Secret holding the credentials and any other connection settings
    that must not be written down here.
    """

    source_table: Annotated[str | None, Field(max_length=512, pattern=SOURCE_TABLE_PATTERN)] = None
    """Iceberg table to read, ``namespace.table`` (namespaces may be nested: ``lake.gold.t``).
    Optional here, but ``floe validate`` refuses a destination without one: every run reads it.
    """

    config: dict[str, Any] | None = None
    """Sink settings, as the sink type defines them; ``floe validate`` checks them against the
    sink's settings model. Credentials are rejected here (they belong in the Secret): see
    ``floe_core.schemas.credentials`` for exactly what is refused.
    """

    field_mapping: dict[str, str] | None = None
    """Source column -> destination field renames; unnamed columns keep their name. A dotted
    field nests (``ltv: properties.ltv``) for a sink type that takes nested records; ``\\.`` is a
    dot inside a name. Not checked for credentials: a field may be called ``token``.
    """

    batch_size: Annotated[int | None, Field(ge=1, le=MAX_BATCH_SIZE)] = None
    """Rows per batch, 1..``MAX_BATCH_SIZE``; the sink's default when omitted."""

    retry_config: RetryConfig | None = None
    """Retry policy overrides."""

    primary_key: Annotated[list[str] | None, Field(min_length=1, max_length=32)] = None
    """Source columns (before field mapping) that identify a row across runs. Required by
    every ``sync_mode`` but ``full``. A sink's own key setting (e.g. a SQL sink's
    ``config.primary_key``) is derived from it through ``field_mapping``.
    """

    sync_mode: SyncMode | None = None
    """What a run sends: ``full`` every row, every run; ``insert`` only keys never synced;
    ``update`` only synced keys whose row changed; ``upsert`` both; ``mirror`` upsert, and
    delete the keys floe synced that are gone from the source. Default: ``upsert`` with a
    ``primary_key``, ``full`` without.
    """

    max_delete_fraction: Annotated[float, Field(ge=0, le=1)] = 0.5
    """``mirror`` only: a run that would delete more than this fraction of the keys floe
    synced (or that finds the source empty) stops before sending anything, unless
    ``floe egress run --allow-deletes``.
    """

    static_fields: dict[str, StaticValue] | None = None
    """Destination field -> the same value (string, number, bool or null) in every record, e.g.
    ``{idProperty: email, attributes.type: Contact}``; dotted names nest as in ``field_mapping``.
    """

    columns: Annotated[list[str] | None, Field(min_length=1, max_length=4096)] = None
    """Source columns to send, in this order; the others are not read from Iceberg at all.
    Must include the ``primary_key`` and ``field_mapping`` columns.
    """

    exclude_columns: Annotated[list[str] | None, Field(min_length=1, max_length=4096)] = None
    """Source columns to leave out (not read, not sent); every other column is sent. Not with
    ``columns``.
    """

    @property
    def effective_sync_mode(self) -> SyncMode:
        """``sync_mode``, or its default: ``upsert`` with a ``primary_key``, else ``full``."""
        if self.sync_mode is not None:
            return self.sync_mode
        return "upsert" if self.primary_key else "full"

    @field_validator("primary_key")
    @classmethod
    def _distinct_key_columns(cls, columns: list[str] | None) -> list[str] | None:
        """Key columns are non-blank and listed once."""
        if columns is None:
            return columns
        if any(not column.strip() for column in columns):
            raise config_error("column names must not be blank", hint="name source columns")
        repeated = sorted({column for column in columns if columns.count(column) > 1})
        if repeated:
            raise config_error(
                f"column(s) listed twice: {', '.join(repeated)}", hint="list each column once"
            )
        return columns

    @field_validator("columns", "exclude_columns")
    @classmethod
    def _distinct_columns(cls, columns: list[str] | None) -> list[str] | None:
        """Column names are non-blank and listed once."""
        if columns is None:
            return columns
        blank = [i for i, column in enumerate(columns) if not column.strip()]
        if blank:
            raise config_error(
                "column names must not be blank",
                hint="name source columns",
                nested=[NestedProblem((i,), "a blank column name", "name a column") for i in blank],
            )
        repeated = sorted({column for column in columns if columns.count(column) > 1})
        if repeated:
            raise config_error(
                f"column(s) listed twice: {', '.join(repeated)}", hint="list each column once"
            )
        return columns

    @model_validator(mode="after")
    def _fields_agree(self) -> Self:
        """The fields agree with each other (see :func:`destination_disagreements`)."""
        problems = destination_disagreements(dict(self))
        if problems:
            first = problems[0]
            raise config_error(first.message, hint=first.hint, nested=problems)
        return self

    @field_validator("config")
    @classmethod
    def _reject_credentials(
        cls, config: dict[str, Any] | None, info: ValidationInfo
    ) -> dict[str, Any] | None:
        """Refuse credentials written into ``config``; they belong in the referenced Secret."""
        if not config:
            return config
        findings = find_inline_credentials(config)
        if not findings:
            return config
        secret = info.data.get("connection_secret_ref")
        where = f"the Kubernetes Secret {secret!r}" if secret else "a Kubernetes Secret"
        hint = (
            f"remove it from floe.yaml and store it as a key of {where}, "
            "which connection_secret_ref names; floe reads it from there at run time"
        )
        nested = [
            NestedProblem(f.path, f"{f.reason}; credentials must not be written in floe.yaml", hint)
            for f in findings
        ]
        keys = ", ".join(".".join(str(p) for p in f.path) for f in findings)
        raise config_error(
            f"credentials written in config ({keys}); use connection_secret_ref",
            hint=hint,
            nested=nested,
        )

    @field_validator("field_mapping")
    @classmethod
    def _check_field_mapping(cls, mapping: dict[str, str] | None) -> dict[str, str] | None:
        """Every source column maps to a distinct, non-blank destination field."""
        if not mapping:
            return mapping
        problems = [
            NestedProblem((source,), message, hint)
            for source, message, hint in field_mapping_problems(mapping)
        ]
        if problems:
            raise config_error(
                "; ".join(p.message for p in problems),
                hint=problems[0].hint,
                nested=problems,
            )
        return mapping

    @field_validator("static_fields", mode="before")
    @classmethod
    def _check_static_fields(cls, static_fields: Any, info: ValidationInfo) -> Any:
        """Typed values, and fields no column also sets (``field_mapping`` comes first).

        Checked before the type, so a list value gets one message, not one per allowed type.
        """
        if not static_fields or not isinstance(static_fields, dict):
            return static_fields
        mapping = info.data.get("field_mapping")
        problems = [
            NestedProblem((name,), message, hint)
            for name, message, hint in static_field_problems(static_fields, mapping)
        ]
        if problems:
            raise config_error(
                "; ".join(f"{p.path[0]!r} {p.message}" for p in problems),
                hint=problems[0].hint,
                nested=problems,
            )
        return static_fields


class FloeSpec(BaseModel):
    """The whole of ``floe.yaml``."""

    model_config = ConfigDict(**MODEL_CONFIG, populate_by_name=True, title="floe.yaml")

    api_version: Annotated[Literal["floe.dev/v1"], Field(alias="apiVersion")]
    """``floe.dev/v1`` (``apiVersion`` in YAML)."""

    kind: Literal["FloeSpec"]
    """``FloeSpec``."""

    metadata: FloeMetadata
    """Product identity."""

    platform: PlatformRef | None = None
    """Where the governing manifest lives."""

    transforms: list[TransformSpec] | None = None
    """dbt models of the product."""

    destinations: list[DestinationConfig] | None = None
    """Reverse-ETL destinations; names must be unique."""

    @field_validator("transforms")
    @classmethod
    def _unique_transforms(cls, transforms: list[TransformSpec] | None) -> Any:
        """Transform names are unique."""
        if transforms:
            _raise_on_duplicates([t.name for t in transforms], "transform")
        return transforms

    @field_validator("destinations")
    @classmethod
    def _unique_destinations(cls, destinations: list[DestinationConfig] | None) -> Any:
        """Destination names are unique: they are how a run, its receipts and state are named."""
        if destinations:
            _raise_on_duplicates([d.name for d in destinations], "destination")
        return destinations

    def destination(self, name: str) -> DestinationConfig | None:
        """The destination called ``name``, or ``None``."""
        return next((d for d in self.destinations or () if d.name == name), None)


def destination_disagreements(destination: Mapping[str, Any]) -> list[NestedProblem]:
    """What the fields of one destination say against each other, each located at its field:
    ``columns`` and ``exclude_columns`` both set, either leaving out a column that
    ``primary_key`` or ``field_mapping`` needs, a ``sync_mode`` other than ``full`` without a
    ``primary_key``.

    Works on the fields as written too (``floe validate`` checks a destination whose other
    fields are wrong): a field of the wrong type is left out, its own check reports it.
    """
    problems: list[NestedProblem] = []
    columns = _names(destination.get("columns"))
    excluded = _names(destination.get("exclude_columns"))
    if columns is not None and excluded is not None:
        message = "columns and exclude_columns are both set"
        hint = "keep one: columns lists what is sent, exclude_columns what is left out"
        problems.append(NestedProblem(("exclude_columns",), message, hint))
    else:
        mapping = destination.get("field_mapping")
        needed = {
            **{column: "primary_key" for column in _names(destination.get("primary_key")) or ()},
            **{str(column): "field_mapping" for column in _mapping(mapping)},
        }
        left_out = columns_left_out(columns, excluded, needed)
        if left_out is not None:
            problems.append(left_out)
    mode = destination.get("sync_mode")
    if mode in get_args(SyncMode) and mode != "full" and destination.get("primary_key") is None:
        message = f"sync_mode {mode!r} needs primary_key"
        hint = "add e.g. `primary_key: [id]` (source columns), or use sync_mode: full"
        problems.append(NestedProblem(("primary_key",), message, hint))
    return problems


def _names(value: object) -> list[str] | None:
    """``value`` when it is a list of names, else ``None``."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _mapping(value: object) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def columns_left_out(
    columns: list[str] | None, exclude_columns: list[str] | None, needed: dict[str, str]
) -> NestedProblem | None:
    """The problem, located at ``columns`` or ``exclude_columns``, when either leaves out a
    source column that something needs.

    Args:
        columns: The destination's ``columns``, if set.
        exclude_columns: Its ``exclude_columns``, if set.
        needed: Source column -> the setting that needs it (``"primary_key"``).
    """
    if columns is not None:
        left_out = [c for c in needed if c not in columns]
        where, verb = "columns", "add them to columns"
    elif exclude_columns is not None:
        left_out = [c for c in needed if c in exclude_columns]
        where, verb = "exclude_columns", "remove them from exclude_columns"
    else:
        return None
    if not left_out:
        return None
    uses = ", ".join(f"{c!r} ({needed[c]})" for c in left_out)
    settings = " / ".join(dict.fromkeys(needed[c] for c in left_out))
    return NestedProblem(
        (where,),
        f"{where} leaves out column(s) that are needed: {uses}",
        f"{verb}, or change {settings}",
    )


def find_duplicate_names(names: list[Any], what: str) -> list[NestedProblem]:
    """One problem per repeated name, located at ``[index].name`` relative to the list.

    Args:
        names: The names in list order (non-strings are ignored).
        what: ``"destination"`` or ``"transform"``, for the message.
    """
    positions: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(names):
        if isinstance(name, str):
            positions[name].append(index)
    return [
        NestedProblem(
            (index, "name"),
            f"{what} name {name!r} is already used by {what}s[{indexes[0]}]",
            f"give each {what} a unique name",
        )
        for name, indexes in positions.items()
        for index in indexes[1:]
    ]


def _raise_on_duplicates(names: list[str], what: str) -> None:
    nested = find_duplicate_names(names, what)
    if nested:
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise config_error(
            f"{what} names must be unique; used more than once: {', '.join(repeated)}",
            hint=f"give each {what} a unique name",
            nested=nested,
        )
