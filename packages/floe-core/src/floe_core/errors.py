"""The root of every error floe raises on purpose.

Each error carries a ``hint``: what the user should do next. The CLI prints message and hint
and never a traceback for a ``FloeError``; anything else is a bug.
"""

from __future__ import annotations

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


class SourceError(FloeError):
    """The Iceberg source (catalog, namespace, table) cannot be reached or read."""


class NoSuchSourceTableError(SourceError):
    """The source table, or its namespace, does not exist in the catalog."""
