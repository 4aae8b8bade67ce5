"""One file of a project being compiled: its text parsed, its model, its problems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from floe_core.compiler.problems import Problem, make_problem
from floe_core.yamlio import LoadedYaml

__all__ = ["Document", "raw_destinations"]


@dataclass
class Document:
    """``floe.yaml`` or ``manifest.yaml`` while it is checked.

    Attributes:
        label: The file as the user named it (problems carry it).
        path: Where it is read from.
        loaded: The parsed YAML, once read.
        model: The validated model, when the schema accepted it.
        problems: What was found wrong so far.
    """

    label: str
    path: Path
    loaded: LoadedYaml | None = None
    model: BaseModel | None = None
    problems: list[Problem] = field(default_factory=list)

    def problem(self, path: tuple[str | int, ...], message: str, hint: str) -> None:
        """Add a problem at ``path`` of the document, with its line when known."""
        if self.loaded is None:
            self.problems.append(Problem(self.label, "", message, hint))
        else:
            self.problems.append(make_problem(self.loaded, self.label, path, message, hint))


def raw_destinations(spec: Document) -> list[Any]:
    """``destinations`` of ``floe.yaml`` as written, valid or not (``[]`` when there are none)."""
    data = spec.loaded.data if spec.loaded is not None else None
    destinations = data.get("destinations") if isinstance(data, Mapping) else None
    return destinations if isinstance(destinations, list) else []
