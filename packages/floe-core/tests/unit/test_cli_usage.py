"""Help and usage mistakes, as a person and a machine read them: flags and plain placeholders,
floe's own words for a bad value, exit code 2, and the JSON envelope with ``--json``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from floe_core.cli.app import app
from floe_core.schemas.cli_output import CliOutput
from typer.testing import CliRunner

runner = CliRunner()


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "100", "FLOE_STATE_URL": ""})


def _commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of ``floe``, with its path (``("egress", "run")``)."""
    stack: list[tuple[tuple[str, ...], Any]] = [((), typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        children = getattr(command, "commands", None)
        if children:
            stack.extend(((*path, name), child) for name, child in children.items())
        else:
            yield path, command


COMMANDS = dict(_commands())
PATHS = sorted(COMMANDS)


def test_every_command_is_found() -> None:
    assert ("egress", "history") in COMMANDS and ("demo",) in COMMANDS
    assert len(COMMANDS) == 10


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_help_reads_as_flags_and_plain_placeholders(path: tuple[str, ...]) -> None:
    result = _invoke(*path, "--help")

    assert result.exit_code == 0, result.output
    help_text = result.stdout
    assert not re.search(r"<[a-z][\w\[\], |]*>", help_text), help_text  # <path>, <int range>
    assert not re.search(r"\{[a-z_]+\}", help_text), help_text  # {run_id}
    assert "list[str]" not in help_text and "<=x<=" not in help_text
    usage = help_text.splitlines()[0]
    prefix = f"Usage: floe {' '.join(path)} [OPTIONS]"
    assert usage.startswith(prefix)
    arguments = usage.removeprefix(prefix)
    assert arguments == arguments.upper(), usage  # [NAME]..., RUN_ID: placeholders


@pytest.mark.parametrize("path", [(), ("egress",), *PATHS], ids=lambda p: " ".join(p) or "floe")
def test_dash_h_is_help_too(path: tuple[str, ...]) -> None:
    assert _invoke(*path, "-h").stdout == _invoke(*path, "--help").stdout != ""


@pytest.mark.parametrize("group", [(), ("egress",)], ids=lambda p: " ".join(p) or "floe")
def test_each_command_of_a_group_is_summed_up_whole_in_80_columns(group: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*group, "--help"], env={"COLUMNS": "80"})

    listing = result.stdout.partition("Commands:")[2].splitlines()[1:]
    assert listing, result.stdout
    for line in listing:
        assert len(line) <= 80 and not line.endswith("..."), line


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_every_argument_and_option_says_what_it_is(path: tuple[str, ...]) -> None:
    for param in COMMANDS[path].params:
        assert getattr(param, "help", None), f"floe {' '.join(path)}: {param.name} has no help"


def test_placeholders_in_the_help_lines() -> None:
    history = _invoke("egress", "history", "--help").stdout
    show = _invoke("egress", "show", "--help").stdout
    run = _invoke("egress", "run", "--help").stdout
    init = _invoke("init", "--help").stdout

    assert "Usage: floe egress history [OPTIONS] [NAME]" in history
    assert "-n, --limit N" in history and "How many runs to list" in history
    assert "-p, --project DIR" in history and "-s, --spec FILE" in history
    assert "Usage: floe egress show [OPTIONS] RUN_ID" in show
    assert "Usage: floe egress run [OPTIONS] [NAME]..." in run
    assert "--executor local|ray" in run
    assert "--sink TYPE" in init and "--name NAME" in init and "<str>" not in init


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["egress", "history", "--limit", "abc"], "--limit: 'abc' is not a whole number"
        ),
        pytest.param(
            ["egress", "history", "-n", "200000000"],
            "--limit: 200,000,000 is not between 0 and 100,000,000",
        ),
        pytest.param(["demo", "--rows", "1.5"], "--rows: '1.5' is not a whole number"),
        pytest.param(["schema", "yaml"], "KIND: 'yaml' is not one of floe, manifest, output"),
        pytest.param(
            ["schema", "manifes"],
            "KIND: 'manifes' is not one of floe, manifest, output (did you mean 'manifest'?)",
        ),
        pytest.param(["egress", "show"], "missing RUN_ID"),
    ],
)
def test_a_bad_value_is_said_in_floes_words(args: list[str], message: str) -> None:
    result = _invoke(*args)

    assert result.exit_code == 2
    assert f"error: {message}" in result.stderr
    assert "Input should be" not in result.stderr and "Value error" not in result.stderr
    command = " ".join(args[:2] if args[0] == "egress" else args[:1])
    assert f"hint: floe {command} --help lists the arguments and options" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["egress", "run"], "no destination given", id="no name"),
        pytest.param(["egress", "run", "a", "--all"], "names or --all, not both", id="both"),
        pytest.param(["egress", "run", "--bogus"], "No such option: --bogus", id="unknown"),
        pytest.param(["check", "a", "--all"], "names or --all, not both", id="check both"),
        pytest.param(["egress", "history", "-n", "x"], "'x' is not a whole number", id="limit"),
    ],
)
def test_a_usage_error_with_json_is_the_envelope_on_stdout(args: list[str], message: str) -> None:
    result = _invoke(*args, "--json")

    assert result.exit_code == 2
    output = json.loads(result.stdout)
    CliOutput.model_validate(output)
    assert output["ok"] is False
    assert output["command"] == " ".join(args[:2] if args[0] == "egress" else args[:1])
    assert message in output["error"]["message"]
    assert output["error"]["type"] == "UsageError"
    assert "--help" in output["error"]["hint"]
    assert message in result.stderr  # a person watching still reads it


def test_without_json_a_usage_error_prints_nothing_on_stdout() -> None:
    result = _invoke("egress", "run")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Usage: floe egress run [OPTIONS] [NAME]...")


def test_a_bare_group_shows_its_help() -> None:
    result = _invoke("egress")

    assert "Commands:" in result.output and "history" in result.output
    assert "error:" not in result.output
