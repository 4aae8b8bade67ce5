"""Problems found in a project, and how pydantic's errors become readable ones.

A problem names the file, the path inside it (``destinations[2].sink_type``), the line when it
is known, what is wrong and how to fix it. A message echoes the offending value only where it
cannot be a credential (``floe_core.secrets.redact.shown_value``): one may have been pasted
anywhere.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from floe_core.errors import FloeError
from floe_core.schemas import floe_spec, manifest
from floe_core.schemas._validation import ERROR_TYPE
from floe_core.secrets.redact import shown_value
from floe_core.sinks.settings import data_path, explain_error, value_of_setting
from floe_core.yamlio import LoadedYaml, YamlPath, format_path

__all__ = ["InvalidProjectError", "Problem", "format_path", "problems_from_validation_error"]

_PATTERN_DESCRIPTIONS = {
    floe_spec.FLOE_NAME_PATTERN: "lowercase letters, digits and '-', starting with a letter",
    floe_spec.SEMVER_PATTERN: "a version MAJOR.MINOR.PATCH, e.g. 1.0.0",
    floe_spec.DESTINATION_NAME_PATTERN: (
        "letters, digits, '_' and '-', starting with a letter (e.g. customers_to_crm)"
    ),
    floe_spec.SINK_TYPE_PATTERN: (
        "lowercase letters, digits and '_', starting with a letter (e.g. acme_crm)"
    ),
    floe_spec.SOURCE_TABLE_PATTERN: "an Iceberg table as namespace.table, e.g. gold.customers",
    manifest.MANIFEST_NAME_PATTERN: "lowercase letters, digits and '-', starting with a letter",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a project.

    Attributes:
        file: The file, as the user named it.
        path: Where in the file (``destinations[2].sink_type``); ``""`` for the whole file.
        message: What is wrong. Never contains a secret value.
        hint: How to fix it.
        line: 1-based line, when known.
        column: 1-based column, when known.
    """

    file: str
    path: str
    message: str
    hint: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        path = f" {self.path}:" if self.path else ""
        return f"{where}:{path} {self.message} (hint: {self.hint})"


class InvalidProjectError(FloeError):
    """A project does not validate; ``problems`` lists everything found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        first = str(self.problems[0]) if self.problems else ""
        super().__init__(
            f"the project has {count} problem{'s' if count != 1 else ''}; first: {first}",
            hint="run `floe validate` to see them all",
        )


def make_problem(
    loaded: LoadedYaml, label: str, path: YamlPath, message: str, hint: str
) -> Problem:
    """A problem at ``path`` of ``loaded``, with its line and column."""
    location = loaded.locate(path)
    return Problem(
        file=label,
        path=format_path(path),
        message=message,
        hint=hint,
        line=location.line if location else None,
        column=location.column if location else None,
    )


def problems_from_validation_error(
    error: ValidationError, loaded: LoadedYaml, label: str, model: type[BaseModel]
) -> list[Problem]:
    """Turn pydantic's errors for ``model`` into problems located in ``loaded``."""
    problems: list[Problem] = []
    for detail in error.errors(include_url=False, include_input=False):
        path = data_path(detail["loc"], loaded.data)
        if detail["type"] == ERROR_TYPE:
            context = detail.get("ctx") or {}
            nested = context.get("nested") or []
            if not nested:
                problems.append(
                    make_problem(loaded, label, path, context["message"], context["hint"])
                )
            for item in nested:
                problems.append(
                    make_problem(
                        loaded, label, (*path, *item["path"]), item["message"], item["hint"]
                    )
                )
            continue
        message, hint = _explain(detail, path, model, _value_at(loaded.data, path))
        problems.append(make_problem(loaded, label, path, message, hint))
    return problems


def _explain(
    detail: ErrorDetails, path: YamlPath, model: type[BaseModel], value: Any
) -> tuple[str, str]:
    if detail["type"] == "string_pattern_mismatch":
        context = detail.get("ctx") or {}
        shown = shown_value(value, path)
        what = f"{shown} has" if shown is not None else "has"
        description = _PATTERN_DESCRIPTIONS.get(str(context.get("pattern")))
        if description:
            return f"{what} the wrong format: expected {description}", f"write {description}"
        return f"{what} the wrong format", f"write a value matching {context.get('pattern')}"
    allowed = _allowed_keys(model, path[:-1]) if detail["type"] == "extra_forbidden" else []
    target = _model_at(model, path[:-1]) if allowed and path else None
    setting = value_of_setting(str(path[-1]), target) if target is not None else None
    if setting is not None:
        key, written = setting
        return (
            f"unknown key `{path[-1]}`",
            f"{written!r} is a value of `{key}`, not a key: write `{key}: {written}`",
        )
    return explain_error(detail, path, allowed, value=value, show_value=True)


def _value_at(data: Any, path: YamlPath) -> Any:
    """The value at ``path`` of the parsed document, ``None`` when there is none."""
    for part in path:
        listed = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not listed and not (isinstance(data, Mapping) and part in data):
            return None
        data = data[part]
    return data


def _allowed_keys(model: type[BaseModel], path: YamlPath) -> list[str]:
    """Keys accepted at ``path`` of ``model``'s document, when it is a model there."""
    target = _model_at(model, path)
    if target is None:
        return []
    return [field.alias or name for name, field in target.model_fields.items()]


def _model_at(model: type[BaseModel], path: YamlPath) -> type[BaseModel] | None:
    """The model of the mapping at ``path`` of ``model``'s document, if it is one."""
    annotation: Any = model
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return _unwrap_model(annotation)


def _step(annotation: Any, part: str | int) -> Any:
    if isinstance(part, int):
        for candidate in _union_members(annotation):
            if typing.get_origin(candidate) in (list, tuple):
                args = typing.get_args(candidate)
                return args[0] if args else None
        return None
    target = _unwrap_model(annotation)
    if target is None:
        return None
    for name, field in target.model_fields.items():
        if part in (name, field.alias):
            return field.annotation
    return None


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in _union_members(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _union_members(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _union_members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return tuple(
            member for arg in typing.get_args(annotation) for member in _union_members(arg)
        )
    return (annotation,)
