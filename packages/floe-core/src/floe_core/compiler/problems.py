"""Problems found in a project, and how pydantic's errors become readable ones.

A problem names the file, the path inside it (``destinations[2].sink_type``), the line when it
is known, what is wrong and how to fix it. Messages never include the offending value: a
credential may have been pasted anywhere.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from floe_core.errors import FloeError
from floe_core.schemas import floe_spec, manifest
from floe_core.schemas._validation import ERROR_TYPE
from floe_core.yamlio import LoadedYaml, YamlPath

__all__ = ["InvalidProjectError", "Problem", "format_path", "problems_from_validation_error"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

_PATTERN_DESCRIPTIONS = {
    floe_spec.FLOE_NAME_PATTERN: "lowercase letters, digits and '-', starting with a letter",
    floe_spec.SEMVER_PATTERN: "a version MAJOR.MINOR.PATCH, e.g. 1.0.0",
    floe_spec.DESTINATION_NAME_PATTERN: (
        "letters, digits, '_' and '-', starting with a letter (e.g. customers_to_crm)"
    ),
    floe_spec.SINK_TYPE_PATTERN: (
        "lowercase letters, digits and '_', starting with a letter (e.g. rest_api)"
    ),
    floe_spec.SOURCE_TABLE_PATTERN: "an Iceberg table as namespace.table, e.g. gold.customers",
    manifest.MANIFEST_NAME_PATTERN: "lowercase letters, digits and '-', starting with a letter",
}

_EXPECTED_BY_TYPE = {
    "string_type": "a text value",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (indented `key: value` lines)",
    "model_type": "a mapping (indented `key: value` lines)",
    "model_attributes_type": "a mapping (indented `key: value` lines)",
    "list_type": "a list (lines starting with `- `)",
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


def format_path(path: Iterable[str | int]) -> str:
    """``("destinations", 2, "sink_type")`` -> ``destinations[2].sink_type``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


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
        path = _data_path(detail["loc"], loaded.data)
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
        message, hint = _explain(detail, path, model)
        problems.append(make_problem(loaded, label, path, message, hint))
    return problems


def _data_path(loc: tuple[int | str, ...], data: Any) -> YamlPath:
    """Keep the parts of pydantic's ``loc`` that are keys or indexes in the data.

    ``loc`` may contain validator and union tags (``function-after[...]``, ``int``) that are
    not part of the document.
    """
    path: list[str | int] = []
    current: Any = data
    descending = True
    for part in loc:
        if descending and isinstance(current, Mapping):
            if part in current:
                path.append(part)
                current = current[part]
                continue
            if isinstance(part, str) and _looks_like_tag(part):
                continue
            path.append(part)  # a missing or unexpected key
            descending = False
        elif descending and isinstance(current, list) and isinstance(part, int):
            if 0 <= part < len(current):
                path.append(part)
                current = current[part]
                continue
            path.append(part)
            descending = False
        elif not descending and not (isinstance(part, str) and "[" in part):
            path.append(part)
    return tuple(path)


def _looks_like_tag(part: str) -> bool:
    return "[" in part or part in {"int", "str", "float", "bool", "none", "list", "dict"}


def _explain(detail: ErrorDetails, path: YamlPath, model: type[BaseModel]) -> tuple[str, str]:
    kind = detail["type"]
    context = detail.get("ctx") or {}
    key = path[-1] if path else ""
    parent = format_path(path[:-1])
    if kind == "missing":
        under = f" under `{parent}`" if parent else " at the top level"
        return f"required key `{key}` is missing", f"add `{key}:`{under}"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, path[:-1])
        hint = f"remove `{key}`"
        close = difflib.get_close_matches(str(key), allowed, n=1)
        if close:
            hint = f"did you mean `{close[0]}`? Otherwise remove `{key}`"
        if allowed:
            hint += f" (allowed here: {', '.join(allowed)})"
        return f"unknown key `{key}`", hint
    if kind == "string_pattern_mismatch":
        description = _PATTERN_DESCRIPTIONS.get(str(context.get("pattern")))
        if description:
            return f"has the wrong format: expected {description}", f"write {description}"
        return "has the wrong format", f"write a value matching {context.get('pattern')}"
    if kind == "literal_error":
        return _first_lower(detail["msg"]), f"write {context.get('expected', 'a listed value')}"
    if kind in _EXPECTED_BY_TYPE:
        expected = _EXPECTED_BY_TYPE[kind]
        return f"should be {expected}", f"write {expected} here"
    return _first_lower(detail["msg"]), "correct the value; `floe schema` prints what is accepted"


def _first_lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _allowed_keys(model: type[BaseModel], path: YamlPath) -> list[str]:
    """Keys accepted at ``path`` of ``model``'s document, when it is a model there."""
    annotation: Any = model
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    target = _unwrap_model(annotation)
    if target is None:
        return []
    return [field.alias or name for name, field in target.model_fields.items()]


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
