"""Shared fixtures for floe-core's configuration, registry, compiler and CLI tests."""

from __future__ import annotations

import copy
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pytest
import yaml
from floe_core.egress.state import StateStore, state_url_for
from floe_core.plugins import EgressResult, PluginMetadata, SinkConfig, SinkConnector
from floe_core.registry import PluginRegistry
from floe_core.sinks import (
    BatchAck,
    Operation,
    Payload,
    Sink,
    SinkCapabilities,
    SinkPlugin,
    settings_error,
)
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

if TYPE_CHECKING:
    import pyarrow as pa

REPO_ROOT = Path(__file__).resolve().parents[4]

MINIMAL_SPEC: dict[str, Any] = {
    "apiVersion": "floe.dev/v1",
    "kind": "FloeSpec",
    "metadata": {"name": "crm-sync", "version": "1.0.0"},
}

ENTERPRISE_MANIFEST: dict[str, Any] = {
    "apiVersion": "floe.dev/v1",
    "kind": "Manifest",
    "metadata": {"name": "acme-platform"},
    "scope": "enterprise",
    "catalog": {"type": "sql", "uri": "sqlite:///.floe/catalog.db", "warehouse": ".floe/wh"},
    "approved_sinks": ["rest_api", "sql_database"],
}


def destination(**overrides: Any) -> dict[str, Any]:
    """A valid destination entry for floe.yaml, with ``overrides`` applied."""
    entry: dict[str, Any] = {
        "name": "contacts_to_crm",
        "sink_type": "rest_api",
        "connection_secret_ref": "crm-api",
        "source_table": "gold.customers",
        "config": {"path": "/contacts", "method": "POST"},
    }
    entry.update(overrides)
    return entry


