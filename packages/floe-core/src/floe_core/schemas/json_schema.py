"""JSON Schemas of ``floe.yaml`` and ``manifest.yaml``, generated from the models.

The generated files ship in ``floe_core/schemas/json/`` for editors (e.g. with the YAML
language server: ``# yaml-language-server: $schema=<path>/floe.schema.json``). Regenerate them
after changing a model::

    uv run python -m floe_core.schemas.json_schema

``floe schema floe`` and ``floe schema manifest`` print them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

__all__ = ["SCHEMA_DIR", "SchemaKind", "generate", "render", "shipped_path", "write_all"]

#: Which file a schema describes.
SchemaKind = Literal["floe", "manifest"]

#: Where the shipped schema files live.
SCHEMA_DIR = Path(__file__).parent / "json"

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _model(kind: SchemaKind) -> type[BaseModel]:
    if kind == "floe":
        from floe_core.schemas.floe_spec import FloeSpec

        return FloeSpec
    if kind == "manifest":
        from floe_core.schemas.manifest import PlatformManifest

        return PlatformManifest
    raise ValueError(f"unknown schema kind {kind!r}; expected 'floe' or 'manifest'")


def generate(kind: SchemaKind) -> dict[str, Any]:
    """The JSON Schema of ``floe.yaml`` (``"floe"``) or ``manifest.yaml`` (``"manifest"``)."""
    schema = _model(kind).model_json_schema(by_alias=True, mode="validation")
    return {"$schema": _DIALECT, "$id": f"https://floe.dev/schemas/{kind}.schema.json", **schema}


def render(kind: SchemaKind) -> str:
    """The schema as the shipped file's text (stable key order, trailing newline)."""
    return json.dumps(generate(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def shipped_path(kind: SchemaKind) -> Path:
    """Path of the shipped schema file for ``kind``."""
    return SCHEMA_DIR / f"{kind}.schema.json"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write both schema files into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in ("floe", "manifest"):
        path = directory / f"{kind}.schema.json"
        path.write_text(render(kind), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(f"wrote {written_path}")
