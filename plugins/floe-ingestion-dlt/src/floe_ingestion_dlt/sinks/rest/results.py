"""Per-record answers (HTTP 207 Multi-Status, or 200 with a results/errors array) as row results.

Bulk APIs accept part of a request and say, per record, what they did. ``results_path``
selects those results in the answer; in each one:

- ``result_ok_path`` (a boolean, as Salesforce's ``success``) or ``result_status_path`` (an
  HTTP-like status, 2xx accepted) says whether its record was accepted; with neither, every
  selected result is a refusal (an ``errors`` array listing only what failed);
- ``result_index_path`` gives the record's position in the request, ``result_id_path`` its
  key (the value of ``id_field``: several keys refuse several records); with neither, the
  n-th result is the n-th record's;
- ``result_message_path`` selects the message(s) kept with a refused record (all of the
  result, shortened, when unset).

A refusal that names no record of the request (a position out of range, an unknown key)
fails the request as a whole, since nothing says which records it refused.

The answer's HTTP status says what became of the records no result refuses. A 2xx answer
(207 included) accepted them. A 4xx answer (an all-or-nothing API refusing a request for the
sake of some of its records, as a 400 listing the invalid ones) took only those a result
accepts, with ``result_ok_path`` or ``result_status_path``; the others are sent again, on
their own. A 4xx answer whose results refuse no record is a refusal of the whole request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from floe_core.sinks.base import RowRejection

from floe_ingestion_dlt.sinks.rest.config import RestApiSettings

__all__ = ["RecordResults", "ResultMapping", "UnmatchedResult"]

_MESSAGE_CHARS = 500


class UnmatchedResult(Exception):
    """A refusal in the answer names no record of the request."""


@dataclass(frozen=True)
class RecordResults:
    """What an answer says of the records of its request.

    Attributes:
        refused: The records a result refuses, in order, with the API's message.
        accepted: Positions of the records a result accepts (only with ``result_ok_path``
            or ``result_status_path``, which say so).
    """

    refused: list[RowRejection]
    accepted: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ResultMapping:
    """Compiled JSONPaths of one destination's ``result_*`` settings."""

    results: Any
    ok: Any = None
    status: Any = None
    message: Any = None
    index: Any = None
    key: Any = None

    @classmethod
    def from_settings(cls, settings: RestApiSettings) -> ResultMapping | None:
        """The mapping, or ``None`` when the destination does not answer per record."""
        if settings.results_path is None:
            return None
        from jsonpath_ng.ext.parser import parse

        def compiled(expression: str | None) -> Any:
            return None if expression is None else parse(expression)

        return cls(
            results=parse(settings.results_path),
            ok=compiled(settings.result_ok_path),
            status=compiled(settings.result_status_path),
            message=compiled(settings.result_message_path),
            index=compiled(settings.result_index_path),
            key=compiled(settings.result_id_path),
        )

    def read(self, document: Any, rows: int, keys: Callable[[], list[str]]) -> RecordResults:
        """What ``document`` says of each record of a request of ``rows`` records.

        Args:
            document: The parsed answer.
            rows: Records in the request.
            keys: The records' keys as text, in order (called only when needed).

        Raises:
            UnmatchedResult: A refusal names no record of the request.
        """
        refused: dict[int, str] = {}
        accepted: set[int] = set()
        positions_of: dict[str, list[int]] | None = None
        for number, match in enumerate(self.results.find(document)):
            result = match.value
            ok = self._accepted(result)
            positions: list[int | None]
            if self.key is not None:
                if positions_of is None:
                    positions_of = {}
                    for position, key in enumerate(keys()):
                        positions_of.setdefault(key, []).append(position)
                named = [_text(found.value) for found in self.key.find(result)]
                positions = [p for key in named for p in positions_of.get(key, [])]
            elif self.index is not None:
                positions = [_position(found.value) for found in self.index.find(result)]
            else:
                positions = [number]
            valid = [p for p in positions if p is not None and 0 <= p < rows]
            if ok:
                accepted.update(valid)
                continue
            reason = self._reason(result)
            if not valid:
                raise UnmatchedResult(f"a refusal names no record of the request: {reason}")
            for position in valid:
                refused.setdefault(position, reason)
        rejections = [RowRejection(position, why) for position, why in sorted(refused.items())]
        return RecordResults(rejections, frozenset(accepted - refused.keys()))

    def _accepted(self, result: Any) -> bool:
        if self.ok is not None:
            return any(_true(found.value) for found in self.ok.find(result))
        if self.status is not None:
            return any(_success(found.value) for found in self.status.find(result))
        return False

    def _reason(self, result: Any) -> str:
        if self.message is not None:
            messages = [_text(found.value) for found in self.message.find(result)]
            if messages:
                return "; ".join(messages)[:_MESSAGE_CHARS]
        return orjson.dumps(result).decode()[:_MESSAGE_CHARS]


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _success(value: Any) -> bool:
    try:
        return 200 <= int(value) < 300
    except (TypeError, ValueError):
        return False


def _position(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()
