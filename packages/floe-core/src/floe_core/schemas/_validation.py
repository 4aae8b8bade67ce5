"""Validation errors that carry a fix hint and, optionally, more precise locations.

Pydantic reports a validator's error at the field it validates. Some checks know better:
duplicate destination names point at ``destinations[3].name``, a credential at
``config.headers.Authorization``. Those checks raise :func:`config_error` with ``nested``
entries; ``floe_core.compiler`` turns each entry into its own problem, with its own line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ConfigDict
from pydantic_core import PydanticCustomError

from floe_core.schemas._docs import attribute_docs

__all__ = ["ERROR_TYPE", "MODEL_CONFIG", "NestedProblem", "config_error"]

#: Every config model: immutable, unknown keys refused, input values (which may be secrets)
#: kept out of error messages, attribute docstrings as field descriptions in the JSON Schema
#: (read when a schema is generated, not at every start: see ``_docs``).
MODEL_CONFIG = ConfigDict(
    frozen=True, extra="forbid", hide_input_in_errors=True, json_schema_extra=attribute_docs
)

#: ``type`` of the pydantic errors raised by floe's own checks.
ERROR_TYPE = "floe_config"


@dataclass(frozen=True)
class NestedProblem:
    """One finding below the validated field.

    Attributes:
        path: Keys and list indexes from the validated field down to the finding.
        message: What is wrong there (never a secret value).
        hint: How to fix it.
    """

    path: tuple[str | int, ...]
    message: str
    hint: str = ""


def config_error(
    message: str, *, hint: str = "", nested: Sequence[NestedProblem] = ()
) -> PydanticCustomError:
    """Build a pydantic error whose context keeps the hint and the nested findings.

    Args:
        message: Summary shown when the error is printed by pydantic itself.
        hint: What the user should do.
        nested: Findings with a more precise location than the validated field.
    """
    context = {
        "message": message,
        "hint": hint,
        "nested": [
            {"path": list(item.path), "message": item.message, "hint": item.hint} for item in nested
        ],
    }
    return PydanticCustomError(ERROR_TYPE, "{message}", context)
