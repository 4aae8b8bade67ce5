"""``floe_assets``: what Dagster is told about each destination, and subsetting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest
from floe_core.egress.errors import EgressConfigError
from floe_orchestrator_dagster import FloeDestination, FloeTranslator

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import Project

TWO = """\
- name: contacts
  sink_type: sql_database
  connection_secret_ref: quickstart-sqlite
  source_table: gold.customers
  config: {table: contacts}
- name: accounts
  sink_type: sql_database
  connection_secret_ref: quickstart-sqlite
  source_table: gold.customers
  config: {table: accounts}
"""


@pytest.mark.requirement("B12")
def test_each_destination_is_an_asset_downstream_of_its_iceberg_table(
    make_project: Any, define_assets: Any
) -> None:
    project: Project = make_project(rows=5)

    assets: dg.AssetsDefinition = define_assets(project)

    key = dg.AssetKey(["floe", "customers_to_sqlite"])
    [spec] = list(assets.specs)
    assert spec.key == key
    assert [dep.asset_key for dep in spec.deps] == [dg.AssetKey(["iceberg", "gold", "customers"])]
    assert spec.kinds == {"floe", "iceberg", "sql_database"}
    assert spec.owners == ["data-team@example.com"]
    assert spec.description is not None
    assert "Iceberg table gold.customers" in spec.description
    assert "Customers with lifetime value and segment" in spec.description
    assert assets.op.name == "floe_quickstart"
    assert assets.can_subset
    assert [c.name for c in assets.check_specs] == ["rejected_rows"]


@pytest.mark.requirement("B12")
def test_a_translator_renames_and_a_subset_runs_only_its_destination(
    make_project: Any, define_assets: Any, metadata_of: Any
) -> None:
    project: Project = make_project(rows=15)
    project.write(TWO)

    class CrmTranslator(FloeTranslator):
        def get_asset_key(self, destination: FloeDestination) -> dg.AssetKey:
            return dg.AssetKey(["crm", destination.name])

        def get_source_asset_key(self, destination: FloeDestination) -> dg.AssetKey:
            return dg.AssetKey(["lake", destination.source_table])

    assets = define_assets(project, translator=CrmTranslator())
    assert {spec.key.to_user_string() for spec in assets.specs} == {"crm/contacts", "crm/accounts"}
    assert {spec.owners[0] for spec in assets.specs} == {"team:crm-team"}
    lake = dg.AssetKey(["lake", "gold.customers"])
    assert all([dep.asset_key for dep in spec.deps] == [lake] for spec in assets.specs)

    result = dg.materialize(
        [assets], selection=["crm/accounts"], resources={"floe": project.resource()}
    )

    assert result.success
    assert set(metadata_of(result)) == {"crm/accounts"}
    assert len(project.destination_rows("accounts")) == 15
    assert project.destination_rows("contacts") == []


def test_only_the_named_destinations_and_never_an_unknown_one(
    make_project: Any, define_assets: Any
) -> None:
    project: Project = make_project(rows=5)
    project.write(TWO)

    assets = define_assets(project, destinations=["contacts"])

    assert [spec.key.to_user_string() for spec in assets.specs] == ["floe/contacts"]
    with pytest.raises(EgressConfigError, match="destination 'nope' is not declared"):
        define_assets(project, destinations=["nope"])
