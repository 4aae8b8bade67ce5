"""How the CLI prints: rich on a terminal, plain text elsewhere, JSON for machines.

Text never wraps mid-message (``soft_wrap``), so a line can be grepped in CI logs, and user
text is printed as ``Text`` so that brackets in paths (``destinations[0]``) are not mistaken
for rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from floe_core.compiler.problems import Problem
    from floe_core.errors import FloeError

__all__ = [
    "JSON_SCHEMA_VERSION",
    "console",
    "envelope",
    "error_data",
    "floe_invocation",
    "print_error",
    "print_json",
    "print_problems",
]

#: Version of the envelope every command's ``--json`` output has (``docs/json-output.md``);
#: raised when a field changes meaning or goes away, not when one is added.
JSON_SCHEMA_VERSION = 1


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) for the current command."""
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def envelope(
    command: str,
    *,
    ok: bool,
    problems: Iterable[Mapping[str, Any]] = (),
    error: Mapping[str, Any] | None = None,
    **payload: Any,
) -> dict[str, Any]:
    """The one shape of every command's ``--json`` output (``docs/json-output.md``).

    ``schema_version``, ``command`` (``"egress run"``), ``ok`` (the command did what it was
    asked: exit code 0), ``problems`` (in the project, as ``floe validate`` lists them),
    ``error`` (what stopped the command: message, hint and type; ``null`` when nothing did),
    then the command's own keys (``receipts``, ``runs``, ...).
    """
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "command": command,
        "ok": ok,
        "problems": [dict(problem) for problem in problems],
        "error": dict(error) if error is not None else None,
        **payload,
    }


def error_data(error: FloeError) -> dict[str, str]:
    """A floe error as the envelope's ``error``: message, hint and the error's type."""
    return {"message": error.message, "hint": error.hint, "type": type(error).__name__}


def floe_invocation() -> str:
    """How to run floe from the user's shell, for a "next:" line: ``uv run floe`` when this
    process was started by ``uv run`` (a checkout, as the README's tour and ``make demo`` run
    it: the environment's ``floe`` is on uv's PATH, not necessarily on the shell's), else
    ``floe``."""
    import os

    return "uv run floe" if os.environ.get("UV_RUN_RECURSION_DEPTH") else "floe"


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout, uncoloured."""
    print(json.dumps(data, indent=2, ensure_ascii=False))


def print_error(error: FloeError, out: Console | None = None) -> None:
    """Print a floe error as ``error: message`` and ``hint: ...`` lines (stderr by default)."""
    out = out or console(stderr=True)
    out.print(Text.assemble(("error: ", "bold red"), error.message))
    if error.hint:
        out.print(Text.assemble(("hint: ", "bold"), error.hint))


def print_problems(
    problems: Iterable[Problem], out: Console, *, mark: tuple[str, str] = ("✗ ", "red")
) -> None:
    """Print each problem as ``file:line:col  path`` then the message (after ``mark``, a text
    and its style) and the fix."""
    for problem in problems:
        where = problem.file
        if problem.line is not None:
            where += f":{problem.line}"
            if problem.column is not None:
                where += f":{problem.column}"
        header = Text.assemble((where, "bold"))
        if problem.path:
            header.append("  ")
            header.append(problem.path, style="cyan")
        out.print(header)
        out.print(Text.assemble("  ", mark, problem.message))
        if problem.hint:
            out.print(Text.assemble("  ", ("fix: ", "green"), problem.hint))
