"""The compiled plan: path resolution and the plugin's SinkConfig."""

from __future__ import annotations

from pathlib import Path

import pytest
from floe_core.compiler import CompiledDestination
from floe_core.compiler.plan import resolve_catalog, resolve_sqlite_url
from floe_core.plugins import SinkConfig
from floe_core.schemas import CatalogConfig, DestinationConfig, RetryConfig

BASE = Path("/srv/project")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///.floe/state.db", "sqlite:////srv/project/.floe/state.db"),
        (
            "sqlite+pysqlite:///data/../x.db?timeout=5",
            "sqlite+pysqlite:////srv/project/x.db?timeout=5",
        ),
        ("sqlite:////var/lib/floe.db", "sqlite:////var/lib/floe.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite://", "sqlite://"),
        ("postgresql+psycopg://floe@db/floe", "postgresql+psycopg://floe@db/floe"),
    ],
)
def test_relative_sqlite_urls_are_made_absolute(url: str, expected: str) -> None:
    assert resolve_sqlite_url(url, BASE) == expected


def test_sql_catalog_paths_are_resolved_against_the_project() -> None:
    catalog = CatalogConfig(type="sql", name="qs", uri=".floe/catalog.db", warehouse=".floe/wh")
    assert resolve_catalog(catalog, BASE) == {
        "type": "sql",
        "name": "qs",
        "uri": "/srv/project/.floe/catalog.db",
        "warehouse": "file:///srv/project/.floe/wh",
    }
    remote = CatalogConfig(
        type="sql",
        uri="postgresql+psycopg://floe@db/catalog",
        warehouse="s3://bucket/warehouse",
        properties={"s3.endpoint": "http://minio:9000"},
    )
    assert resolve_catalog(remote, BASE) == {
        "type": "sql",
        "name": "default",
        "uri": "postgresql+psycopg://floe@db/catalog",
        "warehouse": "s3://bucket/warehouse",
        "properties": {"s3.endpoint": "http://minio:9000"},
    }


@pytest.mark.requirement("R14")
def test_to_sink_config_merges_the_secret_and_keeps_every_setting() -> None:
    destination = CompiledDestination.from_config(
        DestinationConfig(
            name="crm",
            sink_type="rest_api",
            connection_secret_ref="crm-api",
            config={"path": "/contacts", "base_url": "https://config.example.com"},
            field_mapping={"email": "Email"},
            batch_size=250,
            retry_config=RetryConfig(max_attempts=2),
        ),
        "dlt",
    )
    config = destination.to_sink_config({"token": "t-1", "base_url": "https://secret.example.com"})
    assert config == SinkConfig(
        sink_type="rest_api",
        connection_config={
            "path": "/contacts",
            "base_url": "https://secret.example.com",
            "token": "t-1",
        },
        field_mapping={"email": "Email"},
        retry_config={"max_attempts": 2},
        batch_size=250,
        destination_name="crm",
    )
    assert "t-1" not in repr(config)


def test_a_destination_without_optional_settings() -> None:
    destination = CompiledDestination.from_config(
        DestinationConfig(name="db", sink_type="sql_database", connection_secret_ref="db"), "dlt"
    )
    assert (destination.config, destination.field_mapping, destination.retry_config) == (
        {},
        None,
        None,
    )
    config = destination.to_sink_config({"url": "sqlite:///x.db"})
    assert config.batch_size is None and config.field_mapping is None
