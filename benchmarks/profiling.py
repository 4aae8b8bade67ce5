"""Where the time goes: short profiles the report prints next to a case's figures."""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["import_profile", "self_time_profile"]


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


def import_profile(
    python: str, script: list[str], cwd: Path, env: Mapping[str, str], top: int = 6
) -> tuple[float, list[str]]:
    """``python -X importtime script...``: total import seconds and the costliest top-level
    imports (cumulative)."""
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
    for line in proc.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and len(match.group(3)) == 1:
            level0.append((int(match.group(2)), match.group(4)))
    total = sum(us for us, _ in level0) / 1e6
    level0.sort(reverse=True)
    return total, [f"{name} {us / 1e6:.3f} s" for us, name in level0[:top]]
