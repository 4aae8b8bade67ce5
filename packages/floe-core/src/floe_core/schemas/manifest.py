"""``manifest.yaml``: the platform team's settings that govern data products.

It declares the Iceberg catalog Gold tables are read from, which plugins to use, where
secrets and run state live, and, for an enterprise-scope manifest, ``approved_sinks``: the
sink types data may be sent to, and ``egress_policy``: the hosts, networks and files they may
reach (:mod:`floe_core.schemas.egress_policy`).

Relative paths (a SQLite catalog or state file, the warehouse, the secrets directory) are
resolved against the data product's directory, the one holding ``floe.yaml``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from floe_core.schemas._validation import MODEL_CONFIG, NestedProblem, config_error
from floe_core.schemas.credentials import find_inline_credentials, url_has_credentials
from floe_core.schemas.egress_policy import EgressPolicyConfig
from floe_core.schemas.floe_spec import SEMVER_PATTERN, SINK_TYPE_PATTERN
from floe_core.schemas.secrets import SecretName

__all__ = [
    "MANIFEST_NAME_PATTERN",
    "CatalogConfig",
    "ExecutorConfig",
    "ManifestMetadata",
    "ManifestScope",
    "PlatformManifest",
    "PluginsConfig",
    "SecretsConfig",
    "StateConfig",
]

#: Manifest names: DNS-compatible, starting with a letter.
MANIFEST_NAME_PATTERN = r"^[a-z][a-z0-9-]*$"
_IDENTIFIER_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"

#: ``enterprise`` (may restrict sinks with ``approved_sinks``), ``domain``, or ``none``.
ManifestScope = Literal["enterprise", "domain", "none"]


class ManifestMetadata(BaseModel):
    """Identity of the manifest."""

    model_config = MODEL_CONFIG

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=MANIFEST_NAME_PATTERN)]
    """Platform name, DNS-compatible."""

    version: Annotated[str | None, Field(pattern=SEMVER_PATTERN)] = None
    """Manifest version, ``MAJOR.MINOR.PATCH``."""

    owner: Annotated[str | None, Field(min_length=1)] = None
    """Owning team or e-mail address."""

    description: Annotated[str | None, Field(max_length=500)] = None
    """One paragraph about the platform."""


class CatalogConfig(BaseModel):
    """The Iceberg catalog that holds the Gold tables, configured the pyiceberg way."""

    model_config = MODEL_CONFIG

    type: Literal["sql", "rest"]
    """``sql`` (an embedded catalog in SQLite or PostgreSQL) or ``rest`` (Polaris or any Iceberg
    REST catalog).
    """

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=_IDENTIFIER_PATTERN)] = (
        "default"
    )
    """Catalog name."""

    uri: Annotated[str, Field(min_length=1)]
    """``sql``: a SQLite file (``.floe/catalog.db``, relative to the project directory), or a
    SQLAlchemy URL (``sqlite:///.floe/catalog.db``, ``postgresql+psycopg://host/db``);
    ``rest``: the catalog's HTTP(S) endpoint.
    """

    warehouse: Annotated[str | None, Field(min_length=1)] = None
    """``sql``: where table data lives (a local path, relative to the project directory, or an
    object-store URI); ``rest``: the warehouse (catalog) name.
    """

    credential_secret_ref: SecretName | None = None
    """Kubernetes Secret with the catalog's credentials: for ``rest``, ``client_id`` and
    ``client_secret`` (OAuth2 client credentials); for ``sql``, a ``uri`` with the database
    password.
    """

    oauth2_server_uri: Annotated[str | None, Field(pattern=r"^https?://")] = None
    """``rest`` only: token endpoint, when it is not the catalog's own."""

    scope: Annotated[str | None, Field(min_length=1)] = None
    """``rest`` only: OAuth2 scope to request (e.g. ``PRINCIPAL_ROLE:ALL``)."""

    properties: dict[str, str] | None = None
    """Further pyiceberg catalog properties, passed through unchanged. Credentials are rejected
    here; use ``credential_secret_ref``.
    """

    @field_validator("uri")
    @classmethod
    def _uri_without_password(cls, uri: str) -> str:
        """The catalog URI must not carry a password."""
        if url_has_credentials(uri):
            raise config_error(
                "the catalog URI has a credential embedded in it",
                hint=(
                    "remove the password from uri and put the full URI under the key 'uri' "
                    "of the Secret named by catalog.credential_secret_ref"
                ),
            )
        return uri

    @field_validator("properties")
    @classmethod
    def _properties_without_credentials(
        cls, properties: dict[str, str] | None
    ) -> dict[str, str] | None:
        """Catalog properties must not carry credentials."""
        findings = find_inline_credentials(properties or {})
        if findings:
            hint = "store it in the Secret named by catalog.credential_secret_ref"
            raise config_error(
                "credentials written in catalog properties",
                hint=hint,
                nested=[NestedProblem(f.path, f.reason, hint) for f in findings],
            )
        return properties

    @model_validator(mode="after")
    def _settings_match_type(self) -> CatalogConfig:
        """Reject settings that the catalog type would not use, and URIs it cannot open."""
        if self.type == "sql":
            if "://" in self.uri and not self.uri.startswith(("sqlite", "postgres")):
                raise config_error(
                    "a sql catalog needs a SQLite file or a SQLite or PostgreSQL URL as uri",
                    hint="e.g. uri: .floe/catalog.db, or postgresql+psycopg://host/db",
                )
            unused = [f for f in ("oauth2_server_uri", "scope") if getattr(self, f) is not None]
            if unused:
                raise config_error(
                    f"{', '.join(unused)} only apply to a rest catalog",
                    hint="remove them, or use type: rest",
                )
        elif not self.uri.startswith(("http://", "https://")):
            raise config_error(
                "a rest catalog needs an http(s) URL as uri",
                hint="e.g. uri: https://polaris.example.com/api/catalog",
            )
        return self


class PluginsConfig(BaseModel):
    """Which installed plugins to use (``floe sinks`` lists them)."""

    model_config = MODEL_CONFIG

    ingestion: Annotated[str | None, Field(min_length=1, pattern=_IDENTIFIER_PATTERN)] = None
    """Name of the ingestion plugin (e.g. ``dlt``); it must be installed."""

    sinks: dict[Annotated[str, Field(pattern=SINK_TYPE_PATTERN)], str] | None = None
    """Sink type -> plugin name, for a sink type that several installed plugins provide. Not
    needed when one plugin provides it.
    """


class SecretsConfig(BaseModel):
    """Where ``connection_secret_ref`` and ``credential_secret_ref`` are resolved from."""

    model_config = MODEL_CONFIG

    dir: Annotated[str | None, Field(min_length=1)] = None
    """Directory of mounted Secrets, one sub-directory per Secret and one file per key, as
    Kubernetes mounts them; relative to the project directory.
    """


class StateConfig(BaseModel):
    """Where run history and sync state are kept."""

    model_config = MODEL_CONFIG

    url: Annotated[str | None, Field(min_length=1)] = None
    """SQLAlchemy URL of the state store; an embedded SQLite file under the project's ``.floe/``
    directory when omitted. No password in it: use a password-less login (peer or trust auth,
    a client certificate, ``~/.pgpass``).
    """

    lease_seconds: Annotated[float, Field(gt=0, le=86_400)] = 120.0
    """Seconds a run's hold on a destination lasts without renewal (a running run renews it
    every quarter of that). A second run of the destination is refused while it holds; after
    a holder dies, the next run takes over once this much time has passed.
    ``$FLOE_LEASE_SECONDS`` overrides it.
    """

    @field_validator("url")
    @classmethod
    def _url_without_password(cls, url: str | None) -> str | None:
        """The state store URL must not carry a password."""
        if url and url_has_credentials(url):
            raise config_error(
                "the state store URL has a credential embedded in it",
                hint="remove the password; use peer or trust auth, a certificate or ~/.pgpass",
            )
        return url


class ExecutorConfig(BaseModel):
    """Where a destination's delivery runs: in the ``floe`` process, or fanned out over Ray."""

    model_config = MODEL_CONFIG

    type: Literal["local", "ray"] = "local"
    """``local`` (default): the ``floe`` process reads the table and delivers it. ``ray``: the
    run plans the table's data files into tasks and a Ray cluster delivers them (needs
    ``pip install 'floe-core[ray]'``). ``floe egress run --executor`` overrides it.
    """

    address: Annotated[str | None, Field(min_length=1)] = None
    """``ray`` only: the cluster to join, as ``ray.init(address=...)`` takes it (``auto``: the
    cluster this machine belongs to; ``ray://head:10001``: Ray Client). Omitted: a cluster
    started for the run on this machine.
    """

    max_tasks: Annotated[int, Field(ge=1, le=100_000)] = 64
    """``ray`` only: at most this many tasks per destination; the table's data files are
    bin-packed into that many (fewer when it has fewer files).
    """

    max_in_flight: Annotated[int | None, Field(ge=1, le=100_000)] = None
    """``ray`` only: batches in flight at once to one destination across all its tasks (the
    connections or concurrent requests the destination takes). Omitted: each running task
    sends as many at once as its sink's own concurrency setting allows.
    """

    @model_validator(mode="after")
    def _ray_settings_need_ray(self) -> ExecutorConfig:
        """``address``, ``max_tasks`` and ``max_in_flight`` mean nothing to the local executor."""
        if self.type == "local":
            names = ("address", "max_tasks", "max_in_flight")
            unused = [name for name in names if name in self.model_fields_set]
            if unused:
                raise config_error(
                    f"{', '.join(unused)} only apply to executor type ray",
                    hint="remove them, or set executor.type: ray",
                )
        return self


class PlatformManifest(BaseModel):
    """The whole of ``manifest.yaml``."""

    model_config = ConfigDict(**MODEL_CONFIG, populate_by_name=True, title="manifest.yaml")

    api_version: Annotated[Literal["floe.dev/v1"], Field(alias="apiVersion")]
    """``floe.dev/v1`` (``apiVersion`` in YAML)."""

    kind: Literal["Manifest"]
    """``Manifest``."""

    metadata: ManifestMetadata
    """Manifest identity."""

    scope: ManifestScope = "none"
    """``enterprise``, ``domain`` or ``none`` (default)."""

    catalog: CatalogConfig | None = None
    """The Iceberg catalog Gold tables are read from."""

    plugins: PluginsConfig = PluginsConfig()
    """Plugin selections."""

    approved_sinks: list[Annotated[str, Field(pattern=SINK_TYPE_PATTERN)]] | None = None
    """Sink types destinations may use; any installed sink type when omitted. Only valid with
    ``scope: enterprise``.
    """

    egress_policy: EgressPolicyConfig | None = None
    """Hosts, networks and files destinations may reach, per sink type. Only valid with
    ``scope: enterprise``. Without it, every host is allowed except link-local and cloud
    metadata addresses.
    """

    secrets: SecretsConfig = SecretsConfig()
    """Where Secrets are resolved from."""

    state: StateConfig = StateConfig()
    """Where run history is kept."""

    executor: ExecutorConfig = ExecutorConfig()
    """Where deliveries run: ``{type: local}`` (default) or ``{type: ray, address: auto,
    max_tasks: 64}``.
    """

    @model_validator(mode="after")
    def _governance_needs_enterprise_scope(self) -> PlatformManifest:
        """Only an enterprise manifest may restrict sink types and hosts."""
        used = [
            name for name in ("approved_sinks", "egress_policy") if getattr(self, name) is not None
        ]
        if used and self.scope != "enterprise":
            raise config_error(
                f"{' and '.join(used)} {'is' if len(used) == 1 else 'are'} only valid with "
                f"scope: enterprise (this manifest has "
                f"scope: {self.scope})",
                hint=f"set scope: enterprise, or remove {' and '.join(used)}",
                nested=[
                    NestedProblem(
                        (name,),
                        f"{name} is only valid with scope: enterprise, not {self.scope}",
                        f"set scope: enterprise, or remove {name}",
                    )
                    for name in used
                ],
            )
        return self
