"""Where the dlt plugin's sinks write (``Sink.target``): an incremental sync starts over when it
changes, so credentials and tuning settings must not change it, and the place must."""

from __future__ import annotations

from typing import Any

import pytest
from floe_ingestion_dlt import DltIngestionPlugin

pytestmark = pytest.mark.requirement("B5")

REST = {"base_url": "https://crm.example.com/api?v=2", "path": "/contacts", "token": "t0ken"}
SQL = {"url": "postgresql://app:pw@db.acme.test/crm", "table": "customers", "primary_key": ["id"]}


def _target(sink_type: str, values: dict[str, Any]) -> str:
    return DltIngestionPlugin().target(sink_type, values)


def test_rest_api_target_is_its_requests_without_credentials_or_limits() -> None:
    target = _target("rest_api", REST)
    assert target == "POST https://crm.example.com/api/contacts"
    for same in (
        {**REST, "token": "rotated"},
        {**REST, "max_concurrent_requests": 16, "timeout_seconds": 5},
        {**REST, "base_url": "https://crm.example.com/api?v=3"},  # the query is not the place
    ):
        assert _target("rest_api", same) == target
    for other in (
        {**REST, "path": "/leads"},
        {**REST, "base_url": "https://eu.crm.example.com/api"},
        {**REST, "method": "PUT"},
        {**REST, "operations": {"delete": {"method": "DELETE", "path": "/contacts/{id}"}}},
    ):
        assert _target("rest_api", other) != target


def test_sql_database_target_is_its_table_without_credentials_or_tuning() -> None:
    target = _target("sql_database", SQL)
    assert "db.acme.test" in target and "customers" in target and "pw" not in target
    for same in (
        {**SQL, "url": "postgresql://app:rotated@db.acme.test/crm"},
        {**SQL, "max_connections": 1, "mode": "append"},
    ):
        assert _target("sql_database", same) == target
    for other in (
        {**SQL, "table": "customers_v2"},
        {**SQL, "schema": "crm"},
        {**SQL, "url": "postgresql://app:pw@db.acme.test/other"},
        {**SQL, "url": "postgresql://app:pw@db2.acme.test/crm"},
    ):
        assert _target("sql_database", other) != target
