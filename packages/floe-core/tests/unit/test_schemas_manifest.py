"""manifest.yaml: PlatformManifest, the catalog, and approved_sinks."""

from __future__ import annotations

from typing import Any

import pytest
from floe_core.schemas import CatalogConfig, PlatformManifest
from pydantic import ValidationError


def _catalog(**values: Any) -> dict[str, Any]:
    return {"type": "sql", "uri": "sqlite:///.floe/catalog.db", **values}


def test_a_minimal_manifest_validates() -> None:
    manifest = PlatformManifest.model_validate(
        {"apiVersion": "floe.dev/v1", "kind": "Manifest", "metadata": {"name": "p"}}
    )
    assert manifest.scope == "none"
    assert manifest.catalog is None
    assert manifest.approved_sinks is None
    assert manifest.plugins.ingestion is None
    assert manifest.secrets.dir is None
    assert manifest.state.url is None


@pytest.mark.requirement("R17")
def test_approved_sinks_with_enterprise_scope(manifest_data: dict[str, Any]) -> None:
    manifest = PlatformManifest.model_validate(manifest_data)
    assert manifest.approved_sinks == ["rest_api", "sql_database"]


@pytest.mark.requirement("R17")
def test_no_approved_sinks_means_no_restriction(manifest_data: dict[str, Any]) -> None:
    del manifest_data["approved_sinks"]
    assert PlatformManifest.model_validate(manifest_data).approved_sinks is None


@pytest.mark.requirement("R17")
@pytest.mark.parametrize("scope", ["domain", "none"])
def test_approved_sinks_are_only_valid_with_enterprise_scope(
    manifest_data: dict[str, Any], scope: str
) -> None:
    manifest_data["scope"] = scope
    with pytest.raises(ValidationError) as caught:
        PlatformManifest.model_validate(manifest_data)
    (error,) = caught.value.errors()
    assert "approved_sinks is only valid with scope: enterprise" in error["msg"]
    assert error["ctx"]["nested"][0]["path"] == ["approved_sinks"]


@pytest.mark.requirement("R17")
def test_approved_sinks_entries_must_be_sink_type_names(manifest_data: dict[str, Any]) -> None:
    manifest_data["approved_sinks"] = ["rest_api", "REST API"]
    with pytest.raises(ValidationError) as caught:
        PlatformManifest.model_validate(manifest_data)
    assert caught.value.errors()[0]["loc"] == ("approved_sinks", 1)


def test_unknown_scope_is_rejected(manifest_data: dict[str, Any]) -> None:
    manifest_data["scope"] = "global"
    with pytest.raises(ValidationError):
        PlatformManifest.model_validate(manifest_data)


@pytest.mark.parametrize(
    "uri", ["sqlite:///.floe/catalog.db", ".floe/catalog.db", "postgresql+psycopg://h/db"]
)
def test_sql_catalog_uris(uri: str) -> None:
    assert CatalogConfig.model_validate(_catalog(uri=uri)).uri == uri


def test_sql_catalog_rejects_other_urls_and_rest_only_settings() -> None:
    with pytest.raises(ValidationError, match="SQLite or PostgreSQL"):
        CatalogConfig.model_validate(_catalog(uri="mysql://h/db"))
    with pytest.raises(ValidationError, match="only apply to a rest catalog"):
        CatalogConfig.model_validate(_catalog(scope="PRINCIPAL_ROLE:ALL"))


def test_rest_catalog() -> None:
    catalog = CatalogConfig.model_validate(
        {
            "type": "rest",
            "name": "polaris",
            "uri": "https://polaris.example.com/api/catalog",
            "warehouse": "gold",
            "credential_secret_ref": "polaris-oauth",
            "scope": "PRINCIPAL_ROLE:ALL",
            "oauth2_server_uri": "https://auth.example.com/token",
            "properties": {"header.X-Iceberg-Access-Delegation": "vended-credentials"},
        }
    )
    assert catalog.credential_secret_ref == "polaris-oauth"
    with pytest.raises(ValidationError, match="http"):
        CatalogConfig.model_validate({"type": "rest", "uri": "polaris:8181"})


@pytest.mark.requirement("R18")
def test_catalog_credentials_must_come_from_a_secret() -> None:
    with pytest.raises(ValidationError) as caught:
        CatalogConfig.model_validate(_catalog(uri="postgresql://app:pw-77@h/db"))
    assert "credential_secret_ref" in caught.value.errors()[0]["ctx"]["hint"]
    assert "pw-77" not in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        CatalogConfig.model_validate(_catalog(properties={"s3.secret-access-key": "sk-88"}))
    assert caught.value.errors()[0]["ctx"]["nested"][0]["path"] == ["s3.secret-access-key"]
    assert "sk-88" not in str(caught.value)


@pytest.mark.requirement("R18")
def test_state_url_must_not_carry_a_password(manifest_data: dict[str, Any]) -> None:
    manifest_data["state"] = {"url": "postgresql://floe:pw@db/floe"}
    with pytest.raises(ValidationError, match="state store URL has a credential"):
        PlatformManifest.model_validate(manifest_data)
    manifest_data["state"] = {"url": "postgresql+psycopg://floe@db/floe"}
    assert PlatformManifest.model_validate(manifest_data).state.url


def test_plugin_selection(manifest_data: dict[str, Any]) -> None:
    manifest_data["plugins"] = {"ingestion": "dlt", "sinks": {"rest_api": "dlt"}}
    manifest = PlatformManifest.model_validate(manifest_data)
    assert manifest.plugins.ingestion == "dlt"
    assert manifest.plugins.sinks == {"rest_api": "dlt"}
    manifest_data["plugins"] = {"sinks": {"Rest API": "dlt"}}
    with pytest.raises(ValidationError):
        PlatformManifest.model_validate(manifest_data)


@pytest.mark.requirement("B13")
def test_the_executor_is_local_unless_the_manifest_says_ray() -> None:
    base = {"apiVersion": "floe.dev/v1", "kind": "Manifest", "metadata": {"name": "p"}}
    assert PlatformManifest.model_validate(base).executor.type == "local"

    ray = PlatformManifest.model_validate(
        {**base, "executor": {"type": "ray", "address": "auto", "max_tasks": 50}}
    ).executor
    assert (ray.type, ray.address, ray.max_tasks) == ("ray", "auto", 50)


@pytest.mark.requirement("B13")
@pytest.mark.parametrize(
    ("executor", "message"),
    [
        ({"type": "local", "max_tasks": 8}, "max_tasks only apply to executor type ray"),
        ({"type": "local", "address": "auto"}, "address only apply to executor type ray"),
        ({"type": "local", "max_in_flight": 8}, "max_in_flight only apply"),
        ({"type": "ray", "max_tasks": 0}, "greater than or equal to 1"),
        ({"type": "spark"}, "'local' or 'ray'"),
        ({"type": "ray", "workers": 5}, "workers"),
    ],
)
def test_executor_settings_that_cannot_apply_are_refused(
    executor: dict[str, Any], message: str
) -> None:
    base = {"apiVersion": "floe.dev/v1", "kind": "Manifest", "metadata": {"name": "p"}}
    with pytest.raises(ValidationError, match=message):
        PlatformManifest.model_validate({**base, "executor": executor})
