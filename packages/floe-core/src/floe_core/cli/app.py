"""The ``floe`` typer application and the one place where errors meet the user.

Commands live in their own modules and are attached here, one line each. Their modules
import only typer at the top; the heavy work (pydantic models, plugins, pyarrow) is imported
inside the command, so ``floe --help`` stays fast.

Usage mistakes exit with 2, printed by :mod:`floe_core.cli.usage` (as JSON too, with
``--json``). Errors: a ``FloeError`` is printed as message and hint, exit code 1. Anything
else is a bug: one line naming the error type, exit code 70, and the traceback only with
``FLOE_DEBUG=1``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Any

import typer

from floe_core.cli import version_text
from floe_core.cli.output import console, print_error
from floe_core.cli.usage import FloeCommand, FloeGroup
from floe_core.errors import FloeError

__all__ = ["EXIT_ERROR", "EXIT_INTERNAL", "EXIT_OK", "app", "run"]

#: Success.
EXIT_OK = 0
#: The project or the input is wrong (problems, a ``FloeError``).
EXIT_ERROR = 1
#: A bug in floe or a plugin.
EXIT_INTERNAL = 70

app = typer.Typer(
    name="floe",
    cls=FloeGroup,
    help="floe reverse ETL: push curated Iceberg tables to operational systems.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: flags read as flags, not `--json <bool>`
)


def _version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Show floe's version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """floe reverse ETL: push curated Iceberg tables to operational systems."""


def _load(target: str) -> Any:
    """The object ``module:attribute`` names."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


# Each command's one line in `floe --help`, short enough for 80 columns (click would cut the
# docstring's first sentence with "...").
app.command("validate", cls=FloeCommand, short_help="Check floe.yaml and manifest.yaml, offline.")(
    _load("floe_core.cli.validate:validate")
)
app.command(
    "check", cls=FloeCommand, short_help="Check destinations as a run would, sending nothing."
)(_load("floe_core.cli.check:check"))
app.command(
    "init", cls=FloeCommand, short_help="Create a project: floe.yaml, manifest.yaml, secrets/."
)(_load("floe_core.cli.init:init"))
app.command(
    "sinks", cls=FloeCommand, short_help="List sink types, and plugins that failed to load."
)(_load("floe_core.cli.sinks:sinks"))
app.command(
    "schema",
    cls=FloeCommand,
    short_help="Print the JSON Schema of floe.yaml, manifest.yaml, --json.",
)(_load("floe_core.cli.schema:schema"))
app.add_typer(
    _load("floe_core.cli.egress:egress_app"),
    name="egress",
    short_help="Run destinations; list past runs and refused rows.",
)
app.command(
    "demo", cls=FloeCommand, short_help="Sync the quickstart's Iceberg table to local SQLite."
)(_load("floe_core.cli.demo:demo"))


def run(args: list[str], *, application: typer.Typer | None = None) -> None:
    """Run ``application`` (default: the floe app) with ``args`` and exit with its status."""
    try:
        (application or app)(args=args, prog_name="floe")
    except FloeError as exc:
        print_error(exc)
        sys.exit(EXIT_ERROR)
    except Exception as exc:
        if os.environ.get("FLOE_DEBUG"):
            raise
        console(stderr=True).print(
            f"floe: internal error ({type(exc).__module__}.{type(exc).__name__}); "
            "re-run with FLOE_DEBUG=1 for the traceback and report it",
            markup=False,
        )
        sys.exit(EXIT_INTERNAL)
