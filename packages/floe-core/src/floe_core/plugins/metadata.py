"""The base every floe plugin shares: identity, health and lifecycle."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["HealthState", "HealthStatus", "PluginMetadata"]


class HealthState(str, Enum):  # noqa: UP042 - StrEnum would change what str() gives
    """Coarse health of a plugin, as reported by ``health_check``.

    A ``str`` mixin enum: members compare equal to their values (``"healthy"``) and serialise
    as them, while ``str(member)`` stays ``"HealthState.HEALTHY"`` as it always was.
    """

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class HealthStatus:
    """Result of a plugin health check.

    Attributes:
        state: Overall health.
        message: Human-readable explanation, empty when healthy.
        details: Extra machine-readable facts (versions, latencies, ...).
    """

    state: HealthState
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class PluginMetadata(ABC):
    """Identity and lifecycle shared by every floe plugin.

    Subclasses declare ``name``, ``version`` and ``floe_api_version`` as properties.
    ``startup``/``shutdown`` are optional hooks; ``health_check`` defaults to healthy.
    """

    @property
    @abstractmethod
    def name(self) -> str:
        """Unique plugin name within its entry-point group (e.g. ``"dlt"``)."""

    @property
    @abstractmethod
    def version(self) -> str:
        """The plugin's own version (semver)."""

    @property
    @abstractmethod
    def floe_api_version(self) -> str:
        """The floe plugin API version the plugin was written against (e.g. ``"1.0"``)."""

    @property
    def description(self) -> str:
        """One line about what the plugin does."""
        return ""

    def startup(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Acquire long-lived resources. Called once before first use."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release resources acquired in ``startup``."""

    def health_check(self) -> HealthStatus:
        """Report whether the plugin can do its work right now."""
        return HealthStatus(state=HealthState.HEALTHY)
