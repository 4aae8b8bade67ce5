"""Choosing destinations, the Secret keys their sinks need, and the catalog's credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from floe_core.compiler import EgressPlan, compile_project
from floe_core.egress.destinations import (
    catalog_config,
    required_secret_keys,
    select_destinations,
)
from floe_core.egress.errors import EgressConfigError
from floe_core.plugins import EgressResult, SinkConfig, SinkConnector
from floe_core.registry import PluginRegistry
from floe_core.secrets.resolver import SecretResolver


class Sinks(SinkConnector):
    def list_available_sinks(self) -> list[str]:
        return ["rest_api"]

    def create_sink(self, config: SinkConfig) -> object:
        return object()

    def write(self, sink: object, data: object, **kwargs: object) -> EgressResult:
        return EgressResult(success=True)

    def get_source_config(self, catalog_config: dict[str, object]) -> dict[str, object]:
        return {}


def _plan(tmp_path: Path, names: list[str], catalog: str) -> EgressPlan:
    destinations = "".join(
        f"  - {{name: {n}, sink_type: rest_api, connection_secret_ref: s, source_table: gold.t}}\n"
        for n in names
    )
    (tmp_path / "floe.yaml").write_text(
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: t, version: 1.0.0}\n"
        + ("destinations:\n" + destinations if names else ""),
        encoding="utf-8",
    )
    (tmp_path / "manifest.yaml").write_text(
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: t}\n" + catalog,
        encoding="utf-8",
    )
    registry = PluginRegistry()
    registry.register(Sinks(), name="sinks")
    return compile_project(tmp_path / "floe.yaml", registry=registry).unwrap()


SQL_CATALOG = "catalog: {type: sql, uri: 'sqlite:///.floe/c.db', credential_secret_ref: cat}\n"


def test_a_sink_plugin_says_which_secret_keys_its_sink_needs(acme_sinks: SinkConnector) -> None:
    assert required_secret_keys(acme_sinks, "acme_crm", {}) == [["url"]]
    assert required_secret_keys(acme_sinks, "acme_crm", {"mode": "upsert"}) == [["url", "token"]]


def test_a_plain_sink_connector_checks_its_secret_keys_itself() -> None:
    assert required_secret_keys(Sinks(), "rest_api", {"auth": "bearer"}) == []


@pytest.mark.requirement("B1")
def test_selection_by_name_keeps_the_order_asked_and_all_keeps_file_order(
    tmp_path: Path,
) -> None:
    plan = _plan(tmp_path, ["a", "b", "c"], SQL_CATALOG)
    assert [d.name for d in select_destinations(plan, ["c", "a", "c"], False)] == ["c", "a"]
    assert [d.name for d in select_destinations(plan, [], True)] == ["a", "b", "c"]
    with pytest.raises(EgressConfigError, match="not both"):
        select_destinations(plan, ["a"], True)


def test_all_with_no_destinations(tmp_path: Path) -> None:
    plan = _plan(tmp_path, [], SQL_CATALOG)
    with pytest.raises(EgressConfigError, match="declares no destinations"):
        select_destinations(plan, [], True)


@pytest.mark.requirement("R9")
def test_sql_catalog_uri_comes_from_its_secret_relative_to_the_project(tmp_path: Path) -> None:
    plan = _plan(tmp_path, ["a"], SQL_CATALOG)
    secret = tmp_path / "secrets" / "cat"
    secret.mkdir(parents=True)
    (secret / "uri").write_text("sqlite:///.floe/real.db", encoding="utf-8")

    config = catalog_config(plan, SecretResolver.for_project(tmp_path, environ={}))

    assert config["uri"] == f"sqlite:///{tmp_path / '.floe' / 'real.db'}"


@pytest.mark.requirement("R9")
def test_rest_catalog_client_credentials_from_its_secret(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        ["a"],
        "catalog: {type: rest, uri: 'https://polaris.example/api/catalog', warehouse: gold,"
        " credential_secret_ref: polaris, scope: 'PRINCIPAL_ROLE:ALL'}\n",
    )
    environ = {
        "FLOE_SECRET_POLARIS__CLIENT_ID": "floe-client",
        "FLOE_SECRET_POLARIS__CLIENT_SECRET": "s3cret-9",
    }

    config = catalog_config(plan, SecretResolver.for_project(tmp_path, environ=environ))

    assert (config["client_id"], config["client_secret"]) == ("floe-client", "s3cret-9")
    assert config["warehouse"] == "gold" and config["scope"] == "PRINCIPAL_ROLE:ALL"
