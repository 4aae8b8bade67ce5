"""drt (``drt-core`` from PyPI), the peer: its own project, run by its CLI.

drt is not a floe dependency: it is in the workspace's ``bench`` dependency group
(``drt-core[iceberg,postgres]`` and DuckDB, which its Iceberg source registers the table in),
so ``uv sync`` installs its ``drt`` command next to ``floe``. A drt project reads the same
Iceberg table floe reads, through drt's ``iceberg`` source; profiles live in
``$HOME/.drt/profiles.yml``, so each project gets its own ``HOME``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from benchmarks.harness import Unavailable
from benchmarks.procs import ProcessRun, run_measured

__all__ = ["DrtProject", "drt_executable", "installed_version"]


def installed_version() -> str | None:
    """drt-core's version in this environment, or None when it is not installed."""
    try:
        return importlib.metadata.version("drt-core")
    except importlib.metadata.PackageNotFoundError:
        return None


def drt_executable() -> Path:
    """The ``drt`` command of the interpreter running the benchmarks."""
    drt = Path(sys.executable).parent / "drt"
    if installed_version() is None or not drt.exists():
        raise Unavailable(
            "drt-core is not installed: run `uv sync` (it is in the bench dependency group)"
        )
    return drt


class DrtProject:
    """A drt project directory reading one Iceberg table, with its own ``HOME``."""

    def __init__(self, root: Path, catalog: dict[str, str], table: str) -> None:
        self.root = root
        self.home = root / "home"
        (self.home / ".drt").mkdir(parents=True, exist_ok=True)
        (root / "syncs").mkdir(parents=True, exist_ok=True)
        self.table = table
        profile = {
            "bench": {
                "type": "iceberg",
                "table": table,
                "catalog_name": catalog["name"],
                "properties": {k: v for k, v in catalog.items() if k != "name"},
            }
        }
        (self.home / ".drt" / "profiles.yml").write_text(yaml.safe_dump(profile))
        (root / "drt_project.yml").write_text(
            yaml.safe_dump({"name": "floe_bench", "profile": "bench"})
        )

    def add_sync(self, name: str, destination: dict[str, Any], sync: dict[str, Any]) -> None:
        """``syncs/<name>.yml`` selecting every column of the table."""
        doc = {
            "name": name,
            "model": f"SELECT * FROM {self.table.split('.')[-1]}",
            "destination": destination,
            "sync": sync,
        }
        (self.root / "syncs" / f"{name}.yml").write_text(yaml.safe_dump(doc, sort_keys=False))

    def run(self, drt: Path, name: str, timeout: float) -> tuple[ProcessRun, dict[str, Any]]:
        """``drt run --select <name> --output json``, measured; return the run and drt's own
        report of the sync. Raise with drt's output unless it says every row was synced."""
        env = {**os.environ, "HOME": str(self.home), "DO_NOT_TRACK": "1"}
        cmd = [str(drt), "run", "--select", name, "--output", "json"]
        done = run_measured(cmd, self.root, env, timeout)
        try:
            report = json.loads(done.stdout)["syncs"][0]
        except (ValueError, KeyError, IndexError):
            report = {}
        if done.returncode != 0 or report.get("status") != "success":
            raise RuntimeError(
                f"drt run {name} exited {done.returncode} ({report or 'no JSON report'}): "
                f"{done.tail(15)}"
            )
        return done, report
