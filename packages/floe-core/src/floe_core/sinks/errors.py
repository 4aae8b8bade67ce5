"""Errors a sink raises, one tree; whether to retry is decided by the class.

::

    FloeError (floe_core.errors)
    ├── WriteInterruptedError             the caller stopped the write (Ctrl-C); not the sink's
    └── PluginError                       destination/sink_type/http_status/attempts on every error
        ├── SinkConfigurationError        configuration  unknown sink type, bad URL or config
        │   ├── SinkAuthenticationError   configuration  credentials refused (401/403, DB login)
        │   └── EgressPolicyError         configuration  manifest.yaml's egress_policy refuses the
        │                                                host, address or file it connects to
        ├── SinkConnectionError           transient      unreachable host, timeout, connection reset
        └── SinkWriteError                permanent      the destination refused the data (4xx)
            └── SinkTransientWriteError   transient      5xx, 408, 429 (with retry_after), deadlocks

A class's category and its place in the tree agree: ``isinstance(exc, SinkConfigurationError)``
means the user must change something; ``exc.retryable`` means trying again may pass. A
destination that accepts part of a batch says so in ``BatchAck.rejections`` (row positions and
reasons), not with an error.

Reading the Iceberg source raises ``floe_core.errors.SourceError`` / ``NoSuchSourceTableError``.

Third-party exceptions (httpx, SQLAlchemy, DB drivers) are mapped to these in one place per
sink, always ``raise ... from exc``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from floe_core.errors import FloeError
from floe_core.secrets.redact import redact as sanitize

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "EgressPolicyError",
    "ErrorCategory",
    "PluginError",
    "SinkAuthenticationError",
    "SinkConfigurationError",
    "SinkConnectionError",
    "SinkTransientWriteError",
    "SinkWriteError",
    "WriteInterruptedError",
    "config_error_from_validation",
    "sanitize",
]


class WriteInterruptedError(FloeError):
    """The write was asked to stop (``stop`` set, e.g. on Ctrl-C): the batches in flight were
    awaited and counted, the rest was not sent."""


class ErrorCategory(StrEnum):
    """How an error should be handled: retried, fixed by the user, or reported."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"
    CONFIGURATION = "configuration"


class PluginError(FloeError):
    """Base of the errors a sink raises.

    Args:
        message: What happened. Sanitized before it is stored.
        destination: Destination name from floe.yaml (may be empty for standalone use).
        sink_type: The sink type, as floe.yaml names it.
        http_status: HTTP status code, when the destination answered over HTTP.
        attempts: How many attempts were made before giving up.
        retry_after: Seconds the destination asked us to wait (HTTP ``Retry-After``).
        hint: What the user should do next.
    """

    category: ErrorCategory = ErrorCategory.PERMANENT

    def __init__(
        self,
        message: str,
        *,
        destination: str = "",
        sink_type: str = "",
        http_status: int | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
        hint: str = "",
    ) -> None:
        self.destination = destination
        self.sink_type = sink_type
        self.http_status = http_status
        self.attempts = attempts
        self.retry_after = retry_after
        super().__init__(sanitize(message), hint=sanitize(hint))

    @property
    def retryable(self) -> bool:
        """True when trying again may succeed."""
        return self.category is ErrorCategory.TRANSIENT

    def __str__(self) -> str:
        where = "/".join(part for part in (self.sink_type, self.destination) if part)
        parts = [f"[{where}] {self.message}" if where else self.message]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.attempts > 1:
            parts.append(f"after {self.attempts} attempts")
        text = "; ".join(parts)
        return f"{text} (hint: {self.hint})" if self.hint else text


class SinkConfigurationError(PluginError):
    """The sink configuration is invalid or incomplete."""

    category = ErrorCategory.CONFIGURATION


class SinkAuthenticationError(SinkConfigurationError):
    """The destination refused the credentials: fix the Secret, trying again will not help."""


class EgressPolicyError(SinkConfigurationError):
    """The platform's ``egress_policy`` does not let the destination reach this host, address
    or file; nothing was sent to it. Raised before the sink connects, and while it connects
    when a name resolves to a denied address. Only ``manifest.yaml`` can change it.

    Attributes:
        host: The host, address or file refused (never a credential).
        rule: The rule that refused it, as ``manifest.yaml`` spells it.
    """

    def __init__(
        self,
        message: str,
        *,
        host: str,
        rule: str,
        destination: str = "",
        sink_type: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(
            message,
            destination=destination,
            sink_type=sink_type,
            hint=hint
            or "the platform team decides where data may go, in manifest.yaml's "
            "egress_policy: ask them to allow it there, or point the destination at an "
            "allowed host",
        )
        self.host = host
        self.rule = rule


class SinkConnectionError(PluginError):
    """The destination could not be reached (network, timeout, reset)."""

    category = ErrorCategory.TRANSIENT


class SinkWriteError(PluginError):
    """The destination refused the data."""

    category = ErrorCategory.PERMANENT


class SinkTransientWriteError(SinkWriteError):
    """The destination failed in a way that may pass (5xx, 408, 429, deadlock)."""

    category = ErrorCategory.TRANSIENT


def config_error_from_validation(
    exc: ValidationError,
    *,
    section: str,
    allowed: Iterable[str],
    config: Mapping[str, Any] | None = None,
    secret_fields: Collection[str] = (),
    destination: str = "",
    sink_type: str = "",
) -> SinkConfigurationError:
    """Turn a pydantic ``ValidationError`` into a ``SinkConfigurationError``.

    The message names each offending key and what is wrong with it, in the words
    ``floe validate`` uses (``floe_core.sinks.settings``), never the value given (it may be a
    credential); the hint says how to fix each (did you mean, the keys allowed).

    Args:
        exc: The validation error.
        section: What was validated, as floe.yaml names it: ``"config"`` or ``"retry_config"``.
        allowed: The keys the section accepts.
        config: What was validated, to locate the errors in it.
        secret_fields: Settings the destination's Secret provides (a missing one is to be
            added there).
        destination: Destination name, for the message.
        sink_type: Sink type, for the message.
    """
    from floe_core.sinks.settings import problems_from_error
    from floe_core.yamlio import format_path

    problems = problems_from_error(exc, config or {}, sorted(allowed), section=section)
    parts, hints = [], []
    for problem in problems:
        key = problem.path[-1] if problem.path else None
        named = key is None or f"`{key}`" in problem.message
        parts.append(
            problem.message if named else f"{format_path(problem.path)}: {problem.message}"
        )
        if problem.message.startswith("required key") and key in secret_fields:
            hints.append(f"add the key `{key}` to the destination's Secret")
        else:
            hints.append(problem.suggestion)
    message = "; ".join(parts)
    hints = [*dict.fromkeys(hint for hint in hints if hint)]
    return SinkConfigurationError(
        f"invalid {section}: {message}",
        destination=destination,
        sink_type=sink_type,
        hint="; ".join(hints) or f"fix the {section} in floe.yaml or the destination's secret",
    )
