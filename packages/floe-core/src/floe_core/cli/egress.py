"""The ``floe egress`` command group: ``run`` here; ``history`` and ``show`` (the read-only
ones) in :mod:`floe_core.cli.history`, ``rejected`` in :mod:`floe_core.cli.rejected`.

Every command finds the project as ``--project DIR`` (default: the current directory) or
``--spec`` / ``--manifest``.

``floe egress run NAME... | --all`` exits with:

- ``0`` every destination delivered every row;
- ``3`` partial: some of a destination's rows are there (delivered by this run, or by an
  earlier one and unchanged since) and it rejected the others (kept in the state store with
  the reason); 2 stays what it is for every command, a usage error;
- ``1`` failure: a destination failed (it stopped: unreachable, retries exhausted, its sink
  stopped the write; or it refused every row), or nothing was sent because the input is
  wrong (the project does not validate, an unknown destination, a missing Secret or key, an
  unreachable catalog, a missing table or column, credentials the destination refuses,
  another run holding the destination);
- ``130`` interrupted (Ctrl-C): the destination being delivered stopped after its batches in
  flight and is recorded as failed with what it delivered; a new run resumes it.

Receipts go to stdout (a table, or JSON with ``--json``); logs (JSON lines, with the run id)
and the progress bar go to stderr. On a terminal, logs are off (``FLOE_LOG_LEVEL`` turns them
on). Elsewhere (a pipe, a file, a scheduler), logs are on: a destination that failed to
prepare is its ``egress.failed`` line, for a log collector. Either way, what stopped a run is
printed for people at the end (``error:`` and ``hint:``); ``FLOE_LOG_LEVEL=off`` leaves only
that.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from floe_core.cli.history import history_command, show_command
from floe_core.cli.project import (
    JsonOption,
    ManifestOption,
    ProjectOption,
    SpecOption,
    project_files,
)
from floe_core.cli.rejected import rejected_command
from floe_core.cli.usage import FloeCommand, FloeGroup, one_of, usage_error
from floe_core.errors import FloeError

if TYPE_CHECKING:
    from rich.console import Console

    from floe_core.compiler import CompileResult, EgressPlan, InvalidProjectError
    from floe_core.egress.progress import Progress
    from floe_core.egress.receipt import Receipt
    from floe_core.executors.choice import ExecutorType

__all__ = ["egress_app", "run_command", "wide_console"]


class _Executor(StrEnum):
    local = "local"
    ray = "ray"


egress_app = typer.Typer(
    name="egress",
    cls=FloeGroup,
    help="Send Gold tables to destinations declared in floe.yaml, and list past runs.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: flags read as flags, not `--json <bool>`
)


@egress_app.command("run", cls=FloeCommand)
def run_command(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Destination names from floe.yaml (or --all).", metavar="NAME", show_default=False
        ),
    ] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every destination.")] = False,
    project: ProjectOption = None,
    spec: SpecOption = None,
    manifest: ManifestOption = None,
    as_json: JsonOption = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Read and diff as a run would; send nothing, change no state, and print "
            "what would be inserted, updated and deleted, with sample payloads.",
        ),
    ] = False,
    allow_deletes: Annotated[
        bool,
        typer.Option(
            "--allow-deletes",
            help="Let a mirror run delete more than its max_delete_fraction of the synced "
            "keys (or everything, when the source is empty), this once.",
        ),
    ] = False,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Send every row again, as on a first sync, forgetting what each sync "
            "destination was sent (after its table was emptied or rebuilt).",
        ),
    ] = False,
    executor: Annotated[
        _Executor | None,
        typer.Option(
            "--executor",
            help="Deliver from this process (local) or fan out over Ray (ray), instead of "
            "what manifest.yaml's executor.type says.",
            metavar="local|ray",
            parser=one_of(_Executor),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Send destinations' source tables and print the receipts.

    Exit code 0: all delivered; 3: partial; 1: failed or nothing sent (bad input);
    2: usage (no destination named, or names and --all together).
    """
    files = project_files(project, spec, manifest)
    if run_all and names:
        raise usage_error("give destination names or --all, not both")
    if not run_all and not names:
        raise usage_error("no destination given: name one (floe egress run NAME) or use --all")
    # The bar (a spinner until rows flow) first, so that the screen is never blank.
    from floe_core.egress.observability import get_logger
    from floe_core.egress.progress import make_progress

    tracing = None
    try:
        with make_progress(sys.stderr, get_logger(), enabled=not as_json) as progress:
            progress.preparing("reading the project")
            from floe_core.egress.arrow_memory import prefer_jemalloc
            from floe_core.egress.observability import configure_logging, setup_tracing, span

            configure_logging(default_level="off" if sys.stderr.isatty() else "info")
            prefer_jemalloc()  # this process streams batches: give freed memory back
            tracing = setup_tracing()
            with span("floe.egress.run") as run_span:
                options = _RunOptions(
                    dry_run=dry_run,
                    allow_deletes=allow_deletes,
                    full_refresh=full_refresh,
                    executor=executor.value if executor is not None else None,
                )
                receipts = _run(
                    names or [],
                    run_all,
                    files.spec,
                    files.manifest,
                    run_span,
                    ctx.obj,
                    options,
                    progress,
                )
    except FloeError as exc:
        _print_failure(exc, as_json)
        raise typer.Exit(EXIT_INTERRUPTED if _interrupted(exc) else 1) from None
    except KeyboardInterrupt:
        _print_interrupted("interrupted; run again to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        if tracing is not None:
            tracing.shutdown()
    _print_receipts(receipts, as_json)
    from floe_core.egress.receipt import exit_code

    raise typer.Exit(exit_code(receipts))


def _interrupted(exc: FloeError) -> bool:
    from floe_core.egress.errors import RunInterruptedError

    return isinstance(exc, RunInterruptedError)


def _print_failure(exc: FloeError, as_json: bool) -> None:
    """What ended the run, once the bar has stopped: the project's problems, the receipts of
    an interrupted run, or the error that stopped it before anything was sent."""
    from floe_core.compiler import InvalidProjectError
    from floe_core.egress.errors import RunInterruptedError

    if isinstance(exc, InvalidProjectError):
        _print_problems(exc, as_json)
    elif isinstance(exc, RunInterruptedError):
        error = {"message": exc.message, "hint": exc.hint, "type": type(exc).__name__}
        _print_receipts(exc.receipts, as_json, error)
        _print_interrupted(exc.message)
    else:
        _print_error(exc, as_json)


#: Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def _print_interrupted(message: str) -> None:
    from floe_core.cli.output import console

    console(stderr=True).print(message, style="bold yellow", markup=False, highlight=False)


def _run(
    names: list[str],
    run_all: bool,
    spec: Path,
    manifest: Path | None,
    span: Any,
    injected: object = None,
    options: _RunOptions | None = None,
    progress: Progress | None = None,
) -> list[Receipt]:
    from floe_core.egress.destinations import select_destinations
    from floe_core.egress.observability import span as new_span
    from floe_core.egress.session import open_runner
    from floe_core.registry import PluginRegistry

    # A registry passed as the CLI's ``obj`` (tests, embedding) replaces discovery.
    registry = injected if isinstance(injected, PluginRegistry) else PluginRegistry.discover()
    with new_span("floe.egress.compile"):
        plan = _plan(_compile(spec, manifest, registry))
    destinations = select_destinations(plan, names, run_all)
    span.set_attribute("floe.destinations", [d.name for d in destinations])
    options = options or _RunOptions()
    with open_runner(
        plan,
        registry=registry,
        progress=progress,
        dry_run=options.dry_run,
        allow_deletes=options.allow_deletes,
        full_refresh=options.full_refresh,
        executor=options.executor,
    ) as runner:
        return runner.run(destinations)


@dataclass(frozen=True)
class _RunOptions:
    dry_run: bool = False
    allow_deletes: bool = False
    full_refresh: bool = False
    executor: ExecutorType | None = None


def _compile(spec: Path, manifest: Path | None, registry: Any) -> CompileResult:
    from floe_core.compiler import compile_project

    return compile_project(spec, manifest, registry=registry)


def _plan(result: CompileResult) -> EgressPlan:
    from floe_core.compiler import InvalidProjectError

    if result.plan is not None and not result.problems:
        return result.plan
    raise InvalidProjectError(result.problems)


def _print_problems(exc: InvalidProjectError, as_json: bool) -> None:
    from floe_core.cli.output import console, envelope, print_json, print_problems

    problems = exc.problems
    if as_json:
        error = {
            "message": f"the project has {len(problems)} problem(s); nothing was sent",
            "hint": "fix the problems listed (floe validate lists them too)",
            "type": "InvalidProjectError",
        }
        data = [p.to_dict() for p in problems]
        print_json(envelope("egress run", ok=False, problems=data, error=error))
    else:
        err = console(stderr=True)
        err.print(
            f"[bold red]error:[/] the project has {len(problems)} problem(s); nothing was sent"
        )
        print_problems(problems, err)


def _print_error(exc: FloeError, as_json: bool) -> None:
    from floe_core.cli.output import envelope, print_error, print_json
    from floe_core.egress.observability import redactor

    safe = redactor.error(exc)
    if as_json:
        error = {"message": safe.message, "hint": safe.hint, "type": type(exc).__name__}
        print_json(envelope("egress run", ok=False, error=error, receipts=[]))
    print_error(safe)
    from floe_core.cli.output import console

    console(stderr=True).print("nothing was sent", style="dim")


def _print_receipts(
    receipts: list[Receipt], as_json: bool, error: dict[str, str] | None = None
) -> None:
    from floe_core.cli.output import envelope, print_json
    from floe_core.egress.observability import redactor
    from floe_core.egress.receipt import receipt_table

    if as_json:
        from floe_core.egress.receipt import exit_code

        data = [redactor.data(r.to_dict()) for r in receipts]
        ok = bool(receipts) and exit_code(receipts) == 0 and error is None
        print_json(envelope("egress run", ok=ok, error=error, receipts=data))
        return
    out = wide_console()
    for receipt in receipts:
        out.print(receipt_table(receipt))


def wide_console(width: int = 120) -> Console:
    """A stdout console; when not a terminal (a log, a pipe) and ``COLUMNS`` does not say how
    wide, at least ``width`` columns wide so that hashes and table rows stay on one line.

    ``COLUMNS`` always wins, piped too, as it does for ``floe egress history``."""
    import os

    from floe_core.cli.output import console

    out = console()
    if not out.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():
        out.width = max(out.width, width)
    return out


egress_app.command(
    "history", cls=FloeCommand, short_help="List past runs, newest first, with their errors."
)(history_command)
egress_app.command("show", cls=FloeCommand)(show_command)
egress_app.command(
    "rejected", cls=FloeCommand, short_help="List the rows a destination refused, not yet sent."
)(rejected_command)
