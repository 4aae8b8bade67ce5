"""Where the time goes: short profiles the report prints next to a case's figures."""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "OWN_PACKAGES",
    "ImportProfile",
    "import_profile",
    "libraries_only_command",
    "self_time_profile",
]


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name  # a C function, e.g. "<method 'update' of '_hashlib.HASH' objects>"
    parts = Path(filename).parts
    for anchor in ("site-packages", "src"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1 :]
            break
    else:
        parts = parts[-2:]
    return f"{'/'.join(parts)}:{line} {name}"


def self_time_profile(fn: Callable[[], object], top: int = 8) -> list[str]:
    """Run ``fn`` under cProfile; the functions with the most self time, with their share."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in entries.values()) or 1.0
    rows = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return [
        f"{tt:.3f} s self ({100 * tt / total:.0f}%), {calls} calls: {_where(func)}"
        for func, (_cc, calls, tt, _ct, _callers) in rows
    ]


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

#: Top-level packages that are floe's own code; every other module a run imports is a library.
OWN_PACKAGES = ("floe_core", "floe_ingestion_dlt")


@dataclass(frozen=True)
class ImportProfile:
    """What ``python -X importtime`` saw of one process.

    Attributes:
        seconds: Total import time (the top-level imports' cumulative times added up).
        heaviest: The costliest top-level imports, as ``"name 0.123 s"``.
        libraries: Every module imported that is not floe's own, in the order they finished.
    """

    seconds: float
    heaviest: list[str]
    libraries: list[str]


def import_profile(
    python: str, script: list[str], cwd: Path, env: Mapping[str, str], top: int = 6
) -> ImportProfile:
    """``python -X importtime script...``: total import seconds, the costliest top-level
    imports (cumulative) and the libraries imported."""
    proc = subprocess.run(
        [python, "-X", "importtime", *script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    level0: list[tuple[int, str]] = []
    libraries: list[str] = []
    for line in proc.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if not match:
            continue
        name = match.group(4)
        if len(match.group(3)) == 1:
            level0.append((int(match.group(2)), name))
        if name.partition(".")[0] not in OWN_PACKAGES:
            libraries.append(name)
    total = sum(us for us, _ in level0) / 1e6
    level0.sort(reverse=True)
    return ImportProfile(total, [f"{n} {us / 1e6:.3f} s" for us, n in level0[:top]], libraries)


def libraries_only_command(python: str, libraries: list[str]) -> list[str]:
    """A process that imports just ``libraries`` (one by one, skipping any that cannot be
    imported on their own) and does nothing else: the floor under a run that needs them.

    It tunes the garbage collector as floe's console script does (``floe_core.cli.main``), so
    that the two differ only by floe's own modules and what the run does.
    """
    from floe_core.cli import GC_YOUNG_THRESHOLD

    script = (
        "import gc, importlib, sys\n"
        f"gc.set_threshold({GC_YOUNG_THRESHOLD}, *gc.get_threshold()[1:])\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        pass\n"
        "gc.freeze()\n"
    )
    return [python, "-c", script, *libraries]
