"""``floe init``: a new project, with a comment on every setting, that ``floe validate``
accepts as written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from floe_core.cli.app import app
from floe_core.scaffold import project_name
from typer.testing import CliRunner

runner = CliRunner()


@pytest.mark.requirement("B2")
@pytest.mark.parametrize("sink", ["sql_database", "rest_api"])
def test_a_new_project_validates(tmp_path: Path, sink: str) -> None:
    project = tmp_path / "crm sync"

    created = runner.invoke(app, ["init", str(project), "--sink", sink])
    validated = runner.invoke(app, ["validate", str(project)])

    assert created.exit_code == 0, created.output
    assert validated.exit_code == 0, validated.output
    assert f"customers_to_{sink}: gold.customers -> {sink}" in validated.stdout
    spec = (project / "floe.yaml").read_text(encoding="utf-8")
    assert "name: crm-sync" in spec
    settings = spec[spec.index("    config:") :].splitlines()[1:]
    assert settings and all("#" in line for line in settings)  # a comment per setting
    assert "type: sql" in (project / "manifest.yaml").read_text(encoding="utf-8")
    assert (project / "secrets" / ".gitignore").read_text(encoding="utf-8").splitlines()[-2:] == [
        "*",
        "!.gitignore",
    ]
    secret = project / "secrets" / f"crm-sync-{sink.replace('_', '-')}"
    assert sorted(p.name for p in secret.iterdir()) == (
        ["url"] if sink == "sql_database" else ["base_url", "token"]
    )


@pytest.mark.requirement("B2")
def test_existing_files_are_kept(tmp_path: Path) -> None:
    (tmp_path / "floe.yaml").write_text("mine\n", encoding="utf-8")

    result = runner.invoke(app, ["init", str(tmp_path), "--sink", "rest_api"])
    forced = runner.invoke(app, ["init", str(tmp_path), "--sink", "rest_api", "--force"])

    assert result.exit_code == 1
    assert "exist already; nothing was written" in result.output
    assert "--force" in result.output
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "floe.yaml").read_text(encoding="utf-8").startswith("# A floe data product")


@pytest.mark.requirement("B2")
def test_an_unknown_sink_type_is_a_usage_error(tmp_path: Path) -> None:
    misspelt = runner.invoke(app, ["init", str(tmp_path), "--sink", "sql_databse"])
    missing = runner.invoke(app, ["init", str(tmp_path)])

    assert misspelt.exit_code == 2
    assert "did you mean 'sql_database'?" in misspelt.output
    assert missing.exit_code == 2
    assert "--sink rest_api or --sink sql_database" in missing.output  # every installed type
    assert not (tmp_path / "floe.yaml").exists()


@pytest.mark.requirement("B2")
def test_json_lists_the_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--sink", "sql_database", "--json"])

    data = json.loads(result.stdout)
    assert data["schema_version"] == 1 and data["command"] == "init" and data["ok"] is True
    assert str(tmp_path / "p" / "floe.yaml") in data["files"]


def test_project_names_are_valid() -> None:
    assert project_name(Path("/x/My Project")) == "my-project"
    assert project_name(Path("/x/2024_sync")) == "floe-2024-sync"
