"""``floe egress history`` and ``floe egress show``: what past runs did, read from the state
store and never creating it (``floe egress rejected`` reads it as they do,
:mod:`floe_core.cli.rejected`).

Each finds the project as ``--project DIR`` (default: the current directory) or ``--spec`` /
``--manifest``, without compiling plugins: history stays readable when the project has
problems, as long as the manifest is valid. A destination name that is neither declared in
floe.yaml nor in the history is an error naming the known ones (exit code 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from floe_core.cli.project import (
    JsonOption,
    ManifestOption,
    ProjectFiles,
    ProjectOption,
    SpecOption,
    project_files,
)
from floe_core.cli.usage import whole_number

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from floe_core.egress.receipt import Receipt
    from floe_core.egress.state import StateStore
    from floe_core.errors import FloeError

T = TypeVar("T")

__all__ = ["history_command", "read_state", "show_command"]


def history_command(
    name: Annotated[
        str | None,
        typer.Argument(help="Only runs of this destination.", metavar="NAME", show_default=False),
    ] = None,
    project: ProjectOption = None,
    spec: SpecOption = None,
    manifest: ManifestOption = None,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            help="How many runs to list, newest first (0 for every one; --json too).",
            metavar="N",
            parser=whole_number(0, 100_000_000),
        ),
    ] = 20,
    as_json: JsonOption = False,
) -> None:
    """List past runs, newest first; failed and partial runs with their first error.

    One run in full: floe egress show RUN_ID.
    """
    location, found = read_state(
        project,
        spec,
        manifest,
        name,
        lambda store: (store.runs(name, limit=limit or None), store.count_runs(name)),
        as_json=as_json,
        command="egress history",
    )
    runs, total = found if found is not None else ([], 0)
    _print_history(runs, name, as_json, recorded=location.exists, total=total)


def show_command(
    run_id: Annotated[
        str,
        typer.Argument(
            help="The run id, its first characters as floe egress history shows them, or "
            "'last' for the latest run.",
            metavar="RUN_ID",
            show_default=False,
        ),
    ],
    project: ProjectOption = None,
    spec: SpecOption = None,
    manifest: ManifestOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the stored receipt of one run in full."""
    from floe_core.egress.errors import EgressConfigError
    from floe_core.egress.state import StateStore
    from floe_core.errors import FloeError

    try:
        location = _state_location(project_files(project, spec, manifest))
        if not location.exists:
            raise EgressConfigError(
                f"no run '{run_id}': no runs recorded yet",
                hint="floe egress run NAME records one; floe egress history lists them",
            )
        with StateStore(location.url) as store:
            wanted = run_id.strip().lower()
            # Run ids are hexadecimal: "last" cannot be the start of one.
            found = store.runs(limit=1) if wanted == "last" else store.runs_by_id(wanted)
            where = store.display_url
        if not found:
            raise EgressConfigError(
                f"no run '{run_id}' in the state store {where}",
                hint="floe egress history lists the run ids",
            )
        if len(found) > 1:
            raise EgressConfigError(
                f"'{run_id}' is the start of {len(found)} run ids",
                hint="give more characters: " + ", ".join(r.run_id for r in found),
            )
    except FloeError as exc:
        _print_error_only(exc, as_json, "egress show")
        raise typer.Exit(1) from None
    _print_show(found[0], as_json)


def _print_show(receipt: Receipt, as_json: bool) -> None:
    from floe_core.cli.output import envelope, print_json
    from floe_core.egress.observability import redactor
    from floe_core.egress.receipt import receipt_table

    if as_json:
        print_json(envelope("egress show", ok=True, receipt=redactor.data(receipt.to_dict())))
        return
    from floe_core.cli.egress import wide_console

    wide_console().print(receipt_table(receipt, errors=None))


@dataclass(frozen=True)
class _StateLocation:
    """Where a project keeps its runs, and the destinations its floe.yaml declares."""

    url: str
    exists: bool
    spec: Path
    declared: tuple[str, ...]


def _state_location(files: ProjectFiles) -> _StateLocation:
    """The project's state store, without compiling plugins or opening the store.

    History stays readable when the project has problems: only the manifest must be valid.
    """
    from floe_core.compiler import InvalidProjectError, compile_project
    from floe_core.compiler.plan import resolve_sqlite_url
    from floe_core.egress.errors import EgressConfigError
    from floe_core.egress.state import state_store_exists, state_url_for
    from floe_core.registry import PluginRegistry
    from floe_core.schemas.manifest import PlatformManifest
    from floe_core.yamlio import load_yaml

    spec = files.spec
    if not spec.parent.is_dir():
        raise EgressConfigError(
            f"directory {spec.parent} does not exist, so there is no project there to read runs of",
            hint="check the path (a relative one is from the current directory), or run floe "
            "in the project directory",
        )
    if not spec.is_file():
        raise EgressConfigError(
            f"{spec}: file not found, so there is no project here to read runs of",
            hint="run floe in the project directory, or point at it with --project DIR",
        )
    result = compile_project(spec, files.manifest, registry=PluginRegistry())
    if result.plan is not None:
        project_dir, configured = result.plan.project_dir, result.plan.state_url
        declared = tuple(result.plan.destination_names)
    else:
        project_dir = spec.parent.absolute()
        manifest_path = result.manifest_path or spec.parent / "manifest.yaml"
        try:
            model = PlatformManifest.model_validate(load_yaml(manifest_path).data)
        except Exception as exc:
            raise InvalidProjectError(
                [p for p in result.problems if p.file == str(manifest_path)] or result.problems
            ) from exc
        url = model.state.url
        configured = resolve_sqlite_url(url, project_dir) if url else None
        declared = _declared_names(spec)
    state_url = state_url_for(project_dir, configured)
    return _StateLocation(state_url, state_store_exists(state_url), spec, declared)


