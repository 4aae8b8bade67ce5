"""Did-you-mean for a name that is not one of the names known: a destination, a table, a
column (difflib's close matches, as elsewhere in floe)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["closest_name", "did_you_mean"]


def closest_name(name: str, known: Sequence[str]) -> str | None:
    """The known name ``name`` is most likely a misspelling of, if any (by spelling only, so
    that names sharing words, crm_eu and crm_us, are offered only for a misspelling)."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return close[0] if close else None


def did_you_mean(names: str | Sequence[str], known: Sequence[str]) -> str:
    """``"did you mean 'x'? "`` for the known name closest to each of ``names`` (``"did you
    mean 'x', 'y'? "`` for several), else ``""``."""
    wanted = [names] if isinstance(names, str) else list(names)
    close = [match for name in wanted if (match := closest_name(name, known)) is not None]
    listed = ", ".join(f"'{name}'" for name in dict.fromkeys(close))
    return f"did you mean {listed}? " if listed else ""
