"""The options every project command shares, and how it is pointed at a project:
``--project DIR`` (default: the current directory), and ``--spec`` / ``--manifest`` for files
of another name or elsewhere.

Paths are relative to the current directory, as every shell argument is (so that tab
completion means what it shows). ``--spec`` given a directory means the project in that
directory, so that ``--spec examples/quickstart`` and ``--project examples/quickstart`` agree.
They combine: ``--project DIR --spec FILE`` reads FILE as the floe.yaml of the project in DIR,
so FILE must be in DIR (``-p . -s floe.yaml``, ``-p examples/quickstart -s
examples/quickstart/staging.yaml``); the project directory being the one holding floe.yaml
(relative paths in the files are resolved against it), a FILE elsewhere would silently make
another directory the project, and is a usage error saying which. ``--manifest`` may be
anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from floe_core.cli.usage import usage_error

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
        help="The floe.yaml to read, when it has another name or lives elsewhere (with "
        "--project DIR, a file in DIR).",
        metavar="FILE",
        show_default=False,
    ),
]
ManifestOption = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        "-m",
        help="The manifest.yaml to read. Default: platform.manifest of floe.yaml, else "
        "manifest.yaml beside it.",
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

    ``spec``, else ``project``'s floe.yaml, else ``./floe.yaml``. A directory (as ``project``
    or ``spec``) stands for the floe.yaml inside it; a file given as ``project`` is taken as
    the floe.yaml itself. A path that does not exist is a directory unless it ends in
    ``.yaml`` or ``.yml``, so that a mistyped directory is reported as one.

    Raises:
        UsageError: ``project`` and ``spec`` are both given and ``spec`` is not in
            ``project`` (exit code 2).
    """
    if project is not None and spec is not None:
        directory = project.parent if project.is_file() else project
        chosen = spec / "floe.yaml" if spec.is_dir() else spec
        if chosen.absolute().parent.resolve() != directory.absolute().resolve():
            raise usage_error(
                f"--spec {spec} is not in the project directory {directory} (paths are from "
                f"the current directory): give --spec {directory / chosen.name}, or drop "
                f"{project_hint} to make {chosen.parent} the project"
            )
        return ProjectFiles(chosen, manifest)
    chosen_path = spec if spec is not None else project
    if chosen_path is None:
        return ProjectFiles(Path("floe.yaml"), manifest)
    return ProjectFiles(
        chosen_path / "floe.yaml" if _is_directory(chosen_path) else chosen_path, manifest
    )


def _is_directory(path: Path) -> bool:
    """``path`` names a project directory: one that exists, or a missing path that is not a
    YAML file's (``floe validate typo/`` is a directory that does not exist, not a floe.yaml)."""
    if path.exists():
        return path.is_dir()
    return path.suffix.lower() not in (".yaml", ".yml")
