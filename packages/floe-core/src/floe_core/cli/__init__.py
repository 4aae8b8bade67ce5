"""The ``floe`` command line.

``main`` is the console script. ``floe --version`` is answered without loading the command
modules, so that it stays instant; everything else goes through :mod:`floe_core.cli.app`.
"""

from __future__ import annotations

import sys

__all__ = ["main", "version_text"]


def version_text() -> str:
    """``floe <version>``, the floe-core distribution's version."""
    from floe_core import __version__

    return f"floe {__version__}"


def main(argv: list[str] | None = None) -> None:
    """Run the ``floe`` command line with ``argv`` (default: ``sys.argv[1:]``)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:
        print(version_text())
        return
    from floe_core.cli.app import run

    run(args)
