"""A floe project as the plugin reads it: compiled once, with its installed plugins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from floe_orchestrator_dagster.translator import FloeDestination

if TYPE_CHECKING:
    from floe_core.compiler import CompiledDestination, EgressPlan
    from floe_core.registry import PluginRegistry

__all__ = ["FloeProject", "load_project"]


@dataclass(frozen=True)
class FloeProject:
    """A compiled project and the plugins it was compiled against."""

    plan: EgressPlan
    registry: PluginRegistry

    def destination(self, name: str) -> CompiledDestination:
        """The compiled destination called ``name``.

        Raises:
            EgressConfigError: ``floe.yaml`` declares no such destination (any more).
        """
        from floe_core.egress.destinations import select_destinations

        return select_destinations(self.plan, [name], run_all=False)[0]

    def describe(self, destination: CompiledDestination) -> FloeDestination:
        """What a translator is told about ``destination``."""
        metadata = self.plan.spec.metadata
        return FloeDestination(
            name=destination.name,
            sink_type=destination.sink_type,
            source_table=destination.source_table or "",
            sync_mode=destination.sync_mode,
            project=metadata.name,
            description=metadata.description,
            owner=metadata.owner,
        )


def load_project(project_dir: str | Path) -> FloeProject:
    """Compile ``<project_dir>/floe.yaml`` against the installed plugins.

    Raises:
        InvalidProjectError: The project does not validate (``floe validate`` lists why).
    """
    from floe_core.compiler import compile_project
    from floe_core.registry import PluginRegistry

    registry = PluginRegistry.discover()
    spec = Path(project_dir) / "floe.yaml"
    return FloeProject(compile_project(spec, registry=registry).unwrap(), registry)
