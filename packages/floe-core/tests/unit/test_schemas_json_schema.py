"""The shipped JSON Schemas are generated from the models and up to date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from floe_core.schemas._validation import MODEL_CONFIG
from floe_core.schemas.json_schema import SchemaKind, render, shipped_path, write_all
from pydantic import BaseModel, ConfigDict, Field

REGENERATE = "uv run python -m floe_core.schemas.json_schema"


@pytest.mark.parametrize("kind", ["floe", "manifest", "output"])
def test_shipped_schema_is_up_to_date(kind: SchemaKind) -> None:
    shipped = shipped_path(kind).read_text(encoding="utf-8")
    assert shipped == render(kind), f"{shipped_path(kind)} is stale; run `{REGENERATE}`"


def test_write_all_writes_both_schemas(tmp_path: Path) -> None:
    written = write_all(tmp_path)
    assert [p.name for p in written] == [
        "floe.schema.json",
        "manifest.schema.json",
        "output.schema.json",
    ]
    floe = json.loads(written[0].read_text(encoding="utf-8"))
    assert floe["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert floe["title"] == "floe.yaml"


def test_fields_are_described_for_editors() -> None:
    floe = json.loads(render("floe"))
    destination = floe["$defs"]["DestinationConfig"]["properties"]
    assert "Kubernetes Secret" in destination["connection_secret_ref"]["description"]
    assert all("description" in field for field in destination.values())


class _Base(BaseModel):
    model_config = ConfigDict(**MODEL_CONFIG)

    name: str = "a"
    """The base's words."""

    size: int = Field(1, description="Given in Field.")
    """Not used: Field's description wins."""


class _Child(_Base):
    name: str = "b"
    """The child's words."""

    colour: str = Field("red", alias="color")
    """Described under its alias."""


def test_attribute_docstrings_describe_fields_only_when_a_schema_is_made() -> None:
    # Reading every model's source at import cost ~25 ms at each start of floe.
    assert not MODEL_CONFIG.get("use_attribute_docstrings")
    assert _Child.model_fields["name"].description is None

    properties = _Child.model_json_schema(by_alias=True)["properties"]

    assert properties["name"]["description"] == "The child's words."
    assert properties["size"]["description"] == "Given in Field."
    assert properties["color"]["description"] == "Described under its alias."
    assert _Base.model_json_schema()["properties"]["name"]["description"] == "The base's words."
