"""``floe schema``: print the JSON Schema of floe.yaml or manifest.yaml (for editors)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["schema"]


class _Kind(StrEnum):
    floe = "floe"
    manifest = "manifest"


def schema(
    kind: Annotated[_Kind, typer.Argument(help="Which file: floe (floe.yaml) or manifest.")],
) -> None:
    """Print the JSON Schema of floe.yaml or manifest.yaml."""
    from floe_core.schemas.json_schema import render

    typer.echo(render(kind.value), nl=False)
