"""Problems: paths, text, and the hints derived from pydantic's errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from floe_core.compiler import InvalidProjectError, Problem
from floe_core.compiler.problems import format_path, problems_from_validation_error
from floe_core.schemas import FloeSpec
from floe_core.yamlio import parse_yaml
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("metadata", "name"), "metadata.name"),
        (("destinations", 2, "sink_type"), "destinations[2].sink_type"),
        (
            ("destinations", 0, "config", "headers", "X-API-Key"),
            "destinations[0].config.headers.X-API-Key",
        ),
        (
            ("catalog", "properties", "s3.secret-access-key"),
            "catalog.properties['s3.secret-access-key']",
        ),
    ],
)
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    assert format_path(path) == text


def test_problem_text_and_json_form() -> None:
    problem = Problem("floe.yaml", "destinations[0].name", "bad", "fix it", line=7, column=5)
    assert str(problem) == "floe.yaml:7: destinations[0].name: bad (hint: fix it)"
    assert problem.to_dict() == {
        "file": "floe.yaml",
        "path": "destinations[0].name",
        "message": "bad",
        "hint": "fix it",
        "line": 7,
        "column": 5,
    }
    error = InvalidProjectError([problem, problem])
    assert "2 problems" in error.message
    assert "floe validate" in error.hint


def _problems(text: str) -> list[Problem]:
    loaded = parse_yaml(text, Path("floe.yaml"))
    with pytest.raises(ValidationError) as caught:
        FloeSpec.model_validate(loaded.data)
    return problems_from_validation_error(caught.value, loaded, "floe.yaml", FloeSpec)


def test_unknown_keys_suggest_the_closest_allowed_key() -> None:
    (problem,) = _problems(
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: a, version: 1.0.0, ownr: me}\n"
    )
    assert problem.path == "metadata.ownr"
    assert problem.hint.startswith("did you mean `owner`?")
    assert "allowed here: name, version, description, owner, labels" in problem.hint


def test_unknown_top_level_key_lists_the_allowed_keys() -> None:
    (problem,) = _problems(
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: a, version: 1.0.0}\n"
        "destination: []\n"
    )
    assert (problem.path, problem.line) == ("destination", 4)
    assert "did you mean `destinations`?" in problem.hint
    assert "apiVersion" in problem.hint


def test_missing_keys_say_where_to_add_them() -> None:
    problems = _problems("kind: FloeSpec\nmetadata: {name: a}\n")
    assert [(p.path, p.message, p.hint) for p in problems] == [
        (
            "apiVersion",
            "required key `apiVersion` is missing",
            "add `apiVersion:` at the top level",
        ),
        (
            "metadata.version",
            "required key `version` is missing",
            "add `version:` under `metadata`",
        ),
    ]


def test_pattern_errors_describe_the_format_not_the_regex() -> None:
    (problem,) = _problems(
        "apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {name: Customer Analytics, "
        "version: 1.0.0}\n"
    )
    assert problem.message == (
        "'Customer Analytics' has the wrong format: expected lowercase letters, digits and '-', "
        "starting with a letter"
    )


@pytest.mark.parametrize(
    "value", ["sk_live_4eC39HqLyjWDarjtT1zdp7dc", "Summer2024", "P@ssw0rd", "hunter2!"]
)
def test_a_bad_value_that_may_be_a_credential_is_not_echoed(value: str) -> None:
    (problem,) = _problems(
        f"apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata: {{name: '{value}', version: 1.0.0}}\n"
    )
    assert problem.message.startswith("has the wrong format")
    assert value not in problem.message + problem.hint
