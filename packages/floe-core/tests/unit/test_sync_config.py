"""primary_key, sync_mode and max_delete_fraction: validated by ``floe validate``, compiled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from floe_core.compiler import compile_project
from floe_core.registry import PluginRegistry

WriteProject = Callable[..., Path]


@pytest.fixture(scope="module")
def installed() -> PluginRegistry:
    """The installed plugins: the real sql_database and rest_api sinks."""
    return PluginRegistry.discover()


def _sql(**fields: Any) -> dict[str, Any]:
    config = fields.pop("config", {"table": "customers", "mode": "upsert"})
    return {
        "name": "to_db",
        "sink_type": "sql_database",
        "connection_secret_ref": "db",
        "source_table": "gold.customers",
        "config": config,
        **fields,
    }


def _rest(**fields: Any) -> dict[str, Any]:
    return {
        "name": "to_crm",
        "sink_type": "rest_api",
        "connection_secret_ref": "crm",
        "source_table": "gold.customers",
        "config": {"path": "/contacts"},
        **fields,
    }


def _compile(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    registry: PluginRegistry,
    *destinations: dict[str, Any],
) -> Any:
    spec_data["destinations"] = list(destinations)
    return compile_project(write_project(spec_data, manifest_data), registry=registry)


def test_a_primary_key_defaults_to_upsert_and_becomes_the_sinks_key_through_the_mapping(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    destination = _sql(primary_key=["customer_id"], field_mapping={"customer_id": "id"})
    result = _compile(write_project, spec_data, manifest_data, installed, destination)
    assert result.problems == []
    compiled = result.unwrap().destination("to_db")
    assert compiled.sync_mode == "upsert"
    assert compiled.primary_key == ("customer_id",)
    assert compiled.max_delete_fraction == 0.5
    assert compiled.config == {"table": "customers", "mode": "upsert", "primary_key": ["id"]}


def test_without_a_primary_key_the_mode_is_full_and_the_config_is_untouched(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    destination = _sql(config={"table": "customers"})
    compiled = _compile(write_project, spec_data, manifest_data, installed, destination).unwrap()
    assert compiled.destination("to_db").sync_mode == "full"
    assert compiled.destination("to_db").config == {"table": "customers"}


def test_a_sink_key_naming_the_same_columns_is_accepted_and_another_is_refused(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    same = _sql(
        primary_key=["customer_id"],
        config={"table": "customers", "mode": "upsert", "primary_key": ["customer_id"]},
    )
    assert _compile(write_project, spec_data, manifest_data, installed, same).ok
    other = _sql(
        primary_key=["customer_id"],
        config={"table": "customers", "mode": "upsert", "primary_key": ["email"]},
    )
    (problem,) = _compile(write_project, spec_data, manifest_data, installed, other).problems
    assert problem.path == "destinations[0].config.primary_key"
    assert "['email']" in problem.message and "['customer_id']" in problem.message


def test_an_incremental_mode_without_a_primary_key_is_refused(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    destination = _rest(sync_mode="update")
    problems = _compile(write_project, spec_data, manifest_data, installed, destination).problems
    assert [(p.path, p.message) for p in problems] == [
        ("destinations[0].primary_key", "sync_mode 'update' needs primary_key")
    ]


def test_a_rest_destination_with_a_delete_request_can_mirror(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    config = {
        "path": "/contacts",
        "operations": {"delete": {"method": "DELETE", "path": "/c/{id}"}},
    }
    destination = _rest(
        primary_key=["customer_id"],
        sync_mode="mirror",
        field_mapping={"customer_id": "id"},
        config=config,
    )
    result = _compile(write_project, spec_data, manifest_data, installed, destination)
    assert result.problems == []
    assert result.unwrap().destination("to_crm").config == {**config, "primary_key": ["id"]}


def test_a_rest_operation_request_that_cannot_work_is_refused_at_validate_time(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    delete = {"method": "DELETE", "path": "/contacts/{id}", "body": "array"}
    destination = _rest(
        primary_key=["id"],
        sync_mode="mirror",
        config={"path": "/contacts", "operations": {"delete": delete}},
    )
    (problem,) = _compile(write_project, spec_data, manifest_data, installed, destination).problems
    assert problem.path.startswith("destinations[0].config.operations.delete")
    assert "one row per request" in problem.message


@pytest.mark.parametrize(
    ("destination", "where", "needs"),
    [
        (_rest(primary_key=["id"], sync_mode="mirror"), "sync_mode", "delete"),
        (_sql(primary_key=["id"], config={"table": "t"}), "primary_key", "upsert"),
        (
            _sql(primary_key=["id"], sync_mode="update", config={"table": "t"}),
            "sync_mode",
            "update",
        ),
    ],
)
def test_a_mode_the_sink_cannot_do_is_refused_at_validate_time(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
    destination: dict[str, Any],
    where: str,
    needs: str,
) -> None:
    (problem,) = _compile(write_project, spec_data, manifest_data, installed, destination).problems
    assert problem.path == f"destinations[0].{where}"
    assert f"can {needs}" in problem.message
    assert "it can: " in problem.message


@pytest.mark.parametrize("config", [{"table": "t"}, {"table": "t", "mode": "append"}])
def test_a_primary_key_without_an_upserting_sink_says_it_means_upsert_and_how_to_fix_it(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
    config: dict[str, Any],
) -> None:
    destination = _sql(primary_key=["id"], config=config)
    (problem,) = _compile(write_project, spec_data, manifest_data, installed, destination).problems
    assert problem.path == "destinations[0].primary_key"
    assert problem.message == (
        "a primary_key makes the destination sync in upsert mode by default (each run sends "
        "only new and changed rows), which needs a sink that can upsert rows; with these "
        "settings it can: insert"
    )
    assert problem.hint == (
        "set `config.mode: upsert`, or `sync_mode: insert` (sends only the rows of keys never "
        "synced)"
    )


def test_a_written_sync_mode_the_settings_cannot_do_names_the_setting_that_can(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    destination = _sql(primary_key=["id"], sync_mode="mirror", config={"table": "t"})
    (problem,) = _compile(write_project, spec_data, manifest_data, installed, destination).problems
    assert problem.path == "destinations[0].sync_mode"
    assert problem.message.startswith("sync_mode 'mirror' needs a sink that can upsert rows")
    assert problem.hint.startswith("set `config.mode: upsert`, or `sync_mode: insert`")


def test_a_misspelt_setting_that_decides_the_operations_is_reported_alone(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    destination = _sql(primary_key=["id"], config={"table": "t", "mode": "upsrt"})
    (problem,) = _compile(write_project, spec_data, manifest_data, installed, destination).problems
    assert problem.path == "destinations[0].config.mode"
    assert problem.hint == "did you mean 'upsert'?"


def test_modes_the_sinks_can_do_compile(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    destinations = [
        _rest(primary_key=["id"], sync_mode="insert", name="a"),
        _rest(primary_key=["id"], sync_mode="update", name="b"),
        _sql(primary_key=["id"], sync_mode="mirror", name="c"),
        _sql(primary_key=["id"], sync_mode="insert", config={"table": "t"}, name="d"),
    ]
    result = _compile(write_project, spec_data, manifest_data, installed, *destinations)
    assert result.problems == []
    assert [d.sync_mode for d in result.unwrap().destinations] == [
        "insert",
        "update",
        "mirror",
        "insert",
    ]


def test_max_delete_fraction_is_a_fraction(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    installed: PluginRegistry,
) -> None:
    destination = _sql(primary_key=["id"], sync_mode="mirror", max_delete_fraction=1.5)
    (problem,) = _compile(write_project, spec_data, manifest_data, installed, destination).problems
    assert problem.path == "destinations[0].max_delete_fraction"
