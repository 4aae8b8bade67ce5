"""``floe schema``: the JSON Schemas for editors."""

from __future__ import annotations

import json

import pytest
from floe_core.cli.app import app
from floe_core.schemas.json_schema import render
from typer.testing import CliRunner

runner = CliRunner()


@pytest.mark.parametrize("kind", ["floe", "manifest"])
def test_prints_the_schema(kind: str) -> None:
    result = runner.invoke(app, ["schema", kind])
    assert result.exit_code == 0
    assert result.stdout == render(kind)  # type: ignore[arg-type]
    assert json.loads(result.stdout)["additionalProperties"] is False


def test_an_unknown_kind_is_a_usage_error() -> None:
    result = runner.invoke(app, ["schema", "dbt"])
    assert result.exit_code == 2
