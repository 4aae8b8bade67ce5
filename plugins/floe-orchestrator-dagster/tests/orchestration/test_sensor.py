"""``floe_snapshot_sensor``: one run per new source snapshot, none while nothing changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg
import pytest
from floe_orchestrator_dagster import floe_snapshot_sensor

if TYPE_CHECKING:  # the fixtures' classes; pytest alone imports conftest at run time
    from .conftest import Project

Tick = Callable[..., tuple[list[dg.RunRequest], str | None]]


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def tick(instance: dg.DagsterInstance) -> Tick:
    def evaluate(
        sensor: dg.SensorDefinition,
        assets: dg.AssetsDefinition,
        project: Project,
        cursor: str | None,
    ) -> tuple[list[dg.RunRequest], str | None]:
        """One evaluation of ``sensor`` in a code location holding it and its assets."""
        resources = {"floe": project.resource()}
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            definitions=dg.Definitions(assets=[assets], sensors=[sensor], resources=resources),
            sensor_name=sensor.name,
            resources=resources,
        )
        result = sensor.evaluate_tick(context)
        return list(result.run_requests or []), result.cursor

    return evaluate


@pytest.mark.requirement("B12")
def test_the_sensor_requests_one_run_per_new_snapshot_and_nothing_when_unchanged(
    make_project: Any, define_assets: Any, tick: Tick
) -> None:
    project: Project = make_project(rows=30)
    assets = define_assets(project)
    sensor = floe_snapshot_sensor(assets)
    first = project.snapshot()

    [never_delivered], cursor = tick(sensor, assets, project, None)
    assert never_delivered.run_key == f"customers_to_sqlite:none->{first}"
    assert never_delivered.asset_selection == [dg.AssetKey(["floe", "customers_to_sqlite"])]
    assert tick(sensor, assets, project, cursor)[0] == []  # requested already: not again

    assert dg.materialize([assets], resources={"floe": project.resource()}).success
    assert tick(sensor, assets, project, cursor)[0] == []  # delivered, unchanged
    assert tick(sensor, assets, project, None)[0] == []  # the same with no memory of requests

    project.append([{**project.source_rows()[0], "customer_id": 5000}])
    second = project.snapshot()
    [changed], cursor = tick(sensor, assets, project, cursor)
    assert changed.run_key == f"customers_to_sqlite:{first}->{second}"
    assert tick(sensor, assets, project, cursor)[0] == []

    assert dg.materialize([assets], resources={"floe": project.resource()}).success
    assert tick(sensor, assets, project, cursor)[0] == []
    assert len(project.destination_rows()) == 31


@pytest.mark.requirement("B12")
def test_the_sensor_reads_no_state_store_into_existence(
    make_project: Any, define_assets: Any, tick: Tick
) -> None:
    project: Project = make_project(rows=5)
    assets = define_assets(project)
    sensor = floe_snapshot_sensor(assets, name="watch", minimum_interval_seconds=5)

    [request], _ = tick(sensor, assets, project, None)

    assert sensor.name == "watch"
    assert sensor.minimum_interval_seconds == 5
    assert request.run_key == f"customers_to_sqlite:none->{project.snapshot()}"
    assert not (project.root / ".floe" / "state.db").exists()


def test_a_partitioned_asset_is_refused_by_the_sensor(
    make_project: Any, define_assets: Any
) -> None:
    project: Project = make_project(rows=5)
    assets = define_assets(project, partitions_def=dg.StaticPartitionsDefinition(["US", "DE"]))

    with pytest.raises(dg.DagsterInvalidDefinitionError, match="unpartitioned floe assets"):
        floe_snapshot_sensor(assets)
