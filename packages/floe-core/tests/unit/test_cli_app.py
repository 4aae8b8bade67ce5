"""The CLI boundary: version, help, and errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from floe_core import __version__
from floe_core.cli import main
from floe_core.cli.app import EXIT_ERROR, EXIT_INTERNAL, run
from floe_core.errors import FloeError


def test_version_is_answered_without_loading_the_commands() -> None:
    code = (
        "import sys\n"
        "from floe_core.cli import main\n"
        "main(['--version'])\n"
        "print(sorted(m for m in ('typer', 'pydantic', 'floe_core.cli.app') if m in sys.modules))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.splitlines() == [f"floe {__version__}", "[]"]


def test_version_option_through_typer(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version", "--help"])
    assert caught.value.code == 0
    assert "floe" in capsys.readouterr().out


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("validate", "sinks", "schema"):
        assert command in out


def _app_raising(error: Exception) -> typer.Typer:
    application = typer.Typer()

    @application.command()
    def boom() -> None:
        raise error

    @application.command()
    def other() -> None:
        """A second command, so that typer keeps sub-command names."""

    return application


def test_a_floe_error_is_printed_with_its_hint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run(["boom"], application=_app_raising(FloeError("it broke", hint="do this")))
    assert caught.value.code == EXIT_ERROR
    err = capsys.readouterr().err
    assert "error: it broke" in err
    assert "hint: do this" in err
    assert "Traceback" not in err


def test_a_bug_is_one_line_without_message_or_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as caught:
        run(["boom"], application=_app_raising(KeyError("postgresql://u:secret@h")))
    assert caught.value.code == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error (builtins.KeyError)" in err
    assert "FLOE_DEBUG=1" in err
    assert "secret" not in err.replace("FLOE_DEBUG", "")
    assert "Traceback" not in err


def test_floe_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOE_DEBUG", "1")
    with pytest.raises(KeyError):
        run(["boom"], application=_app_raising(KeyError("x")))


def test_the_console_script_is_installed() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "floe_core.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip() == f"floe {__version__}"
