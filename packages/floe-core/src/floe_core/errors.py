"""The root of every error floe raises on purpose.

Each error carries a ``hint``: what the user should do next. The CLI prints message and hint
and never a traceback for a ``FloeError``; anything else is a bug.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FloeError", "NoSuchSourceTableError", "SourceError"]


class FloeError(Exception):
    """Base of floe's own errors.

    Args:
        message: What went wrong, in one sentence. Must never contain a secret value.
        hint: What to do about it.
    """

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its class and attributes, not re-run through ``__init__`` (whose
        # keyword-only arguments a subclass may require): an error raised in a Ray task
        # reaches the driver whole.
        return (_restore, (type(self), self.args, dict(self.__dict__)))


def _restore(cls: type[FloeError], args: tuple[Any, ...], state: dict[str, Any]) -> FloeError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class SourceError(FloeError):
    """The Iceberg source (catalog, namespace, table) cannot be reached or read."""


class NoSuchSourceTableError(SourceError):
    """The source table, or its namespace, does not exist in the catalog."""
