"""What a plugin author describes for the conformance suite: one fresh destination."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from floe_core.plugins.sink import SinkConfig
    from floe_core.sinks.plugin import SinkPlugin

__all__ = ["Destination"]


class Destination(ABC):
    """One fresh destination for one conformance test, and what the suite may do to it.

    Declarations (class attributes, all True unless the destination says otherwise):
        refuses_rows: ``refuse_row`` can make the destination refuse one row for good.
        reports_row_rejections: The sink reports refused rows in ``BatchAck.rejections``
            (instead of raising ``SinkWriteError`` for the batch).
        answers_retry_after: ``answer_retry_after`` can make the destination ask the sink to
            wait (HTTP ``Retry-After``); a destination that never asks says False.
    """

    refuses_rows: ClassVar[bool] = True
    reports_row_rejections: ClassVar[bool] = False
    answers_retry_after: ClassVar[bool] = True

    @property
    @abstractmethod
    def plugin(self) -> SinkPlugin:
        """The plugin whose ``create_sink`` builds the sink under test."""

    @property
    @abstractmethod
    def secret(self) -> str | None:
        """A secret value (token, password) that ``sink_config`` puts in the connection config.

        ``None`` declares that this destination's config holds no secret (a SQLite file).
        """

    @abstractmethod
    def sink_config(self, *, batch_size: int | None, retry_config: dict[str, Any]) -> SinkConfig:
        """A ``SinkConfig`` for this destination, with ``id`` as its key where it needs one."""

    @abstractmethod
    def rows(self) -> list[dict[str, Any]]:
        """Every row the destination holds, as dicts keyed by destination field."""

    def batch_sizes(self) -> list[int] | None:
        """Rows per batch as the destination received them, or None if it cannot tell."""
        return None

    def fail_transiently(self, times: int) -> None:
        """Make the next ``times`` writes fail in a way worth retrying (busy, 503, deadlock)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement fail_transiently(times): every "
            "destination can fail transiently, and the suite checks the sink retries it"
        )

    def answer_retry_after(self, seconds: int) -> None:
        """Make the next write be answered "try again in ``seconds``" (HTTP 429/503)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement answer_retry_after(seconds), or declare "
            "answers_retry_after = False"
        )

    def refuse_row(self, row_id: int) -> None:
        """Make the destination refuse, for good, the row whose ``id`` is ``row_id``."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement refuse_row(row_id), or declare "
            "refuses_rows = False"
        )
