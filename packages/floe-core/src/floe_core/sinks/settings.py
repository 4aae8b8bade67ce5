"""Checking a destination's ``config:`` against its sink's settings model, without its Secret.

``floe validate`` has the ``config:`` of floe.yaml but not the Secret, whose keys the sink also
reads (a URL, a token). :func:`check_settings` validates the config alone: a setting the
Secret provides (one of the sink's ``secret_fields``) is neither reported missing nor offered
as a key to write in floe.yaml. Each invalid key or value becomes a :class:`SettingProblem`
in plain words (what is allowed, a did-you-mean for a misspelt key or value). A value written
in floe.yaml is echoed when it cannot be a credential (``secrets.redact.shown_value``); one
that may come from the Secret never is.

The same words describe pydantic's errors in floe.yaml itself (``floe_core.compiler``), so a
setting reads the same wherever it is checked. A cross-field check in a settings model
(``model_validator``) points at the key to fix by raising :func:`settings_error`.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from floe_core.schemas._validation import ERROR_TYPE, NestedProblem, config_error
from floe_core.secrets.redact import shown_value
from floe_core.yamlio import format_path

__all__ = [
    "SettingProblem",
    "check_settings",
    "closed_choices",
    "closest",
    "data_path",
    "explain_error",
    "problems_from_error",
    "settings_error",
    "value_of_setting",
]

# Stands in for a required setting the Secret provides, so that the model's cross-field
# checks run; problems reported at these keys are dropped.
_PLACEHOLDER = "provided-by-the-secret"

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
    "tuple_type": "a list (lines starting with `- `)",
}

_BOUNDS = {
    "greater_than": ("gt", "more than {}"),
    "greater_than_equal": ("ge", "at least {}"),
    "less_than": ("lt", "less than {}"),
    "less_than_equal": ("le", "at most {}"),
}


@dataclass(frozen=True)
class SettingProblem:
    """One invalid key or value in a destination's ``config:``.

    Attributes:
        path: Keys and list indexes inside ``config:`` (``("headers", "X-Source")``);
            ``()`` for the mapping as a whole.
        message: What is wrong; the value given only where it cannot be a credential.
        suggestion: How to fix it (a did-you-mean, the values allowed).
    """

    path: tuple[str | int, ...]
    message: str
    suggestion: str


def settings_error(message: str, *, key: str | None = None, hint: str = "") -> PydanticCustomError:
    """An error for a settings model's validator to raise, located at ``key`` when given.

    Example, in a model: ``raise settings_error("body 'envelope' needs envelope_key",
    key="envelope_key", hint="set envelope_key, e.g. inputs")``.
    """
    nested = [NestedProblem((key,), message, hint)] if key is not None else []
    return config_error(message, hint=hint, nested=nested)


def check_settings(
    model: type[BaseModel],
    config: Mapping[str, Any],
    *,
    secret_fields: Collection[str] = (),
    config_may_set: Collection[str] = (),
) -> list[SettingProblem]:
    """Validate ``config`` (floe.yaml's ``config:``, no Secret) against ``model``.

    Args:
        model: The sink's settings model.
        config: The destination's ``config:`` mapping.
        secret_fields: Settings the destination's Secret provides: a required one missing
            from ``config`` is not a problem, none is suggested as a key to write, and one
            written in ``config`` is refused (it belongs in the Secret).
        config_may_set: Of ``secret_fields``, those ``config`` may set instead.

    Returns:
        One problem per key written that belongs in the Secret, then one per invalid key or
        value, in the model's order.
    """
    in_secret = [
        SettingProblem(
            (key,),
            f"the key {key!r} is read from the destination's Secret; connection settings "
            "must not be written in floe.yaml (a URL can carry a password)",
            f"remove it from config: and store it as the key {key!r} of the Secret that "
            "connection_secret_ref names; floe reads it from there at run time",
        )
        for key in config
        if key in secret_fields and key not in config_may_set
    ]
    placeholders = {
        name: _PLACEHOLDER for name in _required_fields(model, secret_fields) if name not in config
    }
    try:
        model.model_validate({**config, **placeholders})
    except ValidationError as exc:
        error = exc
    else:
        return in_secret
    allowed = [key for key in setting_keys(model) if key not in secret_fields]
    refused = {problem.path for problem in in_secret}
    return in_secret + [
        problem
        for problem in problems_from_error(
            error, config, allowed, ignore=placeholders, show_values=True, model=model
        )
        if problem.path[:1] not in refused
    ]


def problems_from_error(
    error: ValidationError,
    config: Mapping[str, Any],
    allowed: Sequence[str],
    *,
    section: str = "config",
    ignore: Collection[str] = (),
    show_values: bool = False,
    model: type[BaseModel] | None = None,
) -> list[SettingProblem]:
    """One problem per error of validating ``config`` against a settings model.

    A required key reported missing while an unknown key is its misspelling (``tabel`` for
    ``table``) is one problem, the unknown key's.

    Args:
        error: What the model raised.
        config: What it was given (to locate the errors, and to echo a bad value when
            ``show_values``).
        allowed: The keys to offer for an unknown key.
        section: The key ``config`` is written under, for "add `key:` under ..." hints.
        ignore: Top-level keys whose errors are not reported.
        show_values: Echo a bad value where it cannot be a credential. Only for ``config``
            as floe.yaml writes it: a value from the Secret is never shown.
        model: The settings model, to tell an unknown key that is a value of one of its
            settings (``bearer`` for ``auth: bearer``).
    """
    located = [
        (detail, data_path(detail["loc"], config))
        for detail in error.errors(include_url=False, include_input=False)
    ]
    misspelt = {
        closest(str(path[-1]), allowed)
        for detail, path in located
        if detail["type"] == "extra_forbidden" and len(path) == 1
    }
    problems: list[SettingProblem] = []
    for detail, path in located:
        if path and path[0] in ignore:
            continue
        if detail["type"] == "missing" and len(path) == 1 and path[0] in misspelt:
            continue
        setting = (
            value_of_setting(str(path[0]), model)
            if model is not None and detail["type"] == "extra_forbidden" and len(path) == 1
            else None
        )
        if setting is not None:
            problems.append(SettingProblem(path, *_a_value_as_key(str(path[0]), *setting)))
            continue
        problems.extend(_problems(detail, path, allowed, config, section, show_values))
    return problems


def _a_value_as_key(key: str, setting: str, value: object) -> tuple[str, str]:
    """The message and hint of an unknown key that is a value of ``setting``."""
    return (
        f"unknown key `{key}`",
        f"{value!r} is a value of `{setting}`, not a key: write `{setting}: {value}`",
    )


def closest(name: str, choices: Sequence[str]) -> str | None:
    """The choice ``name`` is most likely a misspelling or a variant of, if any.

    A close spelling, ignoring case: at most one typing slip (a letter wrong, missing, extra,
    or two swapped: ``tabel`` -> ``table``) per three letters; else a similar name (difflib)
    that starts with the same word (``max_retries`` -> ``max_attempts``); else the one
    choice whose words (split at ``_``, ``-`` and ``.``) appear in a row in ``name``'s, or
    ``name``'s in its: ``write_mode`` -> ``mode``, ``secret_ref`` ->
    ``connection_secret_ref``. Names that merely share letters (``bearer``, ``headers``) are
    not taken for one another.
    """
    limit = max(1, len(name) // 3)
    slips = [(_slips(name.lower(), choice.lower()), choice) for choice in choices]
    close = [(count, choice) for count, choice in slips if count <= limit]
    if close:
        return min(close, key=lambda item: item[0])[1]
    words = _words(name)
    by_case = {choice.lower(): choice for choice in choices}
    for similar in difflib.get_close_matches(name.lower(), list(by_case), n=3):
        if len(words) > 1 and _words(similar)[:1] == words[:1]:
            return by_case[similar]
    related = [
        choice
        for choice in choices
        if _contains(words, _words(choice)) or _contains(_words(choice), words)
    ]
    return related[0] if len(related) == 1 else None


def _slips(a: str, b: str) -> int:
    """Typing slips from ``a`` to ``b``: letters changed, added, removed or swapped with the
    next (the optimal string alignment distance)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, letter in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            cost = 0 if letter == other else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and letter == b[j - 2] and a[i - 2] == other:
                value = min(value, previous2[j - 2] + 1)
            current.append(value)
        previous2, previous = previous, current
    return previous[-1]


def value_of_setting(name: str, model: type[BaseModel]) -> tuple[str, object] | None:
    """The setting of ``model`` that has ``name`` among its closed choice of values, and that
    value: an unknown key ``bearer`` is most likely ``auth: bearer``."""
    for field_name, field in model.model_fields.items():
        for value in closed_choices(field.annotation):
            if isinstance(value, str) and value.lower() == name.lower():
                return field.alias or field_name, value
    return None


def closed_choices(annotation: Any) -> tuple[object, ...]:
    """The values of a ``Literal[...]`` annotation (optional or not); ``()`` for any other."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(value for arg in typing.get_args(annotation) for value in closed_choices(arg))
    return ()


def _words(name: str) -> list[str]:
    return [word for word in re.split(r"[-_.]+", name.lower()) if word]


def _contains(words: list[str], part: list[str]) -> bool:
    """True when ``part`` appears in ``words`` as consecutive words."""
    size = len(part)
    return size > 0 and any(words[i : i + size] == part for i in range(len(words) - size + 1))


def setting_keys(model: type[BaseModel]) -> list[str]:
    """The keys ``model`` accepts, as they are written (aliases where set)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _required_fields(model: type[BaseModel], names: Collection[str]) -> list[str]:
    return [
        field.alias or name
        for name, field in model.model_fields.items()
        if field.is_required() and (name in names or field.alias in names)
    ]


def _problems(
    detail: ErrorDetails,
    path: tuple[str | int, ...],
    allowed: Sequence[str],
    config: Any,
    section: str,
    show_values: bool,
) -> list[SettingProblem]:
    if detail["type"] == ERROR_TYPE:
        context = detail.get("ctx") or {}
        nested = context.get("nested") or []
        if not nested:
            return [SettingProblem(path, context["message"], context["hint"])]
        return [
            SettingProblem((*path, *item["path"]), item["message"], item["hint"]) for item in nested
        ]
    nested_allowed = allowed if len(path) == 1 else ()
    # As written in floe.yaml, so that a missing key is to be added "under `config`".
    where = (section, *path)
    message, hint = explain_error(
        detail,
        where,
        nested_allowed,
        value=_value_at(config, path),
        show_value=show_values,
        fallback_hint="correct the value; the sink's documentation lists what it accepts",
    )
    return [SettingProblem(path, message, hint)]


def _value_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data


def explain_error(
    detail: ErrorDetails,
    path: Sequence[str | int],
    allowed: Sequence[str] = (),
    *,
    value: Any = None,
    show_value: bool = False,
    fallback_hint: str = "correct the value; `floe schema` prints what is accepted",
) -> tuple[str, str]:
    """A message and a hint for one pydantic error, in the words ``floe validate`` uses.

    Args:
        detail: The error (from ``ValidationError.errors()``).
        path: Where it is, in the document (the last part is the key at fault).
        allowed: The keys accepted beside the key at fault, for unknown keys.
        value: The value given, to suggest a close allowed value.
        show_value: Echo ``value`` where it cannot be a credential (``shown_value``); only
            for a value written in a configuration file, never one from a Secret.
        fallback_hint: The hint for an error with nothing more precise to say.
    """
    kind = detail["type"]
    context = detail.get("ctx") or {}
    key = path[-1] if path else ""
    shown = shown_value(value, path) if show_value else None
    if kind == "missing":
        parent = format_path(path[:-1])
        under = f" under `{parent}`" if parent else " at the top level"
        return f"required key `{key}` is missing", f"add `{key}:`{under}"
    if kind == "extra_forbidden":
        hint = f"remove `{key}`"
        close = closest(str(key), allowed)
        if close is not None:
            hint = f"did you mean `{close}`? Otherwise remove `{key}`"
        if allowed:
            hint += f" (allowed here: {', '.join(allowed)})"
        return f"unknown key `{key}`", hint
    if kind in ("literal_error", "enum"):
        expected = str(context.get("expected", "a listed value"))
        choice = _closest_choice(expected, value)
        hint = f"did you mean {choice!r}?" if choice else f"write {expected}"
        if shown is None:
            return f"should be {expected}", f"{hint} Allowed: {expected}" if choice else hint
        what = f"a valid {key}" if isinstance(key, str) and key else "allowed"
        return f"{shown} is not {what}: it should be {expected}", hint
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        bound = words.format(_number(context.get(name)))
        return f"should be {bound}{_not(shown)}", f"write a value {bound}"
    if kind in ("string_too_short", "too_short"):
        least = context.get("min_length", 1)
        what = "character" if kind == "string_too_short" else "item"
        if least == 1:
            return "must not be empty", f"write at least one {what}"
        return f"needs at least {least} {what}s", f"write at least {least} {what}s"
    if kind in ("string_too_long", "too_long"):
        most = context.get("max_length")
        what = "characters" if kind == "string_too_long" else "items"
        return f"is too long: at most {most} {what}", f"shorten it to {most} {what} or fewer"
    if kind in _EXPECTED_BY_TYPE:
        expected = _EXPECTED_BY_TYPE[kind]
        return f"should be {expected}{_not(shown)}", f"write {expected} here"
    if kind in ("value_error", "assertion_error"):
        error = context.get("error")
        text = str(error) if error is not None else detail["msg"].partition(", ")[2]
        return text, fallback_hint
    text = detail["msg"].replace("Input should be", "should be")
    return _first_lower(text), fallback_hint


def _not(shown: str | None) -> str:
    return f", not {shown}" if shown is not None else ""


def _closest_choice(expected: str, value: Any) -> str | None:
    """The value of ``expected`` (``'a', 'b' or 'c'``) that ``value`` is closest to, if any."""
    if not isinstance(value, str):
        return None
    choices = [part.strip("'\" ") for part in expected.replace(" or ", ", ").split(",")]
    return closest(value, choices)


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def data_path(loc: Sequence[int | str], data: Any) -> tuple[str | int, ...]:
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


def _first_lower(text: str) -> str:
    return text[:1].lower() + text[1:]
