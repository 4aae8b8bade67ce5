"""The sink capability: push rows from the lakehouse to external systems (reverse ETL).

``SinkConnector`` is a mixin, not a plugin type. A plugin that can push data out implements it
next to whatever else it is (the dlt plugin is an ``IngestionPlugin`` *and* a ``SinkConnector``),
and callers detect the capability with ``isinstance(plugin, SinkConnector)``.

The runtime types here are plain dataclasses so that this module imports without pyarrow.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_BATCH_SIZE",
    "EgressResult",
    "SinkConfig",
    "SinkConnector",
    "StaticValue",
    "escape_field_name",
    "field_mapping_problems",
    "field_path_conflicts",
    "key_field_names",
    "split_field_path",
    "static_field_problems",
]

#: A value ``static_fields`` may give a destination field.
StaticValue = str | int | float | bool | None

#: Upper bound for ``SinkConfig.batch_size``. A batch is held in memory and usually sent as one
#: request or one transaction; a million rows is already far beyond what any API accepts.
MAX_BATCH_SIZE = 1_000_000


@dataclass
class SinkConfig:
    """How to reach one destination and how to shape what is sent there.

    Attributes:
        sink_type: Which sink to use (one of the plugin's ``list_available_sinks()``).
        connection_config: Destination settings *and* resolved credentials. Never printed:
            ``repr`` shows its keys only.
        field_mapping: Source column -> destination field renames. Columns not named are
            sent under their own name.
        retry_config: Retry policy overrides (keys are plugin-defined, e.g. ``max_attempts``).
        batch_size: Rows per batch, 1..``MAX_BATCH_SIZE``; ``None`` lets the sink pick its
            default (what the destination takes well in one request or transaction).
        destination_name: The name of the destination in ``floe.yaml``, used in errors, logs
            and spans. Optional for standalone use.
        static_fields: Destination field -> constant value (string, number, bool or null)
            added to every record; dotted names nest as in ``field_mapping``.

    Raises:
        ValueError: At construction, when a field is out of range.
    """

    sink_type: str
    connection_config: dict[str, Any] = field(default_factory=dict, repr=False)
    field_mapping: dict[str, str] | None = None
    retry_config: dict[str, Any] | None = None
    batch_size: int | None = None
    destination_name: str = ""
    static_fields: dict[str, StaticValue] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.sink_type, str) or not self.sink_type.strip():
            raise ValueError("SinkConfig.sink_type must be a non-blank string naming a sink type")
        if not isinstance(self.connection_config, dict):
            raise ValueError("SinkConfig.connection_config must be a dict")
        if self.batch_size is not None:
            if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int):
                raise ValueError("SinkConfig.batch_size must be an integer or None")
            if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
                raise ValueError(
                    f"SinkConfig.batch_size must be between 1 and {MAX_BATCH_SIZE:,}, "
                    f"got {self.batch_size}"
                )
        if self.field_mapping is not None:
            _check_field_mapping(self.field_mapping)
        if self.retry_config is not None and not isinstance(self.retry_config, dict):
            raise ValueError("SinkConfig.retry_config must be a dict or None")
        if self.static_fields is not None:
            _check_static_fields(self.static_fields, self.field_mapping)

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.connection_config))
        return (
            f"SinkConfig(sink_type={self.sink_type!r}, destination_name={self.destination_name!r}, "
            f"connection_config=<{keys}>, field_mapping={self.field_mapping!r}, "
            f"retry_config={self.retry_config!r}, batch_size={self.batch_size!r}, "
            f"static_fields={self.static_fields!r})"
        )


def split_field_path(name: str) -> tuple[str, ...]:
    """The parts of a destination field name: each dot nests one level.

    ``properties.ltv`` is the field ``ltv`` of the object ``properties``; ``\\.`` is a dot
    inside a name (``utm\\.source`` is the one field ``utm.source``) and ``\\\\`` a
    backslash.

    Raises:
        ValueError: A part is empty (``a..b``, ``.a``, ``a.``).
    """
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(name):
        char = name[index]
        if char == "\\" and index + 1 < len(name) and name[index + 1] in ".\\":
            current.append(name[index + 1])
            index += 2
            continue
        if char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    if any(not part for part in parts):
        raise ValueError(f"{name!r} has an empty part between dots")
    return tuple(parts)


def escape_field_name(name: str) -> str:
    """``name`` as one destination field, however many dots it holds (``utm.source`` ->
    ``utm\\.source``): the inverse of :func:`split_field_path` for a single part."""
    return name.replace("\\", "\\\\").replace(".", "\\.")


def key_field_names(
    primary_key: Iterable[str], field_mapping: Mapping[str, str] | None
) -> list[str]:
    """The destination fields of the key columns, written as ``field_mapping`` targets are.

    A mapped column gives its target as written (``email: properties.email`` nests); a
    column the mapping does not name keeps its own name, its dots escaped (it stays flat).
    """
    mapping = field_mapping or {}
    return [
        mapping[column] if column in mapping else escape_field_name(column)
        for column in primary_key
    ]


def field_path_conflicts(
    targets: Iterable[tuple[str, tuple[str, ...]]],
) -> list[tuple[str, str, str]]:
    """Destination fields that cannot all exist: ``(what, message, hint)`` per conflict.

    Args:
        targets: ``(what sets the field, its path)``, e.g. ``("column 'ltv'", ("props", "ltv"))``.

    A path set twice, or a path that is also the object of another (``a`` and ``a.b``: ``a``
    cannot be a value and an object at once), is a conflict, reported on the later one.
    """
    problems: list[tuple[str, str, str]] = []
    seen: dict[tuple[str, ...], str] = {}
    for what, path in targets:
        shown = ".".join(path)
        clash = seen.get(path)
        if clash is not None:
            problems.append((what, f"sets {shown!r}, which {clash} sets already", _ONE_SOURCE_HINT))
            continue
        for other, by in seen.items():
            shorter, longer = (other, path) if len(other) < len(path) else (path, other)
            if longer[: len(shorter)] == shorter:
                problems.append(
                    (
                        what,
                        f"sets {shown!r} while {by} sets {'.'.join(other)!r}: "
                        f"{'.'.join(shorter)!r} cannot be both a value and an object",
                        "rename one of them, or escape a dot that is part of a name as \\.",
                    )
                )
                break
        else:
            seen[path] = what
    return problems


_ONE_SOURCE_HINT = "give each destination field exactly one source (a column or a static value)"


def field_mapping_problems(mapping: Mapping[Any, Any]) -> list[tuple[Any, str, str]]:
    """What is wrong with a field mapping on its own: ``(source column, message, hint)``.

    Every source column maps to a distinct, non-blank destination field; a dotted field
    (``properties.ltv``) nests, and no field is both a value and an object (``a`` and
    ``a.b``). floe.yaml's schema and ``SinkConfig`` both check a mapping with this; which
    columns the data has is checked against the data (``floe_core.sinks.shaping``).
    """
    problems: list[tuple[Any, str, str]] = []
    seen: dict[str, Any] = {}
    paths: list[tuple[str, tuple[str, ...]]] = []
    for source, target in mapping.items():
        if not _non_blank(source) or not _non_blank(target):
            problems.append(
                (
                    source,
                    "source column and destination field must not be blank",
                    "write `source_column: destination_field`",
                )
            )
        elif target in seen:
            problems.append(
                (
                    source,
                    f"maps to {target!r}, which {seen[target]!r} already maps to",
                    "map each destination field from exactly one source column",
                )
            )
        else:
            seen[target] = source
            try:
                paths.append((source, split_field_path(target)))
            except ValueError as exc:
                problems.append((source, f"maps to {exc}", _PATH_HINT))
    labels = {f"column {source!r}": source for source, _ in paths}
    for what, message, hint in field_path_conflicts(
        (f"column {source!r}", path) for source, path in paths
    ):
        problems.append((labels[what], message, hint))
    return problems


_PATH_HINT = "separate nested names with single dots, e.g. properties.ltv (a literal dot: \\.)"


def static_field_problems(
    static_fields: Mapping[Any, Any], mapping: Mapping[Any, Any] | None = None
) -> list[tuple[Any, str, str]]:
    """What is wrong with ``static_fields``: ``(field name, message, hint)`` per problem.

    Each value is a string, a finite number, a bool or null; each name is a destination field
    (dotted names nest) that no column of ``mapping`` also sets, and that is not both a value
    and an object with another field.
    """
    problems: list[tuple[Any, str, str]] = []
    mapped: list[tuple[str, tuple[str, ...]]] = []
    for source, target in (mapping or {}).items():
        try:
            mapped.append((f"column {source!r}", split_field_path(str(target))))
        except ValueError:
            continue  # reported by field_mapping_problems
    statics: list[tuple[str, tuple[str, ...]]] = []
    for name, value in static_fields.items():
        if not _non_blank(name):
            problems.append((name, "a static field's name must not be blank", _PATH_HINT))
            continue
        if not _static_value(value):
            problems.append(
                (
                    name,
                    f"has a value of type {type(value).__name__}; a static value is a string, "
                    "a finite number, true/false or null",
                    "write the value as a string, number, bool or null",
                )
            )
        try:
            statics.append((name, split_field_path(name)))
        except ValueError as exc:
            problems.append((name, f"names {exc}", _PATH_HINT))
    labels = {f"static field {name!r}": name for name, _ in statics}
    entries = [*mapped, *((f"static field {name!r}", path) for name, path in statics)]
    # Static fields come last, so a conflict with a column is reported on the static field;
    # columns conflicting with each other are field_mapping_problems' to report.
    for what, message, hint in field_path_conflicts(entries):
        if what in labels:
            problems.append((labels[what], message, hint))
    return problems


def _static_value(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int)):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _non_blank(name: Any) -> bool:
    return isinstance(name, str) and bool(name.strip())


def _check_field_mapping(mapping: Any) -> None:
    if not isinstance(mapping, dict):
        raise ValueError("SinkConfig.field_mapping must be a dict of source -> destination names")
    problems = field_mapping_problems(mapping)
    if problems:
        raise ValueError(
            "; ".join(
                f"SinkConfig.field_mapping[{source!r}] {message}" for source, message, _ in problems
            )
        )


def _check_static_fields(static_fields: Any, mapping: Mapping[str, str] | None) -> None:
    if not isinstance(static_fields, dict):
        raise ValueError("SinkConfig.static_fields must be a dict of field name -> value")
    problems = static_field_problems(static_fields, mapping)
    if problems:
        raise ValueError(
            "; ".join(
                f"SinkConfig.static_fields[{name!r}] {message}" for name, message, _ in problems
            )
        )


@dataclass
class EgressResult:
    """Measured outcome of one ``write``.

    Attributes:
        success: True when every row was confirmed by the destination.
        rows_delivered: Rows the destination confirmed.
        bytes_transmitted: Payload bytes the destination received and answered: payloads it
            confirmed and payloads it refused for good (their rows are in ``rows_rejected``).
            Each payload counts once however often it was retried; a payload that got no such
            answer (unreachable destination, retries exhausted) does not count.
        duration_seconds: Wall time of the write.
        checksum: ``"sha256:<64 hex>"`` over the confirmed payloads only, in order.
        delivery_timestamp: When delivery finished, ISO-8601 with zone.
        idempotency_key: Deterministic key: same destination and same rows give the same key.
        destination_record_ids: IDs the destination returned for created/updated records.
        errors: Human-readable errors (sanitized; never contain secrets).
        rows_rejected: Rows the destination refused permanently.
        rows_skipped: Rows not written by this write because the destination already had
            them: batches an earlier, interrupted write had delivered (skipped unsent), and
            rows a destination's own delivery log recognised. Not in ``rows_delivered``.
    """

    success: bool
    rows_delivered: int = 0
    bytes_transmitted: int = 0
    duration_seconds: float = 0.0
    checksum: str = ""
    delivery_timestamp: str = ""
    idempotency_key: str = ""
    destination_record_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rows_rejected: int = 0
    rows_skipped: int = 0


class SinkConnector(ABC):
    """Mixin for plugins that push data to external destinations.

    Standalone: it does not inherit from ``PluginMetadata``, so a class can be *only* a sink.
    """

    @abstractmethod
    def list_available_sinks(self) -> list[str]:
        """Sink types this plugin can create, as floe.yaml's ``sink_type`` names them."""

    @abstractmethod
    def create_sink(self, config: SinkConfig) -> Any:
        """Validate ``config``, connect, and return a sink handle for ``write``.

        Raises:
            Exception: A configuration or connection error, raised now rather than at
                first write (unknown type, bad URL, refused credentials, unreachable host).
        """

    @abstractmethod
    def write(self, sink: Any, data: Any, **kwargs: Any) -> EgressResult:
        """Push ``data`` to ``sink`` and report what the destination confirmed.

        Args:
            sink: A handle returned by ``create_sink``.
            data: A ``pyarrow.Table``, a ``pyarrow.RecordBatchReader`` or an iterable of
                ``pyarrow.RecordBatch``.
            **kwargs: Plugin-specific options.
        """

    @abstractmethod
    def get_source_config(self, catalog_config: dict[str, Any]) -> dict[str, Any]:
        """Catalog properties needed to read the source (Gold) table through Iceberg."""
