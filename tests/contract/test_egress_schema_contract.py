"""The floe.yaml / manifest.yaml schema contract: fields, JSON Schema, backwards compatibility."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from floe_core.compiler import compile_project
from floe_core.plugins.sink import MAX_BATCH_SIZE
from floe_core.registry import PluginRegistry
from floe_core.schemas import SECRET_NAME_PATTERN, DestinationConfig, FloeSpec, PlatformManifest
from floe_core.schemas.json_schema import generate, shipped_path

LEGACY_SPEC = """\
apiVersion: floe.dev/v1
kind: FloeSpec
metadata:
  name: customer-analytics
  version: 1.0.0
  owner: analytics-team@acme.com
  description: Customer behaviour analytics
  labels: {domain: analytics, tier: gold}
platform:
  manifest: ./manifest.yaml
transforms:
  - name: stg_customers
    tags: [staging]
  - name: fct_orders
    dependsOn: [stg_customers]
    tier: gold
"""

MANIFEST = """\
apiVersion: floe.dev/v1
kind: Manifest
metadata: {name: acme-platform, version: 1.0.0}
"""


@pytest.mark.requirement("R11")
def test_destination_config_fields_are_pinned() -> None:
    fields = DestinationConfig.model_fields
    assert list(fields) == [
        "name",
        "sink_type",
        "connection_secret_ref",
        "source_table",
        "config",
        "field_mapping",
        "batch_size",
        "retry_config",
        "primary_key",
        "sync_mode",
        "max_delete_fraction",
        "static_fields",
        "columns",
        "exclude_columns",
    ]
    assert {name for name, field in fields.items() if field.is_required()} == {
        "name",
        "sink_type",
        "connection_secret_ref",
    }
    assert DestinationConfig.model_config.get("frozen") is True
    assert DestinationConfig.model_config.get("extra") == "forbid"


@pytest.mark.requirement("R11")
def test_floe_json_schema_has_optional_destinations() -> None:
    schema = generate("floe")
    assert schema["required"] == ["apiVersion", "kind", "metadata"]
    assert schema["additionalProperties"] is False
    destinations = schema["properties"]["destinations"]
    assert {"type": "null"} in destinations["anyOf"]
    destination = schema["$defs"]["DestinationConfig"]
    assert destination["required"] == ["name", "sink_type", "connection_secret_ref"]
    assert destination["additionalProperties"] is False
    properties = destination["properties"]
    assert properties["connection_secret_ref"]["pattern"] == SECRET_NAME_PATTERN
    assert properties["connection_secret_ref"]["maxLength"] == 253
    batch = next(s for s in properties["batch_size"]["anyOf"] if s.get("type") == "integer")
    assert (batch["minimum"], batch["maximum"]) == (1, MAX_BATCH_SIZE)


@pytest.mark.requirement("R17")
def test_manifest_json_schema_has_optional_approved_sinks() -> None:
    schema = generate("manifest")
    assert "approved_sinks" not in schema["required"]
    approved = schema["properties"]["approved_sinks"]
    assert {"type": "null"} in approved["anyOf"]
    assert any(s.get("type") == "array" for s in approved["anyOf"])
    assert schema["properties"]["scope"]["enum"] == ["enterprise", "domain", "none"]


@pytest.mark.parametrize("kind", ["floe", "manifest"])
def test_the_shipped_json_schemas_match_the_models(kind: Any) -> None:
    assert json.loads(shipped_path(kind).read_text(encoding="utf-8")) == generate(kind)


@pytest.mark.requirement("R12")
def test_a_floe_yaml_without_destinations_validates_as_before(tmp_path: Path) -> None:
    spec = FloeSpec.model_validate(yaml.safe_load(LEGACY_SPEC))
    assert spec.destinations is None
    assert [t.name for t in spec.transforms or []] == ["stg_customers", "fct_orders"]
    assert PlatformManifest.model_validate(yaml.safe_load(MANIFEST)).approved_sinks is None

    (tmp_path / "floe.yaml").write_text(LEGACY_SPEC, encoding="utf-8")
    (tmp_path / "manifest.yaml").write_text(MANIFEST, encoding="utf-8")
    result = compile_project(tmp_path / "floe.yaml", registry=PluginRegistry())
    assert result.problems == []
    assert result.unwrap().destinations == []
