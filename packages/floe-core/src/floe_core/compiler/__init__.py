"""Compile a data product: validate ``floe.yaml`` against ``manifest.yaml`` and the installed
plugins, and produce an :class:`EgressPlan` or the list of every problem found.
"""

from floe_core.compiler.compile import CompileResult, compile_project
from floe_core.compiler.plan import CompiledDestination, EgressPlan
from floe_core.compiler.problems import InvalidProjectError, Problem

__all__ = [
    "CompileResult",
    "CompiledDestination",
    "EgressPlan",
    "InvalidProjectError",
    "Problem",
    "compile_project",
]
