"""The ``floe`` command line.

``main`` is the console script. ``floe --version`` is answered without loading the command
modules, so that it stays instant; everything else goes through :mod:`floe_core.cli.app`.

A console-script process is short-lived: it collects cyclic garbage less often than Python's
default (the libraries a sync loads, pyiceberg, SQLAlchemy and pydantic, create hundreds of
thousands of objects while importing), and it freezes the collector just before it exits, so
that interpreter teardown does not walk every one of those objects again (0.1-0.3 s otherwise).
"""

from __future__ import annotations

import gc
import sys

__all__ = ["main", "version_text"]


def version_text() -> str:
    """``floe <version>``, the floe-core distribution's version."""
    from floe_core import __version__

    return f"floe {__version__}"


def main(argv: list[str] | None = None) -> None:
    """Run the ``floe`` command line with ``argv`` (default: ``sys.argv[1:]``, as the console
    script, in a process that ends with the command)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:
        print(version_text())
        return
    from floe_core.cli.app import run

    if argv is not None:
        run(args)
        return
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    try:
        run(args)
    finally:
        # Everything is written and closed by now; what is left is freed with the process.
        gc.freeze()


#: Allocations between two collections of the youngest generation (Python's default: 700).
GC_YOUNG_THRESHOLD = 50_000
