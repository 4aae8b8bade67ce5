"""Which executor a run uses: the manifest's ``executor:``, or ``--executor`` over it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from floe_core.executors.ray import RayExecutor
    from floe_core.schemas.manifest import ExecutorConfig

__all__ = ["ExecutorType", "executor_for"]

ExecutorType = Literal["local", "ray"]


def executor_for(
    config: ExecutorConfig, override: ExecutorType | None = None
) -> RayExecutor | None:
    """The Ray executor when the run is to use Ray; ``None`` for the local one.

    Args:
        config: The manifest's ``executor:`` section.
        override: ``floe egress run --executor``, when given.

    Raises:
        ExecutorError: Ray is wanted and not installed (with the command to install it).
    """
    chosen = override or config.type
    if chosen == "local":
        return None
    from floe_core.executors.ray import RayExecutor

    return RayExecutor(config)
