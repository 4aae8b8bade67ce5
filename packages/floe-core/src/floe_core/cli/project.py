"""The options every project command shares, and how it is pointed at a project:
``--project DIR`` (default: the current directory), and ``--spec`` / ``--manifest`` for files
of another name or elsewhere.

They combine: with ``--project DIR``, a relative ``--spec`` or ``--manifest`` is a file in DIR
(``floe check -p examples/quickstart -s floe.yaml`` reads ``examples/quickstart/floe.yaml``),
as ``git -C DIR`` or ``make -C DIR`` take their paths; without it, a file from the current
directory. An absolute path is itself either way. ``--spec`` given a directory means the
project in that directory, so that ``--spec examples/quickstart`` and ``--project
examples/quickstart`` agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "JsonOption",
    "ManifestOption",
    "ProjectFiles",
    "ProjectOption",
    "SpecOption",
    "project_files",
]

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="The project directory (holding floe.yaml). Default: the current directory.",
        metavar="DIR",
        show_default=False,
    ),
]
SpecOption = Annotated[
    Path | None,
    typer.Option(
        "--spec",
        "-s",
        help="The floe.yaml to read, when it has another name or lives elsewhere; a "
        "relative FILE is in --project DIR when that is given.",
        metavar="FILE",
        show_default=False,
    ),
]
ManifestOption = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        "-m",
        help="The manifest.yaml to read (a relative FILE is in --project DIR when that is "
        "given). Default: platform.manifest of floe.yaml, else manifest.yaml beside it.",
        metavar="FILE",
        show_default=False,
    ),
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@dataclass(frozen=True)
class ProjectFiles:
    """The floe.yaml a command reads, and the manifest.yaml when one was named."""

    spec: Path
    manifest: Path | None


def project_files(
    project: Path | None,
    spec: Path | None = None,
    manifest: Path | None = None,
    *,
    project_hint: str = "--project",
) -> ProjectFiles:
    """The files a command reads, from ``--project``, ``--spec`` and ``--manifest``.

    ``spec`` (in ``project`` when relative and ``project`` is given), else ``project``'s
    floe.yaml, else ``./floe.yaml``. A directory (as ``project`` or ``spec``) stands for the
    floe.yaml inside it; a file given as ``project`` is taken as the floe.yaml itself.

    Raises:
        typer.BadParameter: ``project`` names a file and ``spec`` is given too (exit code 2).
    """
    if project is not None and spec is not None and project.is_file():
        raise typer.BadParameter(
            f"{project} is a file: with --spec, give the project's directory",
            param_hint=project_hint,
        )
    if project is not None and not project.is_file():
        spec = project / spec if spec is not None else None
        manifest = project / manifest if manifest is not None else None
    chosen = spec if spec is not None else project
    if chosen is None:
        return ProjectFiles(Path("floe.yaml"), manifest)
    return ProjectFiles(chosen / "floe.yaml" if chosen.is_dir() else chosen, manifest)
