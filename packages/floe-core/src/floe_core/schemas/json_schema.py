"""JSON Schemas of ``floe.yaml``, ``manifest.yaml`` and of the CLI's ``--json`` output,
generated from the models.

The generated files ship in ``floe_core/schemas/json/`` for editors (e.g. with the YAML
language server: ``# yaml-language-server: $schema=<path>/floe.schema.json``). Regenerate them
after changing a model::

    uv run python -m floe_core.schemas.json_schema

``floe schema floe``, ``floe schema manifest`` and ``floe schema output`` print them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

__all__ = ["KINDS", "SCHEMA_DIR", "SchemaKind", "generate", "render", "shipped_path", "write_all"]

#: Which file a schema describes.
SchemaKind = Literal["floe", "manifest", "output"]

#: Every kind, in the order the files are written.
KINDS: tuple[SchemaKind, ...] = ("floe", "manifest", "output")

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
    if kind == "output":
        from floe_core.schemas.cli_output import CliOutput

        return CliOutput
    raise ValueError(f"unknown schema kind {kind!r}; expected one of {', '.join(KINDS)}")


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
    """Write every schema file into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = directory / f"{kind}.schema.json"
        path.write_text(render(kind), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(f"wrote {written_path}")
