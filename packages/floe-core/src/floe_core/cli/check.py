"""``floe check [NAME ...|--all]``: what a run checks before it sends, every problem at once.

For each selected destination (all of them when none is named): the project validates, the
sink's plugin is installed, its Secret holds the keys the sink needs, the catalog and the
source table open, the egress policy allows where the destination connects, the
field-mapping and primary-key columns exist, the destination is
reachable and takes the credentials, and its table would take the columns sent. Nothing is
sent and nothing is changed (:mod:`floe_core.egress.preflight`).

Exit code 0 when every check passed, 1 when one failed, 2 for a usage error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from floe_core.cli.project import (
    JsonOption,
    ManifestOption,
    ProjectOption,
    SpecOption,
    project_files,
)
from floe_core.cli.usage import usage_error

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from floe_core.compiler import CompileResult, EgressPlan
    from floe_core.egress.preflight import DestinationReport
    from floe_core.errors import FloeError

__all__ = ["check"]


def check(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Destination names from floe.yaml. Default: every destination.",
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
    check_all: Annotated[bool, typer.Option("--all", help="Check every destination.")] = False,
    project: ProjectOption = None,
    spec: SpecOption = None,
    manifest: ManifestOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check destinations as a run would before sending, and list every problem.

    Secrets and their keys, the catalog and source table, field-mapping and primary-key
    columns, the destination (reachable, credentials accepted) and its table's columns and
    types. Sends no rows. Exit code 0: all pass; 1: a problem; 2: usage.
    """
    from floe_core.compiler import compile_project
    from floe_core.egress.destinations import select_destinations
    from floe_core.egress.observability import configure_logging
    from floe_core.egress.preflight import preflight
    from floe_core.errors import FloeError
    from floe_core.registry import PluginRegistry
    from floe_core.secrets.resolver import SecretResolver

    if check_all and names:
        raise usage_error("give destination names or --all, not both")
    files = project_files(project, spec, manifest)
    configure_logging(default_level="off")
    registry = ctx.obj if isinstance(ctx.obj, PluginRegistry) else PluginRegistry.discover()
    result = compile_project(files.spec, files.manifest, registry=registry)
    if result.plan is None or result.problems:
        _invalid(result, as_json)
        raise typer.Exit(1)
    plan = result.plan
    try:
        destinations = select_destinations(plan, names or [], run_all=not names)
    except FloeError as exc:
        _failed(exc, as_json)
        raise typer.Exit(1) from None
    secrets = SecretResolver.for_project(plan.project_dir, secrets_dir=plan.secrets_dir)
    reports = preflight(plan, destinations, registry=registry, secrets=secrets)
    ok = all(report.ok for report in reports)
    if as_json:
        from floe_core.cli.output import envelope, print_json

        print_json(
            envelope(
                "check",
                ok=ok,
                spec=str(plan.spec_path),
                manifest=str(plan.manifest_path),
                destinations=[report.to_dict() for report in reports],
            )
        )
    else:
        _print(plan, reports)
    raise typer.Exit(0 if ok else 1)


def _invalid(result: CompileResult, as_json: bool) -> None:
    from floe_core.cli.output import console, envelope, print_json, print_problems

    if as_json:
        print_json(envelope("check", ok=False, problems=[p.to_dict() for p in result.problems]))
        return
    out = console()
    count = len(result.problems)
    out.print(f"✗ the project has {count} problem(s); fix them first (floe validate):")
    print_problems(result.problems, out)


def _failed(error: FloeError, as_json: bool) -> None:
    from floe_core.cli.output import envelope, error_data, print_error, print_json

    if as_json:
        print_json(envelope("check", ok=False, error=error_data(error)))
    else:
        print_error(error)


_MARKS = {
    "passed": ("✓", "green"),
    "warning": ("!", "yellow"),
    "failed": ("✗", "red"),
    "skipped": ("-", "dim"),
}


def _print(plan: EgressPlan, reports: list[DestinationReport]) -> None:
    """One block per destination, one line per check; a long detail or fix wraps under
    itself, so that nothing runs past the terminal's width (COLUMNS, or 80 when piped)."""
    from rich.text import Text

    from floe_core.cli.output import console

    out = console()
    width = max(len(f.check) for report in reports for f in report.findings)
    for report in reports:
        out.print(Text.assemble((report.destination, "bold"), f" ({report.sink_type})"))
        for finding in report.findings:
            mark, style = _MARKS[finding.outcome.value]
            head = Text.assemble("  ", (f"{mark} ", style), (finding.check.ljust(width), "bold"))
            head.append("  ")
            detail_style = "dim" if finding.outcome.value == "skipped" else ""
            _print_hanging(out, head, Text(finding.detail, style=detail_style))
            if finding.hint and finding.outcome.value in ("failed", "warning"):
                indent = Text(" " * len(head))
                _print_hanging(out, indent, Text.assemble(("fix: ", "green"), finding.hint))
        out.print()
    _summary(out, plan, reports)


def _print_hanging(out: Console, head: Text, body: Text) -> None:
    """``head`` then ``body``, wrapped to the console's width under its first line."""
    from rich.text import Text

    room = max(out.width - len(head), 20)
    for number, line in enumerate(body.wrap(out, room, overflow="fold")):
        line.rstrip()
        out.print(Text.assemble(head if number == 0 else " " * len(head), line), soft_wrap=True)


def _summary(out: Console, plan: EgressPlan, reports: list[DestinationReport]) -> None:
    from rich.text import Text

    failed = [report for report in reports if not report.ok]
    total = len(reports)
    destinations = f"destination{'s' if total != 1 else ''}"
    warned = sum(len(report.warnings) for report in reports)
    warnings = f", {warned} warning{'s' if warned != 1 else ''}" if warned else ""
    if not failed:
        _print_hanging(
            out,
            Text("✓ ", style="bold green"),
            Text(
                f"{total} {destinations} ready to run ({plan.spec_path}){warnings}; "
                "nothing was sent"
            ),
        )
        return
    problems = sum(len(report.problems) for report in failed)
    names = ", ".join(report.destination for report in failed)
    _print_hanging(
        out,
        Text("✗ ", style="bold red"),
        Text(
            f"{problems} problem{'s' if problems != 1 else ''} in {len(failed)} of {total} "
            f"{destinations}: {names}{warnings}; nothing was sent"
        ),
    )
