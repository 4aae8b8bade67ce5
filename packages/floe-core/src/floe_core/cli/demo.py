"""``floe demo``: run the quickstart sync on the embedded default, no infrastructure needed.

Like every project command it reads the project in the current directory, or the one named
by ``--project DIR``: ``cd examples/quickstart && floe demo`` and, from the repository root,
``floe demo --project examples/quickstart`` (what ``make demo`` runs) are the same.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from floe_core.cli.project import JsonOption, ProjectOption
from floe_core.cli.usage import whole_number

if TYPE_CHECKING:
    from floe_core.demo.quickstart import DemoResult

__all__ = ["demo"]


def demo(
    project: ProjectOption = None,
    rows: Annotated[
        int,
        typer.Option(
            "--rows",
            help="Customers to generate in gold.customers (1 to 50,000,000).",
            metavar="N",
            parser=whole_number(1, 50_000_000),
        ),
    ] = 10_000,
    as_json: JsonOption = False,
) -> None:
    """Create the quickstart's Iceberg table and sync it to a local SQLite database.

    Reads the project in the current directory (or --project DIR): the floe repository's
    is examples/quickstart. Everything lives under the project's .floe/ directory; running
    it again changes nothing. Exit code 0: synced; 3: partial (some rows rejected); 1: failed.
    """
    from floe_core.cli.output import console, print_error
    from floe_core.demo.quickstart import run_demo
    from floe_core.egress.observability import configure_logging, get_logger, redactor
    from floe_core.egress.progress import make_progress
    from floe_core.egress.receipt import exit_code
    from floe_core.errors import FloeError

    directory = project if project is not None else Path(".")
    configure_logging(default_level="off" if sys.stderr.isatty() else "info")  # as egress run
    if not as_json:
        console().print(f"[bold]floe demo[/]: {directory / 'floe.yaml'} -> its destinations")
    try:
        with make_progress(sys.stderr, get_logger(), enabled=not as_json) as progress:
            result = run_demo(directory, rows=rows, progress=progress)
    except FloeError as exc:
        error = FloeError(redactor.text(exc.message), hint=redactor.text(exc.hint))
        if as_json:
            from floe_core.cli.output import envelope, error_data, print_json

            print_json(envelope("demo", ok=False, error=error_data(error)))
        else:
            print_error(error)
        raise typer.Exit(1) from None
    code = exit_code(result.receipts)
    if as_json:
        _print_json(result, ok=code == 0)
    else:
        _print(result, project)
    raise typer.Exit(code)


def _print_json(result: DemoResult, *, ok: bool) -> None:
    from dataclasses import asdict

    from floe_core.cli.output import envelope, print_json
    from floe_core.egress.observability import redactor

    table = result.table
    print_json(
        envelope(
            "demo",
            ok=ok,
            gold_table={
                "catalog": result.catalog,
                "table": table.table,
                "rows": table.rows,
                "snapshot_id": table.snapshot_id,
                "created": table.written,
            },
            receipts=[redactor.data(receipt.to_dict()) for receipt in result.receipts],
            destination_tables=[asdict(count) for count in result.counts],
        )
    )


def _print(result: DemoResult, project: Path | None) -> None:
    from floe_core.cli.egress import wide_console
    from floe_core.egress.receipt import receipt_table

    out = wide_console()
    table = result.table
    state = "created" if table.written else "already there, unchanged"
    out.print(f"source   {result.catalog}")
    out.print(
        f"         {table.table}: {table.rows:,} rows, snapshot {table.snapshot_id} ({state})"
    )
    for receipt in result.receipts:
        out.print(receipt_table(receipt))
        if receipt.sync is not None and receipt.sync.read_path == "up_to_date":
            out.print(
                "nothing changed in the table since the last run: nothing was read or sent "
                "(change a row and run again: only that row is sent)"
            )
        elif result.unchanged(receipt):
            out.print(
                "same rows as the previous run (same idempotency key): the upsert rewrote "
                "them in place; nothing was added or duplicated"
            )
    for count in result.counts:
        out.print(
            f"destination table [bold]{count.table}[/] in {count.database} now holds "
            f"[bold]{count.rows:,}[/] rows"
        )
    from floe_core.cli.output import floe_invocation

    where = f" --project {project}" if project is not None else ""
    floe = floe_invocation()
    out.print(
        f"next: [cyan]{floe} egress history{where}[/]   [cyan]{floe} egress run --all{where}[/]"
    )
