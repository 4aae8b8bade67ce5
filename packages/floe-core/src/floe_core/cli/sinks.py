"""``floe sinks``: which sink types the installed plugins provide, and which plugins are broken."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from floe_core.registry import PluginRegistry

__all__ = ["sinks"]


def sinks(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """List sink types by plugin, and plugins that failed to load (with the reason)."""
    from floe_core.registry import PluginRegistry

    registry = ctx.obj if isinstance(ctx.obj, PluginRegistry) else PluginRegistry.discover()
    if json_output:
        from floe_core.cli.output import print_json

        print_json(_as_json(registry))
    else:
        _print(registry)


def _as_json(registry: PluginRegistry) -> dict[str, Any]:
    from floe_core.cli.output import envelope
    from floe_core.plugins import IngestionPlugin

    return envelope(
        "sinks",
        ok=True,
        plugins=[
            {
                "name": info.name,
                "version": info.version,
                "floe_api_version": info.floe_api_version,
                "ingestion": isinstance(info.plugin, IngestionPlugin),
                "sink_types": list(info.sink_types),
                "source": info.source,
            }
            for info in registry.plugins
        ],
        sink_types=registry.sink_types(),
        plugin_problems=[
            {"plugin": p.name, "source": p.source, "message": p.message, "hint": p.hint}
            for p in registry.problems
        ],
    )


def _print(registry: PluginRegistry) -> None:
    from rich.table import Table
    from rich.text import Text

    from floe_core.cli.output import console

    out = console()
    sink_plugins = [info for info in registry.plugins if info.is_sink_connector]
    if sink_plugins:
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
        for column in ("plugin", "version", "api", "sink types"):
            table.add_column(column, overflow="fold")
        for info in sink_plugins:
            table.add_row(
                info.name,
                info.version or "-",
                info.floe_api_version or "-",
                ", ".join(info.sink_types) or "-",
            )
        out.print(table)
    else:
        from floe_core.plugins.packages import install_hint

        out.print("No installed plugin provides a sink type.")
        out.print(Text(f"fix: {install_hint()}"), soft_wrap=False)
    for problem in registry.problems:
        out.print()
        out.print(
            Text.assemble(
                ("✗ ", "bold red"),
                f"plugin {problem.name!r} ({problem.source}) {problem.message}",
            )
        )
        out.print(Text.assemble("  ", ("fix: ", "green"), problem.hint))
