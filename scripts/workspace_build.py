"""The build backend of the repository root, which is floe's development workspace and not a
package: building it (a plain ``uv build`` or ``pip wheel .`` here) stops at once and says
what to run instead, rather than letting setuptools guess at a flat layout.
"""

from __future__ import annotations

_MESSAGE = (
    "error: the repository root is floe's development workspace, not a package: build every "
    "package with `uv build --all-packages` (one of them: `uv build --package floe-core`)"
)


def get_requires_for_build_sdist(config_settings: object = None) -> list[str]:
    """Nothing to install before refusing."""
    return []


def get_requires_for_build_wheel(config_settings: object = None) -> list[str]:
    """Nothing to install before refusing."""
    return []


def build_sdist(sdist_directory: str, config_settings: object = None) -> str:
    """Refuse, naming the command that builds the packages."""
    raise SystemExit(_MESSAGE)


def build_wheel(
    wheel_directory: str, config_settings: object = None, metadata_directory: object = None
) -> str:
    """Refuse, naming the command that builds the packages."""
    raise SystemExit(_MESSAGE)
