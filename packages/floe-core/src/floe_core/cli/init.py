"""``floe init [DIR] --sink TYPE``: a new project that ``floe validate`` accepts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from floe_core.cli.project import JsonOption

if TYPE_CHECKING:
    from floe_core.scaffold import Scaffold

__all__ = ["init"]


def init(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Argument(
            help="Where to create the project. Default: the current directory.",
            metavar="DIR",
            show_default=False,
        ),
    ] = Path("."),
    sink: Annotated[
        str,
        typer.Option(
            "--sink",
            help="The destination's sink type (`floe sinks` lists them), e.g. sql_database "
            "or rest_api.",
            metavar="TYPE",
            show_default=False,
        ),
    ] = "",
    name: Annotated[
        str,
        typer.Option(
            "--name",
            help="The data product's name. Default: from the directory's name.",
            metavar="NAME",
            show_default=False,
        ),
    ] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files that exist already.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create floe.yaml, manifest.yaml (with an embedded catalog) and secrets/ in DIR.

    One destination of the chosen sink type, a comment on every setting, a Secret with
    example values and a .gitignore that keeps secrets/ out of version control.
    Exit code 0: created; 1: a file exists already; 2: no or unknown --sink.
    """
    from floe_core.registry import PluginRegistry
    from floe_core.scaffold import Scaffold
    from floe_core.sinks.plugin import SinkPlugin

    registry = ctx.obj if isinstance(ctx.obj, PluginRegistry) else PluginRegistry.discover()
    available = registry.sink_types()
    if sink not in available:
        raise typer.BadParameter(_unknown_sink(sink, list(available)), param_hint="--sink")
    plugin = next(iter(registry.sink_plugins_for(sink)))
    example = plugin.example(sink) if isinstance(plugin, SinkPlugin) else None
    scaffold = Scaffold(directory, sink, example, name=name)
    written = _write(scaffold, force, as_json)
    if as_json:
        from floe_core.cli.output import envelope, print_json

        files = [str(path) for path in written]
        print_json(envelope("init", ok=True, directory=str(directory), files=files))
        return
    _print(scaffold, written)


def _write(scaffold: Scaffold, force: bool, as_json: bool) -> list[Path]:
    from floe_core.cli.output import envelope, error_data, print_error, print_json
    from floe_core.errors import FloeError

    try:
        return scaffold.write(force=force)
    except FloeError as exc:
        if as_json:
            print_json(envelope("init", ok=False, error=error_data(exc)))
        else:
            print_error(exc)
        raise typer.Exit(1) from None


def _unknown_sink(sink: str, available: list[str]) -> str:
    import difflib

    from floe_core.plugins.packages import install_hint

    listing = ", ".join(available) or f"none; {install_hint()}"
    if not sink:
        if not available:
            return f"name the destination's sink type: --sink TYPE ({listing})"
        return "name the destination's sink type: " + " or ".join(
            f"--sink {name}" for name in available
        )
    close = difflib.get_close_matches(sink, available, n=1)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f"no installed sink type {sink!r}{guess} (installed: {listing})"


def _print(scaffold: Scaffold, written: list[Path]) -> None:
    from floe_core.cli.output import console

    out = console()
    project = scaffold.directory
    out.print(f"created the {scaffold.sink_type} project {scaffold.name!r} in {project}:")
    for path in written:
        out.print(f"  {path}", markup=False)
    option = "" if project == Path(".") else f" --project {project}"
    out.print("next:", markup=False)
    out.print(f"  floe validate{option}        # passes as written", markup=False)
    out.print(
        f"  put your values in {project / 'secrets' / scaffold.secret_ref}/, and point "
        "source_table at your Iceberg table",
        markup=False,
    )
    out.print(f"  floe check{option}           # connects and checks everything", markup=False)
    out.print(
        f"  floe demo{option}            # or: sample rows in gold.customers, then a run",
        markup=False,
    )
