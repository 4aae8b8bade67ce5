"""The options every project command shares, and how it is pointed at a project:
``--project DIR`` (default: the current directory), or ``--spec`` / ``--manifest`` for files
that live elsewhere.

``--spec`` given a directory means the project in that directory, so that
``--spec examples/quickstart`` and ``--project examples/quickstart`` agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["JsonOption", "ManifestOption", "ProjectOption", "SpecOption", "spec_path"]

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="The project directory (holding floe.yaml). Default: the current directory.",
        show_default=False,
    ),
]
SpecOption = Annotated[
    Path | None,
    typer.Option(
        "--spec",
        "-s",
        help="Path of floe.yaml, when it is not PROJECT/floe.yaml.",
        show_default=False,
    ),
]
ManifestOption = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        "-m",
        help="Path of manifest.yaml. Default: platform.manifest of floe.yaml, else "
        "manifest.yaml beside floe.yaml.",
        show_default=False,
    ),
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


def spec_path(project: Path | None, spec: Path | None, *, project_hint: str = "--project") -> Path:
    """The floe.yaml a command reads: ``spec``, else ``project``'s, else ``./floe.yaml``.

    A directory (as ``project`` or ``spec``) stands for the floe.yaml inside it; a file given
    as ``project`` is taken as the floe.yaml itself.

    Raises:
        typer.BadParameter: Both were given (a usage error, exit code 2).
    """
    if project is not None and spec is not None:
        raise typer.BadParameter(
            f"give either {project_hint} or --spec, not both", param_hint=project_hint
        )
    chosen = spec if spec is not None else project
    if chosen is None:
        return Path("floe.yaml")
    return chosen / "floe.yaml" if chosen.is_dir() else chosen
