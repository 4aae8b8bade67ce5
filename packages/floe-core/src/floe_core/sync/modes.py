"""Sync modes: which rows of the diff a mode sends, and with which sink operation.

=========  ==============  ==============  ===========================
mode       new keys        changed rows    keys gone from the source
=========  ==============  ==============  ===========================
full       every row, every run, the sink's default operation
insert     INSERT/UPSERT   -               -
update     -               UPDATE/UPSERT   -
upsert     UPSERT          UPSERT          -
mirror     UPSERT          UPSERT          DELETE
=========  ==============  ==============  ===========================

``INSERT/UPSERT``: the first the sink can do. A mode whose operations the sink (with its
settings) cannot do is refused by ``floe validate`` and before a run sends anything.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from floe_core.sinks.base import Operation

__all__ = [
    "SYNC_MODES",
    "ModeOperations",
    "derive_key_setting",
    "lacking_operations",
    "mode_operations",
    "needs_operations",
]

#: Every ``sync_mode``, in the order the docs list them.
SYNC_MODES = ("full", "insert", "update", "upsert", "mirror")

_PREFERRED: dict[str, tuple[tuple[str, tuple[Operation, ...]], ...]] = {
    "insert": (("new", (Operation.INSERT, Operation.UPSERT)),),
    "update": (("changed", (Operation.UPDATE, Operation.UPSERT)),),
    "upsert": (("new", (Operation.UPSERT,)), ("changed", (Operation.UPSERT,))),
    "mirror": (
        ("new", (Operation.UPSERT,)),
        ("changed", (Operation.UPSERT,)),
        ("gone", (Operation.DELETE,)),
    ),
}


@dataclass(frozen=True)
class ModeOperations:
    """The operation each part of the diff is sent with; ``None``: that part is not sent."""

    new: Operation | None = None
    changed: Operation | None = None
    gone: Operation | None = None


def mode_operations(mode: str, supported: Collection[Operation]) -> ModeOperations | str:
    """The operations ``mode`` sends with, given what the sink supports; or why it cannot.

    Args:
        mode: A sync mode other than ``full``.
        supported: The sink's operations (``Sink.operations_for`` or
            ``effective_capabilities.operations``).

    Returns:
        The operations, or a message naming the operation the sink lacks.
    """
    lacking = lacking_operations(mode, supported)
    if lacking is not None:
        return f"sync_mode {mode!r} {needs_operations(lacking, supported)}"
    chosen: dict[str, Operation] = {}
    for part, candidates in _PREFERRED[mode]:
        chosen[part] = next(op for op in candidates if op in supported)
    return ModeOperations(**chosen)


def lacking_operations(mode: str, supported: Collection[Operation]) -> tuple[Operation, ...] | None:
    """The operations ``mode`` needs one of for a part of the diff, none of which the sink
    supports; ``None`` when it supports what the mode needs."""
    for _part, candidates in _PREFERRED[mode]:
        if not any(op in supported for op in candidates):
            return candidates
    return None


def needs_operations(lacking: Collection[Operation], supported: Collection[Operation]) -> str:
    """``needs a sink that can upsert rows; with these settings it can: insert``."""
    listing = ", ".join(sorted(op.value for op in supported)) or "none"
    wanted = " or ".join(op.value for op in lacking)
    return f"needs a sink that can {wanted} rows; with these settings it can: {listing}"


def derive_key_setting(
    primary_key: list[str], field_mapping: Mapping[str, str] | None, given: object
) -> tuple[list[str], str | None]:
    """The sink's key setting derived from the destination's ``primary_key``.

    Args:
        primary_key: Source key columns.
        field_mapping: Source -> destination renames.
        given: The sink's key setting as written in ``config:`` (``None`` when absent).

    Returns:
        The destination key columns, and a message when ``given`` names other columns.
    """
    mapping = field_mapping or {}
    derived = [mapping.get(column, column) for column in primary_key]
    if given is None:
        return derived, None
    written = [given] if isinstance(given, str) else list(given) if isinstance(given, list) else []
    if written != derived:
        return derived, (
            f"names {written!r}, but primary_key {primary_key!r} maps to {derived!r} "
            "through field_mapping"
        )
    return derived, None
