"""``floe schema``: print the JSON Schema of floe.yaml or manifest.yaml (for editors), or of
every command's ``--json`` output."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from floe_core.cli.usage import one_of

__all__ = ["schema"]


class _Kind(StrEnum):
    floe = "floe"
    manifest = "manifest"
    output = "output"


def schema(
    kind: Annotated[
        _Kind,
        typer.Argument(
            help="Which: floe (floe.yaml), manifest (manifest.yaml), or output (of --json).",
            metavar="KIND",
            parser=one_of(_Kind),
            show_default=False,
        ),
    ],
) -> None:
    """Print the JSON Schema of floe.yaml, manifest.yaml or the --json output."""
    from floe_core.schemas.json_schema import render

    typer.echo(render(kind.value), nl=False)
