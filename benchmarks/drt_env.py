"""drt (``drt-core`` from PyPI), the peer: its own virtual environment and project, run by its CLI.

drt is not a floe dependency. On first use this creates ``benchmarks/.venv-drt`` (gitignored)
with ``uv venv`` + ``uv pip install`` (falling back to ``python -m venv`` + pip), installing
``drt-core[iceberg,postgres]`` plus DuckDB (its Iceberg source registers the table in DuckDB)
and pyiceberg's SQLite catalog. A drt project reads the same Iceberg table floe reads, through
drt's ``iceberg`` source; profiles live in ``$HOME/.drt/profiles.yml``, so each project gets
its own ``HOME``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from benchmarks.harness import Unavailable
from benchmarks.procs import ProcessRun, run_measured
from benchmarks.settings import REPO_ROOT

__all__ = ["DRT_VERSION", "DrtProject", "ensure_venv", "installed_version"]

DRT_VERSION = os.environ.get("FLOE_BENCH_DRT_VERSION", "1.2.1")
VENV = REPO_ROOT / "benchmarks" / ".venv-drt"
_PACKAGES = [
    f"drt-core[iceberg,postgres]=={DRT_VERSION}",
    "duckdb>=1.0",
    "pyiceberg[pyarrow,sql-sqlite]>=0.9",
]


def _python() -> Path:
    return VENV / "bin" / "python"


def installed_version() -> str | None:
    """drt-core's version in the benchmark venv, or None when it is not there."""
    if not _python().exists():
        return None
    out = subprocess.run(
        [str(_python()), "-c", "import importlib.metadata as m; print(m.version('drt-core'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or None if out.returncode == 0 else None


def _uv() -> list[str] | None:
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    return [sys.executable, "-m", "uv"] if probe.returncode == 0 else None


def ensure_venv() -> Path:
    """The ``drt`` executable, installing drt into its own venv on first use."""
    drt = VENV / "bin" / "drt"
    if drt.exists() and installed_version() == DRT_VERSION:
        return drt
    uv = _uv()
    try:
        if uv:
            subprocess.run([*uv, "venv", "-q", "--python", sys.executable, str(VENV)], check=True)
            subprocess.run(
                [*uv, "pip", "install", "-q", "--python", str(_python()), *_PACKAGES], check=True
            )
        else:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            subprocess.run([str(_python()), "-m", "pip", "install", "-q", *_PACKAGES], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise Unavailable(f"could not install drt-core {DRT_VERSION} into {VENV}: {exc}") from exc
    if not drt.exists():
        raise Unavailable(f"drt-core installed but {drt} is missing")
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
        env.pop("VIRTUAL_ENV", None)
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
