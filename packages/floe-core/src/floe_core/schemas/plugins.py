"""Governance of plugin use: the enterprise whitelist of sink types.

A platform team lists the sink types data may be sent to in ``approved_sinks`` of an
enterprise-scope ``manifest.yaml``. No list means every installed sink type is allowed; an
empty list allows none.
"""

from __future__ import annotations

from collections.abc import Sequence

from floe_core.errors import FloeError

__all__ = ["SinkWhitelistError", "validate_sink_whitelist"]


class SinkWhitelistError(FloeError):
    """A destination uses a sink type the enterprise manifest does not approve.

    Attributes:
        sink_type: The refused sink type.
        approved_sinks: The sink types the manifest approves.
        destination_name: The destination that uses it, when known.
    """

    def __init__(
        self, sink_type: str, approved_sinks: Sequence[str], *, destination_name: str = ""
    ) -> None:
        self.sink_type = sink_type
        self.approved_sinks = list(approved_sinks)
        self.destination_name = destination_name
        where = f"destination {destination_name!r} uses " if destination_name else ""
        approved = ", ".join(self.approved_sinks) if self.approved_sinks else "none"
        super().__init__(
            f"{where}sink type {sink_type!r}, which is not in the manifest's approved_sinks "
            f"(approved: {approved})",
            hint=(
                "use an approved sink type, or ask the platform team to add "
                f"{sink_type!r} to approved_sinks in manifest.yaml"
            ),
        )


def validate_sink_whitelist(
    sink_type: str, approved_sinks: Sequence[str] | None, *, destination_name: str = ""
) -> None:
    """Check that ``sink_type`` may be used.

    Args:
        sink_type: The sink type a destination uses.
        approved_sinks: The manifest's ``approved_sinks``; ``None`` allows every type.
        destination_name: Named in the error, when given.

    Raises:
        SinkWhitelistError: The sink type is not approved.
    """
    if approved_sinks is not None and sink_type not in approved_sinks:
        raise SinkWhitelistError(sink_type, approved_sinks, destination_name=destination_name)
