"""floe's sink SDK: write a ``Sink``, list it in a ``SinkPlugin``, and floe's engine does the rest.

A sink says how to encode a batch, how to send it and what the destination answered; the
engine (``floe_core.sinks.engine``) streams the data, maps fields, cuts batches, runs them
concurrently under a rate limit with retries (honouring ``Retry-After``), derives a
deterministic idempotency key per batch, splits refused batches to isolate bad rows, and
returns a measured ``EgressResult``. See ``docs/writing-a-sink.md``.

``PluginMetadata``, ``SinkConfig`` and ``EgressResult`` (floe's plugin contract,
``floe_core.plugins``) are re-exported, so a sink plugin needs nothing else from floe.

Importing this package is cheap (no pyarrow, httpx or pyiceberg); ``write`` and the
conformance suite (``floe_core.sinks.testing``) import Arrow when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from floe_core.plugins.metadata import PluginMetadata
from floe_core.plugins.sink import EgressResult, SinkConfig
from floe_core.sinks.base import (
    BatchAck,
    Operation,
    Payload,
    RowRejection,
    Sink,
    SinkCapabilities,
    SinkExample,
)
from floe_core.sinks.endpoints import Endpoint
from floe_core.sinks.errors import (
    EgressPolicyError,
    ErrorCategory,
    PluginError,
    SinkAuthenticationError,
    SinkConfigurationError,
    SinkConnectionError,
    SinkTransientWriteError,
    SinkWriteError,
)
from floe_core.sinks.plugin import SinkPlugin
from floe_core.sinks.settings import SettingProblem, settings_error

if TYPE_CHECKING:
    from floe_core.sinks.engine import write

__all__ = [
    "BatchAck",
    "EgressPolicyError",
    "EgressResult",
    "Endpoint",
    "ErrorCategory",
    "Operation",
    "Payload",
    "PluginError",
    "PluginMetadata",
    "RowRejection",
    "SettingProblem",
    "Sink",
    "SinkAuthenticationError",
    "SinkCapabilities",
    "SinkConfig",
    "SinkConfigurationError",
    "SinkConnectionError",
    "SinkExample",
    "SinkPlugin",
    "SinkTransientWriteError",
    "SinkWriteError",
    "settings_error",
    "write",
]


def __getattr__(name: str) -> Any:
    if name == "write":
        from floe_core.sinks.engine import write

        return write
    raise AttributeError(f"module 'floe_core.sinks' has no attribute {name!r}")