def _declared_names(spec: Path) -> tuple[str, ...]:
    """The destination names a floe.yaml that does not validate still declares."""
    from floe_core.yamlio import load_yaml

    try:
        data = load_yaml(spec).data
    except Exception:
        return ()
    entries = data.get("destinations") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return ()
    return tuple(
        str(e["name"]) for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)
    )


def _require_known(name: str | None, location: _StateLocation, store: Any) -> None:
    """Raise when ``name`` is neither declared in floe.yaml nor has runs in ``store``."""
    from floe_core.egress.errors import EgressConfigError

    if name is None or name in location.declared:
        return
    recorded = store.destinations() if store is not None else []
    if name in recorded:
        return  # removed from floe.yaml since; its history stays readable
    from floe_core.egress.destinations import did_you_mean

    known = sorted({*location.declared, *recorded})
    raise EgressConfigError(
        f"destination '{name}' is not declared in {location.spec} and has no recorded runs",
        hint=did_you_mean(name, known) + f"destinations: {', '.join(known) or 'none'}",
    )


def _print_error_only(exc: FloeError, as_json: bool, command: str) -> None:
    from floe_core.cli.output import envelope, error_data, print_error, print_json

    if as_json:
        print_json(envelope(command, ok=False, error=error_data(exc)))
    print_error(exc)


def _print_history(
    runs: list[Receipt], name: str | None, as_json: bool, *, recorded: bool, total: int
) -> None:
    """A table that fits 80 columns: long names wrap inside their column, nothing is cut;
    the first error of each failed or partial run follows it, wrapped under itself."""
    from rich.table import Table
    from rich.text import Text

    from floe_core.cli.output import console, envelope, print_json
    from floe_core.egress.observability import redactor
    from floe_core.egress.receipt import RunStatus, sync_line

    if as_json:
        data = [redactor.data(r.to_dict()) for r in runs]
        print_json(envelope("egress history", ok=True, runs=data))
        return
    out = console()
    if not runs:
        what = f" for {name}" if name else ""
        out.print(f"no runs recorded{what}{'' if recorded else ' yet'}", markup=False)
        return
    table = Table(
        title="floe egress history",
        title_justify="left",
        box=None,
        padding=(0, 2, 0, 0),
        pad_edge=False,
        header_style="bold underline",
    )
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("destination", overflow="fold", min_width=8)
    table.add_column("status", no_wrap=True)
    table.add_column("delivered", justify="right", no_wrap=True)
    table.add_column("rejected", justify="right", no_wrap=True)
    table.add_column("run id", no_wrap=True)
    styles = {"success": "green", "partial": "yellow", "failed": "red", "running": "blue"}
    for run in runs:
        table.add_row(
            run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            Text(run.destination),
            Text(run.status.value, style=styles[run.status.value]),
            f"{run.rows_delivered:,}",
            f"{run.rows_rejected:,}",
            run.run_id[:_SHORT_RUN_ID],
        )
    out.print(table)
    synced = [r for r in runs if r.sync is not None and r.sync.mode != "full"]
    if synced:
        out.print("incremental syncs:", style="bold")
        out.print(_by_run((run, Text(sync_line(run.sync))) for run in synced if run.sync))
    troubled = (RunStatus.FAILED, RunStatus.PARTIAL)
    failed = [r for r in runs if r.status in troubled and r.errors]
    if failed:
        out.print("first error of each failed or partial run:", style="bold")
        styles = {RunStatus.FAILED: "red", RunStatus.PARTIAL: "yellow"}
        out.print(
            _by_run(
                (run, Text(redactor.text(run.errors[0]), style=styles[run.status]))
                for run in failed
            )
        )
    if len(runs) < total:
        out.print(
            Text(
                f"{len(runs):,} of {total:,} runs listed: --limit N lists more, --limit 0 all "
                "of them",
                style="dim",
            ),
            soft_wrap=False,
        )
    out.print(
        Text("one run in full: floe egress show RUN_ID", style="dim"),
        soft_wrap=False,
    )


def _by_run(lines: Iterable[tuple[Receipt, Text]]) -> RenderableType:
    """One line per run, its short id then ``text``, wrapped at spaces and hung under the
    text's first column (a word wider than the column is folded)."""
    from rich.table import Table

    table = Table.grid(padding=(0, 2, 0, 0))
    table.add_column("run id", no_wrap=True, style="bold")
    table.add_column("text", ratio=1, overflow="fold")
    for run, text in lines:
        table.add_row(run.run_id[:_SHORT_RUN_ID], text)
    return table


#: Characters of a run id shown by ``floe egress history`` (``show`` takes them as a prefix).
_SHORT_RUN_ID = 8


def read_state(
    project: Path | None,
    spec: Path | None,
    manifest: Path | None,
    name: str | None,
    read: Callable[[StateStore], T],
    *,
    as_json: bool,
    command: str,
) -> tuple[_StateLocation, T | None]:
    """``read`` the project's state store, when it exists (a read never creates it: then
    ``None``), after checking that ``name`` is a declared or recorded destination; exit 1 on
    an error."""
    from floe_core.egress.state import StateStore
    from floe_core.errors import FloeError

    try:
        location = _state_location(project_files(project, spec, manifest))
        if not location.exists:
            _require_known(name, location, None)
            return location, None
        with StateStore(location.url) as store:
            _require_known(name, location, store)
            return location, read(store)
    except FloeError as exc:
        _print_error_only(exc, as_json, command)
        raise typer.Exit(1) from None
