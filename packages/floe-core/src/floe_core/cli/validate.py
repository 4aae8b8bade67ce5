"""``floe validate``: check a project against its manifest and the installed plugins."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from floe_core.cli.project import ManifestOption, ProjectOption, SpecOption, project_files

if TYPE_CHECKING:
    from rich.console import Console

    from floe_core.compiler import CompileResult

__all__ = ["validate"]


def validate(
    ctx: typer.Context,
    project: Annotated[
        Path | None,
        typer.Argument(
            help="Project directory, or its floe.yaml. Default: the current directory.",
            metavar="PROJECT",
            show_default=False,
        ),
    ] = None,
    project_option: ProjectOption = None,
    spec: SpecOption = None,
    manifest: ManifestOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON (for CI).")
    ] = False,
) -> None:
    """Validate floe.yaml and manifest.yaml: schema, credentials, approved sinks, plugins.

    Lists every problem with file, line, path and fix. Exit code 0 when valid, 1 otherwise.
    Warns (exit code 0 when valid) of Secrets that neither the secrets directory nor the
    environment holds, and of Secrets that lack a key their sink needs.
    """
    from floe_core.compiler import compile_project
    from floe_core.registry import PluginRegistry

    if project is not None and project_option is not None:
        raise typer.BadParameter("give either PROJECT or --project, not both", param_hint="PROJECT")
    hint = "PROJECT" if project is not None else "--project"
    files = project_files(project or project_option, spec, manifest, project_hint=hint)
    registry = ctx.obj if isinstance(ctx.obj, PluginRegistry) else None
    result = compile_project(files.spec, files.manifest, registry=registry, secret_warnings=True)
    if json_output:
        from floe_core.cli.output import print_json

        print_json(_as_json(result))
    else:
        _print(result)
    if not result.ok:
        raise typer.Exit(1)


def _as_json(result: CompileResult) -> dict[str, Any]:
    from floe_core.cli.output import envelope

    plan = result.plan
    return envelope(
        "validate",
        ok=result.ok,
        problems=[problem.to_dict() for problem in result.problems],
        warnings=[warning.to_dict() for warning in result.warnings],
        spec=str(result.spec_path),
        manifest=str(result.manifest_path),
        destinations=[
            {
                "name": d.name,
                "sink_type": d.sink_type,
                "plugin": d.plugin_name,
                "source_table": d.source_table,
                "connection_secret_ref": d.connection_secret_ref,
            }
            for d in (plan.destinations if plan else [])
        ],
    )


def _print(result: CompileResult) -> None:
    from rich.text import Text

    from floe_core.cli.output import console, print_problems

    out = console()
    files = f"{result.spec_path} and {result.manifest_path}"
    named = {str(result.spec_path), str(result.manifest_path)}
    if result.problems and not named & {problem.file for problem in result.problems}:
        files = ", ".join(dict.fromkeys(problem.file for problem in result.problems))
    if not result.ok:
        count = len(result.problems)
        out.print(
            Text.assemble(
                ("✗ ", "bold red"), f"{count} problem{'s' if count != 1 else ''} in {files}"
            )
        )
        out.print()
        print_problems(result.problems, out)
        _print_warnings(result, out)
        return
    assert result.plan is not None
    destinations = result.plan.destinations
    count = len(destinations)
    out.print(
        Text.assemble(
            ("✓ ", "bold green"),
            f"{files} are valid: {count} destination{'s' if count != 1 else ''}",
        )
    )
    for d in destinations:
        line = Text("  ")
        line.append(d.name, style="bold")
        line.append(f": {d.source_table or '(no source table)'} -> {d.sink_type}")
        line.append(f" (plugin {d.plugin_name}, secret {d.connection_secret_ref})", style="dim")
        out.print(line)
    _print_warnings(result, out)


def _print_warnings(result: CompileResult, out: Console) -> None:
    from rich.text import Text

    from floe_core.cli.output import print_problems

    if not result.warnings:
        return
    count = len(result.warnings)
    plural = "s" if count != 1 else ""
    out.print()
    out.print(Text.assemble(("! ", "bold yellow"), f"{count} warning{plural}"))
    print_problems(result.warnings, out, mark=("! ", "yellow"))
