"""compile_project: every problem at once, located; or a typed egress plan."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from floe_core.compiler import (
    CompiledDestination,
    InvalidProjectError,
    Problem,
    compile_project,
)
from floe_core.registry import PluginRegistry

WriteProject = Callable[..., Path]
MakeDestination = Callable[..., dict[str, Any]]


def _paths(problems: list[Problem]) -> list[str]:
    return [p.path for p in problems]


def test_the_quickstart_compiles_to_a_plan_with_the_installed_plugins(
    repo_root: Path, tmp_path: Path
) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(
        repo_root / "examples" / "quickstart",
        project,
        ignore=shutil.ignore_patterns(".floe", "secrets"),
    )
    result = compile_project(project / "floe.yaml")
    assert result.problems == []
    plan = result.unwrap()
    assert plan.project_dir == project
    assert plan.manifest_path == project / "manifest.yaml"
    assert plan.destination_names == ["customers_to_sqlite"]
    assert plan.destination("customers_to_sqlite") == CompiledDestination(
        name="customers_to_sqlite",
        sink_type="sql_database",
        plugin_name="dlt",
        connection_secret_ref="quickstart-sqlite",
        source_table="gold.customers",
        config={"table": "customers", "mode": "upsert", "primary_key": ["customer_id"]},
        field_mapping={"lifetime_value": "ltv", "segment": "customer_segment"},
        batch_size=2000,
        retry_config=None,
        primary_key=("customer_id",),
        sync_mode="upsert",
    )
    assert plan.catalog == {
        "type": "sql",
        "name": "quickstart",
        "uri": f"sqlite:///{project}/.floe/catalog.db",
        "warehouse": (project / ".floe" / "warehouse").as_uri(),
    }
    assert plan.catalog_secret_ref is None
    assert plan.manifest.approved_sinks == ["sql_database", "rest_api"]


@pytest.mark.requirement("R12")
def test_a_project_without_destinations_compiles(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    sinks_registry: PluginRegistry,
) -> None:
    spec_data["transforms"] = [{"name": "stg_customers"}]
    plan = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    assert plan.ok
    assert plan.unwrap().destinations == []


@pytest.mark.requirement("R17")
def test_an_unapproved_sink_is_refused_at_its_line(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    manifest_data["approved_sinks"] = ["sql_database"]
    spec_data["destinations"] = [make_destination(name="crm")]
    spec_path = write_project(spec_data, manifest_data)
    result = compile_project(spec_path, registry=sinks_registry)
    assert result.plan is None
    (problem,) = result.problems
    assert problem.file == str(spec_path)
    assert problem.path == "destinations[0].sink_type"
    assert (problem.line, problem.column) == (8, 3)
    assert "destination 'crm' uses sink type 'rest_api'" in problem.message
    assert "approved_sinks" in problem.hint
    with pytest.raises(InvalidProjectError) as caught:
        result.unwrap()
    assert caught.value.problems == result.problems


@pytest.mark.requirement("R17")
def test_a_misspelt_approved_sink_is_flagged_in_the_manifest_and_named_by_its_destination(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    # hubspot may be installed where the products run: only a near miss is a mistake.
    manifest_data["approved_sinks"] = ["sql_databse", "rest_api", "hubspot"]
    spec_data["destinations"] = [make_destination(name="orders", sink_type="sql_database")]
    spec_path = write_project(spec_data, manifest_data)
    result = compile_project(spec_path, registry=sinks_registry)
    unapproved, misspelt = result.problems
    assert (Path(misspelt.file).name, misspelt.path, misspelt.line) == (
        "manifest.yaml",
        "approved_sinks[0]",
        11,
    )
    assert misspelt.message == (
        "approves sink type 'sql_databse', which no installed plugin provides (installed: "
        "rest_api, sql_database)"
    )
    assert misspelt.hint.startswith("did you mean 'sql_database'?")
    assert unapproved.path == "destinations[0].sink_type"
    assert unapproved.message.endswith(
        f"its 'sql_databse' ({spec_path.parent / 'manifest.yaml'}:11) is likely a misspelling "
        "of 'sql_database'"
    )
    assert "correct 'sql_databse' to 'sql_database' in approved_sinks" in unapproved.hint
    assert "ask the platform team" not in unapproved.hint


def test_the_manifests_valid_sections_are_checked_against_floe_yaml_despite_its_errors(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    manifest_data["metadata"]["version"] = "one"
    manifest_data["approved_sinks"] = ["sql_database"]
    manifest_data["plugins"] = {"ingestion": "airbyte"}
    del manifest_data["catalog"]
    spec_data["destinations"] = [make_destination(name="crm")]
    result = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    assert [(Path(p.file).name, p.path, p.message.split(" (")[0]) for p in result.problems] == [
        (
            "floe.yaml",
            "destinations[0].sink_type",
            "destination 'crm' uses sink type 'rest_api', which is not in the manifest's "
            "approved_sinks",
        ),
        (
            "floe.yaml",
            "destinations[0].source_table",
            "reads an Iceberg table, but " + str(result.manifest_path) + " declares no catalog",
        ),
        (
            "manifest.yaml",
            "metadata.version",
            "'one' has the wrong format: expected a version MAJOR.MINOR.PATCH, e.g. 1.0.0",
        ),
        ("manifest.yaml", "plugins.ingestion", "plugin 'airbyte' is not installed"),
    ]


def test_a_wrong_approved_sinks_is_not_taken_as_approving_nothing(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    manifest_data["approved_sinks"] = ["Rest API"]
    spec_data["destinations"] = [make_destination()]
    result = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    (problem,) = result.problems
    assert problem.path == "approved_sinks[0]"


def test_an_uninstalled_sink_type_is_refused_naming_what_is_available(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    manifest_data["approved_sinks"] = ["zendesk"]
    spec_data["destinations"] = [make_destination(sink_type="zendesk")]
    sinks_registry.register(object(), name="broken-one")
    result = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    (problem,) = result.problems
    assert problem.message == (
        "no installed plugin provides sink type 'zendesk' (available: rest_api, sql_database)"
    )
    assert "floe sinks" in problem.hint
    assert "Plugins that failed to load: broken-one" in problem.hint


@pytest.mark.requirement("R18")
def test_an_uninstalled_unapproved_sink_type_gets_no_approval_advice(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    manifest_data["approved_sinks"] = ["sql_database"]
    spec_data["destinations"] = [make_destination(sink_type="zendesk")]
    result = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    (problem,) = result.problems
    assert problem.message.startswith("no installed plugin provides sink type 'zendesk'")
    assert "approved_sinks" not in problem.hint
    assert "`floe sinks` lists what is installed" in problem.hint


@pytest.mark.requirement("R11")
def test_a_destination_without_source_table_is_refused_at_its_line(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    spec_data["destinations"] = [make_destination(name="ok"), make_destination(name="bare")]
    del spec_data["destinations"][1]["source_table"]
    result = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    (problem,) = result.problems
    assert problem.path == "destinations[1].source_table"
    assert problem.line is not None and problem.line > 8  # the second destination's item
    assert "required key `source_table` is missing" in problem.message
    assert "source_table: namespace.table" in problem.hint


@pytest.mark.requirement("R18")
def test_credentials_are_reported_per_key_without_their_values(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    spec_data["destinations"] = [
        make_destination(config={"token": "tok-1234567", "base_url": "https://u:pw-98765@h/"})
    ]
    result = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    assert _paths(result.problems) == [
        "destinations[0].config.token",
        "destinations[0].config.base_url",
    ]
    assert all("Kubernetes Secret 'crm-api'" in p.hint for p in result.problems)
    text = repr(result.problems)
    assert "tok-1234567" not in text and "pw-98765" not in text


def test_every_problem_is_listed_at_once(repo_root: Path, sinks_registry: PluginRegistry) -> None:
    # The plugin here is a plain SinkConnector, which declares no settings: the misspelt
    # `tabel` in destinations[2] is found with the real plugin (test_cli_validate).
    result = compile_project(
        repo_root / "examples" / "broken" / "many_problems" / "floe.yaml", registry=sinks_registry
    )
    found = {(p.path, p.message.split(" (")[0]) for p in result.problems}
    assert found == {
        ("metadata.version", "required key `version` is missing"),
        (
            "destinations[0].sink_type",
            "destination 'contacts' uses sink type 'rest_api', which is not in the manifest's "
            "approved_sinks",
        ),
        (
            "destinations[0].config.headers.Authorization",
            "the key 'Authorization' holds a credential; credentials must not be written in "
            "floe.yaml",
        ),
        ("destinations[1].name", "destination name 'contacts' is already used by destinations[0]"),
        (
            "destinations[1].connection_secret_ref",
            "'App_DB' is not a valid Kubernetes Secret name: it contains characters other than "
            "lowercase letters, digits, '-' and '.'",
        ),
        ("destinations[2].sinktype", "unknown key `sinktype`"),
        ("destinations[3].sink_type", "no installed plugin provides sink type 'zendesk'"),
    }
    lines = [p.line for p in result.problems if p.line is not None]
    assert len(lines) == len(result.problems)
    assert lines == sorted(lines)


def test_problems_in_both_files_are_reported_together(
    write_project: WriteProject, spec_data: dict[str, Any], sinks_registry: PluginRegistry
) -> None:
    spec_data["metadata"]["version"] = "one"
    manifest = "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: p}\nscope: galaxy\n"
    spec_path = write_project(spec_data, manifest)
    result = compile_project(spec_path, registry=sinks_registry)
    assert [(Path(p.file).name, p.path, p.line) for p in result.problems] == [
        ("floe.yaml", "metadata.version", 5),
        ("manifest.yaml", "scope", 4),
    ]
    assert "MAJOR.MINOR.PATCH" in result.problems[0].message
    assert "'enterprise', 'domain' or 'none'" in result.problems[1].message


def test_missing_files_are_problems(tmp_path: Path, sinks_registry: PluginRegistry) -> None:
    result = compile_project(tmp_path / "floe.yaml", registry=sinks_registry)
    assert [(Path(p.file).name, p.message) for p in result.problems] == [
        ("floe.yaml", "file not found"),
        ("manifest.yaml", "file not found"),
    ]


def test_a_project_directory_that_does_not_exist_is_one_problem(
    tmp_path: Path, sinks_registry: PluginRegistry
) -> None:
    result = compile_project(tmp_path / "typo" / "floe.yaml", registry=sinks_registry)
    (problem,) = result.problems
    assert problem.file == str(tmp_path / "typo")
    assert problem.message == f"directory {tmp_path / 'typo'} does not exist"
    assert f"floe init {tmp_path / 'typo'}" in problem.hint


def test_problems_on_one_line_are_in_the_order_of_their_columns(
    write_project: WriteProject, manifest_data: dict[str, Any], sinks_registry: PluginRegistry
) -> None:
    # `sink_type` comes before `name` on the line, though not in the alphabet.
    spec = (
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: crm-sync, version: 1.0.0}\n"
        "destinations:\n"
        "  - {sink_type: Bad, name: not valid, connection_secret_ref: crm-api, "
        "source_table: gold.customers}\n"
    )
    result = compile_project(write_project(spec, manifest_data), registry=sinks_registry)
    assert [(p.path, p.line) for p in result.problems] == [
        ("destinations[0].sink_type", 5),
        ("destinations[0].name", 5),
    ]


def test_invalid_yaml_is_located(
    write_project: WriteProject, manifest_data: dict[str, Any], sinks_registry: PluginRegistry
) -> None:
    spec_path = write_project("apiVersion: floe.dev/v1\nkind: [FloeSpec\n", manifest_data)
    (problem,) = compile_project(spec_path, registry=sinks_registry).problems
    assert problem.path == ""
    assert (problem.line, problem.column) == (2, 7)  # where the list left open starts
    assert "is not valid YAML" in problem.message
    assert "the [...] list that starts at line 2, column 7 is not closed" in problem.message


@pytest.mark.parametrize(
    ("text", "message"), [("", "empty"), ("- a\n- b\n", "not a mapping of keys to values")]
)
def test_a_file_that_is_not_a_mapping(
    write_project: WriteProject,
    manifest_data: dict[str, Any],
    sinks_registry: PluginRegistry,
    text: str,
    message: str,
) -> None:
    (problem,) = compile_project(
        write_project(text, manifest_data), registry=sinks_registry
    ).problems
    assert problem.message == f"is {message}"


def test_duplicate_yaml_keys_are_problems(
    write_project: WriteProject, manifest_data: dict[str, Any], sinks_registry: PluginRegistry
) -> None:
    text = (
        "apiVersion: floe.dev/v1\nkind: FloeSpec\n"
        "metadata: {name: a, version: 1.0.0}\nkind: FloeSpec\n"
    )
    (problem,) = compile_project(
        write_project(text, manifest_data), registry=sinks_registry
    ).problems
    assert (problem.path, problem.line) == ("kind", 4)
    assert problem.message == "key `kind` is given twice (lines 2 and 4)"
    assert problem.hint == "keep one of them; YAML silently uses the last (line 4)"


def test_a_bad_value_of_a_key_given_twice_is_reported_at_the_one_used(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    spec_data["destinations"] = [make_destination()]
    text = yaml.safe_dump(spec_data, sort_keys=False).replace(
        "  source_table:", "  batch_size: 2000\n  batch_size: -5\n  source_table:"
    )
    result = compile_project(write_project(text, manifest_data), registry=sinks_registry)
    lines = text.splitlines()
    first, used = (i + 1 for i, line in enumerate(lines) if "batch_size" in line)
    assert [(p.path, p.line, p.message) for p in result.problems] == [
        (
            "destinations[0].batch_size",
            used,
            f"key `batch_size` is given twice (lines {first} and {used})",
        ),
        ("destinations[0].batch_size", used, "should be at least 1, not -5"),
    ]


def test_wrong_types_get_a_readable_message(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    spec_data["destinations"] = [make_destination(batch_size="lots", config=["a"])]
    result = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    assert [(p.path, p.message) for p in result.problems] == [
        ("destinations[0].config", "should be a mapping (indented `key: value` lines)"),
        ("destinations[0].batch_size", "should be a whole number, not 'lots'"),
    ]


def test_the_manifest_named_in_platform_is_used(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    sinks_registry: PluginRegistry,
) -> None:
    spec_path = write_project(spec_data)
    (spec_path.parent / "platform").mkdir()
    (spec_path.parent / "platform" / "acme.yaml").write_text("kind: Manifest\n")
    spec_data["platform"] = {"manifest": "platform/acme.yaml"}
    spec_path = write_project(spec_data)
    result = compile_project(spec_path, registry=sinks_registry)
    assert result.manifest_path == spec_path.parent / "platform" / "acme.yaml"
    assert {p.path for p in result.problems} == {"apiVersion", "metadata"}


def test_a_manifest_uri_in_platform_is_not_fetched(
    write_project: WriteProject, spec_data: dict[str, Any], sinks_registry: PluginRegistry
) -> None:
    spec_data["platform"] = {"manifest": "oci://registry.example.com/platform:1.0"}
    result = compile_project(write_project(spec_data), registry=sinks_registry)
    assert result.problems[0].path == "platform.manifest"
    assert "--manifest" in result.problems[0].hint


def test_a_sink_type_from_several_plugins_needs_a_choice(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    named_sinks: Any,
) -> None:
    registry = PluginRegistry.discover(
        groups=(), plugins=[named_sinks("alpha"), named_sinks("beta")]
    )
    spec_data["destinations"] = [make_destination()]
    (problem,) = compile_project(
        write_project(spec_data, manifest_data), registry=registry
    ).problems
    assert "provided by several plugins: alpha, beta" in problem.message
    assert "plugins: {sinks: {rest_api: <plugin>}}" in problem.hint

    manifest_data["plugins"] = {"sinks": {"rest_api": "beta"}}
    plan = compile_project(write_project(spec_data, manifest_data), registry=registry).unwrap()
    assert plan.destinations[0].plugin_name == "beta"

    manifest_data["plugins"] = {"ingestion": "alpha"}
    plan = compile_project(write_project(spec_data, manifest_data), registry=registry).unwrap()
    assert plan.destinations[0].plugin_name == "alpha"


def test_plugin_selections_must_be_installed(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    sinks_registry: PluginRegistry,
) -> None:
    sinks_registry.register(object(), name="kaputt")
    manifest_data["plugins"] = {
        "ingestion": "airbyte",
        "sinks": {"rest_api": "testsinks", "s3": "testsinks", "sql_database": "kaputt"},
    }
    result = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    assert [(p.path, p.message) for p in result.problems] == [
        ("plugins.ingestion", "plugin 'airbyte' is not installed (installed: testsinks)"),
        ("plugins.sinks.s3", "plugin 'testsinks' does not provide sink type 's3'"),
        (
            "plugins.sinks.sql_database",
            "plugin 'kaputt' is of type object, neither a PluginMetadata nor a SinkConnector",
        ),
    ]


def test_reading_a_table_needs_a_catalog(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    del manifest_data["catalog"]
    spec_data["destinations"] = [make_destination()]
    (problem,) = compile_project(
        write_project(spec_data, manifest_data), registry=sinks_registry
    ).problems
    assert problem.path == "destinations[0].source_table"
    assert "declares no catalog" in problem.message


def test_the_plan_resolves_secrets_dir_state_and_rest_catalog(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    sinks_registry: PluginRegistry,
) -> None:
    manifest_data["catalog"] = {
        "type": "rest",
        "uri": "https://polaris.example.com/api/catalog",
        "warehouse": "gold",
        "credential_secret_ref": "polaris-oauth",
        "scope": "PRINCIPAL_ROLE:ALL",
    }
    manifest_data["secrets"] = {"dir": "secrets"}
    manifest_data["state"] = {"url": "sqlite:///.floe/state.db"}
    spec_path = write_project(spec_data, manifest_data)
    plan = compile_project(spec_path, registry=sinks_registry).unwrap()
    project = spec_path.parent
    assert plan.catalog == {
        "type": "rest",
        "name": "default",
        "uri": "https://polaris.example.com/api/catalog",
        "warehouse": "gold",
        "scope": "PRINCIPAL_ROLE:ALL",
    }
    assert plan.catalog_secret_ref == "polaris-oauth"
    assert plan.secrets_dir == project / "secrets"
    assert plan.state_url == f"sqlite:///{project}/.floe/state.db"


def test_the_registry_is_discovered_when_not_given(repo_root: Path) -> None:
    result = compile_project(repo_root / "examples" / "broken" / "unknown_sink_type" / "floe.yaml")
    (problem,) = result.problems
    assert "no installed plugin provides sink type 'salesforce'" in problem.message


# -- sink settings ---------------------------------------------------------------------------


def _acme_project(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    config: dict[str, Any] | None,
) -> Path:
    manifest_data["approved_sinks"] = ["acme_crm"]
    destination = make_destination(name="orders", sink_type="acme_crm", config=config)
    if config is None:
        del destination["config"]
    spec_data["destinations"] = [destination]
    return write_project(spec_data, manifest_data)


def _acme_registry(plugin: object) -> PluginRegistry:
    registry = PluginRegistry()
    registry.register(plugin)
    return registry


def test_each_bad_sink_setting_is_a_problem_at_its_line_with_a_fix(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    acme_sinks: Any,
) -> None:
    config = {"tabel": "orders", "mode": "upsrt", "max_request_per_second": 5}
    spec_path = _acme_project(write_project, spec_data, manifest_data, make_destination, config)
    result = compile_project(spec_path, registry=_acme_registry(acme_sinks))

    assert result.plan is None
    assert [(p.path, p.line, p.message) for p in result.problems] == [
        ("destinations[0].config.tabel", 12, "unknown key `tabel`"),
        (
            "destinations[0].config.mode",
            13,
            "'upsrt' is not a valid mode: it should be 'append' or 'upsert'",
        ),
        (
            "destinations[0].config.max_request_per_second",
            14,
            "unknown key `max_request_per_second`",
        ),
    ]
    tabel, mode, rate = (p.hint for p in result.problems)
    assert tabel.startswith("did you mean `table`?")
    assert mode == "did you mean 'upsert'?"
    assert rate.startswith("did you mean `max_requests_per_second`?")
    # The Secret provides url and token: not asked for, and not offered as keys to write.
    assert "allowed here: table, mode, key, max_requests_per_second)" in tabel
    assert not any("url" in p.message or "token" in p.hint for p in result.problems)


def test_a_cross_field_check_of_the_settings_model_is_reported(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    acme_sinks: Any,
) -> None:
    config = {"table": "orders", "mode": "upsert"}
    spec_path = _acme_project(write_project, spec_data, manifest_data, make_destination, config)
    (problem,) = compile_project(spec_path, registry=_acme_registry(acme_sinks)).problems
    assert (problem.path, problem.message, problem.hint) == (
        "destinations[0].config.key",
        "mode 'upsert' needs key",
        "add `key: id`",
    )
    assert problem.line == 11  # where config: is written, since key is not


def test_a_missing_required_setting_names_the_key_to_add(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    acme_sinks: Any,
) -> None:
    spec_path = _acme_project(write_project, spec_data, manifest_data, make_destination, None)
    (problem,) = compile_project(spec_path, registry=_acme_registry(acme_sinks)).problems
    assert (problem.path, problem.message, problem.hint) == (
        "destinations[0].config.table",
        "required key `table` is missing",
        "add `table:` under `config`",
    )


def test_good_settings_compile_and_a_credential_is_reported_once(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    acme_sinks: Any,
) -> None:
    good = {"table": "orders", "mode": "upsert", "key": "id", "max_requests_per_second": 5}
    spec_path = _acme_project(write_project, spec_data, manifest_data, make_destination, good)
    assert compile_project(spec_path, registry=_acme_registry(acme_sinks)).ok

    leaked = {"table": "orders", "password": "hunter2-but-longer"}
    spec_path = _acme_project(write_project, spec_data, manifest_data, make_destination, leaked)
    (problem,) = compile_project(spec_path, registry=_acme_registry(acme_sinks)).problems
    assert problem.path == "destinations[0].config.password"
    assert "holds a credential" in problem.message
    assert "hunter2-but-longer" not in repr(problem)


def test_a_plain_sink_connector_gets_no_settings_check(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    named_sinks: Any,
) -> None:
    config = {"tabel": "orders"}
    spec_path = _acme_project(write_project, spec_data, manifest_data, make_destination, config)
    registry = _acme_registry(named_sinks(sink_types=("acme_crm",)))
    assert compile_project(spec_path, registry=registry).ok


def test_a_sink_whose_module_is_not_installed_is_a_problem(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    acme_sinks: Any,
) -> None:
    class Uninstalled(type(acme_sinks)):  # type: ignore[misc]
        sink_classes: ClassVar[dict[str, str]] = {
            "acme_crm": "acme_crm_not_installed.sink:AcmeSink"
        }
        install_hint = "pip install acme-floe"

    config = {"table": "orders"}
    spec_path = _acme_project(write_project, spec_data, manifest_data, make_destination, config)
    (problem,) = compile_project(spec_path, registry=_acme_registry(Uninstalled())).problems
    assert problem.path == "destinations[0].sink_type"
    assert problem.message == (
        "sink type 'acme_crm' needs acme_crm_not_installed, which is not installed"
    )
    assert problem.hint == "pip install acme-floe"


def test_retry_config_is_checked_as_a_run_applies_it(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    retry = {"initial_backoff_seconds": 5, "max_backoff_seconds": 1}
    spec_data["destinations"] = [make_destination(retry_config=retry)]
    (problem,) = compile_project(
        write_project(spec_data, manifest_data), registry=sinks_registry
    ).problems
    assert problem.path == "destinations[0].retry_config.max_backoff_seconds"
    assert problem.message == "must be at least initial_backoff_seconds"

    spec_data["destinations"] = [make_destination(retry_config={"max_attempts": 2})]
    plan = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)
    (destination,) = plan.unwrap().destinations
    assert destination.retry_config == {"max_attempts": 2}  # only what floe.yaml sets


# -- field shaping -------------------------------------------------------------------------


@pytest.mark.requirement("R14")
def test_conflicting_fields_are_problems_at_their_lines(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    mapped = make_destination(name="crm", sink_type="rest_api")
    mapped["field_mapping"] = {"ltv": "properties", "segment": "properties.segment"}
    static = make_destination(name="crm2", sink_type="rest_api")
    static["field_mapping"] = {"segment": "properties.segment"}
    static["static_fields"] = {"properties.segment": "gold", "kind": [1]}
    spec_data["destinations"] = [mapped, static]
    problems = compile_project(
        write_project(spec_data, manifest_data), registry=sinks_registry
    ).problems
    assert [(p.path, p.message) for p in problems] == [
        (
            "destinations[0].field_mapping.segment",
            "sets 'properties.segment' while column 'ltv' sets 'properties': "
            "'properties' cannot be both a value and an object",
        ),
        (
            "destinations[1].static_fields['properties.segment']",
            "sets 'properties.segment', which column 'segment' sets already",
        ),
        (
            "destinations[1].static_fields.kind",
            "has a value of type list; a static value is a string, a finite number, "
            "true/false or null",
        ),
    ]


def test_a_destinations_fields_that_disagree_are_reported_despite_its_other_errors(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    crm = make_destination(
        name="crm",
        config={"path": "/contacts", "headers": {"Authorization": "Bearer x"}},
        columns=["id", "email"],
        exclude_columns=["segment"],
        sync_mode="insert",
        batch_size=0,
    )
    spec_data["destinations"] = [crm]
    problems = compile_project(
        write_project(spec_data, manifest_data), registry=sinks_registry
    ).problems
    assert sorted((p.path, p.message) for p in problems) == [
        ("destinations[0].batch_size", "should be at least 1, not 0"),
        (
            "destinations[0].config.headers.Authorization",
            "the key 'Authorization' holds a credential; credentials must not be written in "
            "floe.yaml",
        ),
        ("destinations[0].exclude_columns", "columns and exclude_columns are both set"),
        ("destinations[0].primary_key", "sync_mode 'insert' needs primary_key"),
    ]


def test_a_valid_destinations_disagreements_are_all_reported_once(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    spec_data["destinations"] = [
        make_destination(columns=["id"], exclude_columns=["segment"], sync_mode="mirror")
    ]
    problems = compile_project(
        write_project(spec_data, manifest_data), registry=sinks_registry
    ).problems
    assert [(p.path, p.message) for p in problems] == [
        ("destinations[0].primary_key", "sync_mode 'mirror' needs primary_key"),
        ("destinations[0].exclude_columns", "columns and exclude_columns are both set"),
    ]


@pytest.mark.requirement("R14")
def test_a_nested_field_for_a_sink_of_flat_rows_is_a_problem(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    acme_sinks: Any,
) -> None:
    manifest_data["approved_sinks"] = ["acme_crm"]
    destination = make_destination(name="orders", sink_type="acme_crm", config={"table": "o"})
    destination["field_mapping"] = {"ltv": "properties.ltv", "utm": r"utm\.source"}
    destination["static_fields"] = {"a.b": 1}
    spec_data["destinations"] = [destination]
    problems = compile_project(
        write_project(spec_data, manifest_data), registry=_acme_registry(acme_sinks)
    ).problems
    assert [(p.path, p.message) for p in problems] == [
        (
            "destinations[0].field_mapping.ltv",
            "'properties.ltv' is a nested field, but sink type 'acme_crm' writes flat rows",
        ),
        (
            "destinations[0].static_fields['a.b']",
            "'a.b' is a nested field, but sink type 'acme_crm' writes flat rows",
        ),
    ]
    assert r"`a\.b` is the column 'a.b'" in problems[0].hint


@pytest.mark.requirement("B2")
def test_columns_that_leave_out_needed_ones_are_problems_at_their_lines(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    spec_data["destinations"] = [
        make_destination(name="a", primary_key=["customer_id"], columns=["email"]),
        make_destination(name="b", columns=["email"], exclude_columns=["segment"]),
        make_destination(
            name="c", field_mapping={"segment": "seg"}, exclude_columns=["segment", "ltv"]
        ),
        make_destination(name="d", columns=["customer_id", "email"], primary_key=["customer_id"]),
    ]
    result = compile_project(write_project(spec_data, manifest_data), registry=sinks_registry)

    assert [(p.path, p.message) for p in result.problems] == [
        (
            "destinations[0].columns",
            "columns leaves out column(s) that are needed: 'customer_id' (primary_key)",
        ),
        ("destinations[1].exclude_columns", "columns and exclude_columns are both set"),
        (
            "destinations[2].exclude_columns",
            "exclude_columns leaves out column(s) that are needed: 'segment' (field_mapping)",
        ),
    ]
    assert all(p.line is not None for p in result.problems)


def test_a_misspelt_sink_type_gets_a_did_you_mean_and_no_approval_advice(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    spec_data["destinations"] = [make_destination(sink_type="sql_databse")]
    problems = compile_project(
        write_project(spec_data, manifest_data), registry=sinks_registry
    ).problems

    [problem] = problems
    assert problem.message.startswith("no installed plugin provides sink type 'sql_databse'")
    assert problem.hint == "did you mean 'sql_database'? `floe sinks` lists what is installed"


_SQL_KEYED = {"table": "customers", "mode": "upsert", "primary_key": ["customer_id"]}


@pytest.mark.parametrize(
    ("selection", "path", "message"),
    [
        (
            {"columns": ["email", "lifetime_value", "segment"]},
            "destinations[0].columns",
            "columns leaves out column(s) that are needed: 'customer_id' (config.primary_key)",
        ),
        (
            {"exclude_columns": ["customer_id"]},
            "destinations[0].exclude_columns",
            "exclude_columns leaves out column(s) that are needed: 'customer_id' "
            "(config.primary_key)",
        ),
        (
            {"field_mapping": {"customer_id": "id"}},
            "destinations[0].config.primary_key",
            "config.primary_key names 'customer_id', which field_mapping renames to 'id'",
        ),
    ],
)
def test_the_sinks_own_key_setting_must_name_columns_that_are_sent(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    selection: dict[str, Any],
    path: str,
    message: str,
) -> None:
    # The quickstart's style: the key is sql_database's own setting, no primary_key beside it.
    spec_data["destinations"] = [
        make_destination(sink_type="sql_database", config=_SQL_KEYED, **selection)
    ]
    result = compile_project(write_project(spec_data, manifest_data))
    (problem,) = result.problems
    assert (problem.path, problem.message) == (path, message)
    assert problem.line is not None


@pytest.mark.parametrize(
    "selection",
    [
        {"columns": ["customer_id", "email"]},
        {"exclude_columns": ["email"]},
        # The key field comes from email, which is sent.
        {"exclude_columns": ["customer_id"], "field_mapping": {"email": "customer_id"}},
    ],
)
def test_a_key_setting_whose_columns_are_sent_compiles(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    selection: dict[str, Any],
) -> None:
    spec_data["destinations"] = [
        make_destination(sink_type="sql_database", config=_SQL_KEYED, **selection)
    ]
    assert compile_project(write_project(spec_data, manifest_data)).problems == []


def test_bad_values_are_echoed_in_floes_words_with_a_did_you_mean(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
) -> None:
    spec_data["destinations"] = [
        make_destination(
            sink_type="sql_database",
            connection_secret_ref="App_DB",
            source_table="customers",
            sync_mode="mirorr",
            batch_size=-5,
            config={"table": "customers", "mode": "upsrt", "write_mode": "append"},
        )
    ]
    result = compile_project(write_project(spec_data, manifest_data))
    found = {p.path: (p.message, p.hint) for p in result.problems}
    assert found == {
        "destinations[0].connection_secret_ref": (
            "'App_DB' is not a valid Kubernetes Secret name: it contains characters other than "
            "lowercase letters, digits, '-' and '.'",
            "did you mean 'app-db'? A Kubernetes Secret name is lowercase letters, digits, '-' "
            "and '.', starting and ending with a letter or digit",
        ),
        "destinations[0].source_table": (
            "'customers' has the wrong format: expected an Iceberg table as namespace.table, "
            "e.g. gold.customers",
            "write an Iceberg table as namespace.table, e.g. gold.customers",
        ),
        "destinations[0].sync_mode": (
            "'mirorr' is not a valid sync_mode: it should be 'full', 'insert', 'update', "
            "'upsert' or 'mirror'",
            "did you mean 'mirror'?",
        ),
        "destinations[0].batch_size": ("should be at least 1, not -5", "write a value at least 1"),
        "destinations[0].config.mode": (
            "'upsrt' is not a valid mode: it should be 'append', 'upsert' or 'replace'",
            "did you mean 'upsert'?",
        ),
        "destinations[0].config.write_mode": (
            "unknown key `write_mode`",
            "did you mean `mode`? Otherwise remove `write_mode` (allowed here: table, schema, "
            "mode, primary_key, create_table, max_connections)",
        ),
    }


def test_a_destination_key_that_is_a_value_of_a_setting_says_how_to_write_it(
    write_project: WriteProject,
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: MakeDestination,
    sinks_registry: PluginRegistry,
) -> None:
    spec_data["destinations"] = [make_destination(primary_key=["id"], mirror=True)]
    (problem,) = compile_project(
        write_project(spec_data, manifest_data), registry=sinks_registry
    ).problems
    assert (problem.path, problem.message) == ("destinations[0].mirror", "unknown key `mirror`")
    assert (
        problem.hint == "'mirror' is a value of `sync_mode`, not a key: write `sync_mode: mirror`"
    )