class NamedSinks(PluginMetadata, SinkConnector):
    """A plugin that provides the sink types it is given, and records what it is sent."""

    def __init__(self, name: str = "testsinks", sink_types: tuple[str, ...] = ()) -> None:
        self._name = name
        self._sink_types = list(sink_types or ("rest_api", "sql_database"))
        self.written: list[dict[str, Any]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return "9.9.9"

    @property
    def floe_api_version(self) -> str:
        return "1.0"

    def list_available_sinks(self) -> list[str]:
        return list(self._sink_types)

    def create_sink(self, config: SinkConfig) -> SinkConfig:
        return config

    def write(self, sink: Any, data: Any, **kwargs: Any) -> EgressResult:
        rows = list(data)
        self.written.extend(rows)
        return EgressResult(success=True, rows_delivered=len(rows))

    def get_source_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        return dict(catalog_config)


class AcmeSettings(BaseModel):
    """The settings of the ``acme_crm`` sink below: a small model like a real sink's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str  # from the Secret; a relative file is relative to the project
    token: SecretStr | None = None  # from the Secret
    table: str = Field(min_length=1)
    mode: Literal["append", "upsert"] = "append"
    key: str | None = None
    max_requests_per_second: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _upsert_needs_key(self) -> AcmeSettings:
        if self.mode == "upsert" and self.key is None:
            raise settings_error("mode 'upsert' needs key", key="key", hint="add `key: id`")
        return self


class AcmeSink(Sink):
    """A sink written against ``floe_core.sinks`` only; it counts the rows it is sent."""

    sink_type: ClassVar[str] = "acme_crm"
    capabilities: ClassVar[SinkCapabilities] = SinkCapabilities(default_batch_size=100)
    settings_model: ClassVar[type[BaseModel]] = AcmeSettings
    secret_fields: ClassVar[frozenset[str]] = frozenset({"url", "token"})

    def __init__(self, config: SinkConfig) -> None:
        super().__init__(config)
        self.settings = AcmeSettings.model_validate(config.connection_config)
        self.rows_sent = 0

    @classmethod
    def secret_keys(cls, config: dict[str, Any]) -> list[list[str]]:
        return [["url", "token"]] if config.get("mode") == "upsert" else [["url"]]

    @classmethod
    def project_paths(cls, values: dict[str, Any], project_dir: str) -> dict[str, Any]:
        url = values.get("url")
        if isinstance(url, str) and not Path(url).is_absolute():
            return {**values, "url": str(Path(project_dir) / url)}
        return values

    @property
    def identity(self) -> str:
        return f"acme {self.settings.table}"

    def encode(self, batch: pa.RecordBatch, operation: Operation | None = None) -> Payload:
        return Payload(rows=batch.num_rows, body=str(batch.num_rows).encode())

    def send(self, payload: Payload, idempotency_key: str) -> BatchAck:
        self.rows_sent += payload.rows
        return BatchAck(rows_confirmed=payload.rows)


class AcmeSinks(PluginMetadata, SinkPlugin):
    """A third-party-style ``SinkPlugin`` providing ``acme_crm``; keeps the sinks it builds."""

    sink_classes: ClassVar[dict[str, type[Sink]]] = {"acme_crm": AcmeSink}

    def __init__(self) -> None:
        self.sinks: list[AcmeSink] = []

    @property
    def name(self) -> str:
        return "acme"

    @property
    def version(self) -> str:
        return "1.0.0"

    @property
    def floe_api_version(self) -> str:
        return "1.0"

    def create_sink(self, config: SinkConfig) -> Sink:
        sink = super().create_sink(config)
        assert isinstance(sink, AcmeSink)
        self.sinks.append(sink)
        return sink


@pytest.fixture
def acme_sinks() -> AcmeSinks:
    """A ``SinkPlugin`` whose ``acme_crm`` sink declares settings, Secret keys and paths."""
    return AcmeSinks()


@pytest.fixture
def spec_data() -> dict[str, Any]:
    """A valid floe.yaml document without destinations (a deep copy, free to modify)."""
    return copy.deepcopy(MINIMAL_SPEC)


@pytest.fixture
def manifest_data() -> dict[str, Any]:
    """A valid enterprise manifest approving rest_api and sql_database (a deep copy)."""
    return copy.deepcopy(ENTERPRISE_MANIFEST)


@pytest.fixture
def make_destination() -> Callable[..., dict[str, Any]]:
    """Factory for valid destination entries."""
    return destination


@pytest.fixture
def sinks_registry() -> PluginRegistry:
    """A registry holding one plugin, ``testsinks``, providing rest_api and sql_database."""
    registry = PluginRegistry()
    registry.register(NamedSinks())
    return registry


@pytest.fixture
def named_sinks() -> type[NamedSinks]:
    """The plugin class behind ``sinks_registry``, to build more plugins."""
    return NamedSinks


@pytest.fixture
def write_project(tmp_path: Path) -> Callable[..., Path]:
    """Write floe.yaml and manifest.yaml (dicts or text) into a fresh directory.

    Returns the path of floe.yaml. ``manifest=None`` writes no manifest.
    """

    def write(spec: dict[str, Any] | str, manifest: dict[str, Any] | str | None = None) -> Path:
        project = tmp_path / "project"
        project.mkdir(exist_ok=True)
        spec_path = project / "floe.yaml"
        spec_path.write_text(_text(spec), encoding="utf-8")
        if manifest is not None:
            (project / "manifest.yaml").write_text(_text(manifest), encoding="utf-8")
        return spec_path

    return write


@pytest.fixture
def repo_root() -> Path:
    """The repository root (examples/ lives there)."""
    return REPO_ROOT


def _text(document: dict[str, Any] | str) -> str:
    if isinstance(document, str):
        return document
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port nobody listens on, for the whole test.

    The port stays bound to a socket that never listens: connecting is refused, and no other
    process (a parallel test's server) can take the port meanwhile.
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


# --- state store ---------------------------------------------------------------------


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A fresh PostgreSQL database for one test (the workspace's ``pg_database``)."""
    return pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        url = state_url_for(tmp_path, environ={})
    else:
        url = request.getfixturevalue("pg_url")
    with StateStore(url) as opened:
        yield opened
