"""Every command's ``--json`` output has the one documented envelope, and the JSON Schema
shipped for it (``output.schema.json``) describes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from floe_core.cli.app import app
from floe_core.cli.output import JSON_SCHEMA_VERSION
from floe_core.schemas.cli_output import CliOutput
from floe_core.schemas.json_schema import shipped_path
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def project(
    write_project: Callable[..., Path],
    spec_data: dict[str, Any],
    manifest_data: dict[str, Any],
    make_destination: Callable[..., dict[str, Any]],
) -> Path:
    spec_data["destinations"] = [make_destination()]
    return write_project(spec_data, manifest_data).parent


def _output(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [*args, "--json"], env={"FLOE_STATE_URL": ""})
    data: dict[str, Any] = json.loads(result.stdout)
    return result.exit_code, data


def _commands(project: Path, tmp_path: Path) -> list[tuple[list[str], str, int]]:
    p = ["--project", str(project)]
    return [
        (["validate", *p], "validate", 0),
        (["validate", str(tmp_path / "nowhere")], "validate", 1),
        (["check", *p], "check", 1),  # the catalog is not there
        (["init", str(tmp_path / "new"), "--sink", "sql_database"], "init", 0),
        (["init", str(tmp_path / "new"), "--sink", "sql_database"], "init", 1),
        (["sinks"], "sinks", 0),
        (["egress", "run", "nope", *p], "egress run", 1),
        (["egress", "history", *p], "egress history", 0),
        (["egress", "show", "abc", *p], "egress show", 1),
        (["egress", "rejected", "contacts_to_crm", *p], "egress rejected", 0),
        (["demo", "--project", str(tmp_path / "nowhere")], "demo", 1),
    ]


@pytest.mark.requirement("B1")
def test_every_command_prints_the_envelope(project: Path, tmp_path: Path) -> None:
    for args, command, code in _commands(project, tmp_path):
        exit_code, data = _output(*args)

        assert exit_code == code, (args, data)
        CliOutput.model_validate(data)  # the shape the shipped schema describes
        assert data["schema_version"] == JSON_SCHEMA_VERSION
        assert data["command"] == command
        assert data["ok"] is (code == 0)
        assert (data["error"] is None) or (set(data["error"]) == {"message", "hint", "type"})


def test_the_shipped_schema_names_every_key_and_the_version() -> None:
    schema = json.loads(shipped_path("output").read_text(encoding="utf-8"))

    assert schema["properties"]["schema_version"]["const"] == JSON_SCHEMA_VERSION
    assert set(schema["required"]) == {"schema_version", "command", "ok", "problems", "error"}
    assert schema["additionalProperties"] is False
    assert "egress run" in schema["properties"]["command"]["enum"]
