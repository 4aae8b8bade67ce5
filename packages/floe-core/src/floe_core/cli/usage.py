"""How floe's commands describe their arguments, and how a usage mistake meets the user.

Help reads as flags and plain placeholders (``-n, --limit N``, ``[NAME]...``, ``RUN_ID``),
not as Python types: :class:`FloeCommand` and :class:`FloeGroup` format it so. Values are
converted by floe (:func:`whole_number`, :func:`one_of`), so that a mistake is said in floe's
words (``--limit: 'abc' is not a whole number``), not in a validation library's.

A usage mistake (an unknown option, a missing argument, a bad value, names and ``--all``
together) exits with 2. It is printed as the usage line, ``error: ...`` and a hint on
stderr; when the command was asked for ``--json``, the JSON envelope (``ok: false``, the
error) is printed on stdout as well, so that a machine reading stdout is never left with
nothing.

The click that typer vendors is reached here and nowhere else.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, TypeVar

import typer
from typer._click.core import Context, Parameter
from typer._click.exceptions import MissingParameter, NoArgsIsHelpError, UsageError
from typer._click.formatting import HelpFormatter, join_options
from typer.core import TyperArgument as Argument
from typer.core import TyperCommand, TyperGroup
from typer.core import TyperOption as Option

__all__ = ["EXIT_USAGE", "FloeCommand", "FloeGroup", "one_of", "usage_error", "whole_number"]

#: A usage mistake (click's convention, kept for every command).
EXIT_USAGE = 2

E = TypeVar("E", bound=StrEnum)


def usage_error(message: str) -> UsageError:
    """A usage mistake found by a command itself (``raise usage_error(...)``): exit code 2."""
    return UsageError(message)


def whole_number(minimum: int, maximum: int) -> Callable[[Any], int]:
    """A parser for an option taking a whole number from ``minimum`` to ``maximum``."""

    def parse(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip().replace("_", "").replace(",", "")
            if not text.isdigit():
                raise typer.BadParameter(f"{str(value)!r} is not a whole number")
            number = int(text)
        if not minimum <= number <= maximum:
            raise typer.BadParameter(f"{number:,} is not between {minimum:,} and {maximum:,}")
        return number

    return parse


def one_of(choices: type[E]) -> Callable[[Any], E]:
    """A parser for an argument or option taking one of the values of ``choices``."""

    def parse(value: Any) -> E:
        if isinstance(value, choices):
            return value
        try:
            return choices(str(value).strip().lower())
        except ValueError:
            import difflib

            values = [str(member.value) for member in choices]
            close = difflib.get_close_matches(str(value).strip().lower(), values, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listing = ", ".join(values)
            raise typer.BadParameter(f"{str(value)!r} is not one of {listing}{hint}") from None

    return parse


def _placeholder(param: Parameter) -> str:
    """``NAME`` for a parameter: its metavar, else its name in capitals."""
    return param.metavar or (param.name or "").upper()


def _argument_name(param: Argument) -> str:
    return _placeholder(param) + ("..." if param.nargs == -1 else "")


def _option_name(param: Option) -> str:
    names, _ = join_options(param.opts)
    if param.is_flag or param.count:
        return names
    return f"{names} {_placeholder(param)}"


def _help_records(
    command: TyperCommand | TyperGroup, ctx: Context
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (name, help) rows of the arguments and of the options, as floe shows them."""
    arguments, options = [], []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        # typer's record ends in the defaults and "required"; floe names the parameter itself
        help_text = record[1]
        if isinstance(param, Argument):
            arguments.append((_argument_name(param), help_text))
        elif isinstance(param, Option):
            options.append((_option_name(param), help_text))
    return arguments, options


class FloeCommand(TyperCommand):
    """A command whose help shows ``--limit N`` and ``[NAME]...`` rather than types."""

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not isinstance(param, Argument):
                continue
            name = _placeholder(param)
            shown = name if param.required else f"[{name}]"
            pieces.append(shown + ("..." if param.nargs == -1 else ""))
        return pieces

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        arguments, options = _help_records(self, ctx)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


class FloeGroup(TyperGroup):
    """A command group; as the top-level one, also where usage mistakes are printed."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(
                args=argv,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except NoArgsIsHelpError as exc:  # a bare ``floe`` or ``floe egress``: the help
            if not standalone_mode:
                raise
            exc.show()
            sys.exit(exc.exit_code)
        except UsageError as exc:
            if not standalone_mode:
                raise
            _print_usage_error(exc, argv)
            sys.exit(EXIT_USAGE)
        except typer.Abort:
            if not standalone_mode:
                raise
            print("Aborted!", file=sys.stderr)
            sys.exit(1)
        if not standalone_mode:
            return result
        # Without standalone mode, click returns the code of a typer.Exit, or the command's
        # own return value (None) when it ended normally.
        sys.exit(result if isinstance(result, int) else 0)


def _message(exc: UsageError) -> str:
    """What was wrong, as floe says it: ``--limit: 'abc' is not a whole number``."""
    if isinstance(exc, MissingParameter) and exc.param is not None:
        if isinstance(exc.param, Option):
            return f"missing {max(exc.param.opts, key=len)} {_placeholder(exc.param)}"
        return f"missing {_placeholder(exc.param)}"
    if isinstance(exc, typer.BadParameter):
        if exc.param_hint is not None:
            hint = exc.param_hint
            where = hint if isinstance(hint, str) else " / ".join(hint)
        elif isinstance(exc.param, Option):
            where = max(exc.param.opts, key=len)
        elif exc.param is not None:
            where = _placeholder(exc.param)
        else:
            return exc.message
        return f"{where}: {exc.message}"
    return exc.format_message()


def _command_name(ctx: Context | None) -> str:
    """``egress run`` for the context of ``floe egress run``."""
    return " ".join(ctx.command_path.split()[1:]) if ctx is not None else ""


def _wants_json(ctx: Context | None, argv: list[str]) -> bool:
    """The command has ``--json`` and it was given (before any ``--``)."""
    if ctx is None:
        return False
    has_json = any(isinstance(p, Option) and "--json" in p.opts for p in ctx.command.params)
    given = argv[: argv.index("--")] if "--" in argv else argv
    return has_json and "--json" in given


def _print_usage_error(exc: UsageError, argv: list[str]) -> None:
    from rich.text import Text

    from floe_core.cli.output import console, envelope, print_json

    ctx = exc.ctx
    message = _message(exc)
    command = _command_name(ctx)
    hint = f"floe {command} --help".replace("  ", " ") + " lists the arguments and options"
    if _wants_json(ctx, argv):
        error = {"message": message, "hint": hint, "type": "UsageError"}
        print_json(envelope(command, ok=False, error=error))
    err = console(stderr=True)
    if ctx is not None:
        err.print(Text(ctx.get_usage()))
    err.print(Text.assemble(("error: ", "bold red"), message))
    err.print(Text.assemble(("hint: ", "bold"), hint))
