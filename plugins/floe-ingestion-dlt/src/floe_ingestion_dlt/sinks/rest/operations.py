"""Per-operation requests of the ``rest_api`` sink: how inserts, updates and deletes are sent.

The top-level ``method`` and ``path`` send upserts (the endpoint creates or updates each
record). An API that separates the operations gets one request setting per operation in
``operations:``, shaped after the APIs people sync to::

    operations:
      insert: {method: POST, path: /crm/v3/objects/contacts/batch/create,
               body: envelope, envelope_key: inputs}            # HubSpot batch create
      update: {method: PATCH, path: "/contacts/{id}"}           # one request per row
      delete: {method: POST, path: /crm/v3/objects/contacts/batch/archive,
               body: envelope, envelope_key: inputs, fields: [id]}   # HubSpot batch archive
      # or: delete: {method: DELETE, path: "/contacts/{id}"}   # one DELETE per row, no body

- ``path``: appended to ``base_url``. ``{field}`` placeholders take the value of that record
  field (after ``field_mapping``, ``id_field`` included), URL-encoded: such an operation is
  sent one row per request, and its batches are one row each, so ``max_requests_per_second``
  and ``max_concurrent_requests`` apply per request.
- ``body``: ``array`` / ``envelope`` (a batch per request, as the top-level ``body``),
  ``record`` (one row per request) or ``none`` (no body: a ``DELETE /contacts/{id}``). By
  default ``none`` for a ``DELETE`` with placeholders, ``record`` for another method with
  placeholders, ``array`` otherwise.
- ``fields``: the record fields sent (top-level names); by default every field, and for
  ``delete`` the destination's key fields (``primary_key`` through ``field_mapping``).
- ``envelope_key`` / ``envelope_fields``: as the top-level settings, for ``body: envelope``.

Answers: ``results_path`` and the ``result_*_path`` settings read the per-record results of a
batch request of any operation. A one-row request is settled by its status: 2xx confirms the
row; a ``404`` or ``410`` to a delete confirms it too (the record is gone already), and to an
insert or update rejects the row (the record is not there); 401/403, 408, 429 and 5xx are
handled as for every request (credentials, retries).
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from floe_core.plugins.sink import StaticValue
from floe_core.sinks import settings_error
from floe_core.sinks.base import Operation
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    import httpx
    import pyarrow as pa

__all__ = [
    "OPERATION_NAMES",
    "OperationName",
    "OperationRequest",
    "RoutedRequest",
    "RowRoute",
    "envelope_parts",
    "operation_support",
    "placeholders",
]

#: The operations ``operations:`` may configure (upserts use the top-level method and path).
OPERATION_NAMES = ("insert", "update", "delete")

OperationName = Literal["insert", "update", "delete"]


class OperationRequest(BaseModel):
    """How one operation's rows are sent (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(min_length=1)
    body: Literal["array", "record", "envelope", "none"] | None = None
    envelope_key: str | None = Field(default=None, min_length=1)
    envelope_fields: dict[str, StaticValue] = Field(default_factory=dict)
    fields: list[str] | None = Field(default=None, min_length=1)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            placeholders(value)
        except ValueError as exc:
            raise settings_error(
                str(exc), hint='name a record field in braces, e.g. path: "/contacts/{id}"'
            ) from exc
        return value

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The record fields the path takes values from."""
        return placeholders(self.path)

    @property
    def resolved_body(self) -> Literal["array", "record", "envelope", "none"]:
        """The body in force: the one set, or the default for this method and path."""
        if self.body is not None:
            return self.body
        if self.placeholders:
            return "none" if self.method == "DELETE" else "record"
        return "array"

    @property
    def per_row(self) -> bool:
        """One row per request."""
        return self.resolved_body in ("record", "none")

    @model_validator(mode="after")
    def _consistent(self) -> OperationRequest:
        body = self.resolved_body
        if self.placeholders and not self.per_row:
            raise settings_error(
                f"a path with {{field}} placeholders sends one row per request, but body is "
                f"{body!r}",
                key="body",
                hint="use body: record (or none), or a path without placeholders",
            )
        if body == "none" and not self.placeholders:
            raise settings_error(
                "body 'none' sends nothing that says which row a request is for",
                key="path",
                hint='name the record\'s key in the path, e.g. "/contacts/{id}"',
            )
        if body == "envelope" and self.envelope_key is None:
            raise settings_error(
                "body 'envelope' needs envelope_key",
                key="envelope_key",
                hint="set envelope_key, e.g. `envelope_key: inputs`",
            )
        if body != "envelope" and (self.envelope_key is not None or self.envelope_fields):
            raise settings_error(
                f"envelope_key and envelope_fields apply only with body 'envelope' "
                f"(body is {body!r})",
                key="envelope_key",
                hint="remove them, or set `body: envelope`",
            )
        if body == "none" and self.fields is not None:
            raise settings_error(
                "fields has no effect with body 'none' (no record is sent)",
                key="fields",
                hint="remove fields, or send a body",
            )
        return self


def placeholders(path: str) -> tuple[str, ...]:
    """The ``{field}`` names in ``path``, in order.

    Raises:
        ValueError: Unbalanced braces, an empty name, or a format spec / conversion.
    """
    names: list[str] = []
    for _, name, spec, conversion in string.Formatter().parse(path):
        if name is None:
            continue
        if not name or spec or conversion or not name.strip() == name:
            raise ValueError(f"path placeholder {{{name}}} must name a record field only")
        names.append(name)
    return tuple(names)


def operation_support(
    operations: Mapping[OperationName, OperationRequest], body: str
) -> tuple[frozenset[Operation], frozenset[Operation]]:
    """The operations a destination can do, and those it sends one row per request.

    Args:
        operations: The ``operations:`` setting.
        body: The top-level ``body`` (``record``: upserts go one row per request).
    """
    supported = {Operation.UPSERT} | {Operation(name) for name in operations}
    per_row = {Operation(name) for name, request in operations.items() if request.per_row}
    if body == "record":
        per_row.add(Operation.UPSERT)
    return frozenset(supported), frozenset(per_row)


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutedRequest:
    """``Payload.data`` of a batch sent with an ``operations:`` request.

    Attributes:
        method: The HTTP method.
        url: Where it goes (placeholders filled in).
        content: The body, or ``None`` for no body.
        keys: The records' keys (``id_field`` values) to match per-record results, if any.
        per_row: One row per request: the status alone settles it.
        operation: What the request does (a 404 to a delete confirms the row).
        refused: Why the row cannot be sent (nothing is sent; the row is rejected).
    """

    method: str
    url: httpx.URL | None
    content: bytes | None
    keys: pa.Array | None
    per_row: bool
    operation: Operation
    refused: str | None = None


@dataclass(frozen=True)
class RowRoute:
    """Fills in one operation's path and picks its record fields.

    Args:
        request: The operation's settings.
        key_fields: The destination's key fields (``primary_key`` through ``field_mapping``).
        operation: The operation.
    """

    request: OperationRequest
    key_fields: tuple[str, ...]
    operation: Operation

    @property
    def fields(self) -> tuple[str, ...] | None:
        """The record fields sent; ``None``: all of them."""
        if self.request.fields is not None:
            return tuple(self.request.fields)
        if self.operation is Operation.DELETE and self.request.resolved_body != "none":
            return self.key_fields
        return None

    def check(self, names: Sequence[str]) -> str | None:
        """What is wrong with this route for records with top-level fields ``names``."""
        label = self.operation.value
        if self.fields == () and self.operation is Operation.DELETE:
            return (
                f"operations.{label} sends records, but no key fields are known: set "
                "operations.delete.fields, or the destination's primary_key"
            )
        for kind, wanted in (("path", self.request.placeholders), ("fields", self.fields or ())):
            missing = [name for name in wanted if name not in names]
            if missing:
                return (
                    f"operations.{label}.{kind} names {', '.join(map(repr, missing))}, not a "
                    f"field of the records (fields: {', '.join(names)})"
                )
        return None

    def select(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The fields of ``batch`` this operation sends."""
        fields = self.fields
        return batch if fields is None else batch.select(list(fields))

    def path_of(self, batch: pa.RecordBatch) -> tuple[str | None, str | None]:
        """The path of a one-row ``batch``, or why it has none (a NULL placeholder field)."""
        values: dict[str, str] = {}
        for name in self.request.placeholders:
            value = batch.column(name)[0].as_py()
            if value is None:
                return None, f"{name} is NULL, so the request path cannot name the record"
            values[name] = quote(_text(value), safe="")
        return self.request.path.format(**values), None


def envelope_parts(key: str, fields: Mapping[str, StaticValue]) -> tuple[bytes, bytes]:
    """The text before and after the records of an envelope body."""
    from floe_ingestion_dlt.sinks.rest import json_rows

    constants = b"".join(
        json_rows.dumps(name) + b":" + json_rows.dumps(value) + b","
        for name, value in fields.items()
    )
    return b"{" + constants + json_rows.dumps(key) + b":", b"}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
