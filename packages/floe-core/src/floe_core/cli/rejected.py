"""``floe egress rejected NAME``: the rows a destination refused, grouped by reason.

A destination usually refuses many rows for one reason (a column type, a constraint), so the
listing starts with each reason once, with how many rows have it, wrapped at word boundaries
under itself; then the first ``--limit`` rows (20 by default, ``--limit 0`` for every one),
each with its key, the number of its reason, its attempts and when it was first and last
refused; then how many were not listed and how to list them. ``--json`` gives the same rows
(the first ``--limit``, with their values), every reason and the total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from floe_core.cli.project import JsonOption, ManifestOption, ProjectOption, SpecOption
from floe_core.cli.usage import whole_number

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import RenderableType

    from floe_core.egress.rejects import RejectedRow, RejectReason

__all__ = ["rejected_command"]

#: Reasons listed before the rows; the others are counted, and ``--json`` lists them.
SHOWN_REASONS = 10


def rejected_command(
    name: Annotated[
        str, typer.Argument(help="The destination.", metavar="NAME", show_default=False)
    ],
    project: ProjectOption = None,
    spec: SpecOption = None,
    manifest: ManifestOption = None,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Include rows delivered since they were refused.")
    ] = False,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            help="How many rows to list, first refused first (0 for every one; --json too).",
            metavar="N",
            parser=whole_number(0, 100_000_000),
        ),
    ] = 20,
    as_json: JsonOption = False,
) -> None:
    """List the rows a destination refused and no run has delivered since.

    First each reason the destination gave, with how many rows have it; then the first rows
    (--limit), each with its key (its primary key values, or a hash of its content), its
    reason's number, how many runs refused it, and when first and last. Every run retries
    them.
    """
    from floe_core.cli.history import read_state

    location, found = read_state(
        project,
        spec,
        manifest,
        name,
        lambda store: (
            store.rejected_reasons(name, unresolved_only=not include_resolved),
            store.rejected_rows(name, unresolved_only=not include_resolved, limit=limit or None),
        ),
        as_json=as_json,
        command="egress rejected",
    )
    reasons, rows = found if found is not None else ([], [])
    if as_json:
        _print_json(name, reasons, rows)
    else:
        _print_text(name, reasons, rows, recorded=location.exists, resolved=include_resolved)


def _print_json(name: str, reasons: list[RejectReason], rows: list[RejectedRow]) -> None:
    from floe_core.cli.output import envelope, print_json
    from floe_core.egress.observability import redactor

    print_json(
        envelope(
            "egress rejected",
            ok=True,
            destination=name,
            rejected=[redactor.data(r.to_dict()) for r in rows],
            rejected_total=sum(reason.rows for reason in reasons),
            reasons=[
                {"reason": redactor.text(reason.reason), "rows": reason.rows} for reason in reasons
            ],
        )
    )


def _print_text(
    name: str,
    reasons: list[RejectReason],
    rows: list[RejectedRow],
    *,
    recorded: bool,
    resolved: bool,
) -> None:
    from rich.table import Table
    from rich.text import Text

    from floe_core.cli.output import console
    from floe_core.egress.observability import redactor

    out = console()
    total = sum(reason.rows for reason in reasons)
    if not total:
        what = "" if recorded else " (no runs recorded yet)"
        out.print(f"no rejected rows for {name}{what}", markup=False)
        return
    which = "refused" if resolved else "refused and not delivered since"
    title = Text.assemble((f"floe egress rejected: {name}", "bold"), f": {total:,} rows {which}")
    out.print(title, soft_wrap=False)
    number = {reason.reason: index for index, reason in enumerate(reasons, 1)}
    out.print(_reasons_table(reasons[:SHOWN_REASONS], redactor.text))
    if len(reasons) > SHOWN_REASONS:
        others = reasons[SHOWN_REASONS:]
        out.print(
            f"  and {sum(r.rows for r in others):,} rows with {len(others):,} other reasons "
            "(--json lists every reason)",
            markup=False,
        )
    table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, header_style="bold underline")
    table.add_column("key", overflow="fold", ratio=1)
    table.add_column("reason", justify="right", no_wrap=True)
    table.add_column("attempts", justify="right", no_wrap=True)
    table.add_column("first seen (UTC)", no_wrap=True)
    table.add_column("last seen (UTC)", no_wrap=True)
    if resolved:
        table.add_column("resolved", no_wrap=True)
    for row in rows:
        cells: list[Text | str] = [
            Text(_short_key(row.key)),
            f"#{number.get(row.reason, 0)}",
            str(row.attempts),
            row.first_seen.strftime("%Y-%m-%d %H:%M:%S"),
            row.rejected_at.strftime("%Y-%m-%d %H:%M:%S"),
        ]
        if resolved:
            cells.append(Text(row.resolved_run_id[:8]) if row.resolved_run_id else "-")
        table.add_row(*cells)
    out.print(table)
    if len(rows) < total:
        out.print(
            Text(
                f"{len(rows):,} of {total:,} rows listed: --limit N lists more, --limit 0 all "
                "of them; --json gives them with their values",
                style="dim",
            ),
            soft_wrap=False,
        )


def _reasons_table(reasons: list[RejectReason], redact: Callable[[str], str]) -> RenderableType:
    """Each reason, numbered, with its rows; the reason wraps under itself, at spaces."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, show_header=False)
    table.add_column("number", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("reason", ratio=1, overflow="fold")
    for index, reason in enumerate(reasons, 1):
        rows = f"{reason.rows:,} row" + ("" if reason.rows == 1 else "s")
        table.add_row(f"#{index}", rows, Text(redact(reason.reason)))
    return table


def _short_key(key: str) -> str:
    """A content hash cut to 12 hex characters, as run ids are (``--json`` has it whole)."""
    prefix = "sha256:"
    return key[: len(prefix) + 12] if key.startswith(prefix) else key
