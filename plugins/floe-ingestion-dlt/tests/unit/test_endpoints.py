"""Where the dlt plugin's sinks connect, as they declare it to the platform's egress_policy."""

from __future__ import annotations

import pytest
from floe_core.sinks import Endpoint, SinkConfigurationError
from floe_ingestion_dlt import DltIngestionPlugin

pytestmark = pytest.mark.requirement("R17")


def test_rest_api_connects_to_the_host_of_base_url_only() -> None:
    values = {"base_url": "https://user-less.example.com/api", "token": "t0ken-value", "path": "/x"}
    assert DltIngestionPlugin().endpoints("rest_api", values) == [
        Endpoint(host="user-less.example.com", port=443, setting="base_url")
    ]
    assert DltIngestionPlugin().endpoints("rest_api", {"token": "t"}) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://app:pw@db.acme.test/crm",
            [Endpoint(host="db.acme.test", port=5432, setting="url")],
        ),
        (
            "mariadb+pymysql://root@10.0.0.7:3307/crm",
            [Endpoint(host="10.0.0.7", port=3307, setting="url")],
        ),
        (
            "postgresql+psycopg://app@db.acme.test/crm?hostaddr=169.254.169.254",
            [
                Endpoint(host="db.acme.test", port=5432, setting="url"),
                Endpoint(host="169.254.169.254", port=5432, setting="url's hostaddr"),
            ],
        ),
        (
            "postgresql+psycopg://app@/crm?host=a.acme.test,b.acme.test&host=/run/postgresql",
            [
                Endpoint(host="a.acme.test", port=5432, setting="url's host"),
                Endpoint(host="b.acme.test", port=5432, setting="url's host"),
            ],
        ),
        ("sqlite:////srv/exports/crm.db", [Endpoint(path="/srv/exports/crm.db")]),
        ("sqlite://", []),
    ],
)
def test_sql_database_connects_to_the_url_hosts_or_writes_its_file(
    url: str, expected: list[Endpoint]
) -> None:
    found = DltIngestionPlugin().endpoints("sql_database", {"url": url, "table": "t"})
    assert found == expected
    assert all("pw" not in str(endpoint) for endpoint in found)


def test_a_relative_sqlite_file_is_the_projects() -> None:
    plugin = DltIngestionPlugin()
    values = plugin.project_paths("sql_database", {"url": "sqlite:///out/crm.db"}, "/srv/proj")
    assert plugin.endpoints("sql_database", values) == [Endpoint(path="/srv/proj/out/crm.db")]


def test_a_url_that_does_not_parse_is_a_configuration_error() -> None:
    with pytest.raises(SinkConfigurationError, match="not a valid SQLAlchemy URL"):
        DltIngestionPlugin().endpoints("sql_database", {"url": "::nope::"})
